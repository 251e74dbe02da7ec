/// CTC prefix beam search, equivalent to Coqui STT 1.4.0's `DecoderState` (`init` / `next` /
/// `decode`) without a language model, including its float arithmetic and tie-breaking, so that
/// transcripts, timesteps and confidences match the native client's.
///
/// Feed probabilities frame by frame or in chunks with ``next(probabilities:frames:)``; the result
/// does not depend on how frames are split into calls. ``decode(candidates:)`` can be called at
/// any time (for intermediate results) and does not change the state.
///
/// Behaviour worth knowing:
/// - **Delayed start.** Frames are skipped (but counted) until the first frame whose blank
///   probability is below 0.999. If that never happens the only candidate is the empty
///   transcript with confidence 0.
/// - **Class order.** Each frame's classes are visited in class-id order, or in probability
///   order when `cutoffTopN < classCount` or `cutoffProbability < 1` (see
///   ``PrunedLogProbabilities``). With the native client's `cutoffTopN` of 40, a model with 41
///   or more classes is therefore searched in probability order.
/// - **Arithmetic.** Scores are `Float`; impossible paths score `-Float.greatestFiniteMagnitude`
///   (as the reference's `-FLT_MAX`), class log-probabilities are `logf(p + FLT_MIN)`.
/// - **Ties** (equal probabilities or equal scores) are resolved by replaying libstdc++'s
///   `std::sort` / `std::nth_element` / `std::partial_sort`, as the reference does.
/// - **Input.** Probabilities are used as given if they lie in [0, 1]; anything else is clamped
///   to that range (NaN becomes 0) so that malformed input cannot break the search.
///
/// `PrefixBeamSearch` is a value: copying it copies the search state (lazily, on the next
/// mutation), so a copy can explore a different continuation.
public struct PrefixBeamSearch: Sendable {
    /// The number of model output classes, blank included.
    public let classCount: Int
    /// The maximum number of prefixes kept after each frame.
    public let beamWidth: Int
    /// See ``PrunedLogProbabilities`` (native client: 40).
    public let cutoffTopN: Int
    /// See ``PrunedLogProbabilities`` (native client: 1.0, i.e. no probability cutoff).
    public let cutoffProbability: Double
    /// The optional language-model hooks.
    public let scorer: (any PrefixScorer)?

    private var state: BeamSearchState

    /// The CTC blank: the last class.
    public var blankLabel: Int { classCount - 1 }

    /// The number of frames fed so far, including the skipped leading frames. The next frame
    /// fed gets this absolute index in ``CandidateTranscript/timesteps``.
    public var framesConsumed: Int { state.absoluteFrame }

    /// Creates a search.
    ///
    /// - Parameters:
    ///   - classCount: model output classes including the blank (alphabet size + 1), ≥ 2.
    ///   - beamWidth: prefixes kept per frame, ≥ 1 (the native client uses the model's
    ///     `beam_width` metadata, 500 for the released models).
    ///   - cutoffTopN: ≥ 1; the native client always uses 40.
    ///   - cutoffProbability: in (0, 1]; the native client always uses 1.0.
    ///   - scorer: language-model hooks, or `nil` for none.
    /// - Throws: ``PrefixBeamSearchError`` naming the invalid argument.
    public init(classCount: Int, beamWidth: Int, cutoffTopN: Int = 40, cutoffProbability: Double = 1.0,
                scorer: (any PrefixScorer)? = nil) throws {
        guard classCount >= 2 else { throw PrefixBeamSearchError.invalidClassCount(classCount) }
        guard classCount <= Int(Int32.max) / 2 else { throw PrefixBeamSearchError.invalidClassCount(classCount) }
        guard beamWidth >= 1 else { throw PrefixBeamSearchError.invalidBeamWidth(beamWidth) }
        guard beamWidth <= Int(Int32.max) / classCount else {
            throw PrefixBeamSearchError.beamTooLarge(beamWidth: beamWidth, classCount: classCount)
        }
        guard cutoffTopN >= 1 else { throw PrefixBeamSearchError.invalidCutoffTopN(cutoffTopN) }
        guard cutoffProbability > 0, cutoffProbability <= 1 else {
            throw PrefixBeamSearchError.invalidCutoffProbability(cutoffProbability)
        }
        self.classCount = classCount
        self.beamWidth = beamWidth
        self.cutoffTopN = cutoffTopN
        self.cutoffProbability = cutoffProbability
        self.scorer = scorer
        state = BeamSearchState(classCount: classCount, beamWidth: beamWidth, cutoffTopN: cutoffTopN,
                                cutoffProbability: cutoffProbability, rootScorerState: scorer?.initialState ?? 0)
    }

    /// Creates a search for a model over `alphabet` (`classCount = alphabet.size + 1`).
    public init(alphabet: Alphabet, beamWidth: Int, cutoffTopN: Int = 40, cutoffProbability: Double = 1.0,
                scorer: (any PrefixScorer)? = nil) throws {
        try self.init(classCount: alphabet.size + 1, beamWidth: beamWidth, cutoffTopN: cutoffTopN,
                      cutoffProbability: cutoffProbability, scorer: scorer)
    }

    /// Feeds `frames` frames of row-major probabilities `[frames][classCount]` (softmax outputs).
    ///
    /// - Precondition: `frames >= 0` and `probabilities.count >= frames * classCount`.
    public mutating func next(probabilities: UnsafeBufferPointer<Float>, frames: Int) {
        precondition(frames >= 0, "frames must not be negative")
        precondition(probabilities.count >= frames * classCount,
                     "probabilities hold \(probabilities.count) values, \(frames) frames of \(classCount) classes need \(frames * classCount)")
        guard frames > 0, let base = probabilities.baseAddress else { return }
        if !isKnownUniquelyReferenced(&state) { state = state.copy() }
        for frame in 0 ..< frames {
            state.step(base + frame * classCount, scorer: scorer)
        }
    }

    /// Feeds row-major probabilities held in an array; the number of frames is
    /// `probabilities.count / classCount`.
    ///
    /// - Precondition: `probabilities.count` is a multiple of `classCount`.
    public mutating func next(probabilities: [Float]) {
        precondition(probabilities.count % classCount == 0,
                     "\(probabilities.count) values are not whole frames of \(classCount) classes")
        probabilities.withUnsafeBufferPointer { next(probabilities: $0, frames: $0.count / classCount) }
    }

    /// The best `candidates` transcripts so far, best first: sorted by score (descending), ties
    /// broken by the smaller last label (the empty transcript last), as Coqui's `decode`. Returns
    /// `min(candidates, number of prefixes in the beam)` results; there is always at least one
    /// prefix, so `candidates >= 1` gives at least one transcript.
    ///
    /// - Precondition: `candidates >= 0`.
    public func decode(candidates: Int) -> [CandidateTranscript] {
        precondition(candidates >= 0, "candidates must not be negative")
        return state.decode(count: candidates, scorer: scorer)
    }
}

extension PrefixBeamSearch {
    /// The labels of the best transcript so far (those of `decode(candidates: 1)[0]`), without
    /// the timesteps: for live partial results, it costs O(beam width + labels that are still
    /// open), not O(transcript length) pointer walks.
    public func bestLabels() -> [Int] { state.bestLabels(scorer: scorer) }

    /// The labels of the best transcript after the first ``stableLabelCount`` (which it
    /// shares with every prefix in the beam): `bestLabels() == stableLabels(from: 0) +
    /// bestLabelsAfterStable()`, at a cost independent of the stable part's length.
    public func bestLabelsAfterStable() -> [Int] { state.bestLabelsBelowTrunk(scorer: scorer) }

    /// How many leading labels every prefix in the beam shares. No later frame can change
    /// them, so a caller can convert them to text once (see ``stableLabels(from:)``).
    public var stableLabelCount: Int { state.trunkLabels.count }

    /// The stable labels from index `start` on (`start ≤ stableLabelCount`).
    public func stableLabels(from start: Int) -> [Int] {
        let trunk = state.trunkLabels
        return Array(trunk[min(max(0, start), trunk.count)...])
    }
}

/// Why a ``PrefixBeamSearch`` could not be created.
public enum PrefixBeamSearchError: Error, Equatable, CustomStringConvertible {
    case invalidClassCount(Int)
    case invalidBeamWidth(Int)
    case beamTooLarge(beamWidth: Int, classCount: Int)
    case invalidCutoffTopN(Int)
    case invalidCutoffProbability(Double)

    public var description: String {
        switch self {
        case let .invalidClassCount(count):
            return "class count \(count) is invalid: a CTC model needs at least one label plus the blank (2 classes)"
        case let .invalidBeamWidth(width):
            return "beam width \(width) is invalid: it must be at least 1"
        case let .beamTooLarge(width, classes):
            return "beam width \(width) with \(classes) classes is too large (beam width × classes must fit in 31 bits)"
        case let .invalidCutoffTopN(n):
            return "cutoffTopN \(n) is invalid: it must be at least 1"
        case let .invalidCutoffProbability(p):
            return "cutoffProbability \(p) is invalid: it must be in (0, 1]"
        }
    }
}
