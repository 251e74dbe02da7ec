import MappedFiles
import SpeechCheckpoints

/// A TensorFlow checkpoint in the "tensor bundle" format that `tf.train.Saver` (V2) and
/// `tf.train.Checkpoint` write: `prefix.index` plus the data shards
/// `prefix.data-00000-of-00001` ….
///
/// The index is a sorted-string table (see the notes in `SSTable.swift`) whose first key is
/// the empty string, holding a `BundleHeaderProto` (`num_shards` = 1, `endianness` = 2 with
/// 0 little and 1 big, `version` = 3). Every other key is a tensor name with a
/// `BundleEntryProto`: `dtype` = 1, `shape` = 2, `shard_id` = 3, `offset` = 4, `size` = 5,
/// `crc32c` = 6 (masked CRC-32C of the tensor bytes), `slices` = 7 (set for a partitioned
/// variable, whose pieces are then stored under binary keys starting with a zero byte; such
/// keys are not listed in ``names``).
///
/// Reading checks every block checksum, decompresses Snappy blocks (early TensorFlow wrote
/// them), opens the shards the entries use and checks that every entry's bytes lie inside
/// its shard. ``tensor(named:)`` returns the bytes as a slice of the shard's memory mapping
/// after verifying their checksum. Big-endian bundles, partitioned variables and string
/// tensors are refused with a message naming what is unsupported; every problem throws
/// ``ModelFileError`` naming the file (the index, or the data shard for problems with the
/// tensor bytes).
public struct TensorBundle: Sendable {
    /// What the index says about one tensor.
    public struct Entry: Sendable, Equatable {
        /// The tensor (variable) name, the entry's key.
        public let name: String
        /// `dtype`.
        public let dataType: TensorFlowDataType
        /// `shape`.
        public let shape: TensorShape
        /// Which `prefix.data-*` shard holds the bytes.
        public let shardID: Int
        /// Where the tensor's bytes are in its data shard.
        public let offset: Int
        /// The byte count.
        public let size: Int
        /// The stored (masked) CRC-32C of the bytes, nil when the entry has none.
        public let maskedCRC32C: UInt32?
        /// How many slices a partitioned variable is stored in (0 for an ordinary tensor).
        public let sliceCount: Int
    }

    /// The `.index` file.
    public let indexPath: String
    /// The checkpoint prefix (the index path without `.index`).
    public let prefix: String
    /// `num_shards` of the header.
    public let shardCount: Int
    /// `version.producer` of the header (the bundle format version that wrote it).
    public let producerVersion: Int
    /// The data shard paths, `prefix.data-0000k-of-0000n`.
    public let dataPaths: [String]
    /// Tensor names in key order (byte-wise sorted), the header and slice keys excluded.
    public let names: [String]
    /// How many index data blocks were Snappy-compressed (0 for current TensorFlow).
    public let compressedBlockCount: Int
    /// How many data blocks the index has.
    public let dataBlockCount: Int
    private let entries: [String: Entry]
    /// The mapping of each shard (nil for a shard no entry uses or an empty shard file).
    private let shards: [MappedFile?]

    /// The highest bundle format version this reader understands (`kTensorBundleVersion`).
    public static let readerVersion = 1

    /// Opens the checkpoint whose index is `indexPath` (`….index`) or whose prefix it is.
    public init(indexPath path: String) throws {
        let indexPath = path.hasSuffix(".index") ? path : path + ".index"
        let index: MappedFile
        do { index = try MappedFile(path: indexPath) } catch let error as MappedFileError {
            throw ModelFileError(path: indexPath, problem: error.problem)
        }
        try self.init(index: index)
    }

    /// Reads the index held by `index` (a mapped file or bytes held like one; its `path` ends in
    /// `.index` and locates the data shards beside it).
    public init(index: MappedFile) throws {
        let indexPath = index.path
        self.indexPath = indexPath
        let prefix = indexPath.hasSuffix(".index") ? String(indexPath.dropLast(".index".count)) : indexPath
        self.prefix = prefix
        func failure(_ problem: String) -> ModelFileError { ModelFileError(path: indexPath, problem: problem) }

        let table = try SSTable(file: index)
        compressedBlockCount = table.compressedBlocks
        dataBlockCount = table.dataBlocks
        guard let header = table.entries.first, header.key.isEmpty else {
            throw failure("the checkpoint index has no header entry (the empty key must come first)")
        }

        // Header.
        var shardCount = 1, bigEndian = false, producer = 0, minConsumer = 0
        var reader = try ProtobufReader(file: header.storage, range: header.value, origin: header.origin)
        while let key = try reader.nextKey() {
            switch key.field {
            case 1: try reader.expect(key, .varint, "BundleHeaderProto.num_shards"); shardCount = Int(try reader.readInt32())
            case 2: try reader.expect(key, .varint, "BundleHeaderProto.endianness"); bigEndian = try reader.readVarint() != 0
            case 3:
                try reader.expect(key, .lengthDelimited, "BundleHeaderProto.version")
                var version = try reader.readMessage()
                while let k = try version.nextKey() {
                    switch k.field {
                    case 1: try version.expect(k, .varint, "VersionDef.producer"); producer = Int(try version.readInt32())
                    case 2: try version.expect(k, .varint, "VersionDef.min_consumer"); minConsumer = Int(try version.readInt32())
                    default: try version.skip(k)
                    }
                }
            default: try reader.skip(key)
            }
        }
        guard !bigEndian else {
            throw failure("the checkpoint was written on a big-endian machine; only little-endian checkpoints are supported")
        }
        guard minConsumer <= Self.readerVersion else {
            throw failure("the checkpoint needs bundle format version \(minConsumer) or later to read; this reader knows version \(Self.readerVersion)")
        }
        guard shardCount >= 1, shardCount <= 99_999 else {
            throw failure("the header gives \(shardCount) data shards")
        }
        self.shardCount = shardCount
        producerVersion = producer
        func pad(_ n: Int) -> String { let s = String(n); return String(repeating: "0", count: max(0, 5 - s.count)) + s }
        let dataPaths = (0..<shardCount).map { "\(prefix).data-\(pad($0))-of-\(pad(shardCount))" }
        self.dataPaths = dataPaths

        // Entries.
        var entries: [String: Entry] = [:], names: [String] = []
        for item in table.entries.dropFirst() where item.key.first != 0 {
            let name = String(decoding: item.key, as: UTF8.self)
            let entry = try Self.parseEntry(item, name: name, indexPath: indexPath)
            guard entry.shardID >= 0, entry.shardID < shardCount else {
                throw failure("tensor '\(name)' is in shard \(entry.shardID), but the checkpoint has \(shardCount)")
            }
            entries[name] = entry
            names.append(name)
        }

        // Shards used by the entries, with every entry's bytes checked to lie inside.
        var shards = [MappedFile?](repeating: nil, count: shardCount)
        let byShard = Dictionary(grouping: entries.values.filter { $0.size > 0 }, by: \.shardID)
        for (i, used) in byShard.sorted(by: { $0.key < $1.key }) {
            let shardPath = dataPaths[i]
            let shard: MappedFile
            do { shard = try MappedFile(path: shardPath) } catch let error as MappedFileError {
                throw ModelFileError(path: shardPath, problem: "cannot read the checkpoint's data shard \(i) of \(shardCount): \(error.problem)")
            }
            for entry in used.sorted(by: { ($0.offset, $0.name) < ($1.offset, $1.name) }) where entry.offset > shard.bytes.count || entry.size > shard.bytes.count - entry.offset {
                throw ModelFileError(path: shardPath, problem: "tensor '\(entry.name)' data (\(entry.size) bytes at byte \(entry.offset)) lies outside the \(shard.bytes.count)-byte file: it is truncated, or does not belong to \(indexPath)")
            }
            shards[i] = shard
        }
        self.entries = entries
        self.names = names
        self.shards = shards
    }

    /// Parses one `BundleEntryProto`.
    private static func parseEntry(_ item: SSTable.Entry, name: String, indexPath: String) throws -> Entry {
        var dataType = TensorFlowDataType.invalid, shape = TensorShape(dimensions: [])
        var shard = 0, offset: Int64 = 0, size: Int64 = 0, crc: UInt32? = nil, slices = 0
        var reader = try ProtobufReader(file: item.storage, range: item.value, origin: item.origin)
        do {
            while let key = try reader.nextKey() {
                switch key.field {
                case 1: try reader.expect(key, .varint, "dtype"); dataType = TensorFlowDataType(rawValue: Int(try reader.readInt32()))
                case 2:
                    try reader.expect(key, .lengthDelimited, "shape")
                    var sub = try reader.readMessage()
                    shape = try TensorShape.parse(&sub)
                case 3: try reader.expect(key, .varint, "shard_id"); shard = Int(try reader.readInt32())
                case 4: try reader.expect(key, .varint, "offset"); offset = try reader.readInt64()
                case 5: try reader.expect(key, .varint, "size"); size = try reader.readInt64()
                case 6: try reader.expect(key, .fixed32, "crc32c"); crc = try reader.readFixed32()
                case 7: try reader.expect(key, .lengthDelimited, "slices"); _ = try reader.readLengthDelimited(); slices += 1
                default: try reader.skip(key)
                }
            }
        } catch let error as ModelFileError {
            throw ModelFileError(path: indexPath, problem: "the index entry of tensor '\(name)' is damaged: \(error.problem)")
        }
        guard offset >= 0, size >= 0 else {
            throw ModelFileError(path: indexPath, problem: "tensor '\(name)' has offset \(offset) and size \(size); neither may be negative")
        }
        return Entry(name: name, dataType: dataType, shape: shape, shardID: shard, offset: Int(offset), size: Int(size),
                     maskedCRC32C: crc, sliceCount: slices)
    }

    /// What the index says about tensor `name`, nil when it has no such tensor.
    public func entry(named name: String) -> Entry? { entries[name] }

    /// The tensor `name`, its bytes a slice of the data shard's mapping. Verifies the stored
    /// checksum of the bytes unless `verifyChecksum` is false. Throws for a missing tensor, a
    /// partitioned variable, an unsupported dtype, a size that does not match the shape or a
    /// checksum mismatch.
    public func tensor(named name: String, verifyChecksum: Bool = true) throws -> CheckpointTensor {
        guard let entry = entries[name] else {
            throw ModelFileError(path: indexPath, problem: "the checkpoint has no tensor '\(name)'")
        }
        func failure(_ problem: String) -> ModelFileError { ModelFileError(path: indexPath, problem: "tensor '\(name)' \(problem)") }
        guard entry.sliceCount == 0 else {
            throw failure("is a partitioned variable stored in \(entry.sliceCount) slices, which is not supported")
        }
        guard let type = entry.dataType.checkpointDataType else {
            throw failure("has dtype \(entry.dataType) (DataType \(entry.dataType.rawValue)), which is not supported")
        }
        guard let width = type.byteWidth else {
            throw failure("is a string tensor (\(entry.dataType)); string tensors in checkpoints are not supported")
        }
        guard let shape = entry.shape.fullyDefined else {
            throw failure("has shape \(entry.shape), which is not fully defined")
        }
        guard let sizes = tensorSizes(shape: shape, byteWidth: width) else {
            throw failure("has shape \(shape), whose byte size overflows")
        }
        guard entry.size == sizes.bytes else {
            throw failure("holds \(entry.size) bytes, but shape \(shape) of \(entry.dataType) needs \(sizes.bytes)")
        }
        let range = entry.offset..<(entry.offset + entry.size)
        guard entry.size > 0 else {
            return CheckpointTensor(name: name, dataType: type, shape: shape, bytes: [])
        }
        guard entry.shardID < shards.count, let shard = shards[entry.shardID] else {
            throw failure("is in data shard \(entry.shardID), which was not opened")  // not reached: init opens every used shard
        }
        if verifyChecksum, let stored = entry.maskedCRC32C {
            let actual = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: shard.bytes[range]))
            guard CRC32C.unmask(stored) == actual else {
                throw ModelFileError(path: shard.path, problem: "CRC mismatch in tensor '\(name)' (\(entry.size) bytes at byte \(entry.offset)): the index stores 0x\(String(CRC32C.unmask(stored), radix: 16)), the data gives 0x\(String(actual, radix: 16))")
            }
        }
        return CheckpointTensor(name: name, dataType: type, shape: shape, storage: shard, byteRange: range)
    }
}
