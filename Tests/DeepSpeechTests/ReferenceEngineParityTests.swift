import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// End to end, file to candidates, against Coqui STT 1.4.0 on the released model
/// (`Fixtures/reference/peers/*.json`, recorded by Fixtures/record_peers.sh).
///
/// Clips: hy-01 … hy-12 and the 55 s long clip; beam widths 500 (the model's) and 1, three
/// candidates each.
final class ReferenceEngineParityTests: XCTestCase {
    static let model: SpeechModel? = try? SpeechModel(path: Fixtures.releasedModelPath())

    func loadModel() throws -> SpeechModel {
        if let model = Self.model { return model }
        return try SpeechModel(path: Fixtures.releasedModelPath())   // rethrows the reason
    }

    struct PeerCandidate { var text: String; var confidence: Double; var timesteps: [Int] }

    func peerCandidates(_ file: String) throws -> [String: [PeerCandidate]] {
        let object = try XCTUnwrap(Fixtures.json("peers/\(file)") as? [String: [String: Any]])
        return try object.mapValues { clip in
            let candidates = try XCTUnwrap(clip["candidates"] as? [[String: Any]])
            return try candidates.map { c in
                let tokens = try XCTUnwrap(c["tokens"] as? [[String: Any]])
                return PeerCandidate(text: try XCTUnwrap(c["text"] as? String),
                                     confidence: try XCTUnwrap(c["confidence"] as? Double),
                                     timesteps: tokens.map { ($0["timestep"] as? Int) ?? -1 })
            }
        }
    }

    /// Counts, over clips and candidates, how many equal Coqui's exactly: the same text, the
    /// same token timesteps and the confidence within 1e-3 relative.
    ///
    /// Why not all of them: Coqui STT runs the LSTM's sigmoid on XNNPACK and tanh on Eigen;
    /// we reproduce both, but a last-bit difference somewhere (e.g. XNNPACK's summation order
    /// in softmax, or an op we compute in another order) can still flip one value of the
    /// int8-quantized recurrent input, after which the LSTM state drifts by ~1e-3 and near-tied
    /// candidates can swap. The thresholds below are what the engine achieves today (see the
    /// printed table); a regression in features, kernels or decoder drops far below them.
    func compare(referenceFile: String, beamWidth: Int?, clips: [String], topOneAtLeast: Double, allAtLeast: Double) throws {
        let model = try loadModel()
        let reference = try peerCandidates(referenceFile)
        var topOne = 0, exact = 0, total = 0
        for clip in clips {
            let expected = try XCTUnwrap(reference[clip], "no reference for \(clip)")
            let result = try model.transcribe(file: Fixtures.clips.appendingPathComponent(clip).path,
                                              options: DecodingOptions(beamWidth: beamWidth, candidates: expected.count))
            XCTAssertEqual(result.candidates.count, expected.count, clip)
            var row = "  \(clip):"
            for (i, (ours, theirs)) in zip(result.candidates, expected).enumerated() {
                total += 1
                let relative = abs(ours.confidence - theirs.confidence) / abs(theirs.confidence)
                let same = ours.text == theirs.text && ours.tokens.map(\.timestep) == theirs.timesteps && relative <= 1e-3
                if same { exact += 1 }
                if i == 0 && ours.text == theirs.text { topOne += 1 }
                row += same ? " ok" : String(format: " differs(conf %.2e)", relative)
            }
            print(row)
        }
        print("\(referenceFile): top-1 text identical on \(topOne)/\(clips.count) clips; \(exact)/\(total) candidates identical in text, timesteps and confidence (1e-3)")
        XCTAssertGreaterThanOrEqual(Double(topOne) / Double(clips.count), topOneAtLeast)
        XCTAssertGreaterThanOrEqual(Double(exact) / Double(total), allAtLeast)
    }

    func testBeam500ThreeCandidates() throws {
        try compare(referenceFile: "stt-beam500-c3.json", beamWidth: nil, clips: Fixtures.clipNames + ["long-hy.wav"],
                    topOneAtLeast: 0.75, allAtLeast: 0.75)
    }

    func testBeam1ThreeCandidates() throws {
        try compare(referenceFile: "stt-beam1-c3.json", beamWidth: 1, clips: Fixtures.clipNames + ["long-hy.wav"],
                    topOneAtLeast: 0.75, allAtLeast: 0.75)
    }

    /// A 44.1 kHz stereo float WAV and an 8 kHz WAV transcribe without manual conversion.
    /// The reference engine needs 16 kHz mono, so its transcripts come from sox-converted
    /// copies; our resampler is not sox's and 8 kHz audio has lost everything above 4 kHz, so
    /// the transcripts are compared by character edit distance (at most 25 %).
    func testOtherFormatsTranscribeWithoutConversion() throws {
        let model = try loadModel()
        let reference = try XCTUnwrap(Fixtures.json("peers/stt-converted-formats.json") as? [String: [String: Any]])
        for clip in ["hy-01-44k-stereo-float.wav", "hy-02-8k.wav"] {
            let result = try model.transcribe(file: Fixtures.clips.appendingPathComponent(clip).path)
            let expected = try XCTUnwrap(reference[clip]?["text"] as? String)
            let distance = editDistance(Array(result.text), Array(expected))
            print("\(clip): ours \"\(result.text)\" vs Coqui on sox-converted audio \"\(expected)\" (edit distance \(distance))")
            XCTAssertLessThanOrEqual(Double(distance), Double(expected.count) * 0.25, clip)
        }
    }
}
