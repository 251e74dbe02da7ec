/// GNU libstdc++'s `std::sort`, `std::nth_element` and heap algorithms, step for step.
///
/// The reference decoder (ds_ctcdecoder, built with GCC) prunes its beam with
/// `std::nth_element` and orders each frame's characters with `std::sort`. Neither is stable,
/// and the order they leave elements in decides the order in which prefixes are extended in
/// the next frame — which changes float rounding and token timesteps. Reproducing the exact
/// algorithms (introselect / introsort with median-of-three pivots and insertion sort below 3
/// or 16 elements) makes equal inputs give the reference's exact outputs.
public enum StandardLibrarySorting {
    /// `std::sort(a.begin(), a.end(), less)`.
    public static func sort<T>(_ a: inout [T], by less: (T, T) -> Bool) {
        let n = a.count
        guard n > 1 else { return }
        introsortLoop(&a, 0, n, 2 * floorLog2(n), less)
        finalInsertionSort(&a, 0, n, less)
    }

    /// `std::nth_element(a.begin(), a.begin() + nth, a.end(), less)`.
    public static func nthElement<T>(_ a: inout [T], _ nth: Int, by less: (T, T) -> Bool) {
        var first = 0, last = a.count
        guard first != last, nth != last else { return }
        var depthLimit = 2 * floorLog2(last - first)
        while last - first > 3 {
            if depthLimit == 0 {
                heapSelect(&a, first, nth + 1, last, less)
                a.swapAt(first, nth)
                return
            }
            depthLimit -= 1
            let cut = unguardedPartitionPivot(&a, first, last, less)
            if cut <= nth { first = cut } else { last = cut }
        }
        insertionSort(&a, first, last, less)
    }

    static func floorLog2(_ n: Int) -> Int { Int.bitWidth - 1 - n.leadingZeroBitCount }

    static let threshold = 16

    static func introsortLoop<T>(_ a: inout [T], _ first: Int, _ lastIn: Int, _ depthIn: Int, _ less: (T, T) -> Bool) {
        var last = lastIn, depthLimit = depthIn
        while last - first > threshold {
            if depthLimit == 0 {
                heapSelect(&a, first, last, last, less)
                sortHeap(&a, first, last, less)
                return
            }
            depthLimit -= 1
            let cut = unguardedPartitionPivot(&a, first, last, less)
            introsortLoop(&a, cut, last, depthLimit, less)
            last = cut
        }
    }

    static func finalInsertionSort<T>(_ a: inout [T], _ first: Int, _ last: Int, _ less: (T, T) -> Bool) {
        if last - first > threshold {
            insertionSort(&a, first, first + threshold, less)
            for i in (first + threshold)..<last { unguardedLinearInsert(&a, i, less) }
        } else {
            insertionSort(&a, first, last, less)
        }
    }

    static func insertionSort<T>(_ a: inout [T], _ first: Int, _ last: Int, _ less: (T, T) -> Bool) {
        guard first != last else { return }
        var i = first + 1
        while i < last {
            let value = a[i]
            if less(value, a[first]) {
                var j = i
                while j > first { a[j] = a[j - 1]; j -= 1 }
                a[first] = value
            } else {
                unguardedLinearInsert(&a, i, less)
            }
            i += 1
        }
    }

    static func unguardedLinearInsert<T>(_ a: inout [T], _ position: Int, _ less: (T, T) -> Bool) {
        let value = a[position]
        var last = position, next = position - 1
        while less(value, a[next]) {
            a[last] = a[next]
            last = next
            next -= 1
        }
        a[last] = value
    }

    static func unguardedPartitionPivot<T>(_ a: inout [T], _ first: Int, _ last: Int, _ less: (T, T) -> Bool) -> Int {
        let mid = first + (last - first) / 2
        moveMedianToFirst(&a, first, first + 1, mid, last - 1, less)
        return unguardedPartition(&a, first + 1, last, first, less)
    }

    static func moveMedianToFirst<T>(_ a: inout [T], _ result: Int, _ x: Int, _ y: Int, _ z: Int, _ less: (T, T) -> Bool) {
        if less(a[x], a[y]) {
            if less(a[y], a[z]) { a.swapAt(result, y) }
            else if less(a[x], a[z]) { a.swapAt(result, z) }
            else { a.swapAt(result, x) }
        } else if less(a[x], a[z]) { a.swapAt(result, x) }
        else if less(a[y], a[z]) { a.swapAt(result, z) }
        else { a.swapAt(result, y) }
    }

    static func unguardedPartition<T>(_ a: inout [T], _ firstIn: Int, _ lastIn: Int, _ pivot: Int, _ less: (T, T) -> Bool) -> Int {
        var first = firstIn, last = lastIn
        while true {
            while less(a[first], a[pivot]) { first += 1 }
            last -= 1
            while less(a[pivot], a[last]) { last -= 1 }
            if !(first < last) { return first }
            a.swapAt(first, last)
            first += 1
        }
    }

    static func heapSelect<T>(_ a: inout [T], _ first: Int, _ middle: Int, _ last: Int, _ less: (T, T) -> Bool) {
        makeHeap(&a, first, middle, less)
        var i = middle
        while i < last {
            if less(a[i], a[first]) { popHeap(&a, first, middle, i, less) }
            i += 1
        }
    }

    static func sortHeap<T>(_ a: inout [T], _ first: Int, _ lastIn: Int, _ less: (T, T) -> Bool) {
        var last = lastIn
        while last - first > 1 {
            last -= 1
            popHeap(&a, first, last, last, less)
        }
    }

    static func makeHeap<T>(_ a: inout [T], _ first: Int, _ last: Int, _ less: (T, T) -> Bool) {
        let length = last - first
        guard length >= 2 else { return }
        var parent = (length - 2) / 2
        while true {
            let value = a[first + parent]
            adjustHeap(&a, first, parent, length, value, less)
            if parent == 0 { return }
            parent -= 1
        }
    }

    static func popHeap<T>(_ a: inout [T], _ first: Int, _ last: Int, _ result: Int, _ less: (T, T) -> Bool) {
        let value = a[result]
        a[result] = a[first]
        adjustHeap(&a, first, 0, last - first, value, less)
    }

    static func adjustHeap<T>(_ a: inout [T], _ first: Int, _ holeIn: Int, _ length: Int, _ value: T, _ less: (T, T) -> Bool) {
        let top = holeIn
        var hole = holeIn, second = holeIn
        while second < (length - 1) / 2 {
            second = 2 * (second + 1)
            if less(a[first + second], a[first + second - 1]) { second -= 1 }
            a[first + hole] = a[first + second]
            hole = second
        }
        if length & 1 == 0 && second == (length - 2) / 2 {
            second = 2 * (second + 1)
            a[first + hole] = a[first + second - 1]
            hole = second - 1
        }
        var parent = (hole - 1) / 2
        while hole > top && less(a[first + parent], value) {
            a[first + hole] = a[first + parent]
            hole = parent
            parent = (hole - 1) / 2
        }
        a[first + hole] = value
    }
}
