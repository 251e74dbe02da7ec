import Foundation

/// The mapping between the acoustic model's output classes and text.
///
/// Class `i` (for `0 ..< size`) is the label `labels[i]`; the model has one more class,
/// `size`, which is the CTC blank (see ``blankLabel``).
///
/// Two kinds of alphabet exist:
/// - **Character alphabets** (the usual case): each label is a non-empty UTF-8 string, usually
///   one Unicode scalar, read from the model's `metadata_alphabet` (``init(serialized:)``) or from
///   an `alphabet.txt` file (``init(contentsOf:)``, ``init(text:)``).
/// - **Byte alphabets** (``utf8Bytes()``, for models trained with bytes output mode): 255 labels,
///   label `i` is the single byte `i + 1` (the NUL byte has no label), and the space label is 31.
///   A single label is then not necessarily valid UTF-8 on its own; ``decodeBytes(_:)`` returns
///   the raw bytes and ``decode(_:)`` repairs invalid sequences with U+FFFD.
///
/// Labels are compared byte for byte: "é" (U+00E9) and "e" + U+0301 are different labels even
/// though Swift's `String` considers them equal.
public struct Alphabet: Sendable, Equatable {
    /// The UTF-8 bytes of every label, indexed by class id.
    public let labelBytes: [[UInt8]]

    /// Every label as a string, indexed by class id. In a byte alphabet, labels for the bytes
    /// 0x80...0xFF are not valid UTF-8 on their own and appear here as "\u{FFFD}".
    public let labels: [String]

    /// The class id of the label " " (a single space), or `nil` if the alphabet has none.
    public let spaceLabel: Int?

    /// `true` for the 255-entry byte alphabet of ``utf8Bytes()`` (also recognised when read from
    /// a serialized model alphabet).
    public let isUTF8Bytes: Bool

    /// The number of labels, not counting the CTC blank.
    public var size: Int { labelBytes.count }

    /// The class id of the CTC blank: the last class, equal to ``size``. A model over this
    /// alphabet has `size + 1` output classes.
    public var blankLabel: Int { labelBytes.count }

    // MARK: - Creating alphabets

    /// Creates an alphabet from labels given in class-id order.
    ///
    /// - Throws: ``AlphabetError/empty`` for no labels, ``AlphabetError/emptyLabel(index:)`` for an
    ///   empty string, ``AlphabetError/duplicateLabel(_:firstIndex:secondIndex:)`` if two labels
    ///   have the same UTF-8 bytes.
    public init(labels: [String]) throws {
        try self.init(validating: labels.map { Array($0.utf8) }, allowInvalidUTF8: false)
    }

    /// The byte alphabet used by models trained in bytes output mode: 255 labels, label `i` is
    /// the byte `i + 1`, the space label is 31 (`" "` is byte 32). Its blank is class 255.
    public static func utf8Bytes() -> Alphabet {
        // Cannot fail: 255 distinct, non-empty labels.
        // swiftlint:disable:next force_try
        try! Alphabet(validating: (1 ... 255).map { [UInt8($0)] }, allowInvalidUTF8: true)
    }

    /// Reads the binary form stored in a model's `metadata_alphabet` tensor.
    ///
    /// Layout (little-endian): `uint16 count`, then `count` entries of
    /// `uint16 index, uint16 byteLength, byteLength bytes of UTF-8`.
    /// - Entries may come in any order (DeepSpeech 0.9.x wrote them from a hash map); the
    ///   explicit index is used, and the indices must be exactly `0 ..< count`, each once.
    /// - Bytes after the last entry are ignored, as the reference reader does.
    /// - If the entries are exactly the 255 single bytes of ``utf8Bytes()``, the result is that
    ///   byte alphabet; otherwise every label must be valid, non-empty UTF-8.
    ///
    /// - Throws: ``AlphabetError/truncated(offset:needed:available:)`` if the data ends inside the
    ///   count or an entry; ``AlphabetError/indexOutOfRange(index:count:)`` /
    ///   ``AlphabetError/duplicateIndex(_:)`` for bad indices; ``AlphabetError/invalidUTF8(index:)``,
    ///   ``AlphabetError/emptyLabel(index:)``, ``AlphabetError/duplicateLabel(_:firstIndex:secondIndex:)``,
    ///   ``AlphabetError/empty``.
    public init(serialized bytes: [UInt8]) throws {
        var offset = 0
        func readUInt16() throws -> Int {
            guard bytes.count - offset >= 2 else {
                throw AlphabetError.truncated(offset: offset, needed: 2, available: bytes.count - offset)
            }
            let value = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            offset += 2
            return value
        }
        let count = try readUInt16()
        var entries = [[UInt8]?](repeating: nil, count: count)
        for _ in 0 ..< count {
            let index = try readUInt16()
            let length = try readUInt16()
            guard bytes.count - offset >= length else {
                throw AlphabetError.truncated(offset: offset, needed: length, available: bytes.count - offset)
            }
            guard index < count else { throw AlphabetError.indexOutOfRange(index: index, count: count) }
            guard entries[index] == nil else { throw AlphabetError.duplicateIndex(index) }
            entries[index] = Array(bytes[offset ..< offset + length])
            offset += length
        }
        // Every index in 0..<count was seen exactly once: count entries, no duplicates, all in range.
        let labelBytes = entries.map { $0! }
        let isByteTable = count == 255 && labelBytes.enumerated().allSatisfy { $0.element == [UInt8($0.offset + 1)] }
        try self.init(validating: labelBytes, allowInvalidUTF8: isByteTable)
    }

    /// Reads an `alphabet.txt` file. See ``init(text:)`` for the format.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw AlphabetError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        try self.init(alphabetFileBytes: Array(data))
    }

    /// Parses the text of an `alphabet.txt` file, following Coqui STT's reader:
    /// - One label per line. Line ends may be LF, CR or CRLF; the last line may lack one.
    /// - A line whose first character is `#` is a comment and is skipped.
    /// - A line consisting of exactly `\#` is the literal label `#`. (Any other line starting with
    ///   a backslash is kept verbatim, e.g. `\#x` is the three-character label `\#x`.)
    /// - Empty lines are skipped. Nothing is trimmed: a line holding one space is the space label,
    ///   and trailing spaces or tabs are part of the label.
    /// - Class ids are assigned in order to the lines that are kept.
    /// - Deliberate deviation: a UTF-8 byte order mark at the very start is dropped (the reference
    ///   would make it part of the first line).
    ///
    /// - Throws: ``AlphabetError/duplicateLabel(_:firstIndex:secondIndex:)`` (the reference rejects
    ///   duplicates too) or ``AlphabetError/empty`` when no label remains.
    public init(text: String) throws {
        try self.init(alphabetFileBytes: Array(text.utf8))
    }

    private init(alphabetFileBytes bytes: [UInt8]) throws {
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        var lines: [(line: Int, bytes: [UInt8])] = []
        var lineNumber = 1
        var current: [UInt8] = []
        var i = start
        var sawContentSinceBreak = false
        while i < bytes.count {
            let byte = bytes[i]
            if byte == 0x0A || byte == 0x0D {
                lines.append((lineNumber, current))
                current.removeAll(keepingCapacity: true)
                lineNumber += 1
                if byte == 0x0D, i + 1 < bytes.count, bytes[i + 1] == 0x0A { i += 1 }
                sawContentSinceBreak = false
            } else {
                current.append(byte)
                sawContentSinceBreak = true
            }
            i += 1
        }
        if sawContentSinceBreak { lines.append((lineNumber, current)) }

        var labels: [[UInt8]] = []
        for (number, raw) in lines {
            var line = raw
            if line == [0x5C, 0x23] { // "\#"
                line = [0x23]
            } else if line.first == 0x23 { // "#"
                continue
            }
            if line.isEmpty { continue }
            guard String(validating: line, as: UTF8.self) != nil else {
                throw AlphabetError.invalidUTF8InFile(line: number)
            }
            labels.append(line)
        }
        try self.init(validating: labels, allowInvalidUTF8: false)
    }

    private init(validating labelBytes: [[UInt8]], allowInvalidUTF8: Bool) throws {
        guard !labelBytes.isEmpty else { throw AlphabetError.empty }
        guard labelBytes.count < Int(UInt16.max) else {
            throw AlphabetError.tooManyLabels(labelBytes.count)
        }
        var seen: [[UInt8]: Int] = [:]
        var strings: [String] = []
        strings.reserveCapacity(labelBytes.count)
        for (index, bytes) in labelBytes.enumerated() {
            guard !bytes.isEmpty else { throw AlphabetError.emptyLabel(index: index) }
            guard bytes.count <= Int(UInt16.max) else { throw AlphabetError.labelTooLong(index: index) }
            if let string = String(validating: bytes, as: UTF8.self) {
                strings.append(string)
            } else if allowInvalidUTF8 {
                strings.append(String(decoding: bytes, as: UTF8.self))
            } else {
                throw AlphabetError.invalidUTF8(index: index)
            }
            if let first = seen[bytes] {
                throw AlphabetError.duplicateLabel(strings[index], firstIndex: first, secondIndex: index)
            }
            seen[bytes] = index
        }
        self.labelBytes = labelBytes
        self.labels = strings
        self.spaceLabel = labelBytes.firstIndex(of: [0x20])
        self.isUTF8Bytes = allowInvalidUTF8
    }

    // MARK: - Using alphabets

    /// The binary form used in a model's `metadata_alphabet`: entries in index order (as Coqui
    /// STT 1.x writes them). ``init(serialized:)`` reads it back to an equal alphabet.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2 + labelBytes.reduce(0) { $0 + 4 + $1.count })
        func append(_ value: Int) {
            out.append(UInt8(truncatingIfNeeded: value))
            out.append(UInt8(truncatingIfNeeded: value >> 8))
        }
        append(labelBytes.count)
        for (index, bytes) in labelBytes.enumerated() {
            append(index)
            append(bytes.count)
            out.append(contentsOf: bytes)
        }
        return out
    }

    /// The label of class `index`.
    ///
    /// - Precondition: `0 <= index < size`. The blank (``blankLabel``) has no text; passing it,
    ///   or any other out-of-range id, is a programming error and traps.
    public func label(_ index: Int) -> String {
        precondition(index >= 0 && index < labels.count, "label \(index) is outside the alphabet (size \(labels.count))")
        return labels[index]
    }

    /// The raw bytes of the concatenated labels (exact for byte alphabets).
    ///
    /// - Precondition: every id is in `0 ..< size` (traps otherwise).
    public func decodeBytes(_ labels: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        for index in labels {
            precondition(index >= 0 && index < labelBytes.count, "label \(index) is outside the alphabet (size \(labelBytes.count))")
            out.append(contentsOf: labelBytes[index])
        }
        return out
    }

    /// The text of a label sequence: the labels' bytes concatenated and decoded as UTF-8
    /// (invalid sequences, possible only with byte alphabets, become U+FFFD).
    ///
    /// - Precondition: every id is in `0 ..< size` (traps otherwise).
    public func decode(_ labels: [Int]) -> String {
        String(decoding: decodeBytes(labels), as: UTF8.self)
    }
}

/// Why an alphabet could not be created.
public enum AlphabetError: Error, Equatable, CustomStringConvertible {
    /// The serialized data ended early: at byte `offset`, `needed` bytes were required but only
    /// `available` remained.
    case truncated(offset: Int, needed: Int, available: Int)
    /// A serialized entry named class `index`, but the alphabet only has `count` labels.
    case indexOutOfRange(index: Int, count: Int)
    /// Two serialized entries named the same class.
    case duplicateIndex(Int)
    /// The label of class `index` is not valid UTF-8.
    case invalidUTF8(index: Int)
    /// Line `line` (1-based) of an alphabet file is not valid UTF-8.
    case invalidUTF8InFile(line: Int)
    /// The label of class `index` is empty.
    case emptyLabel(index: Int)
    /// The same label appears twice.
    case duplicateLabel(String, firstIndex: Int, secondIndex: Int)
    /// There are no labels at all.
    case empty
    /// More labels than the 16-bit serialized format can hold.
    case tooManyLabels(Int)
    /// A label longer than the 16-bit serialized format can hold.
    case labelTooLong(index: Int)
    /// The alphabet file could not be read.
    case unreadableFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .truncated(offset, needed, available):
            return "serialized alphabet is truncated: \(needed) byte(s) needed at offset \(offset), only \(available) left"
        case let .indexOutOfRange(index, count):
            return "serialized alphabet names label index \(index), but it declares only \(count) labels (indices must be 0..<\(count))"
        case let .duplicateIndex(index):
            return "serialized alphabet defines label index \(index) twice"
        case let .invalidUTF8(index):
            return "label \(index) of the alphabet is not valid UTF-8"
        case let .invalidUTF8InFile(line):
            return "line \(line) of the alphabet file is not valid UTF-8"
        case let .emptyLabel(index):
            return "label \(index) of the alphabet is empty"
        case let .duplicateLabel(label, first, second):
            return "alphabet label \(label.debugDescription) appears twice (indices \(first) and \(second))"
        case .empty:
            return "alphabet has no labels"
        case let .tooManyLabels(count):
            return "alphabet has \(count) labels; at most \(Int(UInt16.max) - 1) are supported"
        case let .labelTooLong(index):
            return "label \(index) of the alphabet is longer than 65535 bytes"
        case let .unreadableFile(path, reason):
            return "cannot read alphabet file \(path): \(reason)"
        }
    }
}
