import MappedFiles
import SpeechCheckpoints
import XCTest
import TensorFlowCheckpoints

final class TensorBundleTests: XCTestCase {
    typealias Tensor = (name: String, dtype: Int, shape: [Int64], bytes: [UInt8])

    static let tensors: [Tensor] = {
        func floats(_ n: Int, _ scale: Float) -> [UInt8] { GraphBuilder.floatBytes((0..<n).map { Float($0) * scale - 1 }) }
        var step = ProtoWriter()
        step.append64(1234)
        return [
            ("beta1_power", 1, [], floats(1, 0.9)),
            ("global_step", 9, [], step.bytes),
            ("layer_1/bias", 1, [4], floats(4, 0.5)),
            ("layer_1/bias/Adam", 1, [4], floats(4, 0.25)),
            ("layer_1/bias/Adam_1", 1, [4], floats(4, 0.125)),
            ("layer_1/weights", 1, [3, 4], floats(12, 0.1)),
            ("layer_1/weights/Adam", 1, [3, 4], floats(12, 0.2)),
            ("layer_1/weights/Adam_1", 1, [3, 4], floats(12, 0.3)),
            ("layer_2/weights", 1, [4, 2], floats(8, -0.7)),
            ("nothing", 1, [0, 5], []),
        ]
    }()

    /// Writes `prefix.index` and `prefix.data-00000-of-00001` into `dir`; `mutate` may change
    /// the entries before they are written.
    @discardableResult
    static func write(to dir: URL, prefix: String = "model.ckpt", snappy: Bool = false, header: [UInt8] = IndexWriter.header(),
                      mutate: (inout [([UInt8], [UInt8])]) -> Void = { _ in }) throws -> String {
        var data: [UInt8] = []
        var entries: [([UInt8], [UInt8])] = [([], header)]
        for t in tensors {
            entries.append((Array(t.name.utf8), IndexWriter.entry(dtype: t.dtype, shape: t.shape, offset: data.count, size: t.bytes.count, data: t.bytes)))
            data += t.bytes
        }
        mutate(&entries)
        var writer = IndexWriter()
        writer.snappy = snappy
        let base = dir.appendingPathComponent(prefix).path
        try Data(writer.write(entries)).write(to: URL(fileURLWithPath: base + ".index"))
        try Data(data).write(to: URL(fileURLWithPath: base + ".data-00000-of-00001"))
        return base
    }

    func testReadsEveryTensorAsASliceOfTheShard() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try Self.write(to: dir)
        for path in [base + ".index", base] {
            let bundle = try TensorBundle(indexPath: path)
            XCTAssertEqual(bundle.indexPath, base + ".index")
            XCTAssertEqual(bundle.prefix, base)
            XCTAssertEqual(bundle.dataPaths, [base + ".data-00000-of-00001"])
            XCTAssertEqual(bundle.shardCount, 1)
            XCTAssertEqual(bundle.producerVersion, 1)
            XCTAssertEqual(bundle.compressedBlockCount, 0)
            XCTAssertEqual(bundle.dataBlockCount, 4)  // 11 entries, 3 per block
            XCTAssertEqual(bundle.names, Self.tensors.map(\.name))
            for t in Self.tensors {
                let tensor = try bundle.tensor(named: t.name)
                XCTAssertEqual(tensor.shape, t.shape.map { Int($0) })
                XCTAssertEqual(Array(tensor.bytes), t.bytes, t.name)
                if !t.bytes.isEmpty { XCTAssertEqual(tensor.storage.path, base + ".data-00000-of-00001") }
            }
            XCTAssertEqual(try bundle.tensor(named: "global_step").integers(), [1234])
            XCTAssertEqual(try bundle.tensor(named: "layer_1/bias").floats(), [-1, -0.5, 0, 0.5])
            let entry = try XCTUnwrap(bundle.entry(named: "layer_1/weights"))
            XCTAssertEqual(entry.dataType, .float)
            XCTAssertEqual(entry.shape.dimensions, [3, 4])
            XCTAssertEqual(entry.size, 48)
            XCTAssertNotNil(entry.maskedCRC32C)
            XCTAssertNil(bundle.entry(named: "layer_1"))
            XCTAssertThrowsError(try bundle.tensor(named: "layer_9/weights")) {
                XCTAssertTrue("\($0)".contains("has no tensor 'layer_9/weights'"), "\($0)")
            }
        }
    }

    func testSnappyBlocksReadTheSame() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = try TensorBundle(indexPath: try Self.write(to: dir))
        let compressed = try TensorBundle(indexPath: try Self.write(to: dir, prefix: "snappy.ckpt", snappy: true))
        XCTAssertEqual(compressed.compressedBlockCount, 4)
        XCTAssertEqual(compressed.names, plain.names)
        for name in plain.names {
            XCTAssertEqual(compressed.entry(named: name)?.shape, plain.entry(named: name)?.shape)
            XCTAssertEqual(compressed.entry(named: name)?.maskedCRC32C, plain.entry(named: name)?.maskedCRC32C)
            XCTAssertEqual(Array(try compressed.tensor(named: name).bytes), Array(try plain.tensor(named: name).bytes))
        }
    }

    private func problem(_ path: String, tensor: String? = nil) -> ModelFileError? {
        do {
            let bundle = try TensorBundle(indexPath: path)
            for name in tensor.map({ [$0] }) ?? bundle.names { _ = try bundle.tensor(named: name) }
            return nil
        } catch let error as ModelFileError {
            return error
        } catch {
            XCTFail("unexpected \(error)")
            return nil
        }
    }

    func testDamagedIndexes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try Self.write(to: dir)
        let indexPath = base + ".index"
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: indexPath)))
        func with(_ bytes: [UInt8], _ check: (ModelFileError?) -> Void) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: indexPath))
            let error = problem(indexPath)
            XCTAssertEqual(error?.path, indexPath)
            check(error)
        }
        try with(Array(original[..<40])) { XCTAssertTrue($0?.problem.contains("shorter than the 48-byte table footer") == true, "\(String(describing: $0))") }
        try with(Array(original[..<(original.count / 2)])) { XCTAssertTrue($0?.problem.contains("bad magic number") == true, "\(String(describing: $0))") }
        var flipped = original
        flipped[5] ^= 0x10
        try with(flipped) { XCTAssertTrue($0?.problem.contains("CRC mismatch in the data block at byte 0") == true, "\(String(describing: $0))") }
        flipped = original
        flipped[original.count - 3] ^= 1
        try with(flipped) { XCTAssertTrue($0?.problem.contains("bad magic number") == true) }
        flipped = original
        flipped[original.count - 48] = 0x7F  // the metaindex handle's offset
        flipped[original.count - 46] = 0xFF  // the index handle …
        try with(flipped) { XCTAssertNotNil($0) }
        // Every truncation and every single-byte change is refused (naming the index) or
        // read, never a crash; the copies are held in memory under the index's name.
        func inMemory(_ bytes: [UInt8]) -> ModelFileError? {
            do {
                let bundle = try TensorBundle(index: MappedFile(copying: bytes, path: indexPath))
                for name in bundle.names { _ = try bundle.tensor(named: name) }
                return nil
            } catch {
                return error as? ModelFileError ?? ModelFileError(path: "", problem: "\(error)")
            }
        }
        for length in 0..<original.count {
            XCTAssertEqual(inMemory(Array(original[..<length]))?.path, indexPath, "truncated to \(length) bytes")
        }
        var readAfterFlip = 0
        for i in 0..<original.count {
            flipped = original
            flipped[i] ^= 0xFF
            if let error = inMemory(flipped) { XCTAssertEqual(error.path, indexPath) } else { readAfterFlip += 1 }
        }
        // Only bytes no reader looks at (the metaindex handle, the footer's padding) may change unnoticed.
        XCTAssertLessThanOrEqual(readAfterFlip, 40)
    }

    func testDamagedData() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try Self.write(to: dir)
        let dataPath = base + ".data-00000-of-00001"
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dataPath)))
        data[20] ^= 0x01  // inside layer_1/bias
        try Data(data).write(to: URL(fileURLWithPath: dataPath))
        let bundle = try TensorBundle(indexPath: base)
        XCTAssertThrowsError(try bundle.tensor(named: "layer_1/bias")) { error in
            XCTAssertEqual((error as? ModelFileError)?.path, dataPath)
            XCTAssertTrue("\(error)".contains("CRC mismatch in tensor 'layer_1/bias' (16 bytes at byte 12)"), "\(error)")
        }
        XCTAssertNoThrow(try bundle.tensor(named: "layer_1/bias", verifyChecksum: false))
        XCTAssertNoThrow(try bundle.tensor(named: "layer_1/weights"))

        try Data(data[..<100]).write(to: URL(fileURLWithPath: dataPath))
        let truncated = problem(base)
        XCTAssertEqual(truncated?.path, dataPath)
        XCTAssertTrue(truncated?.problem.contains("data (48 bytes at byte 60) lies outside the 100-byte file") == true, "\(String(describing: truncated))")

        try FileManager.default.removeItem(atPath: dataPath)
        let missing = problem(base)
        XCTAssertEqual(missing?.path, dataPath)
        XCTAssertTrue(missing?.problem.contains("cannot read the checkpoint's data shard 0 of 1") == true, "\(String(describing: missing))")
    }

    func testUnsupportedContents() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func check(_ text: String, tensor: String? = nil, header: [UInt8] = IndexWriter.header(),
                   mutate: (inout [([UInt8], [UInt8])]) -> Void = { _ in }, file: StaticString = #filePath, line: UInt = #line) throws {
            let base = try Self.write(to: dir, header: header, mutate: mutate)
            let error = problem(base, tensor: tensor)
            XCTAssertEqual(error?.path, base + ".index", file: file, line: line)
            XCTAssertTrue(error?.problem.contains(text) == true, "\(String(describing: error))", file: file, line: line)
        }
        try check("written on a big-endian machine", header: IndexWriter.header(bigEndian: true))
        try check("gives 0 data shards", header: IndexWriter.header(shards: 0))
        try check("tensor 'layer_1/bias' is a partitioned variable stored in 2 slices", tensor: "layer_1/bias") { entries in
            entries[3].1 = IndexWriter.entry(dtype: 1, shape: [4], offset: 12, size: 16, data: nil, slices: 2)
        }
        try check("tensor 'layer_1/bias' has dtype DT_COMPLEX64 (DataType 8), which is not supported", tensor: "layer_1/bias") { entries in
            entries[3].1 = IndexWriter.entry(dtype: 8, shape: [2], offset: 12, size: 16, data: nil)
        }
        try check("tensor 'layer_1/bias' is a string tensor", tensor: "layer_1/bias") { entries in
            entries[3].1 = IndexWriter.entry(dtype: 7, shape: [2], offset: 12, size: 16, data: nil)
        }
        try check("tensor 'layer_1/bias' holds 16 bytes, but shape [5] of DT_FLOAT needs 20", tensor: "layer_1/bias") { entries in
            entries[3].1 = IndexWriter.entry(dtype: 1, shape: [5], offset: 12, size: 16, data: nil)
        }
        try check("tensor 'layer_1/bias' has offset -4 and size 16") { entries in
            entries[3].1 = IndexWriter.entry(dtype: 1, shape: [4], offset: -4, size: 16, data: nil)
        }
        try check("tensor 'layer_1/bias' is in shard 3, but the checkpoint has 1") { entries in
            entries[3].1 = IndexWriter.entry(dtype: 1, shape: [4], shard: 3, offset: 12, size: 16, data: nil)
        }
        try check("keys out of order") { entries in entries.swapAt(3, 4) }
        try check("no header entry") { entries in entries.removeFirst() }
        try check("the index entry of tensor 'layer_1/bias' is damaged: truncated") { entries in entries[3].1 = [0x12, 0x05] }
        // Keys of a partitioned variable's slices (a zero byte first) are not tensor names.
        let base = try Self.write(to: dir) { entries in entries.insert(([0, 1, 2], IndexWriter.entry(dtype: 1, shape: [1], offset: 0, size: 4, data: nil)), at: 1) }
        XCTAssertEqual(try TensorBundle(indexPath: base).names, Self.tensors.map(\.name))
    }
}
