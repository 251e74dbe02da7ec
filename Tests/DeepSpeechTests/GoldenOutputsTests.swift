import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// Golden outputs catch what they should: nothing on the same build, the first drifting stage
/// when the arithmetic or a weight changes, and any edited number in the golden file.
final class GoldenOutputsTests: XCTestCase {
    func testRecordThenCheckPassesAndChangesAreNamedByStage() throws {
        let modelPath = try Fixtures.releasedModelPath()
        let model = try SpeechModel(path: modelPath)
        let clip = Fixtures.clips.appendingPathComponent("hy-06.wav").path
        let golden = try GoldenOutputs.record(model: model, audioFiles: [clip], options: DecodingOptions(beamWidth: 50, candidates: 2))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("golden-\(getpid()).json").path
        try golden.write(to: file)
        let reread = try GoldenOutputs(contentsOf: file)

        // The same build: every stage bit-identical.
        let same = try reread.check(model: model)
        XCTAssertTrue(same.passed, same.text)
        XCTAssertTrue(same.results.allSatisfy(\.bitIdentical), same.text)
        XCTAssertEqual(same.results.count, 14)

        // float32 arithmetic instead of int8: features unchanged, layer_1 is the first to drift.
        let float = try reread.check(model: try SpeechModel(path: modelPath, precision: .float32))
        XCTAssertFalse(float.passed)
        XCTAssertEqual(float.firstFailure?.stage, "layer_1", float.text)
        XCTAssertTrue(float.results.prefix(4).allSatisfy(\.passed), float.text)

        // One int8 weight of layer_3 changed by 8 steps (of 255), on an input that is active in
        // this clip (a weight on an input that stays 0 changes nothing, rightly): layer_3 is
        // the first stage to drift.
        let layer2 = try XCTUnwrap(golden.audio[0].stages.first { $0.name == "layer_2" })
        let column = try XCTUnwrap(layer2.columnSums.indices.max { layer2.columnSums[$0] < layer2.columnSums[$1] })
        let tflite = try TFLiteModelFile(path: modelPath)
        let weights = try XCTUnwrap(tflite.tensor(named: "layer_3/weights/transpose")?.data)
        var bytes = Array(tflite.bytes)
        let offset = weights.lowerBound + 5 * 2048 + column       // row 5, the active column
        bytes[offset] = UInt8(bitPattern: Int8(clamping: Int(Int8(bitPattern: bytes[offset])) + 8))
        let perturbedPath = FileManager.default.temporaryDirectory.appendingPathComponent("perturbed-\(getpid()).tflite").path
        try Data(bytes).write(to: URL(fileURLWithPath: perturbedPath))
        let perturbed = try reread.check(model: try SpeechModel(path: perturbedPath))
        XCTAssertEqual(perturbed.firstFailure?.stage, "layer_3", perturbed.text)
        XCTAssertTrue(perturbed.text.contains("drifted first at stage 'layer_3'"), perturbed.text)

        // One number edited in the golden file (a column sum of lstm_h, by 1e-3).
        var edited = reread
        edited.audio[0].stages[9].columnSums[7] += 1e-3
        XCTAssertEqual(edited.audio[0].stages[9].name, "lstm_h")
        let report = try edited.check(model: model)
        XCTAssertEqual(report.firstFailure?.stage, "lstm_h", report.text)
        XCTAssertEqual(report.results.filter { !$0.passed }.count, 1, report.text)

        // A tolerance override can accept a known drift.
        let relaxed = try edited.check(model: model, overriding: ["lstm_h": GoldenOutputs.Tolerance(absolute: 1e-2, relative: 0)])
        XCTAssertTrue(relaxed.passed, relaxed.text)
    }

    /// With full tensors stored, one element changed in a stored `.npy` fails its stage.
    func testFullTensorsAreComparedElementByElement() throws {
        let model = try SpeechModel(path: Fixtures.releasedModelPath())
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("golden-full-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/golden.json"
        let golden = try GoldenOutputs.record(model: model, audioFiles: [Fixtures.clips.appendingPathComponent("hy-08.wav").path],
                                              options: DecodingOptions(beamWidth: 20, candidates: 1), fullTensorsNextTo: path)
        try golden.write(to: path)
        XCTAssertEqual(golden.audio[0].tensors, "golden.json.tensors/1")
        let reread = try GoldenOutputs(contentsOf: path)
        let same = try reread.check(model: model, goldenPath: path)
        XCTAssertTrue(same.passed, same.text)

        let file = directory + "/golden.json.tensors/1/lstm_c.npy"
        var (shape, values) = try NPYWriter.read(path: file)
        values[values.count / 2] += 1e-3
        try NPYWriter.data(shape: shape, values: values).write(to: URL(fileURLWithPath: file))
        let edited = try reread.check(model: model, goldenPath: path)
        XCTAssertEqual(edited.firstFailure?.stage, "lstm_c", edited.text)
        XCTAssertEqual(edited.firstFailure?.maxAbsolute ?? 0, 1e-3, accuracy: 1e-6)
        XCTAssertEqual(edited.results.filter { !$0.passed }.count, 1, edited.text)
    }
}
