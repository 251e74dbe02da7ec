import Foundation
import XCTest
import TestSupport
import SpeechDecoding

/// UTF-8 (bytes output) mode against Coqui STT 1.4.0's own decoder (the PyPI wheel
/// coqui_stt_ctcdecoder 1.4.0 with its UTF8Alphabet), recorded by Fixtures/record_utf8_decoder.py
/// in Fixtures/reference/ctcdecoder/utf8-cases.json: seeded synthetic [T, 256] probabilities
/// spelling English words (and é, ü, ï) as bytes, decoded with the smoke test's
/// pruned_lm.bytes.scorer at its default alpha/beta and at 0.5/1.0, beams 16 and 100,
/// cutoff_top_n 40, 3 candidates, and once with a hot word. Labels and timesteps must be
/// identical, confidences within 1e-3 relative. The scorer's dictionary graph holds only a-z and
/// ' (one codepoint a word), so both decoders drop every prefix that would add a space or a
/// multi-byte codepoint's lead byte, even at 0.9+ probability (utf8-confident): these cases check
/// that pruning, not the scoring of multi-byte words. The utf8-hy-* cases (their "scorer" field)
/// spell Armenian phrases (2 bytes a letter) and are decoded with Fixtures/lm/hy-chars.utf8.scorer,
/// a character-level 3-gram packaged by Coqui's Scorer in UTF-8 mode, so every candidate holds
/// multi-byte codepoints scored by the LM; its dictionary also holds " " (an LM OOV).
final class UTF8ModeReferenceTests: XCTestCase {
    func testMatchesCoquiDecoderInUTF8Mode() throws {
        let englishScorer = Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test/pruned_lm.bytes.scorer").path
        let haveEnglish = FileManager.default.fileExists(atPath: englishScorer)
        let document = try XCTUnwrap(Fixtures.json("ctcdecoder/utf8-cases.json") as? [String: Any])
        let cases = try XCTUnwrap(document["cases"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 20)
        let alphabet = Alphabet.utf8Bytes()
        XCTAssertEqual(alphabet.size, 255)
        var probabilities: [String: NPYFile] = [:]
        var matches = 0, skipped = 0, armenian = 0, armenianMatches = 0
        var worstRelative = 0.0
        for (index, c) in cases.enumerated() {
            let source = try XCTUnwrap(c["source"] as? String)
            let scorerPath = (c["scorer"] as? String).map { Fixtures.path($0) } ?? englishScorer
            if scorerPath == englishScorer && !haveEnglish { skipped += 1; continue }
            if scorerPath != englishScorer { armenian += 1 }
            let base = try LanguageModelScorer.load(path: scorerPath, alphabet: alphabet)
            XCTAssertTrue(base.isUTF8Mode)
            if probabilities[source] == nil {
                probabilities[source] = try NPYFile(path: Fixtures.reference.appendingPathComponent("ctcdecoder/\(source)").path)
            }
            let probs = try XCTUnwrap(probabilities[source])
            XCTAssertEqual(probs.shape, [try XCTUnwrap(c["frames"] as? Int), 256])
            let alpha = try XCTUnwrap(c["alpha"] as? Double), beta = try XCTUnwrap(c["beta"] as? Double)
            let hotWords = (try XCTUnwrap(c["hot_words"] as? [String: Double])).mapValues { Float($0) }
            let defaults = try XCTUnwrap(c["default_weights"] as? Bool)
            var scorer = try LanguageModelScorer.load(path: scorerPath, alphabet: alphabet, hotWords: hotWords)
            if defaults {
                XCTAssertEqual(scorer.alpha, alpha, accuracy: 1e-12)
                XCTAssertEqual(scorer.beta, beta, accuracy: 1e-12)
            } else {
                scorer = scorer.with(alpha: alpha, beta: beta)
            }
            let beam = try XCTUnwrap(c["beam_width"] as? Int)
            var search = try PrefixBeamSearch(alphabet: alphabet, beamWidth: beam,
                                              cutoffTopN: try XCTUnwrap(c["cutoff_top_n"] as? Int),
                                              cutoffProbability: try XCTUnwrap(c["cutoff_prob"] as? Double), scorer: scorer)
            search.next(probabilities: probs.values)
            let ours = search.decode(candidates: try XCTUnwrap(c["num_results"] as? Int))
            let expected = try XCTUnwrap(c["candidates"] as? [[String: Any]])
            var problems: [String] = []
            if ours.count != expected.count { problems.append("\(ours.count) candidates, Coqui \(expected.count)") }
            for (k, (o, e)) in zip(ours, expected).enumerated() {
                let labels = try XCTUnwrap(e["tokens"] as? [Int]), steps = try XCTUnwrap(e["timesteps"] as? [Int])
                let confidence = try XCTUnwrap(e["confidence"] as? Double)
                if o.labels != labels {
                    let at = (0 ..< min(o.labels.count, labels.count)).first { o.labels[$0] != labels[$0] } ?? min(o.labels.count, labels.count)
                    problems.append("#\(k) labels differ at \(at): ours \(o.labels) (\(o.text(in: alphabet))), Coqui \(labels) (\(e["text"] ?? ""))")
                } else if o.timesteps != steps {
                    problems.append("#\(k) timesteps ours \(o.timesteps), Coqui \(steps)")
                }
                worstRelative = max(worstRelative, abs(o.confidence - confidence) / max(abs(confidence), 1e-12))
                if abs(o.confidence - confidence) > 1e-3 * abs(confidence) {
                    problems.append("#\(k) confidence ours \(o.confidence), Coqui \(confidence)")
                }
            }
            let name = "\(index): \(source) beam \(beam) alpha \(alpha) beta \(beta) hot \(hotWords)"
            if problems.isEmpty {
                matches += 1
                if scorerPath != englishScorer { armenianMatches += 1 }
            } else {
                XCTFail("case \(name): " + problems.joined(separator: "; "))
            }
            print("  utf8 case \(name): \(problems.isEmpty ? "identical" : "differs") | \(ours.first.map { $0.text(in: alphabet) } ?? "")")
        }
        print("UTF-8 mode: \(matches)/\(cases.count - skipped) cases identical to coqui_stt_ctcdecoder 1.4.0 "
              + "(Armenian scorer \(armenianMatches)/\(armenian); \(skipped) skipped without \(englishScorer)), "
              + "worst confidence difference \(worstRelative) relative")
        XCTAssertGreaterThanOrEqual(armenian, 12)
        XCTAssertEqual(matches, cases.count - skipped)
        if skipped == cases.count - armenian { throw XCTSkip("no \(englishScorer): only the Armenian cases ran") }
    }
}
