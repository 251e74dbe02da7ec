import Foundation
import XCTest
import TestSupport
import SpeechDecoding

final class GreedyCTCDecoderTests: XCTestCase {
    /// Classes a, b, blank. Argmax per frame: a a - a b b - (blank) -> "a a b" emitted at 0, 3, 4.
    func testCollapsesRepeatsAndDropsBlanks() {
        let rows: [[Float]] = [
            [0.6, 0.1, 0.3], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8], [0.7, 0.2, 0.1],
            [0.1, 0.8, 0.1], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6],
        ]
        let result = GreedyCTCDecoder.decode(probabilities: rows.flatMap { $0 }, classCount: 3, firstFrame: 10)
        XCTAssertEqual(result.labels, [0, 0, 1])
        XCTAssertEqual(result.timesteps, [10, 13, 14])
        let expected = [0.6, 0.5, 0.8, 0.7, 0.8, 0.6, 0.6].reduce(0.0) { $0 + log(Double(Float($1))) }
        XCTAssertEqual(result.confidence, expected, accuracy: 1e-12)
    }

    /// Ties go to the smaller class id; NaN never wins; no frames gives an empty transcript.
    func testTiesAndEdgeCases() {
        let tie = GreedyCTCDecoder.decode(probabilities: [0.4, 0.4, 0.2], classCount: 3)
        XCTAssertEqual(tie.labels, [0])
        let nan = GreedyCTCDecoder.decode(probabilities: [.nan, 0.3, 0.2], classCount: 3)
        XCTAssertEqual(nan.labels, [1])
        let empty = GreedyCTCDecoder.decode(probabilities: [], classCount: 3)
        XCTAssertEqual(empty, CandidateTranscript(labels: [], timesteps: [], confidence: 0))
    }

    /// On the Armenian clips, greedy decoding reproduces the LiteRT greedy transcript recorded
    /// by the fixtures (summary.json is not copied; the check is that it is close to beam 1).
    func testArmenianClipIsCloseToBeamOne() throws {
        let alphabet = try ArmenianModel.alphabet()
        let npy = try ArmenianModel.probabilities("hy-01")
        let greedy = GreedyCTCDecoder.decode(probabilities: npy.values, classCount: npy.shape[1])
        let beam = try PrefixBeamSearch.decode(npy.values, classCount: npy.shape[1], beamWidth: 1, candidates: 1)
        XCTAssertEqual(greedy.text(in: alphabet), beam[0].text(in: alphabet))
    }
}
