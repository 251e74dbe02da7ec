import MappedFiles
import Foundation

/// DeepSpeech 0.6's vocabulary file (`trie`, format 5), the companion of its `lm.binary`:
/// `int32 'TRIE'` (bytes `"EIRT"`), `int32` version 5, `uint8` UTF-8 mode flag, then an OpenFST
/// `ConstFst<StdArc>` written with alignment relative to the start of this file (the 9 + 65
/// header bytes are padded to 80). There are no alpha/beta in it; the 0.6 client's defaults
/// were 0.75 and 1.85 (passed as floats). See ../shared/docs/decoder-lm-formats.md §2.3, §3 and
/// DeepSpeech v0.6.1 native_client/ctcdecode/scorer.cpp (`setup`, `save_dictionary`).
///
/// Older files are recognised and refused: version 3 (DeepSpeech 0.4-0.5: a bool then an
/// unaligned `VectorFst`), versions 1-2 (DeepSpeech 0.2-0.3's own trie nodes).
public struct LegacyTrieFile: Sendable {
    public let path: String
    /// Bytes mode: the words are single codepoints and labels are byte values.
    public let isUTF8Mode: Bool
    /// The vocabulary graph, laid out as a scorer package's (labels + 1; alphabet-mode words end
    /// with the space label + 1).
    public let vocabulary: ConstFst

    public static let fileVersion: Int32 = 5
    /// `'TRIE'` as a little-endian multi-character int32.
    public static let magic: [UInt8] = Array("EIRT".utf8)
    /// magic + version + mode flag.
    public static let headerSize = 9
    /// The 0.6 client's `--lm_alpha` / `--lm_beta` defaults (C floats, widened to double).
    public static let defaultAlpha = Double(Float(0.75)), defaultBeta = Double(Float(1.85))

    public struct Header: Equatable, Sendable {
        public var version: Int32
        public var isUTF8Mode: Bool
        public init(version: Int32, isUTF8Mode: Bool) { self.version = version; self.isUTF8Mode = isUTF8Mode }
    }

    /// Whether `bytes` start with the `'TRIE'` magic (any version): a DeepSpeech trie file, or a
    /// scorer package's vocabulary part on its own.
    public static func hasMagic<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        bytes.prefix(4).elementsEqual(magic)
    }

    /// Reads and checks the 9-byte header; refuses every version but 5 with a message naming
    /// the DeepSpeech release that wrote it.
    public static func readHeader<C: Collection>(_ bytes: C, path: String) throws -> Header where C.Element == UInt8 {
        func fail(_ problem: String) -> LanguageModelError { LanguageModelError(path: path, problem: problem) }
        let head = Array(bytes.prefix(headerSize))
        guard head.count >= 4, hasMagic(head) else {
            if head.starts(with: Array("mmap lm ".utf8)) {
                throw fail("a KenLM binary (lm.binary), not a DeepSpeech trie file")
            }
            throw fail("not a DeepSpeech trie file (no 'TRIE' header)")
        }
        guard head.count >= 8 else { throw fail("truncated DeepSpeech trie file (\(head.count) bytes; the header alone is \(headerSize))") }
        let version = head.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: Int32.self) }
        switch version {
        case fileVersion: break
        case 3:
            throw fail("a DeepSpeech 0.4/0.5 trie file (format version 3, an unaligned VectorFst), which is not read; "
                       + "regenerate it with DeepSpeech 0.6's generate_trie or build a .scorer package (deepspeech scorer build)")
        case 1, 2:
            throw fail("a DeepSpeech 0.\(version + 1) trie file (format version \(version)), which is not read; "
                       + "build a .scorer package instead (deepspeech scorer build)")
        default:
            throw fail("DeepSpeech trie format version \(version); version 5 (DeepSpeech 0.6) is read")
        }
        guard head.count >= headerSize else { throw fail("truncated DeepSpeech trie file (\(head.count) bytes; the header alone is \(headerSize))") }
        return Header(version: version, isUTF8Mode: head[8] != 0)
    }

    public init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        path = file.path
        let header = try Self.readHeader(file.bytes, path: path)
        isUTF8Mode = header.isUTF8Mode
        // ConstFst's own messages say "vocabulary FST at byte 9: …" and name the file.
        vocabulary = try ConstFst(file: file, offset: Self.headerSize, alignmentBase: 0, path: path)
    }

    /// The bytes of a format-5 trie file accepting `sequences` (labels as stored, i.e. + 1).
    public static func encode(acceptor sequences: [[Int32]], utf8Mode: Bool, version: Int32 = fileVersion) -> [UInt8] {
        var out = magic
        withUnsafeBytes(of: version) { out.append(contentsOf: $0) }
        out.append(utf8Mode ? 1 : 0)
        out += ConstFst.encode(acceptor: sequences, fileOffset: out.count).bytes
        return out
    }
}
