import DeepSpeech
import Foundation
import TestSupport
import XCTest

/// DeepSpeech models in TensorFlow's formats (`Fixtures/models/tensorflow`, written by
/// TensorFlow 2.15 through `Fixtures/make_tensorflow_models.py`) against TensorFlow's own
/// outputs on the same inputs (`Fixtures/reference/tensorflow`).
final class TensorFlowImportTests: XCTestCase {
    static let folder = "Fixtures/models/tensorflow/"
    static let clips = ["hy-01", "hy-05", "hy-09"]
    /// TensorFlow's float32 graph against our float32 BLAS: different summation orders.
    static let tolerance: Float = 1e-5

    /// The model's probabilities `[steps][classes]` on the MFCC frames TensorFlow was fed.
    func probabilities(_ model: DeepSpeechModel, clip: String) throws -> [Float] {
        let h = model.hyperparameters
        let mfcc = try NPYFile(path: Fixtures.path("Fixtures/reference/litert/\(clip).mfcc.npy"))
        let steps = mfcc.shape[0]
        let windows = ContextWindows.make(frames: mfcc.values, featureCount: h.nInput, context: h.nContext)
        var out = [Float](repeating: 0, count: steps * h.nClasses)
        var state = model.makeState()
        windows.withUnsafeBufferPointer { w in
            out.withUnsafeMutableBufferPointer { p in model.forward(windows: w, steps: steps, state: &state, probabilities: p) }
        }
        return out
    }

    func testEveryFormatMatchesTensorFlow() throws {
        for (file, reference) in [("ds-h64.pb", "ds-h64"), ("ds-h64.pbmm", "ds-h64"), ("ds-h64.old.pbmm", "ds-h64"),
                                  ("ds-h64.ckpt", "ds-h64"), ("ds-h64.snappy.ckpt", "ds-h64"), ("ds-h128-c96.pb", "ds-h128-c96")] {
            let model = try DeepSpeechModel(path: Fixtures.path(Self.folder + file))
            XCTAssertEqual(model.precision, .float32)
            for clip in Self.clips {
                let expected = try NPYFile(path: Fixtures.path("Fixtures/reference/tensorflow/\(reference).\(clip).probs.npy"))
                let got = try probabilities(model, clip: clip)
                XCTAssertEqual(got.count, expected.values.count, "\(file) \(clip)")
                let d = Difference(got, expected.values)
                XCTAssertLessThan(d.maxAbsolute, Self.tolerance, "\(file) on \(clip): \(d)")
                print("difference: " + "\(file) on \(clip): \(d)")
            }
        }
    }

    /// SINGA-Auto's TfDeepSpeech checkpoints: `lstm_fused_cell` variables and a forget bias of
    /// 1.0 that only exists at run time (ignoring it moves probabilities by up to 0.92).
    func testTfDeepSpeechCheckpointMatchesTensorFlow() throws {
        let model = try DeepSpeechModel(path: Fixtures.path(Self.folder + "tfdeepspeech-h64.ckpt"))
        XCTAssertEqual(model.hyperparameters.nHidden, 64)
        for clip in ["hy-01", "hy-05"] {
            let expected = try NPYFile(path: Fixtures.path("Fixtures/reference/tensorflow/tfdeepspeech-h64.\(clip).probs.npy"))
            let d = Difference(try probabilities(model, clip: clip), expected.values)
            XCTAssertLessThan(d.maxAbsolute, Self.tolerance, "\(clip): \(d)")
            print("difference: tfdeepspeech-h64 \(clip): \(d)")
        }
    }

    func testGraphMetadataAndShapes() throws {
        let model = try DeepSpeechModel(path: Fixtures.path(Self.folder + "ds-h64.pbmm"))
        XCTAssertEqual(model.metadata.sampleRate, 16000)
        XCTAssertEqual(model.metadata.featureWindowMilliseconds, 32)
        XCTAssertEqual(model.metadata.featureStepMilliseconds, 20)
        XCTAssertEqual(model.metadata.graphVersion, 6)
        XCTAssertEqual(model.metadata.language, "hy")
        let released = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("Fixtures/reference/litert/model-info.json")))) as! [String: Any]
        let labels = try Alphabet(serialized: model.metadata.alphabetBytes).labels
        XCTAssertEqual(labels, (released["metadata"] as? [String: Any])?["alphabet"] as? [String])
        let h = model.hyperparameters
        XCTAssertEqual([h.nInput, h.nContext, h.nHidden, h.nCell, h.nClasses, h.nSteps], [26, 9, 64, 64, 41, 16])
        let wide = try DeepSpeechModel(path: Fixtures.path(Self.folder + "ds-h128-c96.pb")).hyperparameters
        XCTAssertEqual([wide.nHidden, wide.nCell], [128, 96])
    }

    /// A checkpoint stores no alphabet: the message says to pass one, and with one it transcribes
    /// exactly like the frozen graph of the same weights.
    func testCheckpointNeedsAnAlphabetAndThenEqualsTheGraph() throws {
        let checkpoint = Fixtures.path(Self.folder + "ds-h64.ckpt")
        XCTAssertThrowsError(try SpeechModel(path: checkpoint)) { error in
            XCTAssertTrue("\(error)".contains("--alphabet"), "\(error)")
            XCTAssertTrue("\(error)".contains("ds-h64.ckpt"), "\(error)")
        }
        let graph = try SpeechModel(path: Fixtures.path(Self.folder + "ds-h64.pb"))
        let alphabetFile = FileManager.default.temporaryDirectory.appendingPathComponent("tf-alphabet-\(UUID()).txt")
        try (graph.alphabet.labels.joined(separator: "\n") + "\n").write(to: alphabetFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: alphabetFile) }
        let restored = try SpeechModel(path: checkpoint, alphabetPath: alphabetFile.path)
        let audio = try ModelInput.load(path: Fixtures.clips.appendingPathComponent("hy-05.wav").path, sampleRate: 16000)
        XCTAssertEqual(try restored.probabilities(audio), try graph.probabilities(audio))
        XCTAssertEqual(try restored.transcribeWithMetadata(audio).candidates.first?.text,
                       try graph.transcribeWithMetadata(audio).candidates.first?.text)
    }

    /// A graph like DeepSpeech 0.5/0.6 exports (graph version 3, no embedded alphabet): the
    /// message names the version and asks for the alphabet; with one it runs like the new graph.
    func testOldGraphNeedsAnAlphabet() throws {
        let path = Fixtures.path(Self.folder + "ds-old-nometadata.pb")
        XCTAssertThrowsError(try SpeechModel(path: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("ds-old-nometadata.pb") && text.contains("graph version 3") && text.contains("--alphabet"), text)
        }
        let old = try DeepSpeechModel(path: path), current = try DeepSpeechModel(path: Fixtures.path(Self.folder + "ds-h64.pb"))
        XCTAssertEqual(old.metadata.graphVersion, 3)
        XCTAssertEqual(try probabilities(old, clip: "hy-05"), try probabilities(current, clip: "hy-05"))
    }

    /// Files that are not DeepSpeech exports, or damaged ones, are refused with the file's name
    /// and the reason, never a crash.
    func testBrokenGraphsAreRefusedByName() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path(Self.folder + "ds-h64.pb"))))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tf-broken-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Truncated at several points.
        for fraction in [0.1, 0.5, 0.9, 0.999] {
            let file = folder.appendingPathComponent("cut-\(fraction).pb")
            try Data(bytes.prefix(Int(Double(bytes.count) * fraction))).write(to: file)
            XCTAssertThrowsError(try DeepSpeechModel(path: file.path), "\(fraction)") { error in
                XCTAssertTrue("\(error)".contains(file.lastPathComponent), "\(error)")
            }
        }
        // A renamed weight: the missing tensor is named.
        var renamed = bytes
        let needle = Array("layer_5/weights".utf8)
        for i in 0..<(renamed.count - needle.count) where Array(renamed[i..<(i + needle.count)]) == needle {
            renamed[i + 6] = UInt8(ascii: "9")
        }
        let file = folder.appendingPathComponent("renamed.pb")
        try Data(renamed).write(to: file)
        XCTAssertThrowsError(try DeepSpeechModel(path: file.path)) { error in
            XCTAssertTrue("\(error)".contains("missing tensor 'layer_5/weights'"), "\(error)")
        }
    }

    /// The weights of every format are the same numbers: the converted file of each gives
    /// bit-identical probabilities, and loads them in place.
    func testConvertedFileEqualsItsSource() throws {
        let source = try SpeechModel(path: Fixtures.path(Self.folder + "ds-h64.pbmm"))
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("ds-h64-\(UUID()).dsmodel").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        try source.convert(to: output)
        let converted = try SpeechModel(path: output)
        XCTAssertTrue(converted.format.contains("converted from TensorFlow memory-mapped graph"), converted.format)
        let audio = try ModelInput.load(path: Fixtures.clips.appendingPathComponent("hy-09.wav").path, sampleRate: 16000)
        XCTAssertEqual(try converted.probabilities(audio), try source.probabilities(audio))
        XCTAssertEqual(converted.alphabet.labels, source.alphabet.labels)
        XCTAssertEqual(converted.acoustic?.metadata, source.acoustic?.metadata)
    }
}
