import Foundation
import XCTest
import TestSupport
import SpeechDecoding

final class PrefixBeamSearchTests: XCTestCase {
    func decode(_ rows: [[Float]], beam: Int, candidates: Int = 3, chunk: Int? = nil) -> [CandidateTranscript] {
        let classes = rows[0].count
        var search = PrefixBeamSearch(classCount: classes, beamWidth: beam)
        let flat = rows.flatMap { $0 }
        let step = chunk ?? rows.count
        var t = 0
        while t < rows.count {
            let n = min(step, rows.count - t)
            flat.withUnsafeBufferPointer { search.next(probabilities: UnsafeBufferPointer(rebasing: $0[(t * classes)..<((t + n) * classes)]), frames: n) }
            t += n
        }
        return search.decode(candidates: candidates)
    }

    /// Two frames over classes {a, blank}, worked by hand (scores are ln, the blank is class 1).
    /// Frame 0: p(a) = 0.6, p(blank) = 0.4 → "" = ln 0.4, "a" = ln 0.6 (timestep 0).
    /// Frame 1: p(a) = 0.3, p(blank) = 0.7 →
    ///   ""  = ln(0.4·0.7) = ln 0.28
    ///   "a" = ln(0.6·0.7 + 0.6·0.3 + 0.4·0.3) = ln 0.72 (a-blank, a-a, blank-a)
    ///   "aa" = log 0 (it needs a blank before the second a, and "a" had none at frame 0); the
    ///   reference still creates the node and lists it last, with score −FLT_MAX.
    func testTwoFramesByHand() {
        let result = decode([[0.6, 0.4], [0.3, 0.7]], beam: 10)
        XCTAssertEqual(result.map(\.labels), [[0], [], [0, 0]])
        XCTAssertEqual(result[2].confidence, -Double(Float.greatestFiniteMagnitude))
        XCTAssertEqual(result[0].confidence, log(0.72), accuracy: 1e-6)
        XCTAssertEqual(result[1].confidence, log(0.28), accuracy: 1e-6)
        XCTAssertEqual(result[0].timesteps, [0])
    }

    /// Leading frames with blank ≥ 0.999 are skipped but still counted for timesteps.
    func testDelayedStartKeepsAbsoluteTimesteps() {
        let rows: [[Float]] = [[0.0005, 0.0005, 0.999], [0.0005, 0.0005, 0.999], [0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.05, 0.9, 0.05]]
        let result = decode(rows, beam: 8)
        XCTAssertEqual(result[0].labels, [0, 1])
        XCTAssertEqual(result[0].timesteps, [2, 4])
    }

    func testRepeatNeedsABlankBetween() {
        // a a blank a → "aa" with the second a at frame 3.
        let rows: [[Float]] = [[0.98, 0.01, 0.01], [0.98, 0.01, 0.01], [0.01, 0.01, 0.98], [0.98, 0.01, 0.01]]
        let result = decode(rows, beam: 16)
        XCTAssertEqual(result[0].labels, [0, 0])
        XCTAssertEqual(result[0].timesteps, [0, 3])
    }

    func testChunkingDoesNotChangeResults() throws {
        let probs = try NPYFile(path: Fixtures.reference.appendingPathComponent("litert/hy-05.probs.npy").path)
        let classes = probs.shape[1]
        let rows = (0..<probs.shape[0]).map { Array(probs.values[($0 * classes)..<(($0 + 1) * classes)]) }
        let whole = decode(rows, beam: 100)
        XCTAssertEqual(decode(rows, beam: 100, chunk: 1), whole)
        XCTAssertEqual(decode(rows, beam: 100, chunk: 16), whole)
    }

    func testGreedyEqualsBeamOneOnPeakyOutput() {
        let rows: [[Float]] = [[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.05, 0.9, 0.05], [0.05, 0.9, 0.05]]
        let flat = rows.flatMap { $0 }
        let greedy = flat.withUnsafeBufferPointer { GreedyCTCDecoder.decode(probabilities: $0, frames: 5, classCount: 3) }
        let beam = decode(rows, beam: 1, candidates: 1)[0]
        XCTAssertEqual(greedy.labels, beam.labels)
        XCTAssertEqual(greedy.timesteps, beam.timesteps)
    }

    /// GNU libstdc++'s algorithms, reproduced, must order like a correct sort / selection.
    func testStandardLibrarySortingIsCorrect() {
        var generator = SystemRandomNumberGenerator()
        for n in [0, 1, 2, 3, 4, 5, 16, 17, 41, 100, 1000] {
            let values = (0..<n).map { _ in Int.random(in: 0..<50, using: &generator) }
            var sorted = values
            StandardLibrarySorting.sort(&sorted, by: <)
            XCTAssertEqual(sorted, values.sorted())
            for nth in Set([0, n / 2, max(0, n - 1)]) where n > 0 {
                var selected = values
                StandardLibrarySorting.nthElement(&selected, nth, by: <)
                XCTAssertEqual(selected[nth], values.sorted()[nth])
                XCTAssertTrue(selected[..<nth].allSatisfy { $0 <= selected[nth] })
                XCTAssertTrue(selected[(nth + 1)...].allSatisfy { $0 >= selected[nth] })
            }
        }
    }

    /// The decoder on LiteRT's probabilities for the released model, against Coqui STT
    /// 1.4.0's candidates. LiteRT and Coqui's TFLite 2.9 + XNNPACK build differ by float noise
    /// in the probabilities (LSTM activations), which flips a few near-tied decisions; the
    /// decoder itself is exact where the inputs agree, so most candidates must match exactly.
    func testAgainstCoquiOnLiteRTProbabilities() throws {
        for (file, beam) in [("stt-beam500-c3.json", 500), ("stt-beam1-c3.json", 1)] {
            let reference = try XCTUnwrap(Fixtures.json("peers/\(file)") as? [String: [String: Any]])
            let info = try XCTUnwrap(Fixtures.json("litert/model-info.json") as? [String: Any])
            let labels = try XCTUnwrap((info["metadata"] as? [String: Any])?["alphabet"] as? [String])
            let alphabet = Alphabet(labels: labels)
            var exact = 0, total = 0
            var confidenceErrors: [Double] = []
            for clip in Fixtures.clipNames {
                let probs = try NPYFile(path: Fixtures.reference.appendingPathComponent("litert/\(clip.dropLast(4)).probs.npy").path)
                var search = PrefixBeamSearch(classCount: probs.shape[1], beamWidth: beam)
                probs.values.withUnsafeBufferPointer { search.next(probabilities: $0, frames: probs.shape[0]) }
                let ours = search.decode(candidates: 3)
                let theirs = try XCTUnwrap(reference[clip]?["candidates"] as? [[String: Any]])
                for (o, t) in zip(ours, theirs) {
                    total += 1
                    let timesteps = (t["tokens"] as? [[String: Any]] ?? []).map { $0["timestep"] as? Int ?? -1 }
                    if alphabet.decode(o.labels) == t["text"] as? String && o.timesteps == timesteps {
                        exact += 1
                        confidenceErrors.append(abs(o.confidence - (t["confidence"] as? Double ?? 0)) / abs(t["confidence"] as? Double ?? 1))
                    }
                }
            }
            print("decoder on LiteRT probabilities, beam \(beam): \(exact)/\(total) candidates identical to Coqui STT 1.4.0 (text and timesteps); worst confidence rel. diff among them \(confidenceErrors.max() ?? 0)")
            XCTAssertGreaterThanOrEqual(Double(exact) / Double(total), 0.75, "beam \(beam)")
            XCTAssertLessThan(confidenceErrors.max() ?? 0, 1e-3)
        }
    }
}
