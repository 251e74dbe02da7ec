import Foundation
import XCTest
import SpeechServer

/// The multipart bodies here are the bytes Python's `requests` and `httpx` (the `openai`
/// package's transport) write, so the parser is checked against what real clients send.
final class MultipartFormTests: XCTestCase {
    func body(_ boundary: String, _ parts: [(String, String?, [UInt8])], lineEnd: String = "\r\n") -> [UInt8] {
        var out: [UInt8] = []
        for (name, filename, content) in parts {
            var header = "--\(boundary)\(lineEnd)Content-Disposition: form-data; name=\"\(name)\""
            if let filename { header += "; filename=\"\(filename)\"\(lineEnd)Content-Type: audio/wav" }
            header += "\(lineEnd)\(lineEnd)"
            out += Array(header.utf8) + content + Array(lineEnd.utf8)
        }
        return out + Array("--\(boundary)--\(lineEnd)".utf8)
    }

    func testFieldsAndBinaryFileAreSplitExactly() throws {
        // A file whose bytes contain CR, LF, dashes and a near-boundary.
        let audio: [UInt8] = Array("RIFF\r\n--bound\r\n-".utf8) + (0...255).map { UInt8($0) }
        let bytes = body("bound4f2e", [("model", nil, Array("whisper-1".utf8)), ("file", "clip.wav", audio),
                                       ("response_format", nil, Array("verbose_json".utf8))])
        let form = try MultipartForm(body: bytes, boundary: "bound4f2e")
        XCTAssertEqual(form.parts.count, 3)
        XCTAssertEqual(form["file"]?.body, audio)
        XCTAssertEqual(form["file"]?.filename, "clip.wav")
        XCTAssertEqual(form["file"]?.contentType, "audio/wav")
        XCTAssertEqual(form.text("response_format"), "verbose_json")
        XCTAssertEqual(form.text("model"), "whisper-1")
        XCTAssertNil(form["prompt"])
    }

    func testBareLineFeedsAndRepeatedFields() throws {
        let bytes = body("b", [("timestamp_granularities[]", nil, Array("word".utf8)), ("timestamp_granularities[]", nil, Array("segment".utf8))],
                         lineEnd: "\n")
        let form = try MultipartForm(body: bytes, boundary: "b")
        XCTAssertEqual(form.texts("timestamp_granularities[]"), ["word", "segment"])
    }

    func testBoundaryFromContentType() {
        XCTAssertEqual(MultipartForm.boundary(contentType: "multipart/form-data; boundary=abc123"), "abc123")
        XCTAssertEqual(MultipartForm.boundary(contentType: "multipart/form-data; charset=utf-8; boundary=\"q u\""), "q u")
        XCTAssertNil(MultipartForm.boundary(contentType: "application/json"))
        XCTAssertNil(MultipartForm.boundary(contentType: "multipart/form-data"))
        XCTAssertNil(MultipartForm.boundary(contentType: nil))
    }

    func testMalformedBodiesAreOneClearError() {
        let good = body("xyz", [("file", "a.wav", [1, 2, 3])])
        let cases: [([UInt8], String)] = [
            ([], "no '--xyz' delimiter"),
            (Array("hello".utf8), "no '--xyz' delimiter"),
            (Array(good.prefix(good.count - 10)), "without its closing"),
            (Array("--xyz\r\nContent-Disposition: form-data; name=\"a\"".utf8), "without its closing"),
            (Array("--xyz\r\nno blank line here--xyz--".utf8), "no blank line"),
            (Array("--xyz\r\nX-Other: 1\r\n\r\nbody\r\n--xyz--".utf8), "no Content-Disposition name"),
        ]
        for (bytes, expected) in cases {
            XCTAssertThrowsError(try MultipartForm(body: bytes, boundary: "xyz")) { error in
                guard let error = error as? ServerError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.status, .badRequest)
                XCTAssertTrue(error.message.contains(expected), error.message)
            }
        }
        // Every prefix of a valid body either parses or throws; none traps.
        for n in 0..<good.count { _ = try? MultipartForm(body: Array(good.prefix(n)), boundary: "xyz") }
    }
}
