import Foundation
import XCTest
import SpeechServer

/// Framing as the `wyoming` Python package (1.5) writes it: a JSON header line, optional data
/// bytes (`data_length`) and payload bytes (`payload_length`).
final class WyomingEventTests: XCTestCase {
    /// The bytes `wyoming.event.async_write_event(AudioChunk(rate=16000, width=2, channels=1,
    /// audio=b"\x01\x02\x03\x04").event(), writer)` sends: data in its own block.
    var audioChunk: [UInt8] {
        let data = Array(#"{"rate": 16000, "width": 2, "channels": 1}"#.utf8)
        return Array(#"{"type": "audio-chunk", "version": "1.5.2", "data_length": \#(data.count), "payload_length": 4}"#.utf8) + [10]
            + data + [1, 2, 3, 4]
    }

    func testEventsSplitAcrossReadsInAnyPlace() throws {
        let describe = Array(#"{"type": "describe"}"#.utf8) + [10]
        let stream = describe + audioChunk + describe
        for cut in 0...stream.count {
            var reader = WyomingEventReader()
            var events: [WyomingEvent] = []
            reader.append(stream[..<cut])
            while let event = try reader.next() { events.append(event) }
            reader.append(stream[cut...])
            while let event = try reader.next() { events.append(event) }
            XCTAssertEqual(events.map(\.type), ["describe", "audio-chunk", "describe"], "cut at \(cut)")
            XCTAssertEqual(events[1].payload, [1, 2, 3, 4])
            XCTAssertEqual(events[1].data["rate"]?.int, 16000)
            XCTAssertEqual(events[1].data["width"]?.int, 2)
        }
    }

    func testInlineDataAndEncodingRoundTrip() throws {
        let event = WyomingEvent(type: "transcript", data: ["text": .string("բարեւ ձեզ"), "n": .number(3), "ok": .bool(true)],
                                 payload: [9, 8])
        var reader = WyomingEventReader()
        reader.append(event.encoded())
        XCTAssertEqual(try reader.next(), event)
        XCTAssertNil(try reader.next())
    }

    func testHostileFramingIsRefusedNotBuffered() {
        let cases: [String] = [
            "not json\n",
            "{\"data\": {}}\n",
            "{\"type\": \"audio-chunk\", \"payload_length\": -5}\n",
            "{\"type\": \"audio-chunk\", \"payload_length\": 99999999999}\n",
            "{\"type\": \"audio-chunk\", \"data_length\": 2000000}\n",
            "{\"type\": \"x\", \"data_length\": 3}\nabc",
        ]
        for text in cases {
            var reader = WyomingEventReader()
            reader.append(Array(text.utf8))
            XCTAssertThrowsError(try reader.next(), text)
        }
        var reader = WyomingEventReader()
        reader.append([UInt8](repeating: UInt8(ascii: "a"), count: WyomingEventReader.maxHeaderBytes + 1))
        XCTAssertThrowsError(try reader.next())
    }
}
