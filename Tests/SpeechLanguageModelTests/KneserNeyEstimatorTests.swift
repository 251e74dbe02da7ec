import Foundation
import XCTest
import SpeechLanguageModel
import TestSupport

/// `KneserNeyEstimator` against KenLM's lmplz on the same text (Fixtures/lm/hy-3gram.arpa, made
/// by Fixtures/make_scorer.py: `lmplz -o 3 --discount_fallback` on corpus-hy.normalised.txt).
final class KneserNeyEstimatorTests: XCTestCase {
    func parse(_ text: String) -> [String: (Float, Float?)] {
        var out: [String: (Float, Float?)] = [:]
        var inSection = false
        for line in text.split(separator: "\n") {
            if line.hasSuffix("-grams:") { inSection = true; continue }
            if line.hasPrefix("\\") { inSection = false; continue }
            guard inSection else { continue }
            let fields = line.split(separator: "\t")
            out[String(fields[1])] = (Float(fields[0])!, fields.count > 2 ? Float(fields[2])! : nil)
        }
        return out
    }

    func testEstimatesWhatLmplzEstimates() throws {
        let corpus = try String(contentsOfFile: Fixtures.path("Fixtures/lm/corpus-hy.normalised.txt"), encoding: .utf8)
        let sentences = corpus.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let ours = KneserNeyEstimator(order: 3).estimate(sentences: sentences)
        let reference = parse(try String(contentsOfFile: Fixtures.path("Fixtures/lm/hy-3gram.arpa"), encoding: .utf8))
        let mine = parse(ours.arpa)
        XCTAssertEqual(Set(mine.keys), Set(reference.keys), "different n-grams")
        var worstProb: Float = 0, worstBackoff: Float = 0, worst = ""
        for (gram, (p, b)) in reference {
            guard let (q, c) = mine[gram] else { continue }
            if abs(p - q) > worstProb { worstProb = abs(p - q); worst = gram }
            worstBackoff = max(worstBackoff, abs((b ?? 0) - (c ?? 0)))
        }
        print("lmplz vs ours: \(reference.count) n-grams, max |Δ log10 p| \(worstProb) (\(worst)), max |Δ log10 backoff| \(worstBackoff); discounts \(ours.discounts)")
        XCTAssertLessThanOrEqual(worstProb, 1e-5)
        XCTAssertLessThanOrEqual(worstBackoff, 1e-5)
        // KenLM reads it, and it scores like lmplz's.
        let a = try ARPAModel(text: ours.arpa), b = try ARPAModel(path: Fixtures.path("Fixtures/lm/hy-3gram.arpa"))
        for sentence in sentences.prefix(20) {
            XCTAssertEqual(a.score(sentence: sentence).total, b.score(sentence: sentence).total, accuracy: 1e-4)
        }
    }
}
