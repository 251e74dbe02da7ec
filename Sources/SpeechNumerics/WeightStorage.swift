/// Read-only weight values, either owned (allocated and copied once) or borrowed from memory
/// someone else keeps alive, such as the memory mapping of a converted model file, so that
/// loading such a file copies nothing: the kernels read the mapped pages directly.
public final class WeightStorage<Element: BitwiseCopyable>: @unchecked Sendable {
    // @unchecked: the buffer is never written after init, and `owner` keeps borrowed memory alive.
    public let buffer: UnsafeBufferPointer<Element>
    private let owner: (any Sendable)?
    private let owned: Bool

    /// Copies `values` into storage of its own.
    public init(copying values: [Element]) {
        let memory = UnsafeMutableBufferPointer<Element>.allocate(capacity: max(1, values.count))
        _ = memory.initialize(from: values)
        buffer = UnsafeBufferPointer(start: memory.baseAddress, count: values.count)
        owner = nil
        owned = true
    }

    /// Uses `buffer` in place; `owner` (a mapped file, say) is retained for as long as this storage lives.
    public init(borrowing buffer: UnsafeBufferPointer<Element>, owner: any Sendable) {
        self.buffer = buffer
        self.owner = owner
        owned = false
    }

    public var count: Int { buffer.count }

    deinit {
        if owned { UnsafeMutablePointer(mutating: buffer.baseAddress)?.deallocate() }
    }
}
