/// Decoder of raw Snappy data (no framing), the compression early TensorFlow applied to
/// checkpoint index blocks.
///
/// Format: a varint (at most 5 bytes, 32 bits) giving the decompressed length, then
/// elements, each starting with a tag byte whose low two bits give its kind:
/// * 0, literal: the length minus one is `tag >> 2` when below 60; 60…63 mean it follows in
///   1…4 little-endian bytes. The literal bytes follow.
/// * 1, copy with a 1-byte offset: length `4 + ((tag >> 2) & 7)`, offset
///   `(tag >> 5) << 8 | next byte`.
/// * 2, copy with a 2-byte offset: length `1 + (tag >> 2)`, offset a little-endian u16.
/// * 3, copy with a 4-byte offset: length `1 + (tag >> 2)`, offset a little-endian u32.
///
/// A copy repeats `length` bytes starting `offset` bytes back in the output; the ranges may
/// overlap (offset 1, length 10 repeats one byte ten times), so it copies byte by byte
/// forwards. Every length, offset and input read is checked: an offset of 0 or beyond the
/// output so far, output beyond the declared length, a truncated element, or output shorter
/// than declared all throw ``SnappyError``.
public enum Snappy {
    /// Largest decompressed size accepted when no tighter limit is given (256 MiB, far above
    /// the 256 KiB blocks of checkpoint indexes).
    public static let defaultLimit = 256 << 20

    /// The decompressed length a Snappy buffer declares, without decoding it.
    public static func declaredLength(_ input: UnsafeRawBufferPointer) throws -> Int {
        var position = 0
        return try readPreamble(input, &position)
    }

    private static func readPreamble(_ input: UnsafeRawBufferPointer, _ position: inout Int) throws -> Int {
        var length = 0
        for index in 0..<5 {
            guard position < input.count else { throw SnappyError(offset: position, problem: "truncated length preamble") }
            let byte = input[position]
            position += 1
            if index == 4 && byte > 0x0F { throw SnappyError(offset: 0, problem: "the declared length exceeds 32 bits") }
            length |= Int(byte & 0x7F) << (7 * index)
            if byte & 0x80 == 0 { return length }
        }
        throw SnappyError(offset: 0, problem: "the length preamble is longer than 5 bytes")
    }

    /// Decompresses `input`. Refuses a declared length above `limit`, and above 32 bytes of
    /// output per input byte (no Snappy encoder can exceed that: a 3-byte copy yields at most
    /// 64 bytes), so that a damaged length cannot force a huge allocation.
    public static func decompress(_ input: UnsafeRawBufferPointer, limit: Int = defaultLimit) throws -> [UInt8] {
        var position = 0
        let length = try readPreamble(input, &position)
        guard length <= limit else {
            throw SnappyError(offset: 0, problem: "declares \(length) decompressed bytes, more than the \(limit) allowed")
        }
        guard length / 32 <= input.count else {
            throw SnappyError(offset: 0, problem: "declares \(length) decompressed bytes from only \(input.count) compressed bytes")
        }
        var output = [UInt8](repeating: 0, count: length)
        var written = 0
        try output.withUnsafeMutableBufferPointer { out in
            func littleEndian(_ count: Int) throws -> Int {
                guard input.count - position >= count else {
                    throw SnappyError(offset: position, problem: "truncated element (needs \(count) more bytes)")
                }
                var value = 0
                for i in 0..<count { value |= Int(input[position + i]) << (8 * i) }
                position += count
                return value
            }
            while position < input.count {
                let tagOffset = position
                let tag = Int(input[position])
                position += 1
                switch tag & 3 {
                case 0:
                    var literal = tag >> 2
                    if literal >= 60 { literal = try littleEndian(literal - 59) }
                    literal += 1
                    guard literal <= input.count - position else {
                        throw SnappyError(offset: tagOffset, problem: "literal of \(literal) bytes runs past the end of the input")
                    }
                    guard literal <= length - written else {
                        throw SnappyError(offset: tagOffset, problem: "literal of \(literal) bytes overflows the declared length \(length)")
                    }
                    for i in 0..<literal { out[written + i] = input[position + i] }
                    position += literal
                    written += literal
                default:
                    let copyLength: Int, offset: Int
                    switch tag & 3 {
                    case 1:
                        copyLength = 4 + ((tag >> 2) & 7)
                        offset = (tag >> 5) << 8 | (try littleEndian(1))
                    case 2:
                        copyLength = 1 + (tag >> 2)
                        offset = try littleEndian(2)
                    default:
                        copyLength = 1 + (tag >> 2)
                        offset = try littleEndian(4)
                    }
                    guard offset > 0, offset <= written else {
                        throw SnappyError(offset: tagOffset, problem: "copy from \(offset) bytes back, but only \(written) bytes are decoded")
                    }
                    guard copyLength <= length - written else {
                        throw SnappyError(offset: tagOffset, problem: "copy of \(copyLength) bytes overflows the declared length \(length)")
                    }
                    // Forwards, one byte at a time: the source may overlap the bytes being written.
                    for i in 0..<copyLength { out[written + i] = out[written + i - offset] }
                    written += copyLength
                }
            }
        }
        guard written == length else {
            throw SnappyError(offset: input.count, problem: "decodes to \(written) bytes, but declares \(length)")
        }
        return output
    }

    /// Decompresses a byte array.
    public static func decompress(_ input: [UInt8], limit: Int = defaultLimit) throws -> [UInt8] {
        try input.withUnsafeBytes { try decompress($0, limit: limit) }
    }
}

/// Snappy data that cannot be decoded: where (offset in the compressed bytes) and why.
public struct SnappyError: Error, CustomStringConvertible, Sendable {
    /// Offset in the compressed bytes.
    public let offset: Int
    /// What is wrong there.
    public let problem: String
    public var description: String { "invalid snappy data at byte \(offset): \(problem)" }
}
