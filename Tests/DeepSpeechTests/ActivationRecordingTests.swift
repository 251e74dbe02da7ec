import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// The recording pass against LiteRT running the same model on the same clip
/// (`Fixtures/reference/litert/`, recorded by Fixtures/record_litert.py), and the `.npy` files
/// it writes read back with the tests' independent `.npy` reader.
final class ActivationRecordingTests: XCTestCase {
    func testStagesMatchLiteRTAndTheTranscriptMatchesTheStream() throws {
        let model = try SpeechModel(path: Fixtures.releasedModelPath())
        let samples = try ModelInput.load(path: Fixtures.clips.appendingPathComponent("hy-01.wav").path, sampleRate: 16000)
        let recording = try model.record(samples, options: DecodingOptions(candidates: 3))
        XCTAssertEqual(recording.stages.map(\.name), ["samples", "power_spectrum", "mfcc", "context_windows", "layer_1", "layer_2", "layer_3",
                                                      "lstm_gates", "lstm_c", "lstm_h", "layer_5", "layer_6", "probabilities"])
        let litert = Fixtures.reference.appendingPathComponent("litert")
        let mfcc = try NPYFile(path: litert.appendingPathComponent("hy-01.mfcc.npy").path)
        XCTAssertEqual(recording["mfcc"]?.shape, mfcc.shape)
        XCTAssertEqual(recording["mfcc"]?.values, mfcc.values, "MFCC: bit-identical to the model's own TFLite subgraph")
        let probabilities = try NPYFile(path: litert.appendingPathComponent("hy-01.probs.npy").path)
        XCTAssertLessThanOrEqual(Difference(try XCTUnwrap(recording["probabilities"]?.values), probabilities.values).maxAbsolute, 1e-6)
        // Per-layer outputs, first 32 steps (two batches). Dense layers 1–3 are exact; after the
        // LSTM, the activation approximations leave a few ulps (see the README).
        for (name, tolerance) in [("layer_1", Float(0)), ("layer_2", 0), ("layer_3", 0), ("lstm_c", 1e-5), ("lstm_h", 1e-5), ("layer_5", 1e-5), ("layer_6", 1e-5)] {
            let reference = try NPYFile(path: litert.appendingPathComponent("layers/hy-01.\(name).npy").path)
            let ours = try XCTUnwrap(recording[name])
            let width = try XCTUnwrap(ours.shape.last)
            XCTAssertEqual(reference.values.count, 32 * width, name)
            let difference = Difference(Array(ours.values.prefix(32 * width)), reference.values)
            XCTAssertLessThanOrEqual(difference.maxAbsolute, tolerance, "\(name): \(difference)")
        }
        XCTAssertEqual(recording["lstm_gates"]?.shape, [169, 4 * 2048])
        XCTAssertEqual(recording["context_windows"]?.shape, [169, 19, 26])
        XCTAssertEqual(recording.beam.count, 169)
        XCTAssertEqual(recording.beam.last?.first?.text, recording.transcription.text)
        XCTAssertEqual(recording.transcription.candidates, try model.transcribeWithMetadata(samples, options: DecodingOptions(candidates: 3)).candidates)
    }

    func testDumpWritesNumPyFilesAndAnIndex() throws {
        let model = try SpeechModel(path: Fixtures.releasedModelPath())
        let samples = try ModelInput.load(path: Fixtures.clips.appendingPathComponent("hy-06.wav").path, sampleRate: 16000)
        let recording = try model.record(samples)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ds-dump-\(getpid())").path
        try recording.write(to: directory)
        for stage in recording.stages {
            let file = try NPYFile(path: directory + "/" + stage.name + ".npy")
            XCTAssertEqual(file.shape, stage.shape, stage.name)
            XCTAssertEqual(file.values, stage.values, stage.name)
        }
        let index = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/index.json"))) as? [String: Any])
        XCTAssertEqual((index["stages"] as? [[String: Any]])?.count, recording.stages.count)
        XCTAssertThrowsError(try model.record([Float](repeating: 0, count: 16000 * 121))) { error in
            XCTAssertTrue("\(error)".contains("120 s"), "\(error)")
        }
    }
}
