import DeepSpeech
import Foundation
import TestSupport
import XCTest

/// The released `armspeech` model re-exported by TensorFlow as a frozen `.pb` (float32 weights,
/// the int8 ones dequantized), ~190 MB, so not committed: `Fixtures/make_tensorflow_models.py`
/// writes it to `Fixtures/.work/armspeech.pb`, and this test runs when it is there (or when
/// `DEEPSPEECH_ARMSPEECH_PB` names it). It checks the `.pb` against TensorFlow's own
/// probabilities, and that it transcribes every fixture clip exactly like the `.tflite` on the
/// float32 path (the same weights, the same arithmetic).
final class ReleasedGraphReexportTests: XCTestCase {
    func testReexportedGraphEqualsTFLiteFloatPath() throws {
        let path = ProcessInfo.processInfo.environment["DEEPSPEECH_ARMSPEECH_PB"] ?? Fixtures.path("Fixtures/.work/armspeech.pb")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path),
                          "run Fixtures/make_tensorflow_models.py to make \(path) (190 MB, not committed)")
        let graph = try SpeechModel(path: path)
        let tflite = try SpeechModel(path: try Fixtures.releasedModelPath(), precision: .float32)
        XCTAssertEqual(graph.alphabet.labels, tflite.alphabet.labels)
        XCTAssertEqual(graph.acoustic?.hyperparameters, tflite.acoustic?.hyperparameters)
        for clip in ["hy-01", "hy-02", "hy-03"] {
            let expected = try NPYFile(path: Fixtures.path("Fixtures/reference/tensorflow/armspeech-pb.\(clip).probs.npy"))
            let audio = try ModelInput.load(path: Fixtures.clips.appendingPathComponent(clip + ".wav").path, sampleRate: 16000)
            let got = try graph.probabilities(audio)
            let d = Difference(got, expected.values)
            XCTAssertEqual(got.count, expected.values.count)
            XCTAssertLessThan(d.maxAbsolute, 1e-5, "\(clip) vs TensorFlow: \(d)")
        }
        for name in Fixtures.clipNames {
            let audio = try ModelInput.load(path: Fixtures.clips.appendingPathComponent(name).path, sampleRate: 16000)
            let a = try graph.transcribeWithMetadata(audio), b = try tflite.transcribeWithMetadata(audio)
            XCTAssertEqual(a.candidates.map(\.text), b.candidates.map(\.text), name)
        }
    }
}
