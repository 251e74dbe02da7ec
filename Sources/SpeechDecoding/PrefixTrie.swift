/// The tree of prefixes searched by ``PrefixBeamSearch`` (Coqui's `PathTrie`), stored as an
/// arena of plain nodes linked by `Int32` indices, with freed slots reused.
///
/// Each node is one prefix (the labels on the path from the root). Children are kept in a
/// doubly linked sibling list in creation order, because the reference visits them in that
/// order (`iterate_to_vec` is a post-order walk over a children vector that only grows at the
/// end and is erased from without reordering).
///
/// A node that fell out of the beam is marked `exists == false` but kept while it has children
/// (its descendants are still in the beam); it is revived with fresh probabilities if the
/// search extends its parent by its label again. The root (index 0) is never freed.
struct PrefixTrie {
    struct Node {
        /// ln P(prefix, path ends in blank) after the previous frame / during the current one.
        var blankPrevious: Float
        var nonBlankPrevious: Float
        var blankCurrent: Float
        var nonBlankCurrent: Float
        /// `logSumExp(blankPrevious, nonBlankPrevious)`, updated once per frame.
        var score: Float
        /// The last label of the prefix; ``PrefixTrie/rootLabel`` for the root.
        var label: UInt32
        var parent: Int32
        var firstChild: Int32
        var lastChild: Int32
        var nextSibling: Int32
        var previousSibling: Int32
        /// Timestep history entry of the prefix (``TimestepHistory/null`` if never set).
        var history: Int32
        /// History entry to extend at the end of the frame (Coqui's `previous_timesteps`).
        var pendingHistory: Int32
        var pendingTimestep: Int32
        /// The frame in which the node was created (only used for prefixes without history).
        var creationFrame: Int32
        /// The scorer's per-prefix state (e.g. a dictionary FST state); 0 without a scorer.
        var scorerState: Int32
        /// The prefix's position in the beam while a frame is processed, otherwise -1.
        var beamSlot: Int32
        var exists: Bool
    }

    static let none: Int32 = -1
    static let root: Int32 = 0
    /// Coqui stores the root's character as `(unsigned)-1`, which sorts after every label on ties.
    static let rootLabel: UInt32 = UInt32.max

    private(set) var nodes: ManualBuffer<Node>
    private var freeSlots: ManualBuffer<Int32>

    static func freshNode(label: UInt32, parent: Int32, frame: Int32) -> Node {
        Node(blankPrevious: LogMath.minusInfinity, nonBlankPrevious: LogMath.minusInfinity,
             blankCurrent: LogMath.minusInfinity, nonBlankCurrent: LogMath.minusInfinity,
             score: LogMath.minusInfinity, label: label, parent: parent,
             firstChild: none, lastChild: none, nextSibling: none, previousSibling: none,
             history: TimestepHistory.null, pendingHistory: TimestepHistory.null, pendingTimestep: 0,
             creationFrame: frame, scorerState: 0, beamSlot: -1, exists: true)
    }

    /// A trie holding only the root, whose score and blank probability are 0 (ln 1) and whose
    /// history is empty.
    init(rootScorerState: Int32 = 0) {
        nodes = ManualBuffer(capacity: 4096)
        freeSlots = ManualBuffer(capacity: 1024)
        var root = Self.freshNode(label: Self.rootLabel, parent: Self.none, frame: 0)
        root.score = 0
        root.blankPrevious = 0
        root.history = TimestepHistory.empty
        root.scorerState = rootScorerState
        nodes.append(root)
    }

    private init(nodes: ManualBuffer<Node>, freeSlots: ManualBuffer<Int32>) {
        self.nodes = nodes
        self.freeSlots = freeSlots
    }

    func copy() -> PrefixTrie { PrefixTrie(nodes: nodes.copy(), freeSlots: freeSlots.copy()) }

    func deallocate() {
        nodes.deallocate()
        freeSlots.deallocate()
    }

    /// Number of slots in use (live nodes).
    var liveCount: Int { nodes.count - freeSlots.count }

    /// Makes sure `additional` nodes can be added without reallocating the arena.
    mutating func reserve(additional: Int) {
        let needed = additional - freeSlots.count
        if needed > 0 { nodes.reserve(nodes.count + needed) }
    }

    /// Adds `node` as the last child of its `parent` and returns its index.
    mutating func insertLastChild(_ node: Node) -> Int32 {
        let parent = node.parent
        var node = node
        node.previousSibling = nodes[Int(parent)].lastChild
        node.nextSibling = Self.none
        let index: Int32
        if freeSlots.count > 0 {
            index = freeSlots.removeLast()
            nodes[Int(index)] = node
        } else {
            index = Int32(nodes.count)
            nodes.append(node)
        }
        if node.previousSibling == Self.none {
            nodes[Int(parent)].firstChild = index
        } else {
            nodes[Int(node.previousSibling)].nextSibling = index
        }
        nodes[Int(parent)].lastChild = index
        return index
    }

    /// Coqui's `PathTrie::remove()`: marks the prefix as gone; if it has no children it is
    /// unlinked and freed, and so is every ancestor that thereby becomes a childless removed
    /// node. The root is never freed.
    mutating func remove(_ index: Int32) {
        nodes[Int(index)].exists = false
        var current = index
        while current != Self.root, nodes[Int(current)].firstChild == Self.none {
            let node = nodes[Int(current)]
            let parent = node.parent
            if node.previousSibling == Self.none {
                nodes[Int(parent)].firstChild = node.nextSibling
            } else {
                nodes[Int(node.previousSibling)].nextSibling = node.nextSibling
            }
            if node.nextSibling == Self.none {
                nodes[Int(parent)].lastChild = node.previousSibling
            } else {
                nodes[Int(node.nextSibling)].previousSibling = node.previousSibling
            }
            freeSlots.append(current)
            guard !nodes[Int(parent)].exists else { return }
            current = parent
        }
    }

    /// The labels from the root to `index`, oldest first.
    func labels(of index: Int32) -> [Int] {
        var out: [Int] = []
        var current = index
        while current != Self.root, current != Self.none {
            out.append(Int(nodes[Int(current)].label))
            current = nodes[Int(current)].parent
        }
        out.reverse()
        return out
    }

    /// The first node of a post-order walk starting at `index` (its leftmost descendant leaf).
    @inline(__always)
    func leftmostLeaf(from index: Int32) -> Int32 {
        var current = index
        while nodes[Int(current)].firstChild != Self.none { current = nodes[Int(current)].firstChild }
        return current
    }

    /// The node after `index` in a post-order walk of the whole trie, or ``none`` after the root.
    @inline(__always)
    func postOrderSuccessor(of index: Int32) -> Int32 {
        if index == Self.root { return Self.none }
        let sibling = nodes[Int(index)].nextSibling
        if sibling != Self.none { return leftmostLeaf(from: sibling) }
        return nodes[Int(index)].parent
    }
}
