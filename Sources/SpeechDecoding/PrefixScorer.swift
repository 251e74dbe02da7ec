/// The points at which an external scorer (a language model, Coqui's `Scorer`) takes part in
/// ``PrefixBeamSearch``. Without a scorer none of these are called and the search is the
/// native client's decoding without a language model.
///
/// The hooks follow where Coqui's decoder consults its scorer, so an implementation can
/// reproduce it exactly:
/// - ``beamCutoffMargin``: when a scorer is present, before each frame the beam is partially
///   sorted and any extension whose `ln p(class) + prefix score` falls below
///   `lowest beam score + ln p(blank) - beamCutoffMargin` is skipped (Coqui: `max(0, beta)`).
/// - ``initialState`` / ``nextState(from:appending:)``: a per-prefix state (e.g. a dictionary
///   FST state). A prefix is only *created* if `nextState` allows the extension; extensions to
///   prefixes that already exist in the trie are never re-checked (as in Coqui).
/// - ``scoreExtension(_:parent:label:)``: adjusts the log-probability of the path that extends
///   `parent` by `label` (Coqui adds `alpha * ln P_LM(word | context) + beta` when the extension
///   completes a word), before it is merged into the child prefix.
/// - ``scoreFinal(_:prefix:)``: adjusts a prefix's score when candidates are produced (Coqui
///   scores the unfinished last word); the result is both the sort key and the confidence.
///
/// All scores are `Float` so that the implementation controls the float rounding itself.
public protocol PrefixScorer: Sendable {
    /// The margin subtracted in the beam cutoff described above (≥ 0).
    var beamCutoffMargin: Double { get }
    /// The state of the empty prefix.
    var initialState: Int32 { get }
    /// The state of a new prefix that appends `label` to a prefix in `state`, or `nil` to forbid
    /// creating it.
    func nextState(from state: Int32, appending label: Int) -> Int32?
    /// The log-probability to merge into the child prefix, given the acoustic one.
    func scoreExtension(_ logProbability: Float, parent: PrefixPath, label: Int) -> Float
    /// The final score of `prefix`, given its beam score.
    func scoreFinal(_ score: Float, prefix: PrefixPath) -> Float
}

/// Read access to one prefix of a running ``PrefixBeamSearch``, handed to ``PrefixScorer``
/// hooks. It is only meaningful during the hook call: do not keep it.
public struct PrefixPath {
    let trie: BeamSearchState
    let node: Int32

    /// `true` for the empty prefix (the root).
    public var isEmpty: Bool { node == PrefixTrie.root }

    /// The last label of the prefix, or `nil` for the empty prefix.
    public var lastLabel: Int? {
        isEmpty ? nil : Int(trie.trie.nodes[Int(node)].label)
    }

    /// The prefix one label shorter, or `nil` for the empty prefix.
    public var parent: PrefixPath? {
        isEmpty ? nil : PrefixPath(trie: trie, node: trie.trie.nodes[Int(node)].parent)
    }

    /// The scorer state stored with this prefix.
    public var scorerState: Int32 { trie.trie.nodes[Int(node)].scorerState }

    /// All labels of the prefix, oldest first.
    public var labels: [Int] { trie.trie.labels(of: node) }
}

/// How the inner loop of ``BeamSearchState`` consults a scorer. It is generic over this protocol
/// so that the common case without a scorer (``NoScorerHooks``) compiles to a loop with no
/// scorer code at all.
protocol ExtensionHooks {
    /// Whether children created in a frame must be recorded one by one. Without a scorer, a
    /// new child's score is a function of its parent's start-of-frame state and the class, so
    /// the candidates can be derived when they are collected instead.
    static var recordsNewChildren: Bool { get }
    /// Whether the beam cutoff applies this frame, and its threshold.
    var fullBeam: Bool { get }
    var minimumCutoff: Float { get }
    func nextState(from state: Int32, appending label: Int) -> Int32?
    func scoreExtension(_ logProbability: Float, parent: Int32, label: Int) -> Float
}

/// No scorer: every extension is allowed and scored acoustically only.
struct NoScorerHooks: ExtensionHooks {
    static var recordsNewChildren: Bool { false }
    var fullBeam: Bool { false }
    var minimumCutoff: Float { LogMath.minusInfinity }
    @inline(__always) func nextState(from state: Int32, appending label: Int) -> Int32? { 0 }
    @inline(__always) func scoreExtension(_ logProbability: Float, parent: Int32, label: Int) -> Float { logProbability }
}

/// Forwards to a ``PrefixScorer``.
struct ScorerHooks: ExtensionHooks {
    static var recordsNewChildren: Bool { true }
    let scorer: any PrefixScorer
    unowned let state: BeamSearchState
    let fullBeam: Bool
    let minimumCutoff: Float

    func nextState(from state: Int32, appending label: Int) -> Int32? {
        scorer.nextState(from: state, appending: label)
    }

    func scoreExtension(_ logProbability: Float, parent: Int32, label: Int) -> Float {
        scorer.scoreExtension(logProbability, parent: PrefixPath(trie: state, node: parent), label: label)
    }
}
