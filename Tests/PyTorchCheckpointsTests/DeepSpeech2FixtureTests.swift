import Foundation
import MappedFiles
import SpeechCheckpoints
import TestSupport
import XCTest
import PyTorchCheckpoints

/// The torch files written by `Fixtures/make_deepspeech2_models.py` (real torch.save output:
/// deepspeech.pytorch v2.0, V2.1 and V3 Lightning layouts, a float16 copy, malicious and
/// truncated files), checked against `Fixtures/reference/deepspeech2/summary.json`.
final class DeepSpeech2FixtureTests: XCTestCase {
    static let directory = Fixtures.path("Fixtures/models/deepspeech2")
    static let marker = "/tmp/swift-deepspeech-pwned"
    static let modelFiles = ["ds2-bilstm.v2.pth", "ds2-bilstm.v21.pth", "ds2-bilstm.ckpt", "ds2-bigru.ckpt",
                             "ds2-unilstm-lookahead.ckpt", "ds2-unigru-lookahead.ckpt", "ds2-bigru.half.ckpt"]

    func path(_ name: String) -> String { Self.directory + "/" + name }

    func requireFixtures() throws {
        guard FileManager.default.fileExists(atPath: Self.directory) else {
            throw XCTSkip("Fixtures/models/deepspeech2 is missing (run Fixtures/make_deepspeech2_models.py)")
        }
    }

    func summary() throws -> [String: Any] {
        try XCTUnwrap(try Fixtures.json("deepspeech2/summary.json") as? [String: Any])
    }

    func testHyperparametersLabelsAndFrontEndMatchTheSummary() throws {
        try requireFixtures()
        let summary = try summary()
        let models = try XCTUnwrap(summary["models"] as? [String: [String: Any]])
        let labels = try XCTUnwrap(summary["labels"] as? [String])
        XCTAssertEqual(Set(models.keys), Set(Self.modelFiles))
        for (name, model) in models {
            let ds2 = try DeepSpeech2Checkpoint(path: path(name))
            let hyper = try XCTUnwrap(model["hyperparameters"] as? [String: Any])
            XCTAssertEqual(ds2.rnnType.rawValue, hyper["rnn"] as? String, name)
            XCTAssertEqual(ds2.hiddenSize, hyper["hidden"] as? Int, name)
            XCTAssertEqual(ds2.hiddenLayers, hyper["layers"] as? Int, name)
            XCTAssertEqual(ds2.bidirectional, hyper["bidirectional"] as? Bool, name)
            XCTAssertEqual(ds2.lookaheadContext, hyper["context"] as? Int, name)
            XCTAssertEqual(ds2.labels, labels, name)
            XCTAssertEqual(ds2.tensors.count, model["state_dict_keys"] as? Int, name)
            XCTAssertEqual(ds2.warnings, [], name)
            XCTAssertEqual(ds2.rnnInputSize, 1312, name)
            // The generator trains nothing: every file uses deepspeech.pytorch's SpectConfig defaults.
            XCTAssertEqual(ds2.sampleRate, 16000, name)
            XCTAssertEqual(ds2.windowSize, 0.02, name)
            XCTAssertEqual(ds2.windowStride, 0.01, name)
            XCTAssertEqual(ds2.window, "hamming", name)
            // Parameters, not buffers: BatchNorm running statistics and step counts are left out.
            let parameters = ds2.tensors.filter { !$0.key.contains("running_") && $0.value.dataType != .int64 }
                .reduce(0) { $0 + $1.value.elementCount }
            XCTAssertEqual(parameters, model["parameters"] as? Int, name)
            switch model["front_end"] as? String {
            case "v20":
                XCTAssertEqual(ds2.layout, .v2_0, name)
                XCTAssertEqual(ds2.format, .legacy, name)
                XCTAssertEqual(ds2.formatName, "deepspeech.pytorch v2.0 .pth (legacy torch.save)")
                XCTAssertTrue(ds2.symmetricWindow, name)
                XCTAssertEqual(ds2.audioScale, 32767, name)
            case "v21":
                XCTAssertEqual(ds2.layout, .v2_1, name)
                XCTAssertEqual(ds2.formatName, "deepspeech.pytorch V2.1 .pth (zip torch.save)")
                XCTAssertFalse(ds2.symmetricWindow, name)
                XCTAssertEqual(ds2.audioScale, 32767, name)
            case "v3":
                XCTAssertEqual(ds2.layout, .v3, name)
                XCTAssertEqual(ds2.formatName, "deepspeech.pytorch V3 Lightning .ckpt (zip torch.save)")
                XCTAssertFalse(ds2.symmetricWindow, name)
                XCTAssertEqual(ds2.audioScale, 32768, name)
            default:
                XCTFail("\(name): unknown front end \(String(describing: model["front_end"]))")
            }
            let dtypes = Set(ds2.tensors.values.map(\.dataType))
            XCTAssertEqual(dtypes, name.contains(".half.") ? [.float16, .int64] : [.float32, .int64], name)
            // Zip files: the records the summary lists, in order.
            if let entries = model["zip_entries"] as? [String] {
                XCTAssertEqual(try TorchCheckpoint(path: path(name)).records, entries, name)
            }
        }
    }

    func testContiguousWeightsSliceTheMapping() throws {
        try requireFixtures()
        for name in Self.modelFiles {
            let checkpoint = try TorchCheckpoint(path: path(name))
            for (tensorName, tensor) in try checkpoint.stateDict() {
                XCTAssertTrue(tensor.storage === checkpoint.file, "\(name): \(tensorName) was copied")
            }
        }
    }

    func testBiLSTMWeightsAreBitIdenticalAcrossTheThreeFormats() throws {
        try requireFixtures()
        let files = ["ds2-bilstm.v2.pth", "ds2-bilstm.v21.pth", "ds2-bilstm.ckpt"].map(path)
        let models = try files.map { try DeepSpeech2Checkpoint(path: $0) }
        let names = models[0].tensorNames
        XCTAssertEqual(names.count, 54)
        for model in models.dropFirst() { XCTAssertEqual(Set(model.tensorNames), Set(names)) }
        for name in names {
            let reference = try XCTUnwrap(models[0].tensors[name])
            for model in models.dropFirst() {
                let other = try XCTUnwrap(model.tensors[name])
                XCTAssertEqual(other.shape, reference.shape, name)
                XCTAssertEqual(other.dataType, reference.dataType, name)
                XCTAssertTrue(other.bytes.elementsEqual(reference.bytes), "\(name) differs in \(model.path)")
            }
        }
        // The v2.0 and V3 files keep each RNN layer's weights in one storage (cuDNN style), so
        // these tensors are views at offsets; the values must still be real weights.
        let ih = try XCTUnwrap(models[0].tensors["rnns.1.rnn.weight_hh_l0_reverse"]).floats()
        XCTAssertTrue(ih.contains { $0 != 0 })
    }

    /// Values torch.load gives for the legacy file, whose RNN tensors are views at offsets into
    /// one storage per layer (first elements and float64 sums, printed once with torch 2.13).
    func testLegacyViewsGiveTheValuesTorchLoads() throws {
        try requireFixtures()
        let checkpoint = try TorchCheckpoint(path: path("ds2-bilstm.v2.pth"))
        let state = try XCTUnwrap(checkpoint.root["state_dict"]?.dictValue)
        XCTAssertEqual(state["rnns.1.rnn.weight_hh_l0_reverse"]?.tensorValue?.storageOffset, 12544)
        XCTAssertEqual(state["rnns.0.rnn.bias_ih_l0"]?.tensorValue?.storageOffset, 172032)
        let tensors = Dictionary(uniqueKeysWithValues: try checkpoint.stateDict().map { ($0.name, $0.tensor) })
        let expected: [(String, [Int], [Float], Double)] = [
            ("rnns.1.rnn.weight_hh_l0_reverse", [128, 32], [0.11113503575325012, 0.25430822372436523, -0.18358691036701202], -5.979457887853641),
            ("rnns.0.rnn.bias_ih_l0", [128], [-0.36746227741241455, 0.010144062340259552, 0.3887070417404175], -1.6266883495263755),
            ("fc.0.module.1.weight", [29, 32], [0.19579452276229858, -0.052760474383831024, 0.3704054355621338], 2.7503739272942767),
        ]
        for (name, shape, first, sum) in expected {
            let tensor = try XCTUnwrap(tensors[name], name)
            XCTAssertEqual(tensor.shape, shape, name)
            let values = try tensor.floats()
            XCTAssertEqual(Array(values.prefix(3)), first, name)
            XCTAssertEqual(values.reduce(0.0) { $0 + Double($1) }, sum, accuracy: 1e-9, name)
        }
        XCTAssertEqual(try tensors["conv.seq_module.1.num_batches_tracked"]?.integers(), [25167])
    }

    func testHalfWeightsAreTheFloatWeightsRounded() throws {
        try requireFixtures()
        let full = try DeepSpeech2Checkpoint(path: path("ds2-bigru.ckpt"))
        let half = try DeepSpeech2Checkpoint(path: path("ds2-bigru.half.ckpt"))
        XCTAssertEqual(Set(full.tensorNames), Set(half.tensorNames))
        var compared = 0
        for name in full.tensorNames {
            let f = try XCTUnwrap(full.tensors[name]), h = try XCTUnwrap(half.tensors[name])
            XCTAssertEqual(f.shape, h.shape, name)
            if f.dataType == .int64 {
                XCTAssertEqual(h.dataType, .int64, name)
                XCTAssertEqual(try f.integers(), try h.integers(), name)
                continue
            }
            XCTAssertEqual(h.dataType, .float16, name)
            let rounded = try f.floats().map { Float(halfBits: halfBits($0)) }
            XCTAssertEqual(try h.floats(), rounded, name)
            compared += rounded.count
        }
        XCTAssertEqual(compared, 452_056)  // 451 832 parameters and 224 running statistics
    }

    func testMaliciousFilesLoadOrAreRefusedWithoutSideEffects() throws {
        try requireFixtures()
        try? FileManager.default.removeItem(atPath: Self.marker)
        // A real tensor plus a posix.system REDUCE: reads, the call stays a record.
        let reduce = try TorchCheckpoint(path: path("evil-reduce-system.pth"))
        XCTAssertTrue(contains(reduce.root, global: .global(module: "posix", name: "system")), "\(reduce.root)")
        XCTAssertFalse(try reduce.stateDict().isEmpty)
        XCTAssertThrowsError(try DeepSpeech2Checkpoint(path: path("evil-reduce-system.pth")))
        // Legacy format with builtins.eval.
        let legacy = try TorchCheckpoint(path: path("evil-legacy.pth"))
        XCTAssertEqual(legacy.format, .legacy)
        XCTAssertTrue(contains(legacy.root, global: .global(module: "builtins", name: "eval")), "\(legacy.root)")
        _ = try legacy.stateDict()
        // A raw protocol-0 pickle built with INST: refused by the pickle reader, naming INST.
        let inst = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path("evil-inst.pkl"))))
        XCTAssertThrowsError(try PickleReader().read(inst)) { error in
            XCTAssertTrue("\(error)".contains("unsafe opcode INST"), "\(error)")
            XCTAssertEqual((error as? PickleError)?.offset, 46)
        }
        XCTAssertThrowsError(try TorchCheckpoint(path: path("evil-inst.pkl"))) { error in
            XCTAssertTrue("\(error)".contains("evil-inst.pkl"), "\(error)")
            XCTAssertTrue("\(error)".contains("unsafe opcode INST"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.marker))
    }

    func contains(_ value: PickleValue, global: PickleValue, depth: Int = 0) -> Bool {
        guard depth < 20 else { return false }
        switch value {
        case .global: return value == global
        case .list(let items), .tuple(let items), .set(let items, _): return items.contains { contains($0, global: global, depth: depth + 1) }
        case .dict(let dict): return dict.entries.contains { contains($0.value, global: global, depth: depth + 1) }
        case .object(let object):
            return contains(object.callable, global: global, depth: depth + 1) || contains(object.args, global: global, depth: depth + 1)
        default: return false
        }
    }

    func testTruncatedFileIsRefusedNamingIt() throws {
        try requireFixtures()
        let file = path("truncated.ckpt")
        XCTAssertThrowsError(try DeepSpeech2Checkpoint(path: file)) { error in
            XCTAssertEqual((error as? ModelFileError)?.path, file)
            XCTAssertTrue("\(error)".hasPrefix(file), "\(error)")
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
            XCTAssertTrue("\(error)".contains("byte 1113571"), "\(error)")
        }
    }

    /// Randomly damaged copies of every fixture: each must be refused or read, never crash.
    /// Most mutations land in the structure (the pickle near the start, the zip directory or
    /// the legacy storage headers), where a reader can go wrong, rather than in weight bytes.
    func testMutatedFixturesThrowOrReadNeverCrash() throws {
        try requireFixtures()
        // 200 copies of each model (each re-reads a 20-27 KB pickle, ~2 ms in a debug build)
        // and 300 of each small malicious file; TORCH_MUTATIONS=n runs n times as many. Each
        // copy has its own seed (file, copy), so a failure can be replayed alone.
        let scale = Int(ProcessInfo.processInfo.environment["TORCH_MUTATIONS"] ?? "") ?? 1
        var outcomes = (read: 0, refused: 0)
        let started = Date()
        for (fileIndex, name) in (Self.modelFiles + ["evil-reduce-system.pth", "evil-legacy.pth"]).enumerated() {
            let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path(name))))
            for copy in 0..<(name.hasPrefix("evil") ? 300 : 200) * scale {
                var rng = SeededGenerator(seed: UInt64(fileIndex) << 32 | UInt64(copy))
                let damaged = Mutator.mutate(original, using: &rng)
                if MutationHarness.exercise(damaged, name: name) { outcomes.read += 1 } else { outcomes.refused += 1 }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        print("mutation test: \(outcomes.read + outcomes.refused) damaged fixture copies, \(outcomes.read) read, \(outcomes.refused) refused, \(String(format: "%.2f", seconds)) s")
        XCTAssertGreaterThan(outcomes.refused, 0)
        XCTAssertGreaterThan(outcomes.read, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.marker))
    }
}

/// Random damage for the mutation tests.
enum Mutator {
    static func mutate(_ original: [UInt8], using rng: inout SeededGenerator) -> [UInt8] {
        var bytes = original
        let count = bytes.count
        // Where to hit: the first 16 KiB (pickles, zip local headers of the first records),
        // the last 8 KiB (zip central directory), or anywhere.
        func position() -> Int {
            switch rng.next() % 4 {
            case 0, 1: return Int(rng.next() % UInt64(min(count, 16_384)))
            case 2: return count - 1 - Int(rng.next() % UInt64(min(count, 8_192)))
            default: return Int(rng.next() % UInt64(count))
            }
        }
        let edits = 1 + Int(rng.next() % 4)
        for _ in 0..<edits {
            guard !bytes.isEmpty else { break }
            let p = min(position(), bytes.count - 1)
            switch rng.next() % 8 {
            case 0: bytes[p] ^= UInt8(1 << (rng.next() % 8))
            case 1: bytes[p] = UInt8(truncatingIfNeeded: rng.next())
            case 2: bytes[p] = [0x00, 0xFF, 0x7F, 0x80, 0x2E, 0x28, 0x69, 0x52][Int(rng.next() % 8)]
            case 3:
                let interesting: [UInt32] = [0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0, 0xFFFF]
                let v = interesting[Int(rng.next() % UInt64(interesting.count))]
                for i in 0..<4 where p + i < bytes.count { bytes[p + i] = UInt8((v >> (8 * UInt32(i))) & 0xFF) }
            case 4: bytes.removeSubrange(p..<min(bytes.count, p + 1 + Int(rng.next() % 16)))
            case 5: bytes.insert(contentsOf: (0..<(1 + Int(rng.next() % 8))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: p)
            case 6: bytes.removeSubrange(p...)  // truncate
            default:
                // Copy a run from elsewhere (keeps plausible opcodes around).
                let q = position(), n = 1 + Int(rng.next() % 32)
                for i in 0..<n where p + i < bytes.count && q + i < original.count { bytes[p + i] = original[q + i] }
            }
        }
        return bytes
    }
}

enum MutationHarness {
    /// Reads a possibly damaged file every way a caller would: the checkpoint, its state dict,
    /// every tensor's bytes, and the DeepSpeech2 view. True when the checkpoint read.
    static func exercise(_ bytes: [UInt8], name: String) -> Bool {
        guard !bytes.isEmpty else { return false }
        let file = MappedFile(copying: bytes, path: name)
        guard let checkpoint = try? TorchCheckpoint(file: file) else { return false }
        _ = checkpoint.root.description
        if let tensors = try? checkpoint.stateDict() {
            for (_, tensor) in tensors {
                let raw = tensor.bytes
                if let first = raw.first, let last = raw.last { _ = first &+ last }
            }
        }
        if let ds2 = try? DeepSpeech2Checkpoint(checkpoint: checkpoint) {
            _ = ds2.labels.count + ds2.hiddenSize
        }
        return true
    }
}
