import Foundation

/// The labels of a model's output classes (the CTC blank, always the last class, excluded).
///
/// Two sources:
/// - the serialized form stored in a model's `metadata_alphabet` tensor: `uint16 count`, then
///   per entry `uint16 index, uint16 byteLength, UTF-8 bytes` (little-endian). DeepSpeech 0.9
///   wrote the entries in hash-map order, so the explicit index is used, never the position;
/// - an `alphabet.txt`: one label per line, lines starting with `#` are comments, `\#` is a
///   literal `#`, empty lines are skipped, and LF, CR and CRLF line ends are all accepted.
public struct Alphabet: Sendable, Equatable {
    /// `labels[i]` is the text of class i.
    public let labels: [String]
    /// Class of the " " label, if the alphabet has one (word boundaries).
    public let spaceLabel: Int?

    public var size: Int { labels.count }

    public init(labels: [String]) {
        self.labels = labels
        spaceLabel = labels.firstIndex(of: " ")
    }

    /// Decodes the serialized alphabet stored in a model.
    public init(serialized bytes: [UInt8]) throws {
        var offset = 0
        func u16() throws -> Int {
            guard offset + 2 <= bytes.count else { throw AlphabetError.truncated(offset: offset) }
            defer { offset += 2 }
            return Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
        }
        let count = try u16()
        var byIndex = [String?](repeating: nil, count: count)
        for _ in 0..<count {
            let index = try u16()
            let length = try u16()
            guard offset + length <= bytes.count else { throw AlphabetError.truncated(offset: offset) }
            guard index < count else { throw AlphabetError.indexOutOfRange(index: index, count: count) }
            guard byIndex[index] == nil else { throw AlphabetError.duplicateIndex(index) }
            guard let label = String(validating: bytes[offset..<(offset + length)], as: UTF8.self) else {
                throw AlphabetError.invalidUTF8(index: index)
            }
            byIndex[index] = label
            offset += length
        }
        self.init(labels: byIndex.map { $0! })
    }

    /// Reads an `alphabet.txt` file.
    public init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        guard let text = String(data: data, encoding: .utf8) else { throw AlphabetError.invalidUTF8(index: -1) }
        try self.init(text: text)
    }

    /// Parses the text of an `alphabet.txt` file.
    public init(text: String) throws {
        var labels: [String] = []
        // Split on CRLF, CR or LF without merging empty lines into labels.
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("\\#") {
                labels.append("#" + line.dropFirst(2))
            } else if line.hasPrefix("#") {
                continue
            } else {
                labels.append(String(line))
            }
        }
        guard !labels.isEmpty else { throw AlphabetError.empty }
        self.init(labels: labels)
    }

    /// The serialized form, entries in index order (as Coqui STT 1.4 writes it).
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: Int) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8)) }
        u16(labels.count)
        for (i, label) in labels.enumerated() {
            let bytes = Array(label.utf8)
            u16(i); u16(bytes.count); out += bytes
        }
        return out
    }

    /// Text of one class ("" for the blank or an out-of-range class).
    public func label(_ index: Int) -> String {
        index >= 0 && index < labels.count ? labels[index] : ""
    }

    /// Concatenated labels.
    public func decode(_ classes: [Int]) -> String {
        classes.map(label).joined()
    }
}

public enum AlphabetError: Error, CustomStringConvertible, Equatable {
    case truncated(offset: Int)
    case indexOutOfRange(index: Int, count: Int)
    case duplicateIndex(Int)
    case invalidUTF8(index: Int)
    case empty

    public var description: String {
        switch self {
        case .truncated(let offset): return "the serialized alphabet is truncated at byte \(offset)"
        case .indexOutOfRange(let index, let count): return "the serialized alphabet has label index \(index) but only \(count) labels"
        case .duplicateIndex(let index): return "the serialized alphabet defines label \(index) twice"
        case .invalidUTF8(let index): return index < 0 ? "the alphabet file is not UTF-8" : "label \(index) of the alphabet is not valid UTF-8"
        case .empty: return "the alphabet has no labels"
        }
    }
}
