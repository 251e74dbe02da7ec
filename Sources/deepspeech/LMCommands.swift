import ArgumentParser
import DeepSpeech
import Foundation

/// `deepspeech lm build`: an n-gram language model from text, in pure Swift.
struct LMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lm",
        abstract: "Build n-gram language models (ARPA) from text.",
        subcommands: [Build.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Estimate an interpolated modified Kneser-Ney model as KenLM's lmplz does and write it as ARPA.",
            discussion: "One sentence per line, words separated by whitespace (normalise the text first: case, punctuation). Discounts come from the counts of counts; where they are out of range (small corpora) the fallback 0.5 1 1.5 is used, as lmplz --discount_fallback. --prune leaves out rare n-grams as lmplz --prune does (the same n-grams, probabilities and backoffs). KenLM's build_binary accepts the output, pruned or not, e.g. `build_binary -a 255 -q 8 -v trie lm.arpa lm.binary` for `deepspeech scorer build`.")

        @Option(name: .customLong("text"), help: ArgumentHelp("Training text, one sentence per line.", valueName: "FILE"))
        var text: String

        @Option(name: .customLong("order"), help: ArgumentHelp("N-gram order (1-6).", valueName: "N"))
        var order = 3

        @Option(name: .customLong("output"), help: ArgumentHelp("ARPA file to write.", valueName: "FILE"))
        var output: String

        @Option(name: .customLong("prune"), parsing: .upToNextOption,
                help: ArgumentHelp("Prune n-grams of order i whose count (occurrences in the text) is ≤ the i-th threshold, as lmplz --prune: one value per order from 1, e.g. `--prune 0 0 1` (or `0,0,1`) drops singleton trigrams and above; non-decreasing, the last value repeats for higher orders; default no pruning (0).", valueName: "T"))
        var prune: [String] = []

        /// `--prune` values, space- or comma-separated, as non-negative integers.
        func pruneThresholds() throws -> [Int] {
            let values = prune.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
                .map { $0.trimmingCharacters(in: .whitespaces) }
            return try values.map { v in
                guard let t = Int(v), t >= 0 else { throw ValidationError("--prune: '\(v)' is not a count (a non-negative integer)") }
                return t
            }
        }

        func validate() throws {
            if !(1...6).contains(order) { throw ValidationError("--order must be 1-6 (got \(order))") }
            do { _ = try KneserNeyEstimator.expandPruneThresholds(try pruneThresholds(), order: order) } catch let error as KneserNeyEstimator.PruningError {
                throw ValidationError("--prune: \(error.description)")
            }
        }

        func run() throws {
            guard let data = FileManager.default.contents(atPath: text) else { fail("\(text): cannot read the text") }
            let sentences = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.split(whereSeparator: \.isWhitespace).map(String.init) }.filter { !$0.isEmpty }
            guard !sentences.isEmpty else { fail("\(text): no sentences") }
            let estimate = KneserNeyEstimator(order: order, pruneThresholds: try pruneThresholds()).estimate(sentences: sentences)
            do { try estimate.arpa.write(toFile: output, atomically: true, encoding: .utf8) } catch { fail("\(output): cannot write (\(error.localizedDescription))") }
            let discounts = estimate.discounts.enumerated().map { n, d in "order \(n + 1): " + d.map { String(format: "%.4g", $0) }.joined(separator: " ") }
            log("deepspeech: wrote \(output): \(sentences.count) sentences, n-gram counts \(zip(estimate.counts, estimate.unprunedCounts).map { $0 == $1 ? "\($0)" : "\($0) of \($1)" }.joined(separator: " / ")); discounts D1 D2 D3+ \(discounts.joined(separator: "; "))")
        }
    }
}
