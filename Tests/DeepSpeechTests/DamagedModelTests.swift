import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// Randomly damaged copies of the released model (bytes overwritten in the FlatBuffers tables
/// and the weights, or the file cut short) are refused with an error or loaded and run without
/// crashing.
final class DamagedModelTests: XCTestCase {
    func testRandomlyDamagedModelsNeverCrash() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try Fixtures.releasedModelPath())))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("damaged-\(getpid()).tflite").path
        var generator = SeededGenerator(seed: 77)
        // The FlatBuffers metadata of a .tflite sits at both ends (root table and vtables first,
        // tensor/operator tables after the weight buffers); damage lands there most of the time.
        let (refused, loaded) = try damagedCopies(of: original, edge: 65536, trials: 40, truncatingEvery: 5, maximumWrites: 16,
                                                  generator: &generator, at: path) { try? SpeechModel(path: $0) }
        print("damaged models: \(refused) refused, \(loaded) loaded and run without crashing")
        XCTAssertGreaterThan(refused, 0)
    }

    /// The same for every other format, through the whole loading path (reader, importer,
    /// network construction) and a short transcription: frozen and memory-mapped graphs, a
    /// checkpoint index, deepspeech.pytorch legacy and zip checkpoints, and converted files of
    /// both architectures. 60 damaged copies of each, seeded (`DEEPSPEECH_DAMAGED_TRIALS=N` for more).
    func testDamagedFilesOfEveryFormatNeverCrash() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("damaged-formats-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let graph = try SpeechModel(path: Fixtures.path("Fixtures/models/tensorflow/ds-h64.pbmm"))
        let alphabet = folder.appendingPathComponent("alphabet.txt")
        try (graph.alphabet.labels.joined(separator: "\n") + "\n").write(to: alphabet, atomically: true, encoding: .utf8)
        let convertedDeepSpeech = folder.appendingPathComponent("ds.dsmodel").path
        try graph.convert(to: convertedDeepSpeech)
        let convertedDeepSpeech2 = folder.appendingPathComponent("ds2.dsmodel").path
        try SpeechModel(path: Fixtures.path("Fixtures/models/deepspeech2/ds2-unigru-lookahead.ckpt")).convert(to: convertedDeepSpeech2)
        // The checkpoint's data shard is copied beside each damaged index.
        let shard = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("Fixtures/models/tensorflow/ds-h64.ckpt.data-00000-of-00001")))
        let sources: [(path: String, name: String)] = [
            (Fixtures.path("Fixtures/models/tensorflow/ds-h64.pb"), "m.pb"),
            (Fixtures.path("Fixtures/models/tensorflow/ds-h64.pbmm"), "m.pbmm"),
            (Fixtures.path("Fixtures/models/tensorflow/ds-h64.ckpt.index"), "m.ckpt.index"),
            (Fixtures.path("Fixtures/models/deepspeech2/ds2-bilstm.v2.pth"), "m.pth"),
            (Fixtures.path("Fixtures/models/deepspeech2/ds2-bigru.ckpt"), "m.ckpt"),
            (convertedDeepSpeech, "m.dsmodel"), (convertedDeepSpeech2, "m2.dsmodel"),
        ]
        var generator = SeededGenerator(seed: 2024)
        let trials = Int(ProcessInfo.processInfo.environment["DEEPSPEECH_DAMAGED_TRIALS"] ?? "") ?? 60
        for source in sources {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source.path)))
            let path = folder.appendingPathComponent(source.name).path
            if source.name.hasSuffix(".ckpt.index") {
                try shard.write(to: URL(fileURLWithPath: folder.appendingPathComponent("m.ckpt.data-00000-of-00001").path))
            }
            // Headers, directories and pickles sit at the ends of these files.
            let alphabetPath = source.name.hasSuffix(".ckpt.index") ? alphabet.path : nil
            let (refused, loaded) = try damagedCopies(of: original, edge: 4096, trials: trials, truncatingEvery: 6, maximumWrites: 8,
                                                      generator: &generator, at: path) { try? SpeechModel(path: $0, alphabetPath: alphabetPath) }
            print("damaged \(source.name): \(refused) refused, \(loaded) loaded and run without crashing")
            XCTAssertGreaterThan(refused, 0, source.name)
        }
    }

    /// Writes `trials` damaged copies of `original` to `path`, each loaded with `load` and, when
    /// that succeeds, run on half a second of audio. Every `truncatingEvery`-th copy is cut short;
    /// the others get 1 … `maximumWrites` random bytes, in turn in the first `edge` bytes, the
    /// last `edge` bytes, and anywhere.
    func damagedCopies(of original: [UInt8], edge: Int, trials: Int, truncatingEvery: Int, maximumWrites: Int,
                       generator: inout SeededGenerator, at path: String,
                       load: (String) -> SpeechModel?) throws -> (refused: Int, loaded: Int) {
        let edge = min(edge, original.count)
        let regions = [0..<edge, (original.count - edge)..<original.count, 0..<original.count]
        let audio = [Float](repeating: 0.01, count: 8000)
        var refused = 0, loaded = 0
        for trial in 0..<trials {
            var bytes = original
            if trial % truncatingEvery == truncatingEvery - 1 {
                bytes = Array(bytes.prefix(generator.below(bytes.count)))
            } else {
                let region = regions[trial % regions.count]
                for _ in 0..<(1 + generator.below(maximumWrites)) {
                    bytes[region.lowerBound + generator.below(region.count)] = UInt8(truncatingIfNeeded: generator.below(256))
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            guard let model = load(path) else { refused += 1; continue }
            loaded += 1
            _ = model.transcribe(audio)
        }
        return (refused, loaded)
    }
}
