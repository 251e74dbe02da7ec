import Foundation
import XCTest
import TestSupport
import SpeechDecoding

final class AlphabetTests: XCTestCase {
    func testSerializedRoundTrip() throws {
        let alphabet = try Alphabet(labels: [" ", "a", "b", "ա", "'", "#"])
        XCTAssertEqual(alphabet.size, 6)
        XCTAssertEqual(alphabet.blankLabel, 6)
        XCTAssertEqual(alphabet.spaceLabel, 0)
        let bytes = alphabet.serialized()
        // count 6, then entry 0: index 0, length 1, " "
        XCTAssertEqual(Array(bytes.prefix(7)), [6, 0, 0, 0, 1, 0, 0x20])
        XCTAssertEqual(try Alphabet(serialized: bytes), alphabet)
        XCTAssertEqual(alphabet.decode([1, 0, 3, 2]), "a աb")
        XCTAssertEqual(alphabet.label(3), "ա")
    }

    /// Entries in any order: the explicit index decides (DeepSpeech 0.9.x wrote them unordered).
    func testSerializedEntriesOutOfOrder() throws {
        func entry(_ index: UInt16, _ label: String) -> [UInt8] {
            let utf8 = Array(label.utf8)
            return [UInt8(index & 0xFF), UInt8(index >> 8), UInt8(utf8.count), 0] + utf8
        }
        let bytes: [UInt8] = [3, 0] + entry(2, "c") + entry(0, " ") + entry(1, "բ")
        let alphabet = try Alphabet(serialized: bytes)
        XCTAssertEqual(alphabet.labels, [" ", "բ", "c"])
        XCTAssertEqual(alphabet.spaceLabel, 0)
        // Written back in index order.
        XCTAssertEqual(alphabet.serialized(), [3, 0] + entry(0, " ") + entry(1, "բ") + entry(2, "c"))
    }

    func testSerializedErrors() throws {
        let good = try Alphabet(labels: [" ", "a", "bb"]).serialized()
        // Every strict prefix is truncated.
        for length in 0 ..< good.count {
            XCTAssertThrowsError(try Alphabet(serialized: Array(good.prefix(length))), "prefix \(length)") { error in
                guard case AlphabetError.truncated = error else { return XCTFail("\(error)") }
            }
        }
        // Trailing bytes are ignored like the reference reader does.
        XCTAssertEqual(try Alphabet(serialized: good + [0xFF]).labels, [" ", "a", "bb"])

        XCTAssertThrowsError(try Alphabet(serialized: [1, 0, 1, 0, 1, 0, 0x61])) { error in
            XCTAssertEqual(error as? AlphabetError, .indexOutOfRange(index: 1, count: 1))
            XCTAssertTrue("\(error)".contains("index 1"))
        }
        XCTAssertThrowsError(try Alphabet(serialized: [2, 0, 0, 0, 1, 0, 0x61, 0, 0, 1, 0, 0x62])) { error in
            XCTAssertEqual(error as? AlphabetError, .duplicateIndex(0))
        }
        XCTAssertThrowsError(try Alphabet(serialized: [1, 0, 0, 0, 1, 0, 0xC3])) { error in
            XCTAssertEqual(error as? AlphabetError, .invalidUTF8(index: 0))
            XCTAssertTrue("\(error)".contains("UTF-8"))
        }
        XCTAssertThrowsError(try Alphabet(serialized: [1, 0, 0, 0, 0, 0])) { error in
            XCTAssertEqual(error as? AlphabetError, .emptyLabel(index: 0))
        }
        XCTAssertThrowsError(try Alphabet(serialized: [0, 0])) { error in
            XCTAssertEqual(error as? AlphabetError, .empty)
        }
        XCTAssertThrowsError(try Alphabet(serialized: [2, 0, 0, 0, 1, 0, 0x61, 1, 0, 1, 0, 0x61])) { error in
            XCTAssertEqual(error as? AlphabetError, .duplicateLabel("a", firstIndex: 0, secondIndex: 1))
        }
    }

    func testAlphabetFileRules() throws {
        let text = "# comment\r\n \r\na\n\n\\#\rb\r\n# another comment\nc \n\\#x\nд"
        let alphabet = try Alphabet(text: text)
        // " ", "a", "#", "b", "c " (trailing space kept), "\#x" (verbatim), "д" (no final newline)
        XCTAssertEqual(alphabet.labels, [" ", "a", "#", "b", "c ", "\\#x", "д"])
        XCTAssertEqual(alphabet.spaceLabel, 0)
        // CR-only and LF-only files give the same result.
        XCTAssertEqual(try Alphabet(text: "a\rb\r"), try Alphabet(text: "a\nb\n"))
        // A byte order mark is dropped.
        XCTAssertEqual(try Alphabet(text: "\u{FEFF}# c\na\n").labels, ["a"])
        XCTAssertNil(try Alphabet(text: "a\nb\n").spaceLabel)
        XCTAssertThrowsError(try Alphabet(text: "a\nb\na\n")) { error in
            XCTAssertEqual(error as? AlphabetError, .duplicateLabel("a", firstIndex: 0, secondIndex: 2))
        }
        XCTAssertThrowsError(try Alphabet(text: "# only comments\n\n")) { error in
            XCTAssertEqual(error as? AlphabetError, .empty)
        }
    }

    func testSmokeTestAlphabetFile() throws {
        let url = Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test/alphabet.txt")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("DeepSpeech smoke-test data not present at \(url.path)")
        }
        let alphabet = try Alphabet(contentsOf: url)
        XCTAssertEqual(alphabet.size, 28)
        XCTAssertEqual(alphabet.label(0), " ")
        XCTAssertEqual(alphabet.spaceLabel, 0)
        XCTAssertEqual(alphabet.label(1), "a")
        XCTAssertEqual(alphabet.label(27), "'")
        XCTAssertThrowsError(try Alphabet(contentsOf: url.appendingPathExtension("missing"))) { error in
            guard case AlphabetError.unreadableFile = error else { return XCTFail("\(error)") }
        }
    }

    func testArmenianModelAlphabet() throws {
        let info = try ArmenianModel.modelInfo()
        let alphabet = try ArmenianModel.alphabet()
        XCTAssertEqual(alphabet.size, 40)
        XCTAssertEqual(alphabet.labels, info.metadata.alphabet)
        XCTAssertEqual(alphabet.spaceLabel, 0)
        XCTAssertEqual(alphabet.label(37), "և")
        XCTAssertEqual(alphabet.serialized(), ArmenianModel.hexBytes(info.metadata.alphabetSerializedHex))
    }

    func testUTF8ByteAlphabet() throws {
        let bytes = Alphabet.utf8Bytes()
        XCTAssertEqual(bytes.size, 255)
        XCTAssertEqual(bytes.blankLabel, 255)
        XCTAssertEqual(bytes.spaceLabel, 31)
        XCTAssertTrue(bytes.isUTF8Bytes)
        // "ա" is D5 A1 -> labels 0xD4, 0xA0
        XCTAssertEqual(bytes.decode([0xD4, 0xA0, 31, 0x60]), "ա a")
        XCTAssertEqual(bytes.decodeBytes([0xD4]), [0xD5])
        XCTAssertEqual(bytes.decode([0xD4]), "\u{FFFD}")
        // Its serialized form (single bytes, not valid UTF-8 each) is recognised.
        let reread = try Alphabet(serialized: bytes.serialized())
        XCTAssertEqual(reread, bytes)
        XCTAssertTrue(reread.isUTF8Bytes)
        XCTAssertFalse(try Alphabet(labels: ["a"]).isUTF8Bytes)
    }
}
