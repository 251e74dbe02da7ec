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
        func random(_ n: Int) -> Int { generator.below(n) }
        // The FlatBuffers metadata of a .tflite sits at both ends (root table and vtables first,
        // tensor/operator tables after the weight buffers); damage lands there most of the time.
        let regions = [0..<65536, (original.count - 65536)..<original.count, 0..<original.count]
        var refused = 0, loaded = 0
        for trial in 0..<40 {
            var bytes = original
            if trial % 5 == 4 {
                bytes = Array(bytes.prefix(random(bytes.count)))
            } else {
                let region = regions[trial % regions.count]
                for _ in 0..<(1 + random(16)) {
                    bytes[region.lowerBound + random(region.count)] = UInt8(truncatingIfNeeded: random(256))
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            guard let model = try? SpeechModel(path: path) else { refused += 1; continue }
            loaded += 1
            _ = model.transcribe([Float](repeating: 0.01, count: 8000))
        }
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
        func random(_ n: Int) -> Int { generator.below(n) }
        let audio = [Float](repeating: 0.01, count: 8000)
        for source in sources {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source.path)))
            let path = folder.appendingPathComponent(source.name).path
            if source.name.hasSuffix(".ckpt.index") {
                try shard.write(to: URL(fileURLWithPath: folder.appendingPathComponent("m.ckpt.data-00000-of-00001").path))
            }
            // Headers, directories and pickles sit at the ends of these files.
            let edge = min(4096, original.count)
            let regions = [0..<edge, (original.count - edge)..<original.count, 0..<original.count]
            var refused = 0, loaded = 0
            let trials = Int(ProcessInfo.processInfo.environment["DEEPSPEECH_DAMAGED_TRIALS"] ?? "") ?? 60
            for trial in 0..<trials {
                var bytes = original
                if trial % 6 == 5 {
                    bytes = Array(bytes.prefix(random(bytes.count)))
                } else {
                    let region = regions[trial % regions.count]
                    for _ in 0..<(1 + random(8)) {
                        bytes[region.lowerBound + random(region.count)] = UInt8(truncatingIfNeeded: random(256))
                    }
                }
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                guard let model = try? SpeechModel(path: path, alphabetPath: source.name.hasSuffix(".ckpt.index") ? alphabet.path : nil) else {
                    refused += 1
                    continue
                }
                loaded += 1
                _ = model.transcribe(audio)
            }
            print("damaged \(source.name): \(refused) refused, \(loaded) loaded and run without crashing")
            XCTAssertGreaterThan(refused, 0, source.name)
        }
    }
}
