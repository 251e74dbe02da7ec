import MappedFiles
import SpeechCheckpoints

/// A reader of the sorted-string table that a TensorFlow checkpoint's `.index` file is
/// (TensorFlow's own copy of the LevelDB table format).
///
/// Layout: data blocks, a metaindex block (empty in checkpoints; only its checksum is
/// checked), an index block, then a
/// 48-byte footer: the metaindex and index block handles (each a varint64 offset and a
/// varint64 size) padded with zeros to 40 bytes, and the magic number 0xdb4775248b80fb57 as
/// two little-endian u32 (low half first).
///
/// Every block is followed by a 5-byte trailer: a compression byte (0 none, 1 Snappy) and
/// the masked CRC-32C of the block bytes plus that compression byte. Inside a (decompressed)
/// block the entries are `varint32 shared, varint32 unshared, varint32 value length, key
/// suffix, value`, where the key is the previous key's first `shared` bytes followed by the
/// suffix; then an array of u32 restart offsets (entries stored with `shared` = 0) and
/// their u32 count. The index block maps, for each data block, a key ≥ its last key to its
/// handle.
///
/// Every block's checksum is verified, every length and offset checked against the block
/// or file, and keys must strictly increase across the table; failures throw
/// ``ModelFileError`` naming the file and the block offset.
struct SSTable {
    /// Where a block lies in the file (trailer excluded).
    struct BlockHandle: Equatable {
        let offset: Int
        let size: Int
    }

    /// One key-value entry; the value's bytes are in `storage` (the index file itself for an
    /// uncompressed block, the decompressed bytes otherwise).
    struct Entry {
        let key: [UInt8]
        let storage: MappedFile
        let value: Range<Int>
        /// Said after offsets in errors about the value ("of the decompressed block at …").
        let origin: String
    }

    static let footerSize = 48
    static let magic: UInt64 = 0xDB47_7524_8B80_FB57
    static let trailerSize = 5

    let file: MappedFile
    private(set) var entries: [Entry] = []
    /// How many data blocks were Snappy-compressed.
    private(set) var compressedBlocks = 0
    private(set) var dataBlocks = 0

    private func failure(_ problem: String) -> ModelFileError { ModelFileError(path: file.path, problem: problem) }

    /// Reads every entry of the table.
    init(file: MappedFile) throws {
        self.file = file
        let size = file.bytes.count
        guard size >= Self.footerSize else {
            throw failure("truncated checkpoint index: \(size) bytes, shorter than the \(Self.footerSize)-byte table footer")
        }
        let footerStart = size - Self.footerSize
        var magic: UInt64 = 0
        for i in 0..<8 { magic |= UInt64(file.bytes[size - 8 + i]) << UInt64(8 * i) }
        guard magic == Self.magic else {
            throw failure("bad magic number 0x\(String(magic, radix: 16)) at byte \(size - 8) (a checkpoint index ends with 0xdb4775248b80fb57); the file is not a TensorFlow checkpoint index, or it is truncated")
        }
        var footer = try ProtobufReader(file: file, range: footerStart..<(size - 8), origin: "(table footer)")
        let metaindex = try Self.readHandle(&footer)
        let index = try Self.readHandle(&footer)
        // Checkpoints keep nothing in the metaindex block, but a damaged one still means a
        // damaged file: its checksum is checked too.
        _ = try readBlock(metaindex, what: "metaindex block")
        let indexBlock = try readBlock(index, what: "index block")
        var handles: [BlockHandle] = []
        try Self.forEachEntry(in: indexBlock, file: file) { _, storage, value, origin in
            var reader = try ProtobufReader(file: storage, range: value, origin: origin)
            handles.append(try Self.readHandle(&reader))
        }
        var previous: [UInt8]? = nil
        for handle in handles {
            let block = try readBlock(handle, what: "data block")
            dataBlocks += 1
            if block.compressed { compressedBlocks += 1 }
            try Self.forEachEntry(in: block, file: file) { key, storage, value, origin in
                if let previous, !previous.lexicographicallyPrecedes(key) {
                    throw failure("keys out of order in the data block at byte \(handle.offset): '\(String(decoding: key, as: UTF8.self))' follows '\(String(decoding: previous, as: UTF8.self))'")
                }
                previous = key
                entries.append(Entry(key: key, storage: storage, value: value, origin: origin))
            }
        }
    }

    /// A block handle: two varints.
    static func readHandle(_ reader: inout ProtobufReader) throws -> BlockHandle {
        let offset = try reader.readCount("block offset")
        let size = try reader.readCount("block size")
        return BlockHandle(offset: offset, size: size)
    }

    /// A block's contents after checking its trailer and decompressing it.
    struct Block {
        let handle: BlockHandle
        let storage: MappedFile
        let range: Range<Int>
        let compressed: Bool
        let origin: String
    }

    func readBlock(_ handle: BlockHandle, what: String) throws -> Block {
        let size = file.bytes.count
        let limit = size - Self.footerSize
        guard handle.offset <= limit, handle.size <= limit - handle.offset,
              Self.trailerSize <= limit - handle.offset - handle.size else {
            throw failure("the \(what) at byte \(handle.offset) (\(handle.size) bytes plus its \(Self.trailerSize)-byte trailer) runs past the end of the table data at byte \(limit): the file is truncated or damaged")
        }
        let body = handle.offset..<(handle.offset + handle.size)
        let type = file.bytes[body.upperBound]
        var stored: UInt32 = 0
        for i in 0..<4 { stored |= UInt32(file.bytes[body.upperBound + 1 + i]) << UInt32(8 * i) }
        let actual = CRC32C.update(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: file.bytes[body])),
                                   UnsafeRawBufferPointer(rebasing: file.bytes[body.upperBound..<(body.upperBound + 1)]))
        guard CRC32C.unmask(stored) == actual else {
            throw failure("CRC mismatch in the \(what) at byte \(handle.offset) (\(handle.size) bytes): stored 0x\(String(CRC32C.unmask(stored), radix: 16)), computed 0x\(String(actual, radix: 16))")
        }
        switch type {
        case 0:
            return Block(handle: handle, storage: file, range: body, compressed: false, origin: "")
        case 1:
            let bytes: [UInt8]
            do { bytes = try Snappy.decompress(UnsafeRawBufferPointer(rebasing: file.bytes[body])) } catch let error as SnappyError {
                throw failure("the snappy-compressed \(what) at byte \(handle.offset) cannot be decompressed: \(error)")
            }
            return Block(handle: handle, storage: MappedFile(copying: bytes, path: file.path), range: 0..<bytes.count,
                         compressed: true, origin: "of the snappy-decompressed \(what) at byte \(handle.offset)")
        default:
            throw failure("the \(what) at byte \(handle.offset) has unknown compression type \(type) (0 none and 1 snappy are defined)")
        }
    }

    /// Calls `body` with each entry of a block: its full key, and its value's bytes.
    static func forEachEntry(in block: Block, file: MappedFile,
                             _ body: ([UInt8], MappedFile, Range<Int>, String) throws -> Void) throws {
        let where_ = "the \(block.compressed ? "snappy-compressed " : "")block at byte \(block.handle.offset)"
        func failure(_ problem: String) -> ModelFileError { ModelFileError(path: file.path, problem: "\(problem) in \(where_)") }
        let bytes = block.storage.bytes
        let start = block.range.lowerBound, end = block.range.upperBound
        guard end - start >= 4 else { throw failure("a block of \(end - start) bytes, too short for its restart count") }
        var restarts: UInt32 = 0
        for i in 0..<4 { restarts |= UInt32(bytes[end - 4 + i]) << UInt32(8 * i) }
        guard Int(restarts) <= (end - start - 4) / 4 else {
            throw failure("restart count \(restarts) does not fit the \(end - start)-byte block")
        }
        let entriesEnd = end - 4 - 4 * Int(restarts)
        for r in 0..<Int(restarts) {
            let p = entriesEnd + 4 * r
            var offset: UInt32 = 0
            for i in 0..<4 { offset |= UInt32(bytes[p + i]) << UInt32(8 * i) }
            guard Int(offset) <= entriesEnd - start else {
                throw failure("restart point \(r) (\(offset)) lies outside the \(entriesEnd - start) bytes of entries")
            }
        }
        var reader = try ProtobufReader(file: block.storage, range: start..<entriesEnd, origin: block.origin)
        var key: [UInt8] = []
        while !reader.isAtEnd {
            let entryStart = reader.position
            let shared = try reader.readCount("shared key length")
            let unshared = try reader.readCount("unshared key length")
            let valueLength = try reader.readCount("value length")
            guard shared <= key.count else {
                throw failure("the entry at byte \(entryStart - start) shares \(shared) bytes with a previous key of \(key.count)")
            }
            let remaining = entriesEnd - reader.position
            guard unshared <= remaining, valueLength <= remaining - unshared else {
                throw failure("the entry at byte \(entryStart - start) (key suffix \(unshared) bytes, value \(valueLength) bytes) runs past the end of the entries")
            }
            key.removeSubrange(shared...)
            key.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[reader.position..<(reader.position + unshared)]))
            let valueStart = reader.position + unshared
            try body(key, block.storage, valueStart..<(valueStart + valueLength), block.origin)
            try reader.advance(by: unshared + valueLength)
        }
    }
}
