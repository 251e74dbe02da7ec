import Foundation
import XCTest
import TestSupport
import SpeechDecoding

final class AlphabetTests: XCTestCase {
    func testSerializedRoundTripAndOutOfOrderEntries() throws {
        let alphabet = Alphabet(labels: [" ", "ա", "բ", "#"])
        XCTAssertEqual(try Alphabet(serialized: alphabet.serialized()), alphabet)
        // DeepSpeech 0.9 wrote entries in hash-map order: 2, 0, 1.
        let shuffled: [UInt8] = [3, 0, 2, 0, 1, 0, 0x63, 0, 0, 1, 0, 0x61, 1, 0, 1, 0, 0x62]
        XCTAssertEqual(try Alphabet(serialized: shuffled).labels, ["a", "b", "c"])
    }

    func testTheReleasedModelsSerializedAlphabet() throws {
        let info = try XCTUnwrap(Fixtures.json("litert/model-info.json") as? [String: Any])
        let metadata = try XCTUnwrap(info["metadata"] as? [String: Any])
        let hex = try XCTUnwrap(metadata["alphabet_serialized_hex"] as? String)
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        let alphabet = try Alphabet(serialized: bytes)
        XCTAssertEqual(alphabet.labels, metadata["alphabet"] as? [String])
        XCTAssertEqual(alphabet.size, 40)
        XCTAssertEqual(alphabet.spaceLabel, 0)
    }

    func testBadSerializedAlphabetsThrow() {
        XCTAssertThrowsError(try Alphabet(serialized: [])) { XCTAssertEqual($0 as? AlphabetError, .truncated(offset: 0)) }
        XCTAssertThrowsError(try Alphabet(serialized: [2, 0, 0, 0, 5, 0, 0x61])) { XCTAssertEqual($0 as? AlphabetError, .truncated(offset: 6)) }
        XCTAssertThrowsError(try Alphabet(serialized: [1, 0, 7, 0, 1, 0, 0x61])) { XCTAssertEqual($0 as? AlphabetError, .indexOutOfRange(index: 7, count: 1)) }
        XCTAssertThrowsError(try Alphabet(serialized: [1, 0, 0, 0, 1, 0, 0xFF])) { XCTAssertEqual($0 as? AlphabetError, .invalidUTF8(index: 0)) }
        XCTAssertThrowsError(try Alphabet(serialized: [2, 0, 0, 0, 1, 0, 0x61, 0, 0, 1, 0, 0x62])) { XCTAssertEqual($0 as? AlphabetError, .duplicateIndex(0)) }
    }

    func testAlphabetTextFiles() throws {
        let text = "# comment\r\n \r\na\rb\n\n\\#\nc\r\n"
        XCTAssertEqual(try Alphabet(text: text).labels, [" ", "a", "b", "#", "c"])
        XCTAssertThrowsError(try Alphabet(text: "# only a comment\n"))
        let english = try Alphabet(contentsOf: Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test/alphabet.txt"))
        XCTAssertEqual(english.size, 28)
        XCTAssertEqual(english.labels[0], " ")
        XCTAssertEqual(english.labels[27], "'")
    }
}
