import Foundation

/// CTC prefix beam search, computed exactly as the reference engines' decoder
/// (ds_ctcdecoder's `DecoderState`, DeepSpeech 0.9 / Coqui STT 1.x) does without a language
/// model, and incremental: `next` consumes new frames as they arrive, `decode` reads the
/// current best candidates without changing the state.
///
/// Per frame (all scores are `Float` natural logs, −FLT_MAX standing for log 0):
/// 1. Until some frame has blank probability below 0.999 the frames are skipped entirely
///    (they still count for timesteps).
/// 2. The frame's classes are taken in index order, or — when there are more than
///    `cutoffTopN` classes or `cutoffProbability` < 1 — sorted by probability (GNU
///    `std::sort`, so ties fall as in the reference), and cut at cumulative probability
///    `cutoffProbability` or `cutoffTopN` classes only when `cutoffProbability` < 1.
///    Each gets `ln(p + FLT_MIN)`.
/// 3. For each class (outer loop) and each prefix in the beam (inner loop): a blank extends
///    the prefix's blank score; its own last label extends its label score (a repeat) and,
///    after a blank, also starts a new copy of the label; any other label extends into the
///    child prefix. A child's timestep is set whenever a new path beats its label score.
/// 4. All live prefixes are collected in post-order and, above `beamWidth`, pruned with GNU
///    `std::nth_element` (score descending, then smaller label first).
public struct PrefixBeamSearch: Sendable {
    public let classCount: Int
    public let beamWidth: Int
    public let cutoffTopN: Int
    public let cutoffProbability: Double
    /// The CTC blank: the last class.
    public var blank: Int { classCount - 1 }
    /// Frames consumed so far, skipped leading frames included.
    public private(set) var framesConsumed = 0

    private var trie: PrefixTrie
    private var prefixes: [Int32] = [PrefixTrie.root]
    private var startedExpanding = false
    private var classes: [(index: Int, probability: Float)] = []

    /// - Precondition: `classCount` ≥ 2 (at least one label and the blank), `beamWidth` ≥ 1.
    public init(classCount: Int, beamWidth: Int, cutoffTopN: Int = 40, cutoffProbability: Double = 1.0) {
        precondition(classCount >= 2, "a CTC model has at least one label and the blank")
        precondition(beamWidth >= 1, "the beam width must be at least 1")
        self.classCount = classCount
        self.beamWidth = beamWidth
        self.cutoffTopN = cutoffTopN
        self.cutoffProbability = cutoffProbability
        trie = PrefixTrie(labelCount: classCount)
    }

    /// Consumes `frames` rows of class probabilities (`[frames][classCount]`, row-major).
    public mutating func next(probabilities: UnsafeBufferPointer<Float>, frames: Int) {
        precondition(probabilities.count >= frames * classCount, "expected \(frames) × \(classCount) probabilities")
        for t in 0..<frames {
            step(UnsafeBufferPointer(rebasing: probabilities[(t * classCount)..<((t + 1) * classCount)]))
            framesConsumed += 1
        }
    }

    private mutating func step(_ row: UnsafeBufferPointer<Float>) {
        if Double(row[blank]) < 0.999 { startedExpanding = true }
        guard startedExpanding else { return }

        prunedClasses(row)
        let timestep = Int32(framesConsumed)
        let beam = min(prefixes.count, beamWidth)
        for (c, probability) in classes {
            let logProbability = logf(probability + Float.leastNormalMagnitude)
            let label = Int32(c)
            for i in 0..<beam {
                let p = prefixes[i]
                let prefix = trie[p]
                if prefix.score == PrefixTrie.minusInfinity { continue }
                if c == blank {
                    let logP = logProbability + prefix.score
                    if prefix.labelCurrent < logP { trie[p].pendingTimesteps = PrefixTrie.none }
                    trie[p].blankCurrent = logSumExp(prefix.blankCurrent, logP)
                    continue
                }
                if label == prefix.character {
                    let logP = logProbability + prefix.labelPrevious
                    if prefix.labelCurrent < logP { trie[p].pendingTimesteps = PrefixTrie.none }
                    trie[p].labelCurrent = logSumExp(prefix.labelCurrent, logP)
                }
                let child = trie.child(of: p, label: label)
                var logP = PrefixTrie.minusInfinity
                if label == prefix.character {
                    if prefix.blankPrevious > PrefixTrie.minusInfinity { logP = logProbability + prefix.blankPrevious }
                } else {
                    logP = logProbability + prefix.score
                }
                if trie[child].labelCurrent < logP {
                    trie[child].pendingTimesteps = prefix.timesteps
                    trie[child].newTimestep = timestep
                }
                trie[child].labelCurrent = logSumExp(trie[child].labelCurrent, logP)
            }
        }

        trie.collectPrefixes(into: &prefixes)
        if prefixes.count > beamWidth {
            do {
                let nodes = trie.nodes   // read-only view while partitioning
                StandardLibrarySorting.nthElement(&prefixes, beamWidth) { PrefixBeamSearch.precedes(nodes[Int($0)], nodes[Int($1)]) }
            }
            for p in prefixes[beamWidth...] { trie.remove(p) }
            prefixes.removeLast(prefixes.count - beamWidth)
        }
    }

    /// The classes to try this frame with their probabilities (`get_pruned_log_probs`).
    private mutating func prunedClasses(_ row: UnsafeBufferPointer<Float>) {
        classes.removeAll(keepingCapacity: true)
        for c in 0..<classCount { classes.append((c, row[c])) }
        if cutoffProbability < 1.0 || cutoffTopN < classCount {
            StandardLibrarySorting.sort(&classes) { $0.probability > $1.probability }
        }
        if cutoffProbability < 1.0 {
            var cumulative = 0.0
            var length = 0
            for (_, p) in classes {
                cumulative += Double(p)
                length += 1
                if cumulative >= cutoffProbability || length >= cutoffTopN { break }
            }
            classes.removeLast(classes.count - length)
        }
    }

    /// `prefix_compare`: higher score first; on equal scores the smaller label (the root,
    /// label −1, compares as the largest unsigned value).
    static func precedes(_ x: PrefixTrie.Node, _ y: PrefixTrie.Node) -> Bool {
        if x.score == y.score {
            return UInt32(bitPattern: x.character) < UInt32(bitPattern: y.character)
        }
        return x.score > y.score
    }

    /// The best `candidates` prefixes, best first. Does not change the state, so it can be
    /// called between `next` calls for intermediate results.
    public func decode(candidates: Int) -> [CandidateTranscript] {
        var order = prefixes
        let nodes = trie.nodes
        let count = min(max(candidates, 0), order.count)
        // std::partial_sort: heap select, then heap sort of the first `count`.
        StandardLibrarySorting.heapSelect(&order, 0, count, order.count) { PrefixBeamSearch.precedes(nodes[Int($0)], nodes[Int($1)]) }
        StandardLibrarySorting.sortHeap(&order, 0, count) { PrefixBeamSearch.precedes(nodes[Int($0)], nodes[Int($1)]) }
        return order.prefix(count).map { p in
            CandidateTranscript(labels: trie.labels(of: p), timesteps: trie.histories.history(nodes[Int(p)].timesteps),
                                confidence: Double(nodes[Int(p)].score))
        }
    }
}
