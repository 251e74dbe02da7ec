import Foundation

/// The tree of prefixes the beam search extends, stored in an arena of structs (indices, not
/// objects), with removed nodes recycled.
///
/// Each node is one prefix: the labels on the path from the root. It keeps the four CTC
/// scores of ds_ctcdecoder's `PathTrie` — probability of the prefix ending in a blank or in
/// its last label, for the previous frame and the current one — and its token timesteps, as
/// an index into `TimestepTree`. Children are kept in creation order (a doubly linked sibling
/// list), because the post-order walk that collects the next frame's prefixes must visit them
/// in the reference's order; a flat `[node][label]` table finds a child in O(1).
struct PrefixTrie: Sendable {
    static let none: Int32 = -1
    static let root: Int32 = 0
    static let minusInfinity = -Float.greatestFiniteMagnitude

    struct Node: Sendable {
        var character: Int32
        var parent: Int32
        var firstChild: Int32 = PrefixTrie.none
        var lastChild: Int32 = PrefixTrie.none
        var nextSibling: Int32 = PrefixTrie.none
        var previousSibling: Int32 = PrefixTrie.none
        var exists = true
        var blankPrevious = PrefixTrie.minusInfinity
        var labelPrevious = PrefixTrie.minusInfinity
        var blankCurrent = PrefixTrie.minusInfinity
        var labelCurrent = PrefixTrie.minusInfinity
        var score = PrefixTrie.minusInfinity
        /// History of timesteps (a node of `TimestepTree`).
        var timesteps: Int32 = TimestepTree.root
        /// Pending history for this frame: the parent's history plus `newTimestep`.
        var pendingTimesteps: Int32 = PrefixTrie.none
        var newTimestep: Int32 = 0
    }

    private(set) var nodes: [Node]
    private var free: [Int32] = []
    /// `childSlots[node * labelCount + label]`: the child of `node` for `label`, or `none`.
    private var childSlots: [Int32]
    let labelCount: Int
    var histories = TimestepTree()

    init(labelCount: Int) {
        var root = Node(character: -1, parent: PrefixTrie.none)
        root.score = 0
        root.blankPrevious = 0
        nodes = [root]
        self.labelCount = labelCount
        childSlots = [Int32](repeating: PrefixTrie.none, count: labelCount)
    }

    subscript(index: Int32) -> Node {
        get { nodes[Int(index)] }
        set { nodes[Int(index)] = newValue }
    }

    /// `PathTrie::get_path_trie` without a vocabulary: the child for `label`, created if
    /// absent, revived (scores reset) if it had been removed from the beam but kept because it
    /// still had children.
    mutating func child(of parent: Int32, label: Int32) -> Int32 {
        let slot = Int(parent) * labelCount + Int(label)
        let existing = childSlots[slot]
        if existing != PrefixTrie.none {
            if !nodes[Int(existing)].exists {
                nodes[Int(existing)].exists = true
                nodes[Int(existing)].blankPrevious = PrefixTrie.minusInfinity
                nodes[Int(existing)].labelPrevious = PrefixTrie.minusInfinity
                nodes[Int(existing)].blankCurrent = PrefixTrie.minusInfinity
                nodes[Int(existing)].labelCurrent = PrefixTrie.minusInfinity
            }
            return existing
        }
        var node = Node(character: label, parent: parent)
        node.previousSibling = nodes[Int(parent)].lastChild
        let index: Int32
        if let recycled = free.popLast() {
            index = recycled
            nodes[Int(index)] = node
        } else {
            index = Int32(nodes.count)
            nodes.append(node)
            childSlots.append(contentsOf: repeatElement(PrefixTrie.none, count: labelCount))
        }
        childSlots[slot] = index
        if node.previousSibling != PrefixTrie.none {
            nodes[Int(node.previousSibling)].nextSibling = index
        } else {
            nodes[Int(parent)].firstChild = index
        }
        nodes[Int(parent)].lastChild = index
        return index
    }

    /// `PathTrie::iterate_to_vec`: walks the tree in post-order (children in creation order,
    /// then the node), moves every existing node's current scores to previous, computes its
    /// score, commits its pending timestep, and appends it to `output`.
    mutating func collectPrefixes(into output: inout [Int32]) {
        output.removeAll(keepingCapacity: true)
        // Iterative post-order: descend to the first child; after a node, go to its next
        // sibling's leftmost descendant, or up to the parent.
        var node = PrefixTrie.root
        while nodes[Int(node)].firstChild != PrefixTrie.none { node = nodes[Int(node)].firstChild }
        while true {
            visit(node, into: &output)
            if node == PrefixTrie.root { break }
            let next = nodes[Int(node)].nextSibling
            if next != PrefixTrie.none {
                node = next
                while nodes[Int(node)].firstChild != PrefixTrie.none { node = nodes[Int(node)].firstChild }
            } else {
                node = nodes[Int(node)].parent
            }
        }
    }

    private mutating func visit(_ index: Int32, into output: inout [Int32]) {
        guard nodes[Int(index)].exists else { return }
        var n = nodes[Int(index)]
        n.blankPrevious = n.blankCurrent
        n.labelPrevious = n.labelCurrent
        n.blankCurrent = PrefixTrie.minusInfinity
        n.labelCurrent = PrefixTrie.minusInfinity
        n.score = logSumExp(n.blankPrevious, n.labelPrevious)
        if n.pendingTimesteps != PrefixTrie.none {
            n.timesteps = histories.child(of: n.pendingTimesteps, value: n.newTimestep)
        }
        n.pendingTimesteps = PrefixTrie.none
        nodes[Int(index)] = n
        output.append(index)
    }

    /// `PathTrie::remove`: drops a prefix from the beam; the node is freed when it has no
    /// children, and so, recursively, is a parent left childless and not in the beam.
    mutating func remove(_ index: Int32) {
        nodes[Int(index)].exists = false
        guard nodes[Int(index)].firstChild == PrefixTrie.none else { return }
        let parent = nodes[Int(index)].parent
        let previous = nodes[Int(index)].previousSibling, next = nodes[Int(index)].nextSibling
        if previous != PrefixTrie.none { nodes[Int(previous)].nextSibling = next } else { nodes[Int(parent)].firstChild = next }
        if next != PrefixTrie.none { nodes[Int(next)].previousSibling = previous } else { nodes[Int(parent)].lastChild = previous }
        childSlots[Int(parent) * labelCount + Int(nodes[Int(index)].character)] = PrefixTrie.none
        free.append(index)
        if nodes[Int(parent)].firstChild == PrefixTrie.none && !nodes[Int(parent)].exists && parent != PrefixTrie.root {
            remove(parent)
        }
    }

    /// Labels from the root to `index`.
    func labels(of index: Int32) -> [Int] {
        var out: [Int] = []
        var n = index
        while n != PrefixTrie.root && n != PrefixTrie.none {
            out.append(Int(nodes[Int(n)].character))
            n = nodes[Int(n)].parent
        }
        return out.reversed()
    }
}

/// Token-timestep histories, shared between prefixes as a tree (a history is the path from
/// the root); equal extensions of one history are stored once.
struct TimestepTree: Sendable {
    static let root: Int32 = 0
    struct Node: Sendable {
        var parent: Int32
        var value: Int32
        var firstChild: Int32 = -1
        var nextSibling: Int32 = -1
    }
    private(set) var nodes = [Node(parent: -1, value: -1)]

    /// Within one frame every new timestep is that frame's index, and children are added at
    /// the front, so only the newest child can already hold `value`: O(1), however long a
    /// prefix has lived.
    mutating func child(of parent: Int32, value: Int32) -> Int32 {
        let newest = nodes[Int(parent)].firstChild
        if newest != -1 && nodes[Int(newest)].value == value { return newest }
        let index = Int32(nodes.count)
        nodes.append(Node(parent: parent, value: value, firstChild: -1, nextSibling: nodes[Int(parent)].firstChild))
        nodes[Int(parent)].firstChild = index
        return index
    }

    func history(_ index: Int32) -> [Int] {
        var out: [Int] = []
        var n = index
        while n != TimestepTree.root && n != -1 {
            out.append(Int(nodes[Int(n)].value))
            n = nodes[Int(n)].parent
        }
        return out.reversed()
    }
}

/// `log(exp(x) + exp(y))` in float, with −FLT_MAX standing for log 0, exactly as
/// ds_ctcdecoder computes it.
@inline(__always)
func logSumExp(_ x: Float, _ y: Float) -> Float {
    if x <= PrefixTrie.minusInfinity { return y }
    if y <= PrefixTrie.minusInfinity { return x }
    let m = max(x, y)
    return logf(expf(x - m) + expf(y - m)) + m
}
