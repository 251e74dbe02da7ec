import SpeechCheckpoints
import XCTest
import TensorFlowCheckpoints

final class ProtobufReaderTests: XCTestCase {
    private func varint(_ bytes: [UInt8]) throws -> UInt64 {
        var reader = try ProtobufReader(bytes: bytes, path: "varint")
        let value = try reader.readVarint()
        XCTAssertTrue(reader.isAtEnd)
        return value
    }

    private func assertThrows(_ bytes: [UInt8], containing text: String, file: StaticString = #filePath, line: UInt = #line,
                              _ read: (inout ProtobufReader) throws -> Void) {
        do {
            var reader = try ProtobufReader(bytes: bytes, path: "test.pb")
            try read(&reader)
            XCTFail("expected an error containing '\(text)'", file: file, line: line)
        } catch let error as ModelFileError {
            XCTAssertEqual(error.path, "test.pb", file: file, line: line)
            XCTAssertTrue(error.problem.contains(text), "\(error)", file: file, line: line)
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    func testVarints() throws {
        XCTAssertEqual(try varint([0x00]), 0)
        XCTAssertEqual(try varint([0x01]), 1)
        XCTAssertEqual(try varint([0x7F]), 127)
        XCTAssertEqual(try varint([0xAC, 0x02]), 300)
        XCTAssertEqual(try varint([0x80, 0x80, 0x01]), 16384)
        // Non-minimal encodings are valid protobuf.
        XCTAssertEqual(try varint([0x81, 0x80, 0x00]), 1)
        XCTAssertEqual(try varint([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]), 0xFFFF_FFFF)
        XCTAssertEqual(try varint([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]), UInt64.max)
        // -1 as int64 and as int32 (sign-extended to ten bytes on the wire).
        var reader = try ProtobufReader(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        XCTAssertEqual(try reader.readInt64(), -1)
        reader = try ProtobufReader(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        XCTAssertEqual(try reader.readInt32(), -1)
        // A round trip over values of every length.
        var w = ProtoWriter()
        let values: [UInt64] = (0..<64).map { UInt64(1) << UInt64($0) } + (0..<64).map { (UInt64(1) << UInt64($0)) &- 1 }
        for v in values { w.varint(v) }
        reader = try ProtobufReader(bytes: w.bytes)
        for v in values { XCTAssertEqual(try reader.readVarint(), v) }
        XCTAssertTrue(reader.isAtEnd)
    }

    func testBadVarints() {
        assertThrows([0x80, 0x80], containing: "truncated varint at byte 0") { _ = try $0.readVarint() }
        assertThrows([], containing: "truncated varint") { _ = try $0.readVarint() }
        assertThrows([UInt8](repeating: 0xFF, count: 10) + [0x01], containing: "varint longer than 10 bytes") { _ = try $0.readVarint() }
        assertThrows([UInt8](repeating: 0x80, count: 10) + [0x00], containing: "longer than 10 bytes") { _ = try $0.readVarint() }
        assertThrows([UInt8](repeating: 0xFF, count: 9) + [0x02], containing: "overflows") { _ = try $0.readVarint() }
        assertThrows([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], containing: "longer than 10 bytes") { _ = try $0.readVarint() }
        assertThrows([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], containing: "is too large") { _ = try $0.readCount("length") }
    }

    func testFixedWidthValues() throws {
        var reader = try ProtobufReader(bytes: [0x78, 0x56, 0x34, 0x12, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x00, 0x00, 0xC0, 0x3F])
        XCTAssertEqual(try reader.readFixed32(), 0x1234_5678)
        XCTAssertEqual(try reader.readFixed64(), 0x0102_0304_0506_0708)
        XCTAssertEqual(try reader.readFloat(), 1.5)
        XCTAssertTrue(reader.isAtEnd)
        assertThrows([1, 2, 3], containing: "truncated 32-bit value") { _ = try $0.readFixed32() }
        assertThrows([1, 2, 3, 4, 5, 6, 7], containing: "truncated 32-bit value at byte 4") { _ = try $0.readFixed64() }
    }

    func testFieldsAndSkipping() throws {
        var w = ProtoWriter()
        w.int(1, 150)                // varint
        w.key(2, 1); w.append64(7)   // fixed64
        w.string(3, "hello")         // length-delimited
        w.fixed32(4, 9)              // fixed32
        w.message(5) { $0.int(1, 42) }
        w.int(6, 1)
        var reader = try ProtobufReader(bytes: w.bytes)
        var seen: [Int] = []
        while let key = try reader.nextKey() {
            seen.append(key.field)
            switch key.field {
            case 3: XCTAssertEqual(try reader.readString(), "hello")
            case 5:
                var inner = try reader.readMessage()
                XCTAssertEqual(inner.depth, 1)
                XCTAssertEqual(try inner.nextKey()?.field, 1)
                XCTAssertEqual(try inner.readVarint(), 42)
                XCTAssertNil(try inner.nextKey())
            default: try reader.skip(key)
            }
        }
        XCTAssertEqual(seen, [1, 2, 3, 4, 5, 6])
    }

    func testBadKeysAndLengths() {
        assertThrows([0x0B], containing: "group wire type 3") { _ = try $0.nextKey() }  // field 1, start group
        assertThrows([0x0C], containing: "group wire type 4") { _ = try $0.nextKey() }
        assertThrows([0x0E], containing: "unknown wire type 6") { _ = try $0.nextKey() }
        assertThrows([0x0F], containing: "unknown wire type 7") { _ = try $0.nextKey() }
        assertThrows([0x00], containing: "invalid field number 0") { _ = try $0.nextKey() }
        assertThrows([0x0A, 0x05, 0x61], containing: "truncated field at byte 1: its length is 5 bytes") { r in
            _ = try r.nextKey(); _ = try r.readLengthDelimited()
        }
        assertThrows([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], containing: "truncated field") { r in
            _ = try r.nextKey(); _ = try r.readLengthDelimited()
        }
        assertThrows([0x09, 1, 2, 3], containing: "truncated 64-bit value") { r in
            let key = try r.nextKey()!
            try r.skip(key)
        }
        assertThrows([0x0D, 1, 2], containing: "truncated 32-bit value") { r in
            let key = try r.nextKey()!
            try r.skip(key)
        }
        assertThrows([0x08, 0x01], containing: "has wire type 0, expected 2") { r in
            let key = try r.nextKey()!
            try r.expect(key, .lengthDelimited, "name")
        }
    }

    func testNestingDepthIsLimited() throws {
        // 150 messages nested in field 1.
        var payload: [UInt8] = []
        for _ in 0..<150 {
            var w = ProtoWriter()
            w.data(1, payload)
            payload = w.bytes
        }
        assertThrows(payload, containing: "nest more than \(ProtobufReader.maximumDepth) levels") { r in
            func descend(_ reader: inout ProtobufReader) throws {
                while let key = try reader.nextKey() {
                    var inner = try reader.readMessage()
                    _ = key
                    try descend(&inner)
                }
            }
            try descend(&r)
        }
    }

    func testPackedAndUnpackedRepeatedFields() throws {
        var w = ProtoWriter()
        w.packedVarints(1, [1, 300, -1])
        w.int(1, 5)
        w.packedFloats(2, [1.5, -2])
        w.float(2, 3)
        var reader = try ProtobufReader(bytes: w.bytes)
        var ints: [UInt64] = [], floats: [UInt32] = []
        while let key = try reader.nextKey() {
            if key.field == 1 { try reader.readRepeatedVarints(key, into: &ints) } else { try reader.readRepeatedFixed32(key, into: &floats) }
        }
        XCTAssertEqual(ints, [1, 300, UInt64.max, 5])
        XCTAssertEqual(floats.map { Float(bitPattern: $0) }, [1.5, -2, 3])
        // A packed 32-bit run whose length is not a multiple of 4.
        assertThrows([0x12, 0x03, 1, 2, 3], containing: "not a multiple of 4") { r in
            var values: [UInt32] = []
            try r.readRepeatedFixed32(try r.nextKey()!, into: &values)
        }
    }

    func testRangeOutsideFileIsRefused() throws {
        let file = MappedFileFixture.file([1, 2, 3])
        XCTAssertThrowsError(try ProtobufReader(file: file, range: 1..<10))
    }
}

import MappedFiles

enum MappedFileFixture {
    static func file(_ bytes: [UInt8], path: String = "test.bin") -> MappedFile { MappedFile(copying: bytes, path: path) }
}
