import Foundation

/// Values computed once per key and kept, safe to share between threads: the generated
/// kernels per tile shape, and a matrix's column sums and packed copies per column range.
final class LockedCache<Key: Hashable, Value>: @unchecked Sendable {
    // @unchecked: `values` is only touched under `lock`.
    private let lock = NSLock()
    private var values: [Key: Value] = [:]

    /// The value for `key`, computed (under the lock, so once) on first use; a nil from
    /// `compute` is returned and not kept.
    func value(_ key: Key, compute: () -> Value?) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        if let v = values[key] { return v }
        guard let v = compute() else { return nil }
        values[key] = v
        return v
    }
}
