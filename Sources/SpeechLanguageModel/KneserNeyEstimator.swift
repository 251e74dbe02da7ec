import Foundation

/// Estimates an interpolated modified Kneser-Ney language model from text, as KenLM's `lmplz`
/// does, and writes it as ARPA:
/// - each line is a sentence, padded with `<s>` and `</s>`; `<unk>` is in the vocabulary;
/// - the highest order keeps raw counts; lower orders use adjusted (continuation) counts, the
///   number of distinct words seen before them, except n-grams that start with `<s>`;
/// - per order, discounts D1, D2, D3+ from the counts of adjusted counts (Chen and Goodman);
///   when a count of counts is zero or a discount falls outside its range, the fallback
///   discounts (lmplz's `--discount_fallback`: 0.5, 1, 1.5) are used;
/// - probabilities are interpolated down to a uniform distribution over the vocabulary
///   (without `<s>`); `<s>` gets log10 probability 0 as lmplz writes it.
///
/// Pruning (`pruneThresholds`, lmplz's `--prune`): n-grams of order i whose count is ≤ the i-th
/// threshold are left out, as lmplz does it:
/// - the count compared is the raw count (occurrences in the padded text) at every order, not
///   the adjusted count; `<s>`, `</s>` and `<unk>` are never pruned;
/// - thresholds must be non-decreasing (so every kept n-gram keeps its prefix and suffix, and
///   the ARPA needs no blank n-grams), at most one per order, the last repeating for the
///   remaining orders; `[]` or all zeros is no pruning;
/// - adjusted counts, counts of counts and discounts are those of the unpruned model; per
///   context, the denominator is still the sum of all its adjusted counts, and the interpolation
///   weight (the backoff) takes the discount mass of the kept n-grams plus the whole adjusted
///   count of the pruned ones: γ(h) = (Σ_kept D(a) + Σ_pruned a) / Σ_all a;
/// - a kept n-gram that is the context of only pruned n-grams still gets its γ (which is then 1,
///   backoff 0); the uniform probability is 1 / (kept unigrams − 1), as lmplz takes it from
///   the pruned unigram count.
/// (lmplz's `--limit_vocab_file` is not implemented. Where lmplz would prune `</s>` — a unigram
/// threshold at least the number of sentences — lmplz writes an inconsistent file; here `</s>`
/// stays.)
public struct KneserNeyEstimator: Sendable {
    public let order: Int
    public let fallbackDiscounts: [Double]
    /// Per order 1 … N: n-grams whose count is ≤ the threshold are pruned (0: keep all).
    public let pruneThresholds: [Int]

    /// `pruneThresholds` as lmplz's `--prune`: one value per order from 1, non-decreasing, the
    /// last repeating; see `expandPruneThresholds(_:order:)`, which says what is wrong with a list.
    public init(order: Int, fallbackDiscounts: [Double] = [0.5, 1.0, 1.5], pruneThresholds: [Int] = []) {
        precondition(order >= 1 && order <= 6, "order must be 1-6")
        self.order = order
        self.fallbackDiscounts = fallbackDiscounts
        do { self.pruneThresholds = try Self.expandPruneThresholds(pruneThresholds, order: order) } catch {
            preconditionFailure("\(error)")
        }
    }

    /// A prune threshold list lmplz would refuse.
    public struct PruningError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Checks thresholds as lmplz does and pads them to one per order with the last value
    /// (`[]` → all zeros): at most `order` values, none negative, non-decreasing.
    public static func expandPruneThresholds(_ values: [Int], order: Int) throws -> [Int] {
        guard let last = values.last else { return Array(repeating: 0, count: order) }
        if values.count > order {
            throw PruningError(description: "\(values.count) prune thresholds (orders 1 through \(values.count)) but the model only has order \(order)")
        }
        if let negative = values.first(where: { $0 < 0 }) {
            throw PruningError(description: "prune threshold \(negative) is negative; thresholds are counts (0 keeps everything)")
        }
        for i in 1..<values.count where values[i] < values[i - 1] {
            throw PruningError(description: "prune thresholds must be non-decreasing (order \(i + 1) has \(values[i]) after \(values[i - 1]) for order \(i)): otherwise a kept n-gram would lose its prefix or suffix")
        }
        return values + Array(repeating: last, count: order - values.count)
    }

    /// The ARPA text; per order 1 … N the discounts `[D1, D2, D3+]`, the n-gram counts written
    /// and the counts before pruning (equal to `counts` without pruning).
    public struct Estimate: Sendable {
        public var arpa: String
        public var discounts: [[Double]]
        public var counts: [Int]
        public var unprunedCounts: [Int]
    }

    public func estimate(sentences: [[String]]) -> Estimate {
        // Vocabulary: <unk>, <s>, </s>, then words by first appearance.
        var ids: [String: Int] = ["<unk>": 0, "<s>": 1, "</s>": 2]
        var words = ["<unk>", "<s>", "</s>"]
        var raw: [[Int]: Int] = [:]
        for sentence in sentences where !sentence.isEmpty {
            var tokens = [1]
            for w in sentence {
                if let id = ids[w] { tokens.append(id) } else { ids[w] = words.count; tokens.append(words.count); words.append(w) }
            }
            tokens.append(2)
            for i in 1..<tokens.count {
                let start = max(0, i - order + 1)
                raw[Array(tokens[start...i]), default: 0] += 1
            }
        }
        // Adjusted counts, highest order first.
        var adjusted: [[[Int]: Int]] = Array(repeating: [:], count: order + 1)   // by length
        for (gram, count) in raw where gram.count == order || gram.first == 1 { adjusted[gram.count][gram] = count }
        for n in stride(from: order - 1, through: 1, by: -1) {
            var extensions: [[Int]: Int] = [:]
            for gram in adjusted[n + 1].keys { extensions[Array(gram.dropFirst()), default: 0] += 1 }
            for (suffix, types) in extensions where suffix.first != 1 { adjusted[n][suffix] = types }
        }
        adjusted[1][[0]] = adjusted[1][[0]] ?? 0                    // <unk>, unseen
        adjusted[1][[1]] = 0                                        // <s>, never predicted
        // Pruning: raw counts (occurrences) of every n-gram decide, per order.
        var pruned: [Set<[Int]>] = Array(repeating: [], count: order + 1)
        if pruneThresholds.contains(where: { $0 > 0 }) {
            var occurrences: [[Int]: Int] = [:]
            for sentence in sentences where !sentence.isEmpty {
                let tokens = [1] + sentence.map { ids[$0]! } + [2]
                for i in 1..<tokens.count {
                    for start in max(0, i - order + 1)...i where pruneThresholds[i - start] > 0 {
                        occurrences[Array(tokens[start...i]), default: 0] += 1
                    }
                }
            }
            for n in 1...order where pruneThresholds[n - 1] > 0 {
                for gram in adjusted[n].keys where !(n == 1 && gram[0] <= 2) && occurrences[gram, default: 0] <= pruneThresholds[n - 1] {
                    pruned[n].insert(gram)
                }
            }
        }
        // Discounts per order from counts of adjusted counts.
        var discounts: [[Double]] = [[]]
        for n in 1...order {
            var t = [0, 0, 0, 0, 0]
            for (gram, a) in adjusted[n] where a >= 1 && a <= 4 && !(n == 1 && gram == [0]) { t[a] += 1 }
            // lmplz: D_k = k − (k+1)·Y·t_{k+1}/t_k with Y = t1/(t1 + 2·t2); each must lie in [0, k].
            var d = fallbackDiscounts
            let y = Double(t[1]) / Double(t[1] + 2 * t[2])
            let computed = (1...3).map { k in Double(k) - Double(k + 1) * y * Double(t[k + 1]) / Double(t[k]) }
            if zip(computed, 1...3).allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= Double($1) }) { d = computed }
            discounts.append(d)
        }
        func discount(_ n: Int, _ a: Int) -> Double { a <= 0 ? 0 : discounts[n][min(a, 3) - 1] }
        // Context statistics: total adjusted count and N1, N2, N3+ per context, per order.
        var totals: [[[Int]: Double]] = Array(repeating: [:], count: order + 1)
        var gammas: [[[Int]: Double]] = Array(repeating: [:], count: order + 1)
        for n in 1...order {
            var sums: [[Int]: Double] = [:], mass: [[Int]: Double] = [:]
            for (gram, a) in adjusted[n] where !(n == 1 && gram == [1]) {
                let context = Array(gram.dropLast())
                sums[context, default: 0] += Double(a)
                // A pruned n-gram gives its whole adjusted count to the lower order (lmplz).
                mass[context, default: 0] += pruned[n].contains(gram) ? Double(a) : discount(n, a)
            }
            totals[n] = sums
            for (context, s) in sums { gammas[n][context] = s > 0 ? mass[context]! / s : 0 }
        }
        // Interpolated probabilities, lowest order first.
        var probabilities: [[[Int]: Double]] = Array(repeating: [:], count: order + 1)
        // Without <s>; lmplz counts only the unigrams it keeps.
        let vocabularySize = Double(words.count - pruned[1].count - 1)
        for (gram, a) in adjusted[1] where gram != [1] {
            let total = totals[1][[]] ?? 1
            probabilities[1][gram] = (Double(a) - discount(1, a)) / total + (gammas[1][[]] ?? 0) / vocabularySize
        }
        if order >= 2 {
            for n in 2...order {
                for (gram, a) in adjusted[n] {
                    let context = Array(gram.dropLast())
                    let lower = probabilities[n - 1][Array(gram.dropFirst())] ?? 0
                    probabilities[n][gram] = (Double(a) - discount(n, a)) / totals[n][context]! + gammas[n][context]! * lower
                }
            }
        }
        // ARPA text.
        func number(_ x: Double) -> String {
            let v = Float(x)
            return v == 0 ? "0" : "\(v)"
        }
        var lines = ["", "\\data\\"]
        for n in 1...order { lines.append("ngram \(n)=\(adjusted[n].count - pruned[n].count)") }
        var counts: [Int] = []
        for n in 1...order {
            lines.append("")
            lines.append("\\\(n)-grams:")
            var grams = adjusted[n].keys.filter { !pruned[n].contains($0) }
            grams.sort { $0.lexicographicallyPrecedes($1) }
            counts.append(grams.count)
            for gram in grams {
                let text = gram.map { words[$0] }.joined(separator: " ")
                let prob = gram == [1] ? "0" : number(log10(probabilities[n][gram]!))
                if n < order {
                    let backoff = gammas[n + 1][gram].map { $0 > 0 ? number(log10($0)) : "0" } ?? "0"
                    lines.append("\(prob)\t\(text)\t\(backoff)")
                } else {
                    lines.append("\(prob)\t\(text)")
                }
            }
        }
        lines.append("")
        lines.append("\\end\\")
        return Estimate(arpa: lines.dropFirst().joined(separator: "\n") + "\n", discounts: Array(discounts.dropFirst()), counts: counts,
                        unprunedCounts: (1...order).map { adjusted[$0].count })
    }
}
