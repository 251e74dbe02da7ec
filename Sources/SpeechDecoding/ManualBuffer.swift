/// A growable buffer of plain values with unchecked, pointer-speed access.
///
/// It is a building block for the decoder's arenas: the owner (a final class) is responsible for
/// calling ``deallocate()`` exactly once and for copying it (``copy()``) when it must not share
/// storage. Indices are checked only in debug builds.
struct ManualBuffer<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var capacity: Int
    var count: Int = 0

    init(capacity: Int = 16) {
        self.capacity = Swift.max(capacity, 1)
        base = .allocate(capacity: self.capacity)
    }

    @inline(__always)
    subscript(index: Int) -> Element {
        get {
            assert(index >= 0 && index < count, "ManualBuffer index out of range")
            return base[index]
        }
        nonmutating set {
            assert(index >= 0 && index < count, "ManualBuffer index out of range")
            base[index] = newValue
        }
    }

    /// Makes room for at least `minimumCapacity` elements (existing elements are kept).
    mutating func reserve(_ minimumCapacity: Int) {
        guard minimumCapacity > capacity else { return }
        let newCapacity = Swift.max(minimumCapacity, capacity * 2)
        let newBase = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        newBase.initialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ element: Element) {
        if count == capacity { reserve(capacity + 1) }
        (base + count).initialize(to: element)
        count += 1
    }

    @inline(__always)
    mutating func removeLast() -> Element {
        count -= 1
        return base[count]
    }

    mutating func removeAll() { count = 0 }

    /// An independent buffer with the same contents.
    func copy() -> ManualBuffer {
        var other = ManualBuffer(capacity: capacity)
        other.base.initialize(from: base, count: count)
        other.count = count
        return other
    }

    func deallocate() { base.deallocate() }
}
