import MappedFiles
import SpeechCheckpoints

/// A bounds-checked reader of the protocol-buffers wire format, the encoding of TensorFlow's
/// `GraphDef`, the `.pbmm` directory and the checkpoint index entries.
///
/// Wire-format basics: a message is a sequence of fields, each introduced by a varint key
/// `(field_number << 3) | wire_type`. Wire type 0 is a varint (1–10 bytes, 7 bits each, low
/// group first), 1 a little-endian 64-bit value, 2 a varint byte count followed by that many
/// bytes (strings, bytes, nested messages, packed repeated scalars), 5 a little-endian 32-bit
/// value. Types 3 and 4 (start/end group) belong to the long-deprecated proto2 groups that no
/// TensorFlow message uses; they are refused, as are the undefined types 6 and 7.
///
/// The reader works on a byte range of a ``MappedFile`` (a memory mapping or bytes built in
/// memory) and never copies it: length-delimited fields come back as ranges of that file, so
/// a 100 MB `tensor_content` costs nothing to find. Every read checks its bounds against the
/// message's end first and throws ``ModelFileError`` naming the file and the byte offset;
/// nested messages are limited to ``maximumDepth`` levels so that a crafted file cannot
/// exhaust the stack. A damaged file is reported, never read out of bounds.
public struct ProtobufReader: Sendable {
    /// The wire types of the protocol-buffers encoding.
    public enum WireType: UInt8, Sendable {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
    }

    /// A field key: which field follows and how it is encoded.
    public struct Key: Sendable, Equatable {
        /// The field number.
        public let field: Int
        /// How the value is encoded.
        public let wireType: WireType
        /// Offset of the key's first byte in the file.
        public let offset: Int
    }

    /// How deeply messages may nest (TensorFlow's own parser allows 100).
    public static let maximumDepth = 100

    /// The file the message lives in.
    public let file: MappedFile
    /// The bytes of this message inside `file.bytes`.
    public let range: Range<Int>
    /// How many messages enclose this one (0 for a top-level message).
    public let depth: Int
    /// Said after byte offsets in errors when the bytes are not the file itself (for example
    /// "of the snappy-decompressed block at offset 1234"); empty when they are.
    public let origin: String
    /// Where the next read starts.
    public private(set) var position: Int

    /// Reads the message occupying `range` of `file` (the whole file when nil).
    public init(file: MappedFile, range: Range<Int>? = nil, depth: Int = 0, origin: String = "") throws {
        let whole = 0..<file.bytes.count
        let range = range ?? whole
        guard range.lowerBound >= 0, range.upperBound <= whole.upperBound else {
            throw ModelFileError(path: file.path, problem: "a message at bytes \(range.lowerBound)..<\(range.upperBound) lies outside the \(file.bytes.count)-byte file")
        }
        guard depth <= Self.maximumDepth else {
            throw ModelFileError(path: file.path, problem: "messages nest more than \(Self.maximumDepth) levels deep at byte \(range.lowerBound)\(Self.suffix(origin))")
        }
        self.file = file
        self.range = range
        self.depth = depth
        self.origin = origin
        self.position = range.lowerBound
    }

    /// Reads bytes built in memory (`path` names them in errors).
    public init(bytes: [UInt8], path: String = "<memory>") throws {
        try self.init(file: MappedFile(copying: bytes, path: path))
    }

    /// Whether every field has been read.
    public var isAtEnd: Bool { position >= range.upperBound }

    // MARK: - Errors

    private static func suffix(_ origin: String) -> String { origin.isEmpty ? "" : " " + origin }

    /// An error naming the file, the problem, the offset (the current position by default)
    /// and optional details: "truncated varint at byte 12: …".
    public func error(_ problem: String, at offset: Int? = nil, detail: String? = nil) -> ModelFileError {
        ModelFileError(path: file.path, problem: "\(problem) at byte \(offset ?? position)\(Self.suffix(origin))\(detail.map { ": " + $0 } ?? "")")
    }

    private func require(_ count: Int, _ what: String) throws {
        guard count >= 0, count <= range.upperBound - position else {
            throw error("truncated \(what)", detail: "it needs \(count) bytes but only \(range.upperBound - position) remain in the message")
        }
    }

    // MARK: - Scalars

    /// The next field's key, or nil at the end of the message. Refuses field number 0,
    /// field numbers above 2^29−1 and the wire types 3, 4, 6 and 7.
    public mutating func nextKey() throws -> Key? {
        guard !isAtEnd else { return nil }
        let start = position
        let raw = try readVarint()
        let number = raw >> 3
        guard number > 0, number <= 0x1FFF_FFFF else {
            throw error("invalid field number \(number) (key 0x\(String(raw, radix: 16)))", at: start)
        }
        let typeCode = UInt8(raw & 7)
        switch typeCode {
        case 3, 4:
            throw error("field \(number) uses the deprecated group wire type \(typeCode), which TensorFlow files never contain", at: start)
        case 6, 7:
            throw error("unknown wire type \(typeCode) in field \(number)", at: start)
        default:
            // 0, 1, 2 and 5 are the only remaining values, all defined.
            return Key(field: Int(number), wireType: WireType(rawValue: typeCode) ?? .varint, offset: start)
        }
    }

    /// A varint of up to 10 bytes. A tenth byte above 1 would overflow 64 bits and is refused.
    public mutating func readVarint() throws -> UInt64 {
        let start = position
        var result: UInt64 = 0
        for index in 0..<10 {
            guard position < range.upperBound else {
                throw error("truncated varint", at: start, detail: "the message ends after \(index) of its bytes")
            }
            let byte = file.bytes[position]
            position += 1
            if index == 9 && byte > 1 {
                throw error(byte & 0x80 != 0 ? "varint longer than 10 bytes" : "varint overflows 64 bits", at: start)
            }
            result |= UInt64(byte & 0x7F) << UInt64(7 * index)
            if byte & 0x80 == 0 { return result }
        }
        throw error("varint longer than 10 bytes", at: start)
    }

    /// A varint read as a signed 64-bit value (two's complement, as int64/int32 fields are).
    public mutating func readInt64() throws -> Int64 { Int64(bitPattern: try readVarint()) }

    /// A varint read as an `int32` field: negative values are sign-extended to 10 bytes on
    /// the wire, and a value that does not fit 32 bits is truncated as protobuf does.
    public mutating func readInt32() throws -> Int32 { Int32(truncatingIfNeeded: try readVarint()) }

    /// A varint that must fit a non-negative `Int` (a count, a length, an offset).
    public mutating func readCount(_ what: String) throws -> Int {
        let start = position
        let value = try readVarint()
        guard value <= UInt64(Int.max) else { throw error("\(what) \(value) is too large", at: start) }
        return Int(value)
    }

    /// A little-endian 32-bit value (`fixed32`, `float`).
    public mutating func readFixed32() throws -> UInt32 {
        try require(4, "32-bit value")
        let b = file.bytes
        let value = UInt32(b[position]) | UInt32(b[position + 1]) << 8 | UInt32(b[position + 2]) << 16 | UInt32(b[position + 3]) << 24
        position += 4
        return value
    }

    /// A little-endian 64-bit value (`fixed64`, `double`).
    public mutating func readFixed64() throws -> UInt64 {
        let low = try readFixed32()
        return UInt64(low) | UInt64(try readFixed32()) << 32
    }

    /// A `float` field's value.
    public mutating func readFloat() throws -> Float { Float(bitPattern: try readFixed32()) }
    /// A `double` field's value.
    public mutating func readDouble() throws -> Double { Double(bitPattern: try readFixed64()) }

    // MARK: - Length-delimited

    /// The byte range of a length-delimited field's payload inside `file.bytes`.
    public mutating func readLengthDelimited() throws -> Range<Int> {
        let start = position
        let length = try readVarint()
        guard length <= UInt64(range.upperBound - position) else {
            throw error("truncated field", at: start, detail: "its length is \(length) bytes but only \(range.upperBound - position) remain in the message")
        }
        let payload = position..<(position + Int(length))
        position = payload.upperBound
        return payload
    }

    /// A length-delimited field as bytes (copied).
    public mutating func readBytes() throws -> [UInt8] {
        let payload = try readLengthDelimited()
        return [UInt8](file.bytes[payload])
    }

    /// A length-delimited field as text. Invalid UTF-8 is replaced with U+FFFD, as names in
    /// TensorFlow files are always ASCII in practice.
    public mutating func readString() throws -> String {
        let payload = try readLengthDelimited()
        return String(decoding: file.bytes[payload], as: UTF8.self)
    }

    /// A reader for the nested message that follows (one level deeper).
    public mutating func readMessage() throws -> ProtobufReader {
        let payload = try readLengthDelimited()
        return try ProtobufReader(file: file, range: payload, depth: depth + 1, origin: origin)
    }

    // MARK: - Skipping and packed fields

    /// Moves past `count` raw bytes.
    public mutating func advance(by count: Int) throws {
        try require(count, "run of \(count) bytes")
        position += count
    }

    /// Skips the value of a field of the given wire type (groups are refused by ``nextKey()``).
    public mutating func skip(_ key: Key) throws {
        switch key.wireType {
        case .varint: _ = try readVarint()
        case .fixed64: try require(8, "64-bit value"); position += 8
        case .fixed32: try require(4, "32-bit value"); position += 4
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup, .endGroup:
            throw error("field \(key.field) uses the deprecated group wire type", at: key.offset)
        }
    }

    /// Throws unless `key` has the expected wire type (a field of the wrong type means the
    /// bytes are not the message they are read as).
    public func expect(_ key: Key, _ wireType: WireType, _ what: String) throws {
        guard key.wireType == wireType else {
            throw error("field \(key.field) (\(what)) has wire type \(key.wireType.rawValue), expected \(wireType.rawValue)", at: key.offset)
        }
    }

    /// Appends the values of a repeated varint field, accepting both the packed encoding
    /// (one length-delimited run) and the unpacked one (one key per value).
    public mutating func readRepeatedVarints(_ key: Key, into values: inout [UInt64]) throws {
        switch key.wireType {
        case .varint: values.append(try readVarint())
        case .lengthDelimited:
            var packed = try ProtobufReader(file: file, range: try readLengthDelimited(), depth: depth, origin: origin)
            while !packed.isAtEnd { values.append(try packed.readVarint()) }
        default: throw error("repeated varint field \(key.field) has wire type \(key.wireType.rawValue)", at: key.offset)
        }
    }

    /// Appends the values of a repeated 32-bit field (`float`, `fixed32`), packed or not.
    public mutating func readRepeatedFixed32(_ key: Key, into values: inout [UInt32]) throws {
        switch key.wireType {
        case .fixed32: values.append(try readFixed32())
        case .lengthDelimited:
            let payload = try readLengthDelimited()
            guard payload.count % 4 == 0 else {
                throw error("packed 32-bit field \(key.field) holds \(payload.count) bytes, not a multiple of 4", at: key.offset)
            }
            var packed = try ProtobufReader(file: file, range: payload, depth: depth, origin: origin)
            while !packed.isAtEnd { values.append(try packed.readFixed32()) }
        default: throw error("repeated 32-bit field \(key.field) has wire type \(key.wireType.rawValue)", at: key.offset)
        }
    }

    /// Appends the values of a repeated 64-bit field (`double`, `fixed64`), packed or not.
    public mutating func readRepeatedFixed64(_ key: Key, into values: inout [UInt64]) throws {
        switch key.wireType {
        case .fixed64: values.append(try readFixed64())
        case .lengthDelimited:
            let payload = try readLengthDelimited()
            guard payload.count % 8 == 0 else {
                throw error("packed 64-bit field \(key.field) holds \(payload.count) bytes, not a multiple of 8", at: key.offset)
            }
            var packed = try ProtobufReader(file: file, range: payload, depth: depth, origin: origin)
            while !packed.isAtEnd { values.append(try packed.readFixed64()) }
        default: throw error("repeated 64-bit field \(key.field) has wire type \(key.wireType.rawValue)", at: key.offset)
        }
    }
}
