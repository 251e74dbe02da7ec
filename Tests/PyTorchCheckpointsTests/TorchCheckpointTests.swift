import Foundation
import MappedFiles
import SpeechCheckpoints
import XCTest
import PyTorchCheckpoints

/// torch.save files built by hand (TorchFileWriter) in both formats.
final class TorchCheckpointTests: XCTestCase {
    /// A 2×3 float tensor on storage "0", its transpose as a view of the same storage, an
    /// int64 scalar on storage "1", and a tensor at an offset into storage "0".
    static func sampleStateDict() -> (Py, [TestStorage]) {
        let values: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        let state: Py = .ordered([
            (.str("w"), .tensor(storageType: "FloatStorage", key: "0", numel: 8, view: nil, offset: 0, size: [2, 3], stride: [3, 1])),
            (.str("wt"), .tensor(storageType: "FloatStorage", key: "0", numel: 8, view: nil, offset: 0, size: [3, 2], stride: [1, 3])),
            (.str("tail"), .tensor(storageType: "FloatStorage", key: "0", numel: 8, view: nil, offset: 6, size: [2], stride: [1])),
            (.str("steps"), .tensor(storageType: "LongStorage", key: "1", numel: 1, view: nil, offset: 0, size: [], stride: [])),
        ], state: .dict([(.str("_metadata"), .ordered([(.str(""), .dict([(.str("version"), .int(1))]))], state: nil))]))
        return (state, [.floats("0", values), .int64s("1", [42])])
    }

    func checkSample(_ checkpoint: TorchCheckpoint, file: StaticString = #filePath, line: UInt = #line) throws {
        let tensors = try checkpoint.stateDict()
        XCTAssertEqual(tensors.map(\.name), ["w", "wt", "tail", "steps"], file: file, line: line)
        let w = tensors[0].tensor, wt = tensors[1].tensor, tail = tensors[2].tensor, steps = tensors[3].tensor
        XCTAssertEqual(w.shape, [2, 3], file: file, line: line)
        XCTAssertEqual(try w.floats(), [1, 2, 3, 4, 5, 6], file: file, line: line)
        XCTAssertEqual(try wt.floats(), [1, 4, 2, 5, 3, 6], file: file, line: line)
        XCTAssertEqual(try tail.floats(), [7, 8], file: file, line: line)
        XCTAssertEqual(steps.shape, [], file: file, line: line)
        XCTAssertEqual(try steps.integers(), [42], file: file, line: line)
        // Contiguous tensors slice the mapping itself; the transposed view is a copy.
        if !checkpoint.isBigEndian {
            XCTAssertTrue(w.storage === checkpoint.file, file: file, line: line)
            XCTAssertTrue(tail.storage === checkpoint.file, file: file, line: line)
        }
        XCTAssertFalse(wt.storage === checkpoint.file, file: file, line: line)
        XCTAssertEqual(checkpoint.root["state_dict"], nil, file: file, line: line)
        XCTAssertEqual(checkpoint.root.dictValue?.attributes?["_metadata"]?[""]?["version"], .int(1), file: file, line: line)
    }

    func testZipFormat() throws {
        let (state, storages) = Self.sampleStateDict()
        let bytes = TorchFileWriter.zip(state, storages: storages, folder: "my_model")
        let checkpoint = try TorchCheckpoint(file: TorchFileWriter.mapped(bytes))
        XCTAssertEqual(checkpoint.format, .zip)
        XCTAssertEqual(checkpoint.archiveName, "my_model")
        XCTAssertTrue(checkpoint.records.contains("my_model/data/0"))
        try checkSample(checkpoint)
        // Storage payloads are 64-byte aligned, as torch writes them.
        let w = try checkpoint.stateDict()[0].tensor
        XCTAssertEqual(w.byteRange.lowerBound % 64, 0)
    }

    func testZip64Records() throws {
        let (state, storages) = Self.sampleStateDict()
        try checkSample(try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.zip(state, storages: storages, zip64: true))))
    }

    func testBigEndianZipIsSwappedIntoCopies() throws {
        let (state, storages) = Self.sampleStateDict()
        let swapped = storages.map { s in
            TestStorage(type: s.type, key: s.key, bytes: stride(from: 0, to: s.bytes.count, by: s.width).flatMap { s.bytes[$0..<($0 + s.width)].reversed() })
        }
        let checkpoint = try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.zip(state, storages: swapped, byteorder: "big")))
        XCTAssertTrue(checkpoint.isBigEndian)
        try checkSample(checkpoint)
    }

    func testLegacyFormatWithViews() throws {
        let (state, storages) = Self.sampleStateDict()
        let bytes = TorchFileWriter.legacy(.dict([(.str("state_dict"), state), (.str("epoch"), .int(3))]), storages: storages)
        let checkpoint = try TorchCheckpoint(file: TorchFileWriter.mapped(bytes))
        XCTAssertEqual(checkpoint.format, .legacy)
        XCTAssertEqual(checkpoint.records, ["0", "1"])
        XCTAssertEqual(checkpoint.root["epoch"], .int(3))
        let tensors = try checkpoint.stateDict()
        XCTAssertEqual(try tensors[1].tensor.floats(), [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(try tensors[3].tensor.integers(), [42])
        XCTAssertTrue(tensors[0].tensor.storage === checkpoint.file)

        // A legacy storage view: elements 2..<6 of root storage "0", known as "v".
        let viewed: Py = .dict([(.str("x"), .tensor(storageType: "FloatStorage", key: "0", numel: 8, view: ("v", 2, 4), offset: 1, size: [3], stride: [1]))])
        let view = try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.legacy(viewed, storages: [.floats("0", [1, 2, 3, 4, 5, 6, 7, 8])])))
        XCTAssertEqual(try view.stateDict()[0].tensor.floats(), [4, 5, 6])
        // A view reaching past its window is refused.
        let past: Py = .dict([(.str("x"), .tensor(storageType: "FloatStorage", key: "0", numel: 8, view: ("v", 2, 4), offset: 2, size: [3], stride: [1]))])
        let pastFile = try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.legacy(past, storages: [.floats("0", [1, 2, 3, 4, 5, 6, 7, 8])])))
        XCTAssertThrowsError(try pastFile.stateDict()) { XCTAssertTrue("\($0)".contains("storage is short"), "\($0)") }
    }

    func testDamagedStoragesAreNamed() throws {
        // Storage "0" holds 8 floats but a tensor asks for 9.
        let long: Py = .dict([(.str("x"), .tensor(storageType: "FloatStorage", key: "0", numel: 8, view: nil, offset: 0, size: [3, 3], stride: [3, 1]))])
        let zipped = try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.zip(long, storages: [.floats("0", Array(repeating: 0, count: 8))], folder: "a"), "long.pt"))
        XCTAssertThrowsError(try zipped.stateDict()) { error in
            XCTAssertTrue("\(error)".hasPrefix("long.pt: tensor 'x'"), "\(error)")
            XCTAssertTrue("\(error)".contains("storage '0'"), "\(error)")
        }
        // A storage record that is not there.
        let missing = try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.zip(long, storages: [], folder: "a")))
        XCTAssertThrowsError(try missing.stateDict()) { XCTAssertTrue("\($0)".contains("storage '0' is missing"), "\($0)") }
        // Legacy: the count in the file disagrees with the pickle.
        var legacy = TorchFileWriter.legacy(long, storages: [.floats("0", Array(repeating: 0, count: 8))])
        legacy[legacy.count - 32 - 8] = 7
        XCTAssertThrowsError(try TorchCheckpoint(file: TorchFileWriter.mapped(legacy))) { XCTAssertTrue("\($0)".contains("holds 7 elements"), "\($0)") }
        // Huge strides overflow-checked.
        let huge: Py = .dict([(.str("x"), .tensor(storageType: "FloatStorage", key: "0", numel: 8, view: nil, offset: 0,
                                                  size: [Int(Int32.max), Int(Int32.max), 4], stride: [Int(Int32.max), Int(Int32.max), Int(Int32.max)]))])
        let overflow = try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.zip(huge, storages: [.floats("0", Array(repeating: 0, count: 8))])))
        XCTAssertThrowsError(try overflow.stateDict())
        // Zero strides may not expand into an enormous copy.
        let expanded: Py = .dict([(.str("x"), .tensor(storageType: "FloatStorage", key: "0", numel: 8, view: nil, offset: 0, size: [1 << 40], stride: [0]))])
        let expandedFile = try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.zip(expanded, storages: [.floats("0", Array(repeating: 0, count: 8))])))
        XCTAssertThrowsError(try expandedFile.stateDict()) { XCTAssertTrue("\($0)".contains("copy"), "\($0)") }
    }

    /// torch ≥ 2.1 writes dtypes without a storage class as `_rebuild_tensor_v3` on an
    /// `UntypedStorage` (sizes in bytes), naming the dtype as a global.
    func testUntypedStorageWithDtype() throws {
        func file(dtype: String) -> [UInt8] {
            var w = PickleWriter()
            w.out.append(0x7D)  // EMPTY_DICT
            w.emit(.str("x"))
            w.emit(.global("torch._utils", "_rebuild_tensor_v3"))
            w.out.append(0x28)
            w.emit(.tuple([.str("storage"), .global("torch.storage", "UntypedStorage"), .str("0"), .str("cpu"), .int(16)]))
            w.out.append(0x51)
            w.emit(.int(1)); w.emit(.tuple([.int(3)])); w.emit(.tuple([.int(1)])); w.emit(.bool(false))
            w.emit(.ordered([], state: nil)); w.emit(.global("torch", dtype))
            w.out += [0x74, 0x52, 0x73, 0x2E]
            return TorchFileWriter.zip(pickle: w.out, storages: [TestStorage(type: "UntypedStorage", key: "0",
                                                                             bytes: TestStorage.floats("0", [1, 2, 3, 4]).bytes)])
        }
        let floats = try TorchCheckpoint(file: TorchFileWriter.mapped(file(dtype: "float32")))
        XCTAssertEqual(floats.root["x"]?.tensorValue?.dtypeName, "float32")
        XCTAssertEqual(try floats.stateDict()[0].tensor.floats(), [2, 3, 4])
        let unsigned = try TorchCheckpoint(file: TorchFileWriter.mapped(file(dtype: "uint16")))
        XCTAssertNil(unsigned.root["x"]?.tensorValue?.dataType)
        XCTAssertThrowsError(try unsigned.stateDict()) { XCTAssertTrue("\($0)".contains("dtype uint16 is not supported"), "\($0)") }
    }

    func testTruncatedFilesNameTheFileAndByte() throws {
        let (state, storages) = Self.sampleStateDict()
        let zip = TorchFileWriter.zip(state, storages: storages)
        let legacy = TorchFileWriter.legacy(state, storages: storages)
        for (bytes, name) in [(zip, "cut.ckpt"), (legacy, "cut.pth")] {
            for length in stride(from: 8, to: bytes.count, by: 7) {
                do {
                    let checkpoint = try TorchCheckpoint(file: TorchFileWriter.mapped(Array(bytes[..<length]), name))
                    _ = try checkpoint.stateDict()
                    XCTFail("\(name) cut at \(length) of \(bytes.count) read")
                } catch let error as ModelFileError {
                    XCTAssertEqual(error.path, name)
                    XCTAssertTrue(error.problem.contains("byte"), "\(error)")
                }
            }
        }
    }

    func testOtherFilesAreRefusedClearly() throws {
        func refusal(_ bytes: [UInt8]) -> String {
            do { _ = try TorchCheckpoint(file: TorchFileWriter.mapped(bytes, "x.pth")); return "read" } catch { return "\(error)" }
        }
        var tar = [UInt8](repeating: 0, count: 1024)
        tar.replaceSubrange(257..<262, with: Array("ustar".utf8))
        XCTAssertTrue(refusal(tar).contains("tar archive"), refusal(tar))
        XCTAssertTrue(refusal(Array("hello world, not a model".utf8)).contains("not a PyTorch checkpoint"))
        XCTAssertTrue(refusal([0x1C, 0, 0, 0] + Array("TFL3".utf8) + [UInt8](repeating: 0, count: 40)).contains("TensorFlow Lite"))
        XCTAssertTrue(refusal(PickleWriter.pickle(.dict([]))).contains("not a torch.save file"))
        XCTAssertTrue(refusal(PythonPickles.bytes(PythonPickles.magic) + PickleWriter.pickle(.int(1000))).contains("1001"))
        // A zip without data.pkl, and one whose entries are compressed.
        var other = ZipWriter()
        other.add("readme.txt", Array("hi".utf8))
        XCTAssertTrue(refusal(other.bytes()).contains("without a data.pkl"), refusal(other.bytes()))
        var deflated = ZipWriter()
        deflated.add("archive/data.pkl", PickleWriter.pickle(.dict([])), method: 8)
        XCTAssertTrue(refusal(deflated.bytes()).contains("compressed (method 8)"), refusal(deflated.bytes()))
        XCTAssertThrowsError(try TorchCheckpoint(path: "/nonexistent/model.pth")) {
            XCTAssertTrue("\($0)".hasPrefix("/nonexistent/model.pth"), "\($0)")
        }
    }

    func testStateDictAtTopLevelOrMissing() throws {
        let (state, storages) = Self.sampleStateDict()
        try checkSample(try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.zip(state, storages: storages))))
        let nested = try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.zip(.dict([(.str("state_dict"), state)]), storages: storages)))
        XCTAssertEqual(try nested.stateDict().count, 4)
        let none = try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.zip(.dict([(.str("epoch"), .int(1))]), storages: [])))
        XCTAssertThrowsError(try none.stateDict()) { XCTAssertTrue("\($0)".contains("'epoch'"), "\($0)") }
    }

    func testEvilPicklesInsideCheckpointsStayInert() throws {
        let marker = "/tmp/swift-deepspeech-pwned"
        try? FileManager.default.removeItem(atPath: marker)
        let evil: Py = .dict([(.str("state_dict"), .ordered([], state: nil)),
                              (.str("payload"), .reduce(.global("posix", "system"), [.str("touch \(marker)")]))])
        let checkpoint = try TorchCheckpoint(file: TorchFileWriter.mapped(TorchFileWriter.zip(evil, storages: [])))
        XCTAssertEqual(checkpoint.root["payload"]?.objectValue?.callable, .global(module: "posix", name: "system"))
        XCTAssertEqual(try checkpoint.stateDict().count, 0)
        var inst = TorchFileWriter.legacy(.none, storages: [])
        // Replace the main pickle's NONE with an INST payload: refused, naming the opcode.
        let mainStart = 15 + PickleWriter.pickle(.int(1001)).count + PickleWriter.pickle(.dict([(.str("protocol_version"), .int(1001)), (.str("little_endian"), .bool(true)),
                                                            (.str("type_sizes"), .dict([(.str("short"), .int(2)), (.str("int"), .int(4)), (.str("long"), .int(4))]))])).count
        XCTAssertEqual(inst[mainStart + 2], 0x4E)
        inst.replaceSubrange((mainStart + 2)..<(mainStart + 3), with: Array("(S'x'\nios\nsystem\n".utf8))
        XCTAssertThrowsError(try TorchCheckpoint(file: TorchFileWriter.mapped(inst))) {
            XCTAssertTrue("\($0)".contains("unsafe opcode INST"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }
}
