import Foundation

/// What a file looks like from its first bytes, so that passing the wrong file as a model
/// gets a message that says what it is and what was expected.
public enum ModelFileKind: Sendable, Equatable {
    case tflite
    /// swift-deepspeech's own converted model file (magic "SDSMODEL").
    case converted
    case tensorFlowGraph
    case tensorFlowMemmapped
    /// A TensorFlow checkpoint's `.index` (or its prefix, or one of its `.data-*` shards).
    case tensorFlowCheckpoint
    /// `torch.save`'s legacy (pre-1.6) format: pickles, then raw storages.
    case pytorchLegacy
    case kenLMBinaryOrScorer
    case arpa
    case audio(String)
    case zip
    case empty
    case unknown

    public static func sniff<C: Collection>(_ head: C, fileSize: Int) -> ModelFileKind where C.Element == UInt8 {
        let bytes = Array(head.prefix(64))
        if fileSize == 0 || bytes.isEmpty { return .empty }
        func ascii(_ range: Range<Int>) -> String {
            bytes.count >= range.upperBound ? String(decoding: bytes[range], as: UTF8.self) : ""
        }
        if ascii(4..<8) == "TFL3" { return .tflite }
        if ascii(0..<8) == "SDSMODEL" { return .converted }
        if ascii(0..<12) == "mmap lm http" { return .kenLMBinaryOrScorer }
        if ascii(0..<6) == "\\data\\" || (bytes.first == 0x0A && ascii(1..<7) == "\\data\\") { return .arpa }
        if ascii(0..<4) == "RIFF" { return .audio("WAV") }
        if ascii(0..<4) == "fLaC" { return .audio("FLAC") }
        if ascii(0..<4) == "OggS" { return .audio("OGG") }
        if ascii(0..<3) == "ID3" { return .audio("MP3") }
        if ascii(0..<4) == "PK\u{03}\u{04}" { return .zip }
        // torch.save's legacy format opens with the pickled magic number: PROTO 2, LONG1 of 10 bytes.
        if bytes.count >= 4 && bytes[0] == 0x80 && bytes[1] == 0x02 && bytes[2] == 0x8A && bytes[3] == 0x0A { return .pytorchLegacy }
        // A GraphDef starts with field 1 (node, length-delimited: 0x0A) whose NodeDef starts
        // with field 1 (name: 0x0A) too.
        if bytes.count >= 4 && bytes[0] == 0x0A {
            var i = 1, length = 0, shift = 0
            while i < bytes.count && i < 6 {
                length |= Int(bytes[i] & 0x7F) << shift
                shift += 7
                if bytes[i] & 0x80 == 0 { break }
                i += 1
            }
            if i + 1 < bytes.count && bytes[i + 1] == 0x0A && length > 0 { return .tensorFlowGraph }
        }
        // A memmapped graph (.pbmm) is a sequence of 64-byte-aligned regions; its first region
        // is usually a tensor, and its directory sits at the end: recognise it by name.
        return .unknown
    }

    /// Looks at a file (its first bytes, and its last ones for the formats whose directory sits
    /// at the end). A path that names no file but is a checkpoint prefix (`model.ckpt` beside
    /// `model.ckpt.index`) is a checkpoint.
    public static func sniff(path: String) throws -> ModelFileKind {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if stat(path + ".index", &info) == 0 { return .tensorFlowCheckpoint }
            throw ModelFileError(path: path, problem: "no such file")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw ModelFileError(path: path, problem: "it is a directory, not a model file") }
        let name = (path as NSString).lastPathComponent
        if name.range(of: #"\.data-\d{5}-of-\d{5}$"#, options: .regularExpression) != nil {
            return .tensorFlowCheckpoint
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ModelFileError(path: path, problem: "cannot read the file") }
        defer { try? handle.close() }
        let size = Int(info.st_size)
        let head = (try? handle.read(upToCount: 64)) ?? Data()
        let kind = sniff([UInt8](head), fileSize: size)
        guard kind == .unknown || kind == .tensorFlowGraph, size >= 48 else { return kind }
        try? handle.seek(toOffset: UInt64(size - 48))
        let tail = [UInt8]((try? handle.read(upToCount: 48)) ?? Data())
        guard tail.count == 48 else { return kind }
        // A checkpoint index is an SSTable: its 48-byte footer ends with the magic 0xdb4775248b80fb57.
        if tail[40..<48].elementsEqual([0x57, 0xFB, 0x80, 0x8B, 0x24, 0x75, 0x47, 0xDB]) { return .tensorFlowCheckpoint }
        // A memory-mapped graph ends with the u64 offset of its directory, whose first entry
        // names a `memmapped_package://` region.
        let directory = tail[40..<48].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if directory < UInt64(size - 8), UInt64(size) - directory < 1 << 20 {
            try? handle.seek(toOffset: directory)
            let bytes = (try? handle.read(upToCount: size - 8 - Int(directory))) ?? Data()
            if String(decoding: bytes, as: UTF8.self).contains("memmapped_package://") { return .tensorFlowMemmapped }
        }
        return kind
    }

    /// The message for a file of this kind passed where an acoustic model is expected.
    public var refusal: String {
        let expected = "--model expects an acoustic model: TensorFlow Lite (.tflite), a TensorFlow graph (.pb, .pbmm) or checkpoint (.index), or a deepspeech.pytorch checkpoint (.pth, .ckpt)"
        switch self {
        case .tflite: return "is a TensorFlow Lite model"
        case .converted: return "is a swift-deepspeech model file"
        case .tensorFlowGraph: return "is a TensorFlow frozen graph (.pb)"
        case .tensorFlowMemmapped: return "is a memory-mapped TensorFlow graph (.pbmm)"
        case .tensorFlowCheckpoint: return "is a TensorFlow checkpoint"
        case .pytorchLegacy: return "is a PyTorch checkpoint (legacy torch.save format)"
        case .kenLMBinaryOrScorer: return "is a language model (a KenLM binary or a DeepSpeech/Coqui .scorer package), not an acoustic model; language models go with --scorer. \(expected)"
        case .arpa: return "is an ARPA language model, not an acoustic model. \(expected)"
        case .audio(let format): return "is a \(format) audio file, not a model (did you swap --model and --audio?). \(expected)"
        case .zip: return "is a zip archive but not a PyTorch checkpoint (no data.pkl). \(expected)"
        case .empty: return "the file is empty. \(expected)"
        case .unknown: return "is not a model file this engine recognises (no TensorFlow Lite 'TFL3' identifier, no GraphDef, memmapped directory, checkpoint footer or torch.save header). \(expected)"
        }
    }
}
