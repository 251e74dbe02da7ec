/// A strict weak order used by ``ReferenceOrdering``.
protocol StrictWeakOrder {
    associatedtype Element
    /// `true` if `a` must come before `b`.
    static func precedes(_ a: Element, _ b: Element) -> Bool
}

/// `std::sort`, `std::nth_element` and `std::partial_sort` step for step as GNU libstdc++
/// implements them (introsort with median-of-three pivots and a 16-element insertion-sort
/// threshold, introselect, heap select).
///
/// Why: Coqui STT's decoder orders classes and prefixes with these unstable algorithms, and
/// elements that compare equal (tied probabilities or scores) end up in an order that only the
/// exact algorithm reproduces. That order decides which of several tied prefixes survive the
/// beam, the order in which prefixes are extended (and hence float rounding and timestep
/// choices), and the order of tied candidates in the output. Replaying the same algorithm makes
/// ties deterministic and identical to the reference built with libstdc++ (Coqui's Linux builds).
///
/// All functions work on `base[first ..< last]`. The comparator must be a strict weak order
/// (callers guarantee it by never comparing NaN); the "unguarded" loops rely on it.
enum ReferenceOrdering<Order: StrictWeakOrder> {
    typealias Element = Order.Element
    private static var threshold: Int { 16 }

    /// `std::__lg`: floor(log2(n)) for n > 0.
    @inline(__always)
    static func floorLog2(_ n: Int) -> Int { Int.bitWidth - 1 - n.leadingZeroBitCount }

    @inline(__always)
    private static func less(_ a: Element, _ b: Element) -> Bool { Order.precedes(a, b) }

    @inline(__always)
    private static func swapAt(_ base: UnsafeMutablePointer<Element>, _ i: Int, _ j: Int) {
        let t = base[i]
        base[i] = base[j]
        base[j] = t
    }

    // MARK: public entry points

    /// `std::sort(first, last, comp)`.
    static func sort(_ base: UnsafeMutablePointer<Element>, count: Int) {
        guard count > 0 else { return }
        introsortLoop(base, 0, count, depthLimit: floorLog2(count) * 2)
        finalInsertionSort(base, 0, count)
    }

    /// `std::nth_element(first, first + nth, last, comp)`.
    static func nthElement(_ base: UnsafeMutablePointer<Element>, count: Int, nth: Int) {
        guard count > 0, nth != count else { return }
        introselect(base, 0, nth, count, depthLimit: floorLog2(count) * 2)
    }

    /// `std::partial_sort(first, first + middle, last, comp)`.
    static func partialSort(_ base: UnsafeMutablePointer<Element>, count: Int, middle: Int) {
        heapSelect(base, 0, middle, count)
        sortHeap(base, 0, middle)
    }

    // MARK: introsort

    private static func introsortLoop(_ base: UnsafeMutablePointer<Element>, _ first: Int, _ last: Int, depthLimit: Int) {
        var last = last
        var depthLimit = depthLimit
        while last - first > threshold {
            if depthLimit == 0 {
                heapSelect(base, first, last, last)
                sortHeap(base, first, last)
                return
            }
            depthLimit -= 1
            let cut = unguardedPartitionPivot(base, first, last)
            introsortLoop(base, cut, last, depthLimit: depthLimit)
            last = cut
        }
    }

    private static func finalInsertionSort(_ base: UnsafeMutablePointer<Element>, _ first: Int, _ last: Int) {
        if last - first > threshold {
            insertionSort(base, first, first + threshold)
            for i in (first + threshold) ..< last { unguardedLinearInsert(base, i) }
        } else {
            insertionSort(base, first, last)
        }
    }

    private static func insertionSort(_ base: UnsafeMutablePointer<Element>, _ first: Int, _ last: Int) {
        guard first != last else { return }
        var i = first + 1
        while i != last {
            if less(base[i], base[first]) {
                let value = base[i]
                var j = i
                while j > first {
                    base[j] = base[j - 1]
                    j -= 1
                }
                base[first] = value
            } else {
                unguardedLinearInsert(base, i)
            }
            i += 1
        }
    }

    @inline(__always)
    private static func unguardedLinearInsert(_ base: UnsafeMutablePointer<Element>, _ position: Int) {
        let value = base[position]
        var hole = position
        var next = position - 1
        while less(value, base[next]) {
            base[hole] = base[next]
            hole = next
            next -= 1
        }
        base[hole] = value
    }

    private static func moveMedianToFirst(_ base: UnsafeMutablePointer<Element>, _ result: Int, _ a: Int, _ b: Int, _ c: Int) {
        if less(base[a], base[b]) {
            if less(base[b], base[c]) {
                swapAt(base, result, b)
            } else if less(base[a], base[c]) {
                swapAt(base, result, c)
            } else {
                swapAt(base, result, a)
            }
        } else if less(base[a], base[c]) {
            swapAt(base, result, a)
        } else if less(base[b], base[c]) {
            swapAt(base, result, c)
        } else {
            swapAt(base, result, b)
        }
    }

    /// libstdc++'s `__unguarded_partition`: Hoare's scheme around the pivot at `pivot` (outside
    /// `[first, last)`).
    ///
    /// Hoare's loop swaps the i-th "left stop" (scanning up: an element that does not precede
    /// the pivot) with the i-th "right stop" (scanning down: an element the pivot does not
    /// precede) for as long as the left one lies below the right one, and returns the position
    /// where the left scan ended. Positions strictly between the last pair swapped are still
    /// original, so the stops can be classified ahead of time, 64 positions at a time without
    /// branches, and consumed in the same order. The swaps and the result are exactly those of
    /// the scalar loop; only comparisons whose result is never used are added.
    private static func unguardedPartition(_ base: UnsafeMutablePointer<Element>, _ first: Int, _ last: Int, pivot: Int) -> Int {
        let pivotValue = base[pivot]
        var lastLeft = first - 1 // position of the previous left swap (initially the pivot, a stop for the right scan)
        var lastRight = last // position of the previous right swap
        var leftMask: UInt64 = 0 // unconsumed left stops among [leftBlock, leftBlock + 64)
        var leftBlock = first
        var leftScanned = first // positions below this have been classified for the left scan
        var rightMask: UInt64 = 0 // unconsumed right stops: bit j is position rightBlock - 1 - j
        var rightBlock = last
        var rightScanned = last // positions at or above this have been classified for the right scan
        while true {
            // Left scan: the next left stop below lastRight, else lastRight itself (which holds
            // an element swapped there as a left stop).
            var left = lastRight
            while true {
                if leftMask != 0 {
                    let position = leftBlock + leftMask.trailingZeroBitCount
                    leftMask &= leftMask &- 1
                    left = Swift.min(position, lastRight)
                    break
                }
                if leftScanned >= lastRight { break }
                let count = Swift.min(64, lastRight - leftScanned)
                var mask: UInt64 = 0
                for j in 0 ..< count {
                    mask |= UInt64(Order.precedes(base[leftScanned + j], pivotValue) ? 0 : 1) &<< UInt64(j)
                }
                leftBlock = leftScanned
                leftMask = mask
                leftScanned += count
            }
            if left >= lastRight { return left }
            // Right scan: the next right stop above lastLeft, else lastLeft itself.
            var right = lastLeft
            while true {
                if rightMask != 0 {
                    let position = rightBlock - 1 - rightMask.trailingZeroBitCount
                    rightMask &= rightMask &- 1
                    right = Swift.max(position, lastLeft)
                    break
                }
                if rightScanned <= lastLeft + 1 { break }
                let count = Swift.min(64, rightScanned - (lastLeft + 1))
                var mask: UInt64 = 0
                for j in 0 ..< count {
                    mask |= UInt64(Order.precedes(pivotValue, base[rightScanned - 1 - j]) ? 0 : 1) &<< UInt64(j)
                }
                rightBlock = rightScanned
                rightMask = mask
                rightScanned -= count
            }
            if !(left < right) { return left }
            swapAt(base, left, right)
            lastLeft = left
            lastRight = right
        }
    }

    private static func unguardedPartitionPivot(_ base: UnsafeMutablePointer<Element>, _ first: Int, _ last: Int) -> Int {
        let mid = first + (last - first) / 2
        moveMedianToFirst(base, first, first + 1, mid, last - 1)
        return unguardedPartition(base, first + 1, last, pivot: first)
    }

    // MARK: introselect

    private static func introselect(_ base: UnsafeMutablePointer<Element>, _ first: Int, _ nth: Int, _ last: Int, depthLimit: Int) {
        var first = first
        var last = last
        var depthLimit = depthLimit
        while last - first > 3 {
            if depthLimit == 0 {
                heapSelect(base, first, nth + 1, last)
                swapAt(base, first, nth)
                return
            }
            depthLimit -= 1
            let cut = unguardedPartitionPivot(base, first, last)
            if cut <= nth {
                first = cut
            } else {
                last = cut
            }
        }
        insertionSort(base, first, last)
    }

    // MARK: heaps

    private static func heapSelect(_ base: UnsafeMutablePointer<Element>, _ first: Int, _ middle: Int, _ last: Int) {
        makeHeap(base, first, middle)
        var i = middle
        while i < last {
            if less(base[i], base[first]) { popHeap(base, first, middle, result: i) }
            i += 1
        }
    }

    private static func sortHeap(_ base: UnsafeMutablePointer<Element>, _ first: Int, _ last: Int) {
        var last = last
        while last - first > 1 {
            last -= 1
            popHeap(base, first, last, result: last)
        }
    }

    private static func makeHeap(_ base: UnsafeMutablePointer<Element>, _ first: Int, _ last: Int) {
        let length = last - first
        guard length >= 2 else { return }
        var parent = (length - 2) / 2
        while true {
            let value = base[first + parent]
            adjustHeap(base, first, hole: parent, length: length, value: value)
            if parent == 0 { return }
            parent -= 1
        }
    }

    @inline(__always)
    private static func popHeap(_ base: UnsafeMutablePointer<Element>, _ first: Int, _ last: Int, result: Int) {
        let value = base[result]
        base[result] = base[first]
        adjustHeap(base, first, hole: 0, length: last - first, value: value)
    }

    private static func adjustHeap(_ base: UnsafeMutablePointer<Element>, _ first: Int, hole: Int, length: Int, value: Element) {
        let top = hole
        var hole = hole
        var secondChild = hole
        while secondChild < (length - 1) / 2 {
            secondChild = 2 * (secondChild + 1)
            if less(base[first + secondChild], base[first + secondChild - 1]) { secondChild -= 1 }
            base[first + hole] = base[first + secondChild]
            hole = secondChild
        }
        if length & 1 == 0, secondChild == (length - 2) / 2 {
            secondChild = 2 * (secondChild + 1)
            base[first + hole] = base[first + secondChild - 1]
            hole = secondChild - 1
        }
        // push_heap
        var parent = (hole - 1) / 2
        while hole > top, less(base[first + parent], value) {
            base[first + hole] = base[first + parent]
            hole = parent
            parent = (hole - 1) / 2
        }
        base[first + hole] = value
    }
}
