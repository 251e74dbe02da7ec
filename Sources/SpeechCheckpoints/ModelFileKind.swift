/// What a file looks like from its first bytes, so that passing the wrong file as a model
/// gets a message that says what it is and what was expected.
public enum ModelFileKind: Sendable, Equatable {
    case tflite
    case tensorFlowGraph
    case tensorFlowMemmapped
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
        if ascii(0..<12) == "mmap lm http" { return .kenLMBinaryOrScorer }
        if ascii(0..<6) == "\\data\\" || (bytes.first == 0x0A && ascii(1..<7) == "\\data\\") { return .arpa }
        if ascii(0..<4) == "RIFF" { return .audio("WAV") }
        if ascii(0..<4) == "fLaC" { return .audio("FLAC") }
        if ascii(0..<4) == "OggS" { return .audio("OGG") }
        if ascii(0..<3) == "ID3" { return .audio("MP3") }
        if ascii(0..<4) == "PK\u{03}\u{04}" { return .zip }
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

    /// The message for a file of this kind passed where a `.tflite` model is expected.
    public var refusal: String {
        let expected = "--model expects a TensorFlow Lite model (.tflite), as shipped with Mozilla DeepSpeech 0.7–0.9 and Coqui STT 1.x"
        switch self {
        case .tflite: return "is a TensorFlow Lite model"
        case .tensorFlowGraph: return "is a TensorFlow frozen graph (.pb); this version reads only .tflite models. \(expected)"
        case .tensorFlowMemmapped: return "is a memory-mapped TensorFlow graph (.pbmm); this version reads only .tflite models. \(expected)"
        case .kenLMBinaryOrScorer: return "is a language model (a KenLM binary or a DeepSpeech/Coqui .scorer package), not an acoustic model; language models go with --scorer. \(expected)"
        case .arpa: return "is an ARPA language model, not an acoustic model. \(expected)"
        case .audio(let format): return "is a \(format) audio file, not a model (did you swap --model and --audio?). \(expected)"
        case .zip: return "is a zip archive (a PyTorch .pth/.ckpt checkpoint?); DeepSpeech2 checkpoints are not supported yet. \(expected)"
        case .empty: return "the file is empty. \(expected)"
        case .unknown: return "is not a TensorFlow Lite model (no 'TFL3' identifier at byte 4). \(expected)"
        }
    }
}
