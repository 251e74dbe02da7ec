import XCTest
import TensorFlowCheckpoints

final class CRC32CTests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(of: Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum(of: [UInt8]()), 0)
        // RFC 3720 (iSCSI) appendix B.4.
        XCTAssertEqual(CRC32C.checksum(of: [UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum(of: [UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum(of: (0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum(of: (0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum(of: Array("a".utf8)), 0xC1D0_4330)
    }

    /// The eight-bytes-at-a-time path agrees with the plain bitwise definition at every
    /// length and alignment, and `update` continues a checksum.
    func testSlicingMatchesBitwiseDefinition() {
        func bitwise(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                crc ^= UInt32(b)
                for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            }
            return ~crc
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let data: [UInt8] = (0..<300).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        for start in 0..<9 {
            for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 100, 291 - start] {
                let slice = Array(data[start..<(start + length)])
                XCTAssertEqual(CRC32C.checksum(of: slice), bitwise(slice), "start \(start) length \(length)")
            }
        }
        let whole = CRC32C.checksum(of: data)
        let split = data[..<123].withUnsafeBytes { a in data[123...].withUnsafeBytes { b in CRC32C.update(CRC32C.checksum(a), b) } }
        XCTAssertEqual(split, whole)
    }

    func testMasking() {
        for crc: UInt32 in [0, 1, 0xE306_9283, 0xFFFF_FFFF, 0x8000_0000] {
            XCTAssertEqual(CRC32C.unmask(CRC32C.mask(crc)), crc)
        }
        XCTAssertEqual(CRC32C.mask(0), 0xA282_EAD8)
        // ((crc >> 15) | (crc << 17)) + 0xa282ead8
        XCTAssertEqual(CRC32C.mask(0xE306_9283), ((0xE306_9283 >> 15) | (0xE306_9283 << 17)) &+ 0xA282_EAD8)
    }
}

final class SnappyTests: XCTestCase {
    private func decode(_ bytes: [UInt8]) throws -> String {
        String(decoding: try Snappy.decompress(bytes), as: UTF8.self)
    }

    private func assertInvalid(_ bytes: [UInt8], _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Snappy.decompress(bytes), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(text), "\(error)", file: file, line: line)
        }
    }

    func testLiterals() throws {
        XCTAssertEqual(try Snappy.decompress([0x00]), [])
        // Length 5, one literal of 5 bytes (tag (5-1) << 2).
        XCTAssertEqual(try decode([0x05, 0x10] + Array("hello".utf8)), "hello")
        // A literal of 100 bytes: tag 60 << 2, then length-1 in one byte.
        let long = [UInt8](repeating: 0x41, count: 100)
        XCTAssertEqual(try Snappy.decompress([100, 0xF0, 99] + long), long)
        // 300 bytes: tag 61 << 2, length-1 in two bytes (299 = 0x012B).
        let longer = (0..<300).map { UInt8($0 % 251) }
        XCTAssertEqual(try Snappy.decompress([0xAC, 0x02, 0xF4, 0x2B, 0x01] + longer), longer)
    }

    func testCopies() throws {
        // "abcd" then a 1-byte-offset copy of 4 from 4 back: "abcdabcd". Tag: kind 1, length-4 = 0 → 0x01, offset 4.
        XCTAssertEqual(try decode([8, 0x0C] + Array("abcd".utf8) + [0x01, 0x04]), "abcdabcd")
        // Overlapping copy: "a", then copy 10 bytes from 1 back (run-length): kind 1, (10-4)<<2 = 0x18 → 0x19.
        XCTAssertEqual(try decode([11, 0x00, 0x61, 0x19, 0x01]), "aaaaaaaaaaa")
        // Overlap with period 3: "xyz" + copy 9 from 3 back, as a 2-byte-offset copy: (9-1)<<2 | 2 = 0x22.
        XCTAssertEqual(try decode([12, 0x08] + Array("xyz".utf8) + [0x22, 0x03, 0x00]), "xyzxyzxyzxyz")
        // 4-byte offset copy: (3-1)<<2 | 3 = 0x0B, offset 2.
        XCTAssertEqual(try decode([5, 0x04, 0x70, 0x71, 0x0B, 0x02, 0x00, 0x00, 0x00]), "pqpqp")
        // 1-byte-offset copy with the offset's high bits in the tag: offset 256 + 4 = 260.
        let head = (0..<260).map { UInt8($0 & 0xFF) }
        var input: [UInt8] = [0x88, 0x02, 0xF4, 0x03, 0x01] + head  // length 264, literal of 260
        input += [0x01 | (1 << 5), 0x04]                               // copy 4 from 260 back
        XCTAssertEqual(try Snappy.decompress(input), head + head[0..<4])
    }

    func testRoundTripThroughTestEncoder() throws {
        let text = Array(String(repeating: "layer_1/weights layer_1/bias layer_2/weights ", count: 40).utf8)
        let compressed = SnappyEncoder.compress(text)
        XCTAssertLessThan(compressed.count, text.count / 4)
        XCTAssertEqual(try Snappy.decompress(compressed), text)
        XCTAssertEqual(try compressed.withUnsafeBytes { try Snappy.declaredLength($0) }, text.count)
    }

    func testInvalidInput() {
        assertInvalid([], "truncated length preamble")
        assertInvalid([0x80], "truncated length preamble")
        assertInvalid([0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "exceeds 32 bits")
        assertInvalid([4, 0x0C, 0x61], "runs past the end")                    // literal of 4, 1 present
        assertInvalid([2, 0x0C] + Array("abcd".utf8), "overflows the declared length")
        assertInvalid([5, 0x00, 0x61, 0x01, 0x00], "copy from 0 bytes back")   // offset 0
        assertInvalid([5, 0x00, 0x61, 0x01, 0x02], "copy from 2 bytes back")   // beyond the output
        assertInvalid([3, 0x00, 0x61, 0x01, 0x01], "overflows the declared length")
        assertInvalid([5, 0x00, 0x61], "decodes to 1 bytes, but declares 5")
        assertInvalid([5, 0x00, 0x61, 0x02, 0x01], "truncated element")
        assertInvalid([0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00], "more than")             // huge declared length
        assertInvalid([0xE8, 0x07, 0x00, 0x61], "from only 4 compressed bytes")  // 1000 bytes from 4
    }
}
