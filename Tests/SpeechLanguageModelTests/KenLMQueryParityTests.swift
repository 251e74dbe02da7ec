import Foundation
import XCTest
import SpeechLanguageModel
import TestSupport

/// Every model of ../shared/data/kenlm — ARPA files and KenLM binaries of every type — and the
/// models inside the two smoke-test scorer packages score their sentences (189 and 101)
/// exactly as KenLM's `query` does (Fixtures/reference/kenlm/query.json, recorded
/// by Fixtures/record_kenlm.py): the same vocabulary id, the same n-gram length, and the same
/// log10 probability for every word (query prints 7 significant digits), and the same total.
final class KenLMQueryParityTests: XCTestCase {
    func load(_ name: String) throws -> any NGramLanguageModel {
        if name.hasPrefix("scorer:") {
            return try ScorerPackage(path: Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test/\(name.dropFirst(7))").path).languageModel
        }
        let path = Fixtures.sharedData.appendingPathComponent("kenlm/\(name)").path
        return name.hasSuffix(".arpa") ? try ARPAModel(path: path) : try KenLMBinaryModel(path: path)
    }

    func testEveryModelMatchesQuery() throws {
        let reference = try XCTUnwrap(Fixtures.json("kenlm/query.json") as? [String: [String: Any]])
        XCTAssertEqual(reference.count, 13)
        for (name, record) in reference.sorted(by: { $0.key < $1.key }) {
            let model = try load(name)
            let sentences = try XCTUnwrap(record["sentences"] as? [[String: Any]])
            var mismatches = 0
            for sentence in sentences {
                let text = try XCTUnwrap(sentence["text"] as? String)
                let expected = try XCTUnwrap(sentence["words"] as? [[Any]])
                let (scores, total) = model.score(sentence: text.split(separator: " ").map(String.init))
                XCTAssertEqual(scores.count, expected.count, "\(name): \(text)")
                for (i, (score, want)) in zip(scores, expected).enumerated() {
                    let word = want[0] as? String ?? "?"
                    let prob = Float(want[3] as? Double ?? .nan)
                    let ok = score.ngramLength == want[2] as? Int
                        && abs(score.log10Probability - prob) <= 1e-6 * max(1, abs(prob))
                        && (model is ARPAModel || Int(model.index(of: word)) == want[1] as? Int)
                    if !ok {
                        mismatches += 1
                        if mismatches <= 5 {
                            XCTFail("\(name): '\(text)' word \(i) '\(word)': ours \(score.log10Probability) (\(score.ngramLength)-gram, id \(model.index(of: word))), query \(prob) (\(want[2])-gram, id \(want[1]))")
                        }
                    }
                }
                let wantTotal = Float(sentence["total"] as? Double ?? .nan)
                XCTAssertEqual(total, wantTotal, accuracy: 1e-5 * max(1, abs(wantTotal)), "\(name): \(text)")
            }
            XCTAssertEqual(mismatches, 0, "\(name): \(mismatches) words differ from query")
        }
    }
}
