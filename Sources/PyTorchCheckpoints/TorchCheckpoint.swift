import MappedFiles
import SpeechCheckpoints

/// A file written by `torch.save` (a `.pt`/`.pth` state dict or package, a PyTorch Lightning
/// `.ckpt`), read without running Python: its pickled object as a ``PickleValue`` tree, and
/// its tensors as ``CheckpointTensor``s that slice the memory-mapped file.
///
/// Both formats torch has written since 2018 are read:
/// * **zip** (torch ≥ 1.6): a STORED zip whose entries share one folder (`archive/` for
///   Lightning, the file stem for `torch.save(obj, path)`, so it is not assumed). The pickle is
///   `<folder>/data.pkl`, each storage is `<folder>/data/<key>`, and an optional `byteorder`
///   record says `little` or `big` (absent: little).
/// * **legacy** (torch ≤ 1.5, or `_use_new_zipfile_serialization=False`): five pickles in a
///   row (the magic number 0x1950a86a20f9469cfc6c, protocol version 1001, system info, the
///   object, the sorted list of storage keys) and then, for each key in that order, the
///   element count as a little-endian int64 and the storage's raw little-endian bytes.
///
/// The tar archives of torch ≤ 0.3 are refused with a message saying so, as is anything that
/// is not a torch checkpoint. No file, however damaged, makes the reader crash: sizes,
/// offsets and strides are checked (with overflow-checked arithmetic) against the bytes that
/// are really there, and problems are thrown as ``ModelFileError``s naming the file.
public struct TorchCheckpoint: Sendable {
    public enum Format: String, Sendable {
        case zip
        case legacy
    }

    public let path: String
    public let format: Format
    /// The pickled object (for a checkpoint, a dict). Tensors appear as
    /// ``PickleValue/tensor(_:)`` references; ``tensor(_:name:)`` reads their elements.
    public let root: PickleValue
    /// The mapping every tensor slices.
    public let file: MappedFile
    /// Zip files: the entries' folder (`archive` for Lightning checkpoints); nil for legacy files.
    public let archiveName: String?
    /// Zip files: every record name, in directory order. Legacy files: the storage keys, in file order.
    public let records: [String]
    /// True when the zip's `byteorder` record says `big`; tensors are then byte-swapped into
    /// copies, since ``CheckpointTensor`` holds little-endian bytes.
    public let isBigEndian: Bool

    /// Storage key → the storage's bytes in the file.
    private let storageRanges: [String: Range<Int>]

    /// Opens and maps `path`, and reads its pickle (not its tensors).
    public init(path: String) throws {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch let error as MappedFileError {
            throw ModelFileError(path: path, problem: error.problem)
        }
        try self.init(file: file)
    }

    /// Reads a checkpoint already in memory (a mapping, or bytes wrapped with
    /// `MappedFile(copying:path:)`); messages name `file.path`.
    public init(file: MappedFile) throws {
        let path = file.path
        let bytes = file.bytes
        func refuse(_ problem: String) -> ModelFileError { ModelFileError(path: path, problem: problem) }
        self.path = path
        self.file = file

        if bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04 {
            format = .zip
            let archive: StoredZipArchive
            do { archive = try StoredZipArchive(bytes: bytes) } catch let problem as StoredZipArchive.Problem {
                throw refuse("not a readable torch.save zip checkpoint: \(problem.message)")
            }
            // The pickle: "<folder>/data.pkl" (prefer one folder level, as torch writes it).
            let candidates = archive.entries.filter { $0.name.hasSuffix("/data.pkl") || $0.name == "data.pkl" }
            guard let pickleEntry = candidates.first(where: { $0.name.split(separator: "/").count == 2 }) ?? candidates.first else {
                let names = archive.entries.prefix(6).map(\.name).joined(separator: ", ")
                throw refuse("a zip archive without a data.pkl record, so not a torch.save checkpoint (entries: \(names.isEmpty ? "none" : names))")
            }
            let folder = String(pickleEntry.name.dropLast("data.pkl".count))
            archiveName = folder.isEmpty ? "" : String(folder.dropLast())
            records = archive.entries.map(\.name)
            do {
                var bigEndian = false
                if let order = archive.entry(named: folder + "byteorder") {
                    let range = try archive.dataRange(of: order)
                    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
                    switch text.trimmingSpaces.lowercased() {
                    case "little", "little\n": bigEndian = false
                    case "big", "big\n": bigEndian = true
                    default: throw refuse("the byteorder record says '\(text.prefix(20))', expected 'little' or 'big'")
                    }
                }
                isBigEndian = bigEndian
                let pickleRange = try archive.dataRange(of: pickleEntry)
                let result: PickleReader.Result
                do { result = try PickleReader().read(bytes, range: pickleRange) } catch let error as PickleError {
                    throw refuse("\(error.isTruncation ? "truncated or damaged" : "damaged or unsafe") pickle in \(pickleEntry.name): \(error)")
                }
                root = result.value
                // Storages are "<folder>/data/<key>".
                var ranges: [String: Range<Int>] = [:]
                for storage in result.storages where ranges[storage.key] == nil {
                    guard let entry = archive.entry(named: folder + "data/" + storage.key) else { continue }
                    ranges[storage.key] = try archive.dataRange(of: entry)
                }
                storageRanges = ranges
            } catch let problem as StoredZipArchive.Problem {
                throw refuse(problem.message)
            }
            return
        }

        format = .legacy
        archiveName = nil
        isBigEndian = false
        if bytes.count >= 262, String(decoding: UnsafeRawBufferPointer(rebasing: bytes[257..<262]), as: UTF8.self) == "ustar" {
            throw refuse("a tar archive: the checkpoint format of torch ≤ 0.3, which is not supported; load it with an old torch and re-save it with torch.save")
        }
        let reader = PickleReader()
        guard bytes.count >= 1, bytes[0] == 0x80, bytes.count < 2 || bytes[1] <= 5 else {
            if let kind = TorchCheckpoint.knownKind(bytes) { throw refuse("not a PyTorch checkpoint: \(kind)") }
            // Protocol 0 and 1 pickles start without PROTO; reading one (safely) says what it is.
            do {
                let result = try reader.read(bytes)
                throw refuse("a Python pickle (protocol 0 or 1) holding \(result.value), not a torch.save file")
            } catch let error as PickleError where error.isUnsafe {
                throw refuse("a Python pickle that is refused, not a torch.save file: \(error)")
            } catch is PickleError {
                throw refuse("not a PyTorch checkpoint: \(TorchCheckpoint.startDescription(bytes))")
            }
        }
        func pickle(at offset: Int, _ what: String) throws -> PickleReader.Result {
            do { return try reader.read(bytes, range: offset..<bytes.count) } catch let error as PickleError {
                throw refuse("\(error.isTruncation ? "truncated" : "damaged or unsafe") legacy torch.save file (\(what)): \(error)")
            }
        }
        let magic = try pickle(at: 0, "magic number")
        let magicBytes: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        guard case .bigInt(let number) = magic.value, number.littleEndianBytes == magicBytes else {
            throw refuse("a Python pickle, but not a torch.save file (it does not start with torch's magic number; found \(magic.value))")
        }
        let version = try pickle(at: magic.endOffset, "protocol version")
        guard version.value == .int(1001) else {
            throw refuse("legacy torch.save protocol version \(version.value), expected 1001")
        }
        // System info (`little_endian`, type sizes) describes the writer's machine; the
        // storages themselves are always written little-endian, so it changes nothing here.
        let systemInfo = try pickle(at: version.endOffset, "system info")
        let main = try pickle(at: systemInfo.endOffset, "the saved object")
        root = main.value
        let keyList = try pickle(at: main.endOffset, "storage key list")
        guard let keyValues = keyList.value.arrayValue else {
            throw refuse("legacy torch.save file: the storage key list is \(keyList.value), not a list")
        }
        var keys: [String] = []
        for value in keyValues {
            switch value {
            case .string(let s): keys.append(s)
            case .int(let i): keys.append(String(i))
            default: throw refuse("legacy torch.save file: the storage key list holds \(value)")
            }
        }
        // Each key's element type comes from the persistent ids that name it.
        var declared: [String: TorchStorageReference] = [:]
        for storage in main.storages where declared[storage.key] == nil { declared[storage.key] = storage }
        var ranges: [String: Range<Int>] = [:]
        var offset = keyList.endOffset
        for key in keys {
            guard let storage = declared[key] else {
                throw refuse("legacy torch.save file: storage '\(key)' is listed, but no tensor names it, so its element size is unknown")
            }
            guard let width = storage.dataType?.byteWidth else {
                throw refuse("storage '\(key)' has type \(storage.typeName), which this reader does not support")
            }
            guard offset <= bytes.count - 8 else {
                throw refuse("truncated at byte \(bytes.count): storage '\(key)' should start at byte \(offset) with its element count")
            }
            var count: UInt64 = 0
            for i in 0..<8 { count |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
            let start = offset + 8
            let (byteCount, overflow) = Int(truncatingIfNeeded: count).multipliedReportingOverflow(by: width)
            guard count <= UInt64(Int.max), !overflow, byteCount <= bytes.count - start else {
                throw refuse("truncated at byte \(bytes.count): storage '\(key)' announces \(count) elements of \(width) bytes from byte \(start)")
            }
            guard Int(count) == storage.elementCount else {
                throw refuse("storage '\(key)' holds \(count) elements in the file, but the pickle says \(storage.elementCount)")
            }
            ranges[key] = start..<(start + byteCount)
            offset = start + byteCount
        }
        storageRanges = ranges
        records = keys
    }

    /// What a file that is not a checkpoint is, when its first bytes say so.
    static func knownKind(_ bytes: UnsafeRawBufferPointer) -> String? {
        switch ModelFileKind.sniff(Array(bytes.prefix(64)), fileSize: bytes.count) {
        case .tflite: return "it is a TensorFlow Lite model"
        case .tensorFlowGraph: return "it looks like a TensorFlow frozen graph (.pb)"
        case .kenLMBinaryOrScorer: return "it is a KenLM language model or scorer package"
        case .arpa: return "it is an ARPA language model"
        case .audio(let format): return "it is a \(format) audio file"
        case .empty: return "the file is empty"
        default: return nil
        }
    }

    static func startDescription(_ bytes: UnsafeRawBufferPointer) -> String {
        let shown = bytes.prefix(8).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        return "it is neither a zip archive (PK\\3\\4) nor a legacy torch.save pickle (0x80 0x02 …); it starts with \(shown.joined(separator: " "))"
    }

    // MARK: Tensors

    /// How large a gathered copy of a strided view may be: views that repeat elements (zero
    /// strides) could otherwise ask for far more memory than the file holds.
    var gatherLimit: Int { max(64 << 20, file.bytes.count.multipliedReportingOverflow(by: 4).partialValue) }

    /// The elements of a tensor: a slice of the mapping when they lie contiguous (in
    /// little-endian order), otherwise (a transposed or otherwise strided view, or a
    /// big-endian file) a contiguous row-major copy.
    public func tensor(_ reference: TorchTensorReference, name: String) throws -> CheckpointTensor {
        func refuse(_ problem: String) -> ModelFileError { ModelFileError(path: path, problem: "tensor '\(name)': \(problem)") }
        let storage = reference.storage
        guard let dataType = reference.dataType, let width = dataType.byteWidth else {
            throw refuse(reference.dtypeName.map { "dtype \($0) is not supported" } ?? "storage type \(storage.typeName) is not supported")
        }
        guard let range = storageRanges[storage.key] else {
            throw refuse("storage '\(storage.key)' is missing from the file")
        }
        // Legacy views: a window of the root storage.
        var base = 0
        var capacity = range.count / width
        if let view = storage.view {
            let (viewEnd, overflow) = view.offset.addingReportingOverflow(view.count)
            guard !overflow, viewEnd <= capacity else {
                throw refuse("storage view '\(view.viewKey)' (elements \(view.offset)..<\(view.offset &+ view.count)) lies outside storage '\(storage.key)' of \(capacity) elements")
            }
            base = view.offset
            capacity = view.count
        }
        guard reference.shape.count == reference.strides.count else {
            throw refuse("size \(reference.shape) and stride \(reference.strides) differ in length")
        }
        var count = 1
        var last = reference.storageOffset  // index of the last element reached
        var overflow = false
        for (size, stride) in zip(reference.shape, reference.strides) {
            var o = false
            (count, o) = count.multipliedReportingOverflow(by: size); overflow = overflow || o
            if size > 0 {
                let (step, o1) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, o2) = last.addingReportingOverflow(step)
                last = sum
                overflow = overflow || o1 || o2
            }
        }
        let (byteCount, o3) = count.multipliedReportingOverflow(by: width)
        guard !overflow, !o3 else { throw refuse("size \(reference.shape) with stride \(reference.strides) overflows") }
        if count == 0 {
            return CheckpointTensor(name: name, dataType: dataType, shape: reference.shape, storage: file,
                                    byteRange: range.lowerBound..<range.lowerBound)
        }
        guard last < capacity else {
            throw refuse("reaches element \(last) of storage '\(storage.key)' (offset \(reference.storageOffset), size \(reference.shape), stride \(reference.strides)), which holds only \(capacity) elements (\(range.count) bytes): the storage is short")
        }
        let first = range.lowerBound + (base + reference.storageOffset) * width
        if reference.isContiguous && (!isBigEndian || width == 1) {
            return CheckpointTensor(name: name, dataType: dataType, shape: reference.shape, storage: file,
                                    byteRange: first..<(first + byteCount))
        }
        guard byteCount <= gatherLimit else {
            throw refuse("a strided view of \(count) elements would need a \(byteCount)-byte copy, more than this file can reasonably hold")
        }
        // Gather row-major: an odometer over every dimension but the last, and a run along it.
        let shape = reference.shape, strides = reference.strides
        let rank = shape.count
        var out = [UInt8](repeating: 0, count: byteCount)
        let source = file.bytes
        let swap = isBigEndian && width > 1
        out.withUnsafeMutableBytes { target in
            var index = [Int](repeating: 0, count: max(rank, 1))
            var written = 0
            let innerSize = rank == 0 ? 1 : shape[rank - 1]
            let innerStride = rank == 0 ? 0 : strides[rank - 1]
            while written < byteCount {
                var element = 0
                for d in 0..<max(rank - 1, 0) { element += index[d] * strides[d] }
                for j in 0..<innerSize {
                    let from = first + (element + j * innerStride) * width
                    for b in 0..<width {
                        target[written + b] = source[from + (swap ? width - 1 - b : b)]
                    }
                    written += width
                }
                // Advance the outer dimensions.
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1
                    if index[d] < shape[d] { break }
                    index[d] = 0
                    d -= 1
                }
                if d < 0 { break }
            }
        }
        return CheckpointTensor(name: name, dataType: dataType, shape: shape, bytes: out)
    }

    /// The model weights: the `state_dict` entry of a checkpoint dict (Lightning, deepspeech.pytorch
    /// packages), or the top-level dict itself when it is a plain state dict (every value a
    /// tensor). Entries whose value is not a tensor are left out; the order is the file's.
    public func stateDict() throws -> [(name: String, tensor: CheckpointTensor)] {
        guard let top = root.dictValue else {
            throw ModelFileError(path: path, problem: "holds \(root) rather than a dict, so it has no state_dict")
        }
        let dict: PickleDict
        if let nested = top["state_dict"]?.dictValue {
            dict = nested
        } else if !top.entries.isEmpty, top.entries.allSatisfy({ $0.key.stringValue != nil && $0.value.tensorValue != nil }) {
            dict = top
        } else {
            let keys = top.stringKeys.prefix(12).map { "'\($0)'" }.joined(separator: ", ")
            throw ModelFileError(path: path, problem: "has no state_dict (top-level keys: \(keys.isEmpty ? "none" : keys))")
        }
        var out: [(name: String, tensor: CheckpointTensor)] = []
        for entry in dict.entries {
            guard let name = entry.key.stringValue, let reference = entry.value.tensorValue else { continue }
            out.append((name, try tensor(reference, name: name)))
        }
        return out
    }
}
