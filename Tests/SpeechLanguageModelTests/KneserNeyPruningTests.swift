import Foundation
import XCTest
import SpeechLanguageModel
import TestSupport

/// `KneserNeyEstimator(pruneThresholds:)` against KenLM 0.3.0's `lmplz --prune` on the same text
/// (Fixtures/lm/*-prune*.arpa, made by Fixtures/make_pruned_lms.py): the same n-grams, and log10
/// probabilities and backoffs within 1e-6 (lmplz computes in float; its ARPA prints floats).
final class KneserNeyPruningTests: XCTestCase {
    static let tolerance = 1e-6

    /// n-gram -> (log10 prob, log10 backoff or 0), and the `ngram N=` counts.
    func parse(_ text: String) -> (grams: [String: (Double, Double)], counts: [Int]) {
        var grams: [String: (Double, Double)] = [:], counts: [Int] = []
        var inSection = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("ngram "), let c = Int(line.split(separator: "=")[1]) { counts.append(c); continue }
            if line.hasSuffix("-grams:") { inSection = true; continue }
            if line.hasPrefix("\\") { inSection = false; continue }
            guard inSection else { continue }
            let fields = line.split(separator: "\t")
            grams[String(fields[1])] = (Double(fields[0])!, fields.count > 2 ? Double(fields[2])! : 0)
        }
        return (grams, counts)
    }

    func sentences(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(whereSeparator: \.isNewline)
            .map { $0.split(whereSeparator: \.isWhitespace).map(String.init) }.filter { !$0.isEmpty }
    }

    /// Estimates, compares with lmplz's file, and returns our ARPA text.
    @discardableResult
    func check(_ fixture: String, corpus: [[String]], order: Int, prune: [Int],
               file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let ours = KneserNeyEstimator(order: order, pruneThresholds: prune).estimate(sentences: corpus)
        let reference = parse(try String(contentsOfFile: Fixtures.path("Fixtures/lm/\(fixture)"), encoding: .utf8))
        let mine = parse(ours.arpa)
        XCTAssertEqual(mine.counts, reference.counts, "\(fixture): ngram counts", file: file, line: line)
        XCTAssertEqual(ours.counts, reference.counts, file: file, line: line)
        let missing = Set(reference.grams.keys).subtracting(mine.grams.keys), extra = Set(mine.grams.keys).subtracting(reference.grams.keys)
        XCTAssertTrue(missing.isEmpty && extra.isEmpty,
                      "\(fixture): \(missing.count) n-grams missing (e.g. \(missing.prefix(3))), \(extra.count) extra (e.g. \(extra.prefix(3)))", file: file, line: line)
        var worstProb = 0.0, worstBackoff = 0.0, worst = ""
        for (gram, (p, b)) in reference.grams {
            guard let (q, c) = mine.grams[gram] else { continue }
            if abs(p - q) > worstProb { worstProb = abs(p - q); worst = gram }
            worstBackoff = max(worstBackoff, abs(b - c))
        }
        print("\(fixture) (order \(order), --prune \(prune.map(String.init).joined(separator: " "))): \(reference.grams.count) n-grams, kept/all \(zip(ours.counts, ours.unprunedCounts).map { "\($0)/\($1)" }.joined(separator: " ")), max |Δ log10 p| \(worstProb) (\(worst)), max |Δ log10 backoff| \(worstBackoff)")
        XCTAssertLessThanOrEqual(worstProb, Self.tolerance, fixture, file: file, line: line)
        XCTAssertLessThanOrEqual(worstBackoff, Self.tolerance, fixture, file: file, line: line)
        return ours.arpa
    }

    func testArmenianPrunedModelsMatchLmplz() throws {
        let corpus = try sentences(Fixtures.path("Fixtures/lm/corpus-hy.normalised.txt"))
        for order in [3, 4] {
            for prune in [[0, 0, 1], [0, 1, 1], [0, 1, 2]] {
                let arpa = try check("hy-\(order)gram-prune\(prune.map(String.init).joined()).arpa", corpus: corpus, order: order, prune: prune)
                // KenLM's loading rules accept it (no blanks needed), and it scores like lmplz's file.
                let a = try ARPAModel(text: arpa)
                let b = try ARPAModel(path: Fixtures.path("Fixtures/lm/hy-\(order)gram-prune\(prune.map(String.init).joined()).arpa"))
                XCTAssertFalse(a.hasBlanks)
                for sentence in corpus.prefix(20) + [["անհայտ", "բառ"]] {
                    XCTAssertEqual(a.score(sentence: sentence).total, b.score(sentence: sentence).total, accuracy: 1e-4)
                }
            }
        }
        // Unigrams too: the uniform distribution is then over the kept words.
        try check("hy-4gram-prune1.arpa", corpus: corpus, order: 4, prune: [1])
    }

    func testEnglishPrunedModelsMatchLmplz() throws {
        // DeepSpeech's smoke-test training text: 501 lines, 13,343 words.
        let corpus = try sentences(Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test/vocab.txt").path)
        try check("en-3gram-prune012.arpa", corpus: corpus, order: 3, prune: [0, 1, 2])
        try check("en-4gram-prune011.arpa", corpus: corpus, order: 4, prune: [0, 1, 1])
    }

    func testZeroThresholdsAreNoPruning() throws {
        let corpus = try sentences(Fixtures.path("Fixtures/lm/corpus-hy.normalised.txt"))
        let plain = KneserNeyEstimator(order: 3).estimate(sentences: corpus)
        let zero = KneserNeyEstimator(order: 3, pruneThresholds: [0]).estimate(sentences: corpus)
        XCTAssertEqual(plain.arpa, zero.arpa)
        XCTAssertEqual(plain.counts, plain.unprunedCounts)
    }

    func testThresholdsAreCheckedAsLmplzChecksThem() throws {
        XCTAssertEqual(try KneserNeyEstimator.expandPruneThresholds([], order: 3), [0, 0, 0])
        XCTAssertEqual(try KneserNeyEstimator.expandPruneThresholds([0, 1], order: 4), [0, 1, 1, 1])
        XCTAssertEqual(try KneserNeyEstimator.expandPruneThresholds([0, 0, 1], order: 3), [0, 0, 1])
        func refusal(_ values: [Int], order: Int) -> String {
            do { _ = try KneserNeyEstimator.expandPruneThresholds(values, order: order); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(refusal([0, 0, 0, 1], order: 3).contains("only has order 3"), refusal([0, 0, 0, 1], order: 3))
        XCTAssertTrue(refusal([0, 2, 1], order: 3).contains("non-decreasing"), refusal([0, 2, 1], order: 3))
        XCTAssertTrue(refusal([0, -1], order: 3).contains("negative"), refusal([0, -1], order: 3))
    }

    /// build_binary needs no blanks for lmplz's pruned files, and neither does KenLMTrieWriter:
    /// byte for byte what `build_binary -v trie` wrote (Fixtures/make_pruned_lms.py), including
    /// a model whose 4-gram section is empty.
    func testTrieWriterWritesWhatBuildBinaryWritesForPrunedModels() throws {
        for name in ["hy-4gram-prune011", "hy-4gram-prune012"] {
            let arpa = try ARPAModel(path: Fixtures.path("Fixtures/lm/\(name).arpa"))
            XCTAssertFalse(arpa.hasBlanks, name)
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid()).bin").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            try KenLMTrieWriter.write(arpa, to: out)
            let ours = try Data(contentsOf: URL(fileURLWithPath: out))
            let reference = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("Fixtures/lm/\(name).trie.bin")))
            XCTAssertEqual(ours.count, reference.count, name)
            let firstDifference = zip(ours, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            XCTAssertNil(firstDifference, "\(name): first differing byte \(firstDifference ?? -1)")
            let binary = try KenLMBinaryModel(path: out)
            for sentence in [["մայրիկս", "պատրաստել", "է"], ["ես", "ուզում", "եմ", "գնալ", "սևան"], ["անհայտ", "բառ"]] {
                XCTAssertEqual(binary.score(sentence: sentence).total, arpa.score(sentence: sentence).total, accuracy: 1e-6)
            }
        }
    }
}
