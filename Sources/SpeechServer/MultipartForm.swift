import Foundation

/// A `multipart/form-data` body (RFC 7578) split into its parts, as the OpenAI, whisper.cpp
/// and deepspeech.pytorch clients send uploads.
///
/// The parser works on the whole body, which the route has already limited in size. It never
/// reads past the body, accepts both CRLF and bare LF line ends in part headers, and throws
/// ``ServerError`` (400, naming what is wrong) for a missing boundary, a part without headers
/// or a body with no closing delimiter.
public struct MultipartForm: Sendable {
    public struct Part: Sendable {
        /// The `name` of `Content-Disposition: form-data; name="…"`.
        public var name: String
        /// The `filename`, for file fields.
        public var filename: String?
        public var contentType: String?
        public var body: [UInt8]
    }

    public var parts: [Part]

    /// The first part called `name`.
    public subscript(name: String) -> Part? { parts.first { $0.name == name } }

    /// The text of field `name`, if present (UTF-8; surrounding whitespace removed).
    public func text(_ name: String) -> String? {
        self[name].map { String(decoding: $0.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// All values of a repeated field (`timestamp_granularities[]`).
    public func texts(_ name: String) -> [String] {
        parts.filter { $0.name == name }.map { String(decoding: $0.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The boundary of a `multipart/form-data; boundary=…` content type, or `nil` when the
    /// type is something else.
    public static func boundary(contentType: String?) -> String? {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data"),
              let value = parameter("boundary", in: contentType) else { return nil }
        return value.isEmpty || value.utf8.count > 200 ? nil : value
    }

    public init(body: [UInt8], boundary: String) throws {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Part] = []
        guard var position = Self.find(delimiter, in: body, from: 0) else {
            throw ServerError.badRequest("multipart body has no '--\(boundary)' delimiter", cause: "bad_multipart")
        }
        while true {
            position += delimiter.count
            // "--" after a delimiter closes the body.
            if position + 1 < body.count, body[position] == UInt8(ascii: "-"), body[position + 1] == UInt8(ascii: "-") { break }
            position = Self.skipLineEnd(body, position)
            guard let next = Self.find(delimiter, in: body, from: position) else {
                throw ServerError.badRequest("multipart body ends without its closing '--\(boundary)--' delimiter (truncated upload?)", cause: "bad_multipart")
            }
            // The part's content ends before the line break that precedes the delimiter.
            var end = next
            if end > position, body[end - 1] == UInt8(ascii: "\n") { end -= 1 }
            if end > position, body[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            parts.append(try Self.part(body[position..<end]))
            position = next
        }
        self.parts = parts
    }

    /// One part: header lines, a blank line, the content.
    static func part(_ bytes: ArraySlice<UInt8>) throws -> Part {
        var name: String?, filename: String?, contentType: String?
        var position = bytes.startIndex
        while true {
            guard let newline = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else {
                throw ServerError.badRequest("a multipart part has no blank line after its headers", cause: "bad_multipart")
            }
            var lineEnd = newline
            if lineEnd > position, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            let line = String(decoding: bytes[position..<lineEnd], as: UTF8.self)
            position = newline + 1
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let field = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if field == "content-disposition" {
                name = parameter("name", in: value)
                filename = parameter("filename", in: value)
            } else if field == "content-type" {
                contentType = value
            }
        }
        guard let name else {
            throw ServerError.badRequest("a multipart part has no Content-Disposition name", cause: "bad_multipart")
        }
        return Part(name: name, filename: filename, contentType: contentType, body: Array(bytes[position...]))
    }

    /// `key="value"` (or `key=value`) in a header value's `;`-separated parameters.
    static func parameter(_ key: String, in header: String) -> String? {
        for item in header.split(separator: ";").dropFirst() {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == key else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    static func skipLineEnd(_ body: [UInt8], _ position: Int) -> Int {
        var p = position
        if p < body.count, body[p] == UInt8(ascii: "\r") { p += 1 }
        if p < body.count, body[p] == UInt8(ascii: "\n") { p += 1 }
        return p
    }

    /// First index of `needle` in `haystack` at or after `start` (first-byte scan, then compare).
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var i = start
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
