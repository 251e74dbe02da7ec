/// An append-only forest of timesteps: each entry is "the timestep of a prefix's last label",
/// linked to the entry of the prefix one label shorter.
///
/// This is Coqui's timestep `TreeNode` tree (`timesteps`, `previous_timesteps`, `new_timestep`):
/// a prefix's timesteps are recovered by walking its entry up to ``empty``. Entries are
/// immutable once written, so many prefixes share their common history. Unreachable entries are
/// reclaimed by ``compact(keeping:)``.
struct TimestepHistory {
    struct Entry {
        var parent: Int32
        var timestep: Int32
    }

    /// The history of the empty prefix (the tree root): no timesteps.
    static let empty: Int32 = -1
    /// "No history" (Coqui's null pointer): a prefix that never received a finite path, or no
    /// pending update.
    static let null: Int32 = Int32.min

    private(set) var entries: ManualBuffer<Entry>

    init() { entries = ManualBuffer(capacity: 1024) }

    private init(entries: ManualBuffer<Entry>) { self.entries = entries }

    var count: Int { entries.count }

    /// Adds the entry "`timestep` after `parent`" and returns its index.
    @inline(__always)
    mutating func append(parent: Int32, timestep: Int32) -> Int32 {
        entries.append(Entry(parent: parent, timestep: timestep))
        return Int32(entries.count - 1)
    }

    /// The timesteps from the root to `entry` (inclusive), oldest first.
    /// - Precondition: `entry` is ``empty`` or a valid index.
    func timesteps(of entry: Int32) -> [Int] {
        var out: [Int] = []
        var current = entry
        while current >= 0 {
            let e = entries[Int(current)]
            out.append(Int(e.timestep))
            current = e.parent
        }
        out.reverse()
        return out
    }

    /// Drops every entry that is not an ancestor of (or equal to) one of the entries in
    /// `roots`, and rewrites `roots` in place to the new indices. Entry order is preserved, so
    /// parents keep preceding their children.
    mutating func compact(keeping roots: UnsafeMutableBufferPointer<Int32>) {
        let n = entries.count
        guard n > 0 else { return }
        var newIndex = [Int32](repeating: -1, count: n)
        // Mark: -2 = reachable (index assigned later).
        for root in roots where root >= 0 {
            var current = root
            while current >= 0, newIndex[Int(current)] == -1 {
                newIndex[Int(current)] = -2
                current = entries[Int(current)].parent
            }
        }
        var kept: Int32 = 0
        for i in 0 ..< n where newIndex[i] == -2 {
            var e = entries[i]
            if e.parent >= 0 { e.parent = newIndex[Int(e.parent)] }
            entries[Int(kept)] = e
            newIndex[i] = kept
            kept += 1
        }
        entries.count = Int(kept)
        for j in 0 ..< roots.count where roots[j] >= 0 {
            roots[j] = newIndex[Int(roots[j])]
        }
    }

    func copy() -> TimestepHistory { TimestepHistory(entries: entries.copy()) }

    func deallocate() { entries.deallocate() }
}
