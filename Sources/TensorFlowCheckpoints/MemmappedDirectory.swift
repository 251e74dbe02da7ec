import MappedFiles
import SpeechCheckpoints

/// The directory of a memory-mapped TensorFlow graph (`.pbmm`, MemmappedFileSystem).
///
/// Layout of such a file: `[region 0][padding][region 1]…[GraphDef region][directory]
/// [u64 directory offset]`. The last 8 bytes are the little-endian offset of the directory,
/// a `MemmappedFileSystemDirectory` proto (`element` = 1, each {`offset` = 1, `name` = 2,
/// `length` = 3}) that fills the bytes up to those 8. Tensor regions hold raw little-endian
/// tensor bytes, each starting at a multiple of the writer's allocator alignment (64 in
/// current TensorFlow, 32 in older builds); the GraphDef region, named
/// `memmapped_package://.`, is written last and is not aligned.
///
/// Old writers (TensorFlow 1.x) left `length` at 0: a region then runs to the next region's
/// offset (or to the directory for the last one), padding included, so a tensor may be
/// shorter than its region. Newer writers store the exact length. This reader uses `length`
/// when it is non-zero and the offset difference otherwise, requires offsets to increase
/// strictly, names to be unique and every region to lie before the directory.
public struct MemmappedDirectory: Sendable, Equatable {
    /// One named byte range of the file.
    public struct Region: Sendable, Equatable {
        /// The full name, e.g. `memmapped_package://layer_1_weights`.
        public let name: String
        /// Where the region starts in the file.
        public let offset: Int
        /// Its length: stored, or up to the next region (padding included) when not stored.
        public let length: Int
        /// Whether the length was stored in the directory (newer writers) rather than
        /// computed from the next region's offset.
        public let lengthWasStored: Bool
    }

    /// The prefix of every region name.
    public static let namePrefix = "memmapped_package://"
    /// The name of the GraphDef region.
    public static let graphRegionName = "memmapped_package://."

    /// Every region, in file order; the GraphDef region is among them.
    public let regions: [Region]
    /// Where the directory proto starts.
    public let directoryOffset: Int
    /// The GraphDef region.
    public let graph: Region

    /// Whether every region's length was stored (newer writers) or none was (TensorFlow 1.x).
    public var hasStoredLengths: Bool { regions.allSatisfy(\.lengthWasStored) }

    /// The largest power of two (up to 4096) dividing the offset of every tensor region, a
    /// lower bound of the writer's alignment: 64 for current TensorFlow, 32 for older builds
    /// (a file with few tensors may show a larger value by chance). Nil without tensor regions.
    public var alignment: Int? {
        let offsets = regions.filter { $0.name != Self.graphRegionName }.map(\.offset)
        guard !offsets.isEmpty else { return nil }
        var alignment = 4096
        for offset in offsets where offset != 0 {
            alignment = min(alignment, 1 << offset.trailingZeroBitCount)
        }
        return alignment
    }

    /// The region with the full name `name` (`memmapped_package://…`).
    public func region(named name: String) -> Region? { regions.first { $0.name == name } }

    /// Reads the directory at the end of `file`. Returns nil with a reason when the file does
    /// not look like a memory-mapped graph at all (no valid directory naming the GraphDef
    /// region); throws when it does but the directory is inconsistent.
    static func read(_ file: MappedFile) throws -> Result<MemmappedDirectory, ModelFileError> {
        let size = file.bytes.count
        func notMemmapped(_ why: String) -> Result<MemmappedDirectory, ModelFileError> {
            .failure(ModelFileError(path: file.path, problem: why))
        }
        guard size >= 8 else { return notMemmapped("the file is only \(size) bytes long, too short for the 8-byte directory offset") }
        var trailer: UInt64 = 0
        for i in 0..<8 { trailer |= UInt64(file.bytes[size - 8 + i]) << UInt64(8 * i) }
        guard trailer < UInt64(size - 8) else {
            return notMemmapped("the last 8 bytes give directory offset \(trailer), which is not inside the \(size)-byte file")
        }
        let directoryOffset = Int(trailer)
        var stored: [(offset: UInt64, name: String, length: UInt64)] = []
        do {
            var reader = try ProtobufReader(file: file, range: directoryOffset..<(size - 8),
                                            origin: "(directory of the memory-mapped graph)")
            while let key = try reader.nextKey() {
                guard key.field == 1 else { try reader.skip(key); continue }
                try reader.expect(key, .lengthDelimited, "directory element")
                var element = try reader.readMessage()
                var offset: UInt64 = 0, length: UInt64 = 0, name = ""
                while let k = try element.nextKey() {
                    switch k.field {
                    case 1: try element.expect(k, .varint, "element offset"); offset = try element.readVarint()
                    case 2: try element.expect(k, .lengthDelimited, "element name"); name = try element.readString()
                    case 3: try element.expect(k, .varint, "element length"); length = try element.readVarint()
                    default: try element.skip(k)
                    }
                }
                stored.append((offset, name, length))
            }
        } catch let error as ModelFileError {
            return notMemmapped("no readable directory at the offset the last 8 bytes give (\(error.problem))")
        }
        guard stored.contains(where: { $0.name == graphRegionName }) else {
            return notMemmapped("the directory at byte \(directoryOffset) has no '\(graphRegionName)' (GraphDef) element")
        }

        // From here on the file is a memory-mapped graph: inconsistencies are errors.
        func damaged(_ problem: String) -> ModelFileError {
            ModelFileError(path: file.path, problem: "damaged memory-mapped graph directory: \(problem)")
        }
        var regions: [Region] = []
        var names = Set<String>()
        for (i, element) in stored.enumerated() {
            guard element.name.hasPrefix(namePrefix) else {
                throw damaged("element \(i) is named '\(element.name)', without the '\(namePrefix)' prefix")
            }
            guard names.insert(element.name).inserted else { throw damaged("two elements are named '\(element.name)'") }
            guard element.offset < trailer else {
                throw damaged("region '\(element.name)' starts at byte \(element.offset), at or after the directory (byte \(directoryOffset))")
            }
            let offset = Int(element.offset)
            let end: Int
            if i + 1 < stored.count {
                guard stored[i + 1].offset > element.offset else {
                    throw damaged("region offsets do not increase ('\(stored[i + 1].name)' at byte \(stored[i + 1].offset) follows '\(element.name)' at byte \(element.offset))")
                }
                end = Int(min(stored[i + 1].offset, trailer))
            } else {
                end = directoryOffset
            }
            let length: Int
            if element.length != 0 {
                guard element.length <= UInt64(directoryOffset - offset) else {
                    throw damaged("region '\(element.name)' (\(element.length) bytes at byte \(offset)) runs past the directory at byte \(directoryOffset)")
                }
                length = Int(element.length)
            } else {
                length = end - offset
            }
            regions.append(Region(name: element.name, offset: offset, length: length, lengthWasStored: element.length != 0))
        }
        guard let graph = regions.first(where: { $0.name == graphRegionName }) else {
            throw damaged("no GraphDef region")  // unreachable: checked above
        }
        return .success(MemmappedDirectory(regions: regions, directoryOffset: directoryOffset, graph: graph))
    }
}
