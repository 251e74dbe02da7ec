/// The classes a frame contributes to the beam search, with their log-probabilities, in the
/// order in which the search visits them (Coqui's `get_pruned_emissions`).
///
/// Per frame:
/// 1. Each probability is taken as a `Float` (the native client widens the model's float output
///    to double and the decoder narrows it back, which is exact).
/// 2. If `cutoffProbability < 1` or `cutoffTopN < classCount`, the classes are sorted by
///    probability, largest first, with libstdc++'s (unstable) `std::sort`; ties keep the order
///    that algorithm produces (see ``ReferenceOrdering``).
/// 3. Only if `cutoffProbability < 1`: classes are kept while the running sum (in `Double`) is
///    below `cutoffProbability` and fewer than `cutoffTopN` are kept; the class that reaches
///    either limit is still kept. With the native client's settings (`cutoffProbability` 1,
///    `cutoffTopN` 40) nothing is dropped: `cutoffTopN` then only switches the visiting order from
///    class-id order to probability order, which happens whenever there are more than 40 classes.
/// 4. Each kept class gets `logf(p + FLT_MIN)`.
///
/// The order matters: the blank is not necessarily visited last, and the prefix bookkeeping
/// (which path "wins" a prefix, hence its timesteps) depends on it.
struct PrunedLogProbabilities {
    struct ClassProbability {
        var label: Int32
        var probability: Float
    }

    /// `pair_comp_second_rev`: larger probability first.
    enum DescendingProbability: StrictWeakOrder {
        @inline(__always)
        static func precedes(_ a: ClassProbability, _ b: ClassProbability) -> Bool {
            a.probability > b.probability
        }
    }

    let classCount: Int
    let cutoffTopN: Int
    let cutoffProbability: Double

    /// Scratch storage; after ``compute(frame:)`` the first ``count`` entries hold the result
    /// (`probability` replaced by the log-probability).
    private(set) var entries: [ClassProbability]
    private(set) var count = 0

    init(classCount: Int, cutoffTopN: Int, cutoffProbability: Double) {
        self.classCount = classCount
        self.cutoffTopN = cutoffTopN
        self.cutoffProbability = cutoffProbability
        entries = Array(repeating: ClassProbability(label: 0, probability: 0), count: classCount)
    }

    /// Whether the classes are visited in probability order rather than class-id order.
    var sortsClasses: Bool { cutoffProbability < 1.0 || cutoffTopN < classCount }

    /// Fills ``entries`` for one frame of `classCount` probabilities.
    mutating func compute(frame: UnsafePointer<Float>) {
        let classCount = classCount
        let sorts = sortsClasses
        let cutoffProbability = cutoffProbability
        let cutoffTopN = cutoffTopN
        count = entries.withUnsafeMutableBufferPointer { buffer -> Int in
            let base = buffer.baseAddress!
            for c in 0 ..< classCount {
                base[c] = ClassProbability(label: Int32(c), probability: frame[c])
            }
            var length = classCount
            if sorts {
                ReferenceOrdering<DescendingProbability>.sort(base, count: classCount)
                if cutoffProbability < 1.0 {
                    var cumulative = 0.0
                    length = 0
                    for i in 0 ..< classCount {
                        cumulative += Double(base[i].probability)
                        length += 1
                        if cumulative >= cutoffProbability || length >= cutoffTopN { break }
                    }
                }
            }
            for i in 0 ..< length {
                base[i].probability = LogMath.logProbability(base[i].probability)
            }
            return length
        }
    }
}
