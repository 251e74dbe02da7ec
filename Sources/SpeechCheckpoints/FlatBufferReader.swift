import MappedFiles

/// A bounds-checked reader of FlatBuffers binaries (the container of `.tflite` files).
///
/// FlatBuffers basics: the file starts with a `u32` offset to the root table. A table starts
/// with an `i32` pointing back to its vtable (`vtable = table − soffset`); the vtable holds
/// `u16` vtable size, `u16` table size, then one `u16` offset per field (0 = absent, use the
/// default). References to tables, vectors and strings are `u32` offsets relative to where
/// they are stored. Vectors and strings start with a `u32` element count.
///
/// Every read validates its offset against the buffer first and throws
/// `FlatBufferError` naming the offset and what was expected: a damaged file is reported,
/// never read out of bounds.
public struct FlatBufferReader: Sendable {
    /// The whole buffer: a file's mapping, or bytes held like one.
    public let file: MappedFile
    public var bytes: UnsafeRawBufferPointer { file.bytes }

    /// Reads the mapped file in place.
    public init(file: MappedFile) { self.file = file }

    public init(bytes: [UInt8]) { file = MappedFile(copying: bytes, path: "") }

    public func check(_ offset: Int, _ size: Int, _ what: String) throws {
        guard offset >= 0, size >= 0, offset <= bytes.count - size else {
            throw FlatBufferError(offset: offset, expected: what, fileSize: bytes.count)
        }
    }

    public func u8(_ offset: Int) throws -> UInt8 { try check(offset, 1, "a byte"); return bytes[offset] }

    public func u16(_ offset: Int) throws -> UInt16 {
        try check(offset, 2, "a 16-bit value")
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    public func u32(_ offset: Int) throws -> UInt32 {
        try check(offset, 4, "a 32-bit value")
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    public func i32(_ offset: Int) throws -> Int32 { Int32(bitPattern: try u32(offset)) }

    public func u64(_ offset: Int) throws -> UInt64 {
        UInt64(try u32(offset)) | UInt64(try u32(offset + 4)) << 32
    }

    public func f32(_ offset: Int) throws -> Float { Float(bitPattern: try u32(offset)) }

    /// The root table's position.
    public func root() throws -> Table {
        try table(at: Int(try u32(0)))
    }

    public func table(at position: Int) throws -> Table {
        let vtable = position - Int(try i32(position))
        let vtableSize = Int(try u16(vtable))
        guard vtableSize >= 4, vtableSize % 2 == 0 else {
            throw FlatBufferError(offset: vtable, expected: "a table's vtable (size \(vtableSize) is invalid)", fileSize: bytes.count)
        }
        try check(vtable, vtableSize, "a vtable of \(vtableSize) bytes")
        return Table(reader: self, position: position, vtable: vtable, vtableSize: vtableSize)
    }

    /// Follows the `u32` reference stored at `offset`.
    func dereference(_ offset: Int) throws -> Int {
        offset + Int(try u32(offset))
    }

    public struct Table: Sendable {
        let reader: FlatBufferReader
        public let position: Int
        let vtable: Int
        let vtableSize: Int

        /// Absolute position of field `id`, or nil when it is absent.
        public func field(_ id: Int) throws -> Int? {
            let entry = 4 + 2 * id
            guard entry + 2 <= vtableSize else { return nil }
            let relative = Int(try reader.u16(vtable + entry))
            return relative == 0 ? nil : position + relative
        }

        public func u8(_ id: Int, default value: UInt8 = 0) throws -> UInt8 {
            guard let p = try field(id) else { return value }
            return try reader.u8(p)
        }

        public func i32(_ id: Int, default value: Int32 = 0) throws -> Int32 {
            guard let p = try field(id) else { return value }
            return try reader.i32(p)
        }

        public func u32(_ id: Int, default value: UInt32 = 0) throws -> UInt32 {
            guard let p = try field(id) else { return value }
            return try reader.u32(p)
        }

        public func u64(_ id: Int, default value: UInt64 = 0) throws -> UInt64 {
            guard let p = try field(id) else { return value }
            return try reader.u64(p)
        }

        public func table(_ id: Int) throws -> Table? {
            guard let p = try field(id) else { return nil }
            return try reader.table(at: try reader.dereference(p))
        }

        public func string(_ id: Int) throws -> String? {
            guard let range = try vector(id, elementSize: 1) else { return nil }
            return String(decoding: reader.bytes[range], as: UTF8.self)
        }

        /// Byte range of a vector of `elementSize`-byte scalars.
        public func vector(_ id: Int, elementSize: Int) throws -> Range<Int>? {
            guard let p = try field(id) else { return nil }
            let start = try reader.dereference(p)
            let count = Int(try reader.u32(start))
            guard count <= (reader.bytes.count - start - 4) / max(elementSize, 1) else {
                throw FlatBufferError(offset: start, expected: "a vector of \(count) × \(elementSize) bytes", fileSize: reader.bytes.count)
            }
            try reader.check(start + 4, count * elementSize, "vector data")
            return (start + 4)..<(start + 4 + count * elementSize)
        }

        public func int32s(_ id: Int) throws -> [Int32] {
            guard let range = try vector(id, elementSize: 4) else { return [] }
            return try stride(from: range.lowerBound, to: range.upperBound, by: 4).map { try reader.i32($0) }
        }

        public func floats(_ id: Int) throws -> [Float] {
            guard let range = try vector(id, elementSize: 4) else { return [] }
            return try stride(from: range.lowerBound, to: range.upperBound, by: 4).map { try reader.f32($0) }
        }

        public func int64s(_ id: Int) throws -> [Int64] {
            guard let range = try vector(id, elementSize: 8) else { return [] }
            return try stride(from: range.lowerBound, to: range.upperBound, by: 8).map { Int64(bitPattern: try reader.u64($0)) }
        }

        /// The tables of a vector of table references.
        public func tables(_ id: Int) throws -> [Table] {
            guard let range = try vector(id, elementSize: 4) else { return [] }
            return try stride(from: range.lowerBound, to: range.upperBound, by: 4).map {
                try reader.table(at: try reader.dereference($0))
            }
        }
    }
}

public struct FlatBufferError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public let expected: String
    public let fileSize: Int
    public var description: String {
        "malformed FlatBuffers data: expected \(expected) at byte offset \(offset) (file size \(fileSize))"
    }
}
