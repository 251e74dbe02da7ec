import Foundation
import SpeechCheckpoints
import TestSupport
import XCTest
import TensorFlowCheckpoints

/// The readers on real TensorFlow 2.15 output (Fixtures/make_tensorflow_models.py): the same
/// DeepSpeech weights as a frozen graph, two memory-mapped graphs (with and without region
/// lengths) and a training checkpoint whose index is also stored with snappy blocks.
final class TensorFlowFixtureTests: XCTestCase {
    static let directory = Fixtures.path("Fixtures/models/tensorflow")
    static let lstm = "cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell"

    static func path(_ name: String) -> String { directory + "/" + name }

    /// Skips only when the fixture directory is missing (a checkout without the models).
    private func requireFixtures() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Self.directory), "no \(Self.directory)")
    }

    static func weightShapes(hidden: Int, cell: Int) -> [(String, [Int])] {
        [("layer_1/weights", [494, hidden]), ("layer_1/bias", [hidden]),
         ("layer_2/weights", [hidden, hidden]), ("layer_2/bias", [hidden]),
         ("layer_3/weights", [hidden, hidden]), ("layer_3/bias", [hidden]),
         (lstm + "/kernel", [hidden + cell, 4 * cell]), (lstm + "/bias", [4 * cell]),
         ("layer_5/weights", [cell, hidden]), ("layer_5/bias", [hidden]),
         ("layer_6/weights", [hidden, 41]), ("layer_6/bias", [41])]
    }

    func testWeightsAreBitIdenticalInAllFiveFiles() throws {
        try requireFixtures()
        let pb = try TensorFlowGraph(path: Self.path("ds-h64.pb"))
        let pbmm = try TensorFlowGraph(path: Self.path("ds-h64.pbmm"))
        let old = try TensorFlowGraph(path: Self.path("ds-h64.old.pbmm"))
        let checkpoint = try TensorBundle(indexPath: Self.path("ds-h64.ckpt.index"))
        let snappy = try TensorBundle(indexPath: Self.path("ds-h64.snappy.ckpt"))
        XCTAssertEqual(pb.format, .frozenGraph)
        XCTAssertEqual(pbmm.directory?.hasStoredLengths, true)
        XCTAssertEqual(old.directory?.hasStoredLengths, false)
        for graph in [pbmm, old] {
            let directory = try XCTUnwrap(graph.directory)
            XCTAssertEqual(directory.regions.last?.name, MemmappedDirectory.graphRegionName)
            XCTAssertEqual(directory.regions.first?.offset, 0)
            // The writer aligns tensor regions to 32 or 64 bytes; the offsets can show more
            // (every tensor here is a multiple of 64 bytes long).
            XCTAssertEqual((directory.alignment ?? 1) % 32, 0)
            // Every ImmutableConst node names a region of the directory.
            for node in graph.nodes where node.op == "ImmutableConst" {
                XCTAssertNotNil(directory.region(named: node.attrs["memory_region_name"]?.string ?? ""), node.name)
            }
        }
        XCTAssertNotNil(pb.producerVersion)
        XCTAssertEqual(pb.producerVersion, pbmm.producerVersion)

        for (name, shape) in Self.weightShapes(hidden: 64, cell: 64) {
            let reference = try XCTUnwrap(try pb.constant(named: name), name)
            XCTAssertEqual(reference.shape, shape, name)
            XCTAssertEqual(reference.dataType, .float32)
            XCTAssertTrue(reference.storage === pb.file, "\(name) should be a slice of the .pb mapping")
            let expected = Array(reference.bytes)
            XCTAssertGreaterThan(Set(try reference.floats()).count, 1, "\(name) holds real weights")
            let others: [(String, CheckpointTensor?)] = [
                ("pbmm", try pbmm.constant(named: name)), ("old.pbmm", try old.constant(named: name)),
                ("ckpt", try checkpoint.tensor(named: name)), ("snappy.ckpt", try snappy.tensor(named: name)),
            ]
            for (label, tensor) in others {
                let tensor = try XCTUnwrap(tensor, "\(name) in \(label)")
                XCTAssertEqual(tensor.shape, shape, "\(name) in \(label)")
                XCTAssertEqual(tensor.dataType, .float32, "\(name) in \(label)")
                XCTAssertTrue(Array(tensor.bytes) == expected, "\(name) in \(label) differs from the .pb")
            }
            // Weight matrices are ImmutableConst regions in the memory-mapped graphs (biases are
            // below the converter's default 10 000-byte threshold and stay Const there).
            if shape.count == 2 {
                XCTAssertEqual(pbmm.node(named: name)?.op, "ImmutableConst", name)
                XCTAssertEqual(old.node(named: name)?.op, "ImmutableConst", name)
            } else {
                XCTAssertEqual(pbmm.node(named: name)?.op, "Const", name)
            }
        }
    }

    func testMetadata() throws {
        try requireFixtures()
        let summary = try XCTUnwrap(Fixtures.json("tensorflow/summary.json") as? [String: Any])
        let alphabetHex = try XCTUnwrap(summary["alphabet_serialized_hex"] as? String)
        for file in ["ds-h64.pb", "ds-h64.pbmm", "ds-h64.old.pbmm", "ds-h128-c96.pb"] {
            let graph = try TensorFlowGraph(path: Self.path(file))
            func int(_ name: String) throws -> Int64? { try graph.constant(named: name)?.integers().first }
            XCTAssertEqual(try int("metadata_version"), 6, file)
            XCTAssertEqual(try int("metadata_sample_rate"), 16000, file)
            XCTAssertEqual(try int("metadata_feature_win_len"), 32, file)
            XCTAssertEqual(try int("metadata_feature_win_step"), 20, file)
            XCTAssertEqual(try int("metadata_beam_width"), 500, file)
            let alphabet = try XCTUnwrap(try graph.constant(named: "metadata_alphabet"), file)
            XCTAssertEqual(alphabet.dataType, .string)
            XCTAssertEqual(alphabet.shape, [1])
            XCTAssertTrue(alphabet.storage === graph.file)
            XCTAssertEqual(alphabet.bytes.map { String(format: "%02x", $0) }.joined(), alphabetHex, file)
            XCTAssertEqual(try graph.stringConstant(named: "metadata_language"), [Array("hy".utf8)], file)
            // Every constant of the graph reads.
            XCTAssertGreaterThan(try graph.constants().count, 40, file)
        }
        let old = try TensorFlowGraph(path: Self.path("ds-old-nometadata.pb"))
        XCTAssertEqual(try old.constant(named: "metadata_version")?.integers(), [3])
        XCTAssertNil(try old.constant(named: "metadata_alphabet"))
        XCTAssertNil(try old.constant(named: "metadata_beam_width"))
        XCTAssertEqual(try old.constant(named: "layer_6/weights")?.shape, [64, 41])
    }

    func testWiderModelShapes() throws {
        try requireFixtures()
        let graph = try TensorFlowGraph(path: Self.path("ds-h128-c96.pb"))
        for (name, shape) in Self.weightShapes(hidden: 128, cell: 96) {
            XCTAssertEqual(try graph.constant(named: name)?.shape, shape, name)
        }
        let placeholders = graph.nodes.filter { $0.op == "Placeholder" }.map(\.name)
        XCTAssertTrue(placeholders.contains("input_node"), "\(placeholders)")
        let input = try XCTUnwrap(graph.node(named: "input_node"))
        XCTAssertEqual(input.attrs["dtype"]?.dataType, .float)
        // Weights are read through '<name>/read' Identity nodes.
        XCTAssertEqual(graph.node(named: "layer_1/weights/read")?.inputs, ["layer_1/weights"])
    }

    func testCheckpointEntries() throws {
        try requireFixtures()
        let plain = try TensorBundle(indexPath: Self.path("ds-h64.ckpt.index"))
        let snappy = try TensorBundle(indexPath: Self.path("ds-h64.snappy.ckpt.index"))
        XCTAssertEqual(plain.compressedBlockCount, 0)
        XCTAssertEqual(snappy.compressedBlockCount, 1)
        XCTAssertEqual(plain.names.count, 40)
        XCTAssertEqual(snappy.names, plain.names)
        for name in plain.names {
            XCTAssertEqual(snappy.entry(named: name), plain.entry(named: name), name)
            let tensor = try plain.tensor(named: name)
            XCTAssertEqual(tensor.storage.path, plain.dataPaths[0])
        }
        XCTAssertEqual(try plain.tensor(named: "global_step").integers(), [12345])
        XCTAssertEqual(try plain.tensor(named: "beta1_power").shape, [])
        for (name, shape) in Self.weightShapes(hidden: 64, cell: 64) {
            for slot in ["/Adam", "/Adam_1"] {
                XCTAssertEqual(try plain.tensor(named: name + slot).shape, shape, name + slot)
                XCTAssertFalse(Array(try plain.tensor(named: name + slot).bytes) == Array(try plain.tensor(named: name).bytes))
            }
        }
    }

    // MARK: - Damaged copies

    /// Copies of the fixtures in a temporary directory, for damaging.
    private struct Scratch {
        let dir: URL
        func write(_ name: String, _ bytes: [UInt8]) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
    }

    private func scratch() throws -> Scratch {
        let dir = try temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        // The shards beside the damaged indexes are the originals.
        for prefix in ["ds-h64.ckpt", "ds-h64.snappy.ckpt"] {
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent(prefix + ".data-00000-of-00001").path,
                                                       withDestinationPath: Self.path(prefix + ".data-00000-of-00001"))
        }
        return Scratch(dir: dir)
    }

    private static func bytes(_ name: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: path(name)))) }

    /// Reads a graph or checkpoint completely: nil when it reads, else the error, which must
    /// be a ModelFileError naming a file of the model.
    static func read(_ path: String, isIndex: Bool) -> ModelFileError? {
        do {
            if isIndex {
                let bundle = try TensorBundle(indexPath: path)
                for name in bundle.names { _ = try bundle.tensor(named: name) }
            } else {
                let graph = try TensorFlowGraph(path: path)
                _ = try graph.constants()
            }
            return nil
        } catch let error as ModelFileError {
            return error
        } catch {
            return ModelFileError(path: "", problem: "not a ModelFileError: \(error)")
        }
    }

    private func assertRefused(_ path: String, isIndex: Bool, _ expected: String? = nil, dataPath: String? = nil,
                               file: StaticString = #filePath, line: UInt = #line) {
        guard let error = Self.read(path, isIndex: isIndex) else {
            return XCTFail("\(path) was read", file: file, line: line)
        }
        XCTAssertTrue(error.path == path || error.path == dataPath, "\(error)", file: file, line: line)
        if let expected { XCTAssertTrue(error.problem.contains(expected), "\(error)", file: file, line: line) }
    }

    func testTruncatedFilesAreRefused() throws {
        try requireFixtures()
        let scratch = try scratch()
        for name in ["ds-h64.pb", "ds-h64.pbmm", "ds-h64.old.pbmm", "ds-h64.ckpt.index", "ds-h64.snappy.ckpt.index"] {
            let original = try Self.bytes(name)
            let n = original.count
            let isIndex = name.hasSuffix(".index")
            for length in Set([1, 2, 8, 47, 48, 100, n / 3, n / 2, n - 49, n - 48, n - 9, n - 8, n - 1]) where length > 0 && length < n {
                let path = try scratch.write(name, Array(original[..<length]))
                assertRefused(path, isIndex: isIndex)
            }
        }
    }

    func testDamagedBytesAreRefused() throws {
        try requireFixtures()
        let scratch = try scratch()
        // Checkpoint index: magic, handles, a data block byte, a trailer CRC byte.
        for name in ["ds-h64.ckpt.index", "ds-h64.snappy.ckpt.index"] {
            let original = try Self.bytes(name)
            let n = original.count
            var damaged = original
            damaged[n - 1] ^= 0x01
            assertRefused(try scratch.write(name, damaged), isIndex: true, "bad magic number")
            damaged = original
            damaged[n - 48] ^= 0x01  // the metaindex handle: checkpoints keep nothing there, but its CRC is checked
            assertRefused(try scratch.write(name, damaged), isIndex: true, "metaindex block")
            damaged = original
            damaged[n - 45] ^= 0x40  // inside the index handle
            assertRefused(try scratch.write(name, damaged), isIndex: true)
            damaged = original
            damaged[10] ^= 0x20
            assertRefused(try scratch.write(name, damaged), isIndex: true, "CRC mismatch in the data block at byte 0")
        }
        // Checkpoint data: a flipped weight byte fails that tensor's checksum, naming the shard.
        var data = try Self.bytes("ds-h64.ckpt.data-00000-of-00001")
        let bundle = try TensorBundle(indexPath: Self.path("ds-h64.ckpt"))
        let entry = try XCTUnwrap(bundle.entry(named: "layer_2/weights"))
        data[entry.offset + 100] ^= 0x01
        let dataDir = scratch.dir.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        try Data(data).write(to: dataDir.appendingPathComponent("ds-h64.ckpt.data-00000-of-00001"))
        try Data(try Self.bytes("ds-h64.ckpt.index")).write(to: dataDir.appendingPathComponent("ds-h64.ckpt.index"))
        let damagedBundle = try TensorBundle(indexPath: dataDir.appendingPathComponent("ds-h64.ckpt").path)
        XCTAssertThrowsError(try damagedBundle.tensor(named: "layer_2/weights")) { error in
            XCTAssertEqual((error as? ModelFileError)?.path, damagedBundle.dataPaths[0])
            XCTAssertTrue("\(error)".contains("CRC mismatch in tensor 'layer_2/weights'"), "\(error)")
        }
        XCTAssertNoThrow(try damagedBundle.tensor(named: "layer_1/weights"))

        // Memory-mapped graphs: the trailer and the directory.
        for name in ["ds-h64.pbmm", "ds-h64.old.pbmm"] {
            let original = try Self.bytes(name)
            let n = original.count
            let graph = try TensorFlowGraph(path: Self.path(name))
            let directoryOffset = try XCTUnwrap(graph.directory?.directoryOffset)
            var damaged = original
            damaged[n - 8] ^= 0x04  // the directory offset
            assertRefused(try scratch.write(name, damaged), isIndex: false)
            damaged = original
            damaged[n - 3] = 0xFF
            assertRefused(try scratch.write(name, damaged), isIndex: false, "is not inside the")
            // A region name: the node's region is then missing.
            let nameOffset = try XCTUnwrap(Self.find(Array("layer_2_weights".utf8), in: original, from: directoryOffset))
            damaged = original
            damaged[nameOffset] = UInt8(ascii: "X")
            assertRefused(try scratch.write(name, damaged), isIndex: false, "which the directory does not list")
            // The first region's offset (after the element key, its length and the offset key):
            // moved by 127 bytes, the tensor is misread or refused, never read out of bounds.
            damaged = original
            damaged[directoryOffset + 3] = 0x7F
            _ = Self.read(try scratch.write(name, damaged), isIndex: false)
        }
        // Frozen graph: a node's length prefix.
        var pb = try Self.bytes("ds-h64.pb")
        pb[1] = 0xFF
        assertRefused(try scratch.write("ds-h64.pb", pb), isIndex: false)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}
