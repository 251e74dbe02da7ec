import MappedFiles
import Foundation

/// A DeepSpeech / Coqui STT scorer package (`.scorer`, format 6): a KenLM binary, then
/// `"EIRT"`, the format version, the UTF-8 mode flag, the default alpha and beta, and the
/// vocabulary as an OpenFST `ConstFst` (see ../shared/docs/decoder-lm-formats.md §2-3).
public final class ScorerPackage: @unchecked Sendable {
    // @unchecked: everything is immutable after init (the FST reads the mapped file).
    public let path: String
    public let languageModel: KenLMBinaryModel
    /// Bytes mode: the "words" are single UTF-8 codepoints and labels are byte values.
    public let isUTF8Mode: Bool
    public let defaultAlpha: Double
    public let defaultBeta: Double
    /// The vocabulary graph: in alphabet mode each word is its labels (+1) then the space
    /// label (+1); in bytes mode each word is its UTF-8 bytes.
    public let vocabulary: ConstFst
    /// 6 for a `.scorer` package; 5 for DeepSpeech 0.6's `lm.binary` + `trie` pair.
    public let formatVersion: Int32
    /// The DeepSpeech 0.6 `trie` file the vocabulary came from (`nil` for a `.scorer`).
    public let triePath: String?

    public static let fileVersion: Int32 = 6

    public convenience init(path: String) throws {
        let file = try MappedFile(path: path)
        try self.init(file: file, languageModel: try KenLMBinaryModel(file: file))
    }

    /// The package in `file`, whose KenLM model at the start was already read as `languageModel`.
    public init(file: MappedFile, languageModel: KenLMBinaryModel) throws {
        let path = file.path
        self.path = path
        func fail(_ problem: String) -> LanguageModelError { LanguageModelError(path: path, problem: problem) }
        self.languageModel = languageModel
        let bytes = file.bytes
        let e = languageModel.endOfModel
        guard bytes.count > e else { throw fail("a KenLM model with nothing after it: not a scorer package (no vocabulary trie)") }
        if languageModel.vocabularyWords != nil && !LegacyTrieFile.hasMagic(bytes[e...]) {
            throw fail("a KenLM binary with its vocabulary strings and no 'TRIE' header after the model: not a scorer package (a DeepSpeech 0.6 lm.binary goes with its separate trie file)")
        }
        guard bytes.count >= e + 25 else { throw fail("truncated scorer header after the language model") }
        guard bytes[e..<(e + 4)].elementsEqual("EIRT".utf8) else { throw fail("no 'TRIE' header after the language model (at byte \(e))") }
        let version = bytes.loadUnaligned(fromByteOffset: e + 4, as: Int32.self)
        guard version == Self.fileVersion else {
            throw fail("scorer format version \(version); version 6 (DeepSpeech 0.7+ / Coqui STT) is read" + (version == 5 ? " (version 5 is DeepSpeech 0.6's separate trie file)" : ""))
        }
        isUTF8Mode = bytes[e + 8] != 0
        defaultAlpha = bytes.loadUnaligned(fromByteOffset: e + 9, as: Double.self)
        defaultBeta = bytes.loadUnaligned(fromByteOffset: e + 17, as: Double.self)
        vocabulary = try ConstFst(file: file, offset: e + 25, alignmentBase: 0, path: path)
        formatVersion = Self.fileVersion
        triePath = nil
    }

    /// DeepSpeech 0.6's pair: a KenLM binary (built without `-v`, so it stores its vocabulary
    /// strings, though any KenLM binary is taken) and the `trie` file made from them. The file
    /// carries no alpha/beta; the defaults are the 0.6 client's (0.75, 1.85) unless given.
    public init(languageModel: KenLMBinaryModel, trie: LegacyTrieFile,
                defaultAlpha: Double = LegacyTrieFile.defaultAlpha, defaultBeta: Double = LegacyTrieFile.defaultBeta) throws {
        let lmFile = languageModel.path
        if languageModel.endOfModel < languageModel.file.bytes.count,
           LegacyTrieFile.hasMagic(languageModel.file.bytes[languageModel.endOfModel...]) {
            throw LanguageModelError(path: lmFile, problem: "a scorer package, which carries its own vocabulary; a DeepSpeech 0.6 trie goes with a plain KenLM binary (lm.binary)")
        }
        path = lmFile
        self.languageModel = languageModel
        isUTF8Mode = trie.isUTF8Mode
        self.defaultAlpha = defaultAlpha
        self.defaultBeta = defaultBeta
        vocabulary = trie.vocabulary
        formatVersion = LegacyTrieFile.fileVersion
        triePath = trie.path
    }

    /// Reads DeepSpeech 0.6's `lm.binary` + `trie` pair.
    public convenience init(languageModelPath: String, triePath: String) throws {
        let model = try KenLMBinaryModel(path: languageModelPath)
        try self.init(languageModel: model, trie: try LegacyTrieFile(path: triePath))
    }

    /// Every word the vocabulary graph accepts, as label sequences (the +1 offset removed;
    /// in alphabet mode without the trailing space).
    public func vocabularyLabelSequences() -> [[Int]] {
        vocabulary.acceptedSequences().map { sequence in
            let labels = sequence.map { Int($0) - 1 }
            return isUTF8Mode ? labels : Array(labels.dropLast())
        }
    }
}

/// OpenFST's `ConstFst<StdArc>` as written by `fst::Write` with alignment: a 65-byte header,
/// then 20-byte states and 16-byte arcs, each block aligned to 16 bytes of the file.
public struct ConstFst: @unchecked Sendable {
    public let start: Int
    public let stateCount: Int
    public let arcCount: Int
    let states: UnsafeRawPointer   // {float final; uint32 pos; uint32 narcs; uint32 niepsilons; uint32 noepsilons}
    let arcs: UnsafeRawPointer     // {int32 ilabel; int32 olabel; float weight; int32 nextstate}
    let file: MappedFile

    public static let magic: Int32 = 2_125_659_606

    /// A graph from ``encode(acceptor:fileOffset:)``'s bytes (offset 0), held in memory.
    public init(encoded bytes: [UInt8]) {
        // The bytes come from encode(), so reading them cannot fail.
        try! self.init(file: MappedFile(copying: bytes, path: "<vocabulary>"), offset: 0, alignmentBase: 0, path: "<vocabulary>")
    }

    init(file: MappedFile, offset: Int, alignmentBase: Int, path: String) throws {
        self.file = file
        let bytes = file.bytes
        func fail(_ problem: String) -> LanguageModelError { LanguageModelError(path: path, problem: "vocabulary FST at byte \(offset): \(problem)") }
        var p = offset
        func need(_ n: Int) throws { guard p + n <= bytes.count else { throw fail("truncated") } }
        func int32() throws -> Int32 { try need(4); defer { p += 4 }; return bytes.loadUnaligned(fromByteOffset: p, as: Int32.self) }
        func int64() throws -> Int64 { try need(8); defer { p += 8 }; return bytes.loadUnaligned(fromByteOffset: p, as: Int64.self) }
        func string() throws -> String {
            let n = Int(try int32())
            guard n >= 0 && n < 256 else { throw fail("bad string length \(n)") }
            try need(n)
            defer { p += n }
            return String(decoding: bytes[p..<(p + n)], as: UTF8.self)
        }
        guard try int32() == Self.magic else { throw fail("not an OpenFST file (bad magic)") }
        let type = try string(), arcType = try string()
        guard type == "const", arcType == "standard" else { throw fail("a '\(type)' FST of '\(arcType)' arcs; a const FST of standard arcs is read") }
        let version = try int32(), flags = try int32()
        _ = try int64()   // properties
        let start = try int64(), states = try int64(), arcs = try int64()
        guard flags & 0x3 == 0 else { throw fail("symbol tables are not expected in a scorer") }
        guard states >= 0, arcs >= 0, start >= -1, start < max(states, 1) else {
            throw fail("bad counts (start \(start), \(states) states, \(arcs) arcs)")
        }
        guard states <= Int64(bytes.count / 20), arcs <= Int64(bytes.count / 16), Int(states) * 20 + Int(arcs) * 16 <= bytes.count - p else {
            throw fail("truncated: the header counts \(states) states and \(arcs) arcs, which need at least \(Int(states) * 20 + Int(arcs) * 16) more bytes; \(bytes.count - p) follow")
        }
        let aligned = version == 1 || flags & 0x4 != 0
        func align() { if aligned { while (p - alignmentBase) % 16 != 0 { p += 1 } } }
        align()
        try need(Int(states) * 20)
        self.states = bytes.baseAddress! + p
        p += Int(states) * 20
        align()
        try need(Int(arcs) * 16)
        self.arcs = bytes.baseAddress! + p
        self.start = Int(start)
        stateCount = Int(states)
        arcCount = Int(arcs)
        for s in 0..<stateCount {
            let (pos, n) = arcRange(s)
            guard pos + n <= arcCount else { throw fail("state \(s) points past the arcs") }
        }
        for a in 0..<arcCount {
            let target = self.arcs.loadUnaligned(fromByteOffset: 16 * a + 12, as: Int32.self)
            guard target >= 0, Int(target) < stateCount else { throw fail("arc \(a) leads to state \(target) of \(stateCount)") }
        }
    }

    func arcRange(_ s: Int) -> (Int, Int) {
        (Int(states.loadUnaligned(fromByteOffset: 20 * s + 4, as: UInt32.self)), Int(states.loadUnaligned(fromByteOffset: 20 * s + 8, as: UInt32.self)))
    }

    /// Calls `body` with every arc (source state, label, target state), state by state.
    public func forEachArc(_ body: (_ from: Int, _ label: Int32, _ to: Int) throws -> Void) rethrows {
        for s in 0..<stateCount {
            let (pos, n) = arcRange(s)
            for a in pos..<(pos + n) {
                try body(s, arcs.loadUnaligned(fromByteOffset: 16 * a, as: Int32.self),
                         Int(arcs.loadUnaligned(fromByteOffset: 16 * a + 12, as: Int32.self)))
            }
        }
    }

    /// Whether `state` is final (its final weight is not +∞).
    public func isFinal(_ state: Int) -> Bool { states.loadUnaligned(fromByteOffset: 20 * state, as: Float.self) != .infinity }

    /// The state reached from `state` by `label`, if any (arcs are sorted by label).
    public func next(_ state: Int, label: Int32) -> Int? {
        let (pos, n) = arcRange(state)
        var lo = pos, hi = pos + n
        while lo < hi {
            let mid = (lo + hi) / 2
            let l = arcs.loadUnaligned(fromByteOffset: 16 * mid, as: Int32.self)
            if l < label { lo = mid + 1 } else if l > label { hi = mid } else {
                return Int(arcs.loadUnaligned(fromByteOffset: 16 * mid + 12, as: Int32.self))
            }
        }
        return nil
    }

    /// Every label sequence from the start to a final state (the graph is acyclic).
    public func acceptedSequences() -> [[Int32]] {
        guard start >= 0 else { return [] }
        var out: [[Int32]] = []
        var path: [Int32] = []
        func walk(_ s: Int, depth: Int) {
            guard depth < 1000 else { return }
            if isFinal(s) { out.append(path) }
            let (pos, n) = arcRange(s)
            for a in pos..<(pos + n) {
                path.append(arcs.loadUnaligned(fromByteOffset: 16 * a, as: Int32.self))
                walk(Int(arcs.loadUnaligned(fromByteOffset: 16 * a + 12, as: Int32.self)), depth: depth + 1)
                path.removeLast()
            }
        }
        walk(start, depth: 0)
        return out
    }
}

extension ConstFst {
    /// The bytes of an OpenFST `ConstFst<StdArc>` (version 1, aligned) accepting exactly
    /// `sequences` (labels as stored, i.e. already +1): a trie, states numbered breadth-first
    /// with arcs sorted by label, so it is deterministic and `SortedMatcher` can search it.
    /// `fileOffset` is where the FST will start in its file (alignment is to the file).
    public static func encode(acceptor sequences: [[Int32]], fileOffset: Int) -> (bytes: [UInt8], states: Int, arcs: Int) {
        var children: [[Int32: Int]] = [[:]]
        var final = [false]
        for sequence in sequences {
            var s = 0
            for label in sequence {
                if let t = children[s][label] { s = t } else {
                    children.append([:])
                    final.append(false)
                    children[s][label] = children.count - 1
                    s = children.count - 1
                }
            }
            final[s] = true
        }
        var order = [0], index = [0: 0]
        var k = 0
        while k < order.count {
            for label in children[order[k]].keys.sorted() {
                let t = children[order[k]][label]!
                index[t] = order.count
                order.append(t)
            }
            k += 1
        }
        var states: [UInt8] = [], arcs: [UInt8] = []
        var arcCount = 0
        func append<T>(_ value: T, to out: inout [UInt8]) { withUnsafeBytes(of: value) { out.append(contentsOf: $0) } }
        for s in order {
            let labels = children[s].keys.sorted()
            append(final[s] ? Float(0) : Float.infinity, to: &states)
            append(UInt32(arcCount), to: &states)
            append(UInt32(labels.count), to: &states)
            append(UInt32(0), to: &states)
            append(UInt32(0), to: &states)
            for label in labels {
                append(label, to: &arcs); append(label, to: &arcs); append(Float(0), to: &arcs)
                append(Int32(index[children[s][label]!]!), to: &arcs)
            }
            arcCount += labels.count
        }
        var out: [UInt8] = []
        append(Self.magic, to: &out)
        for string in ["const", "standard"] { append(Int32(string.utf8.count), to: &out); out.append(contentsOf: string.utf8) }
        append(Int32(1), to: &out)                       // version 1: aligned
        append(Int32(4), to: &out)                       // IS_ALIGNED
        append(UInt64(0xa5aa_5a95_0001), to: &out)        // properties (as generate_scorer_package's acceptors)
        append(Int64(0), to: &out)
        append(Int64(order.count), to: &out)
        append(Int64(arcCount), to: &out)
        while (fileOffset + out.count) % 16 != 0 { out.append(0) }
        out += states
        while (fileOffset + out.count) % 16 != 0 { out.append(0) }
        out += arcs
        return (out, order.count, arcCount)
    }
}

extension ScorerPackage {
    /// Writes a scorer package: the KenLM binary's bytes (which must end where its search data
    /// ends, i.e. built with `build_binary -v`), the `EIRT` header and the vocabulary FST.
    public static func write(languageModel lmPath: String, sequences: [[Int32]], utf8Mode: Bool, alpha: Float, beta: Float,
                             to path: String) throws -> (states: Int, arcs: Int) {
        let file = try MappedFile(path: lmPath)
        let model = try KenLMBinaryModel(file: file)
        guard model.vocabularyWords == nil, model.endOfModel == file.bytes.count else {
            throw LanguageModelError(path: lmPath, problem: model.vocabularyWords != nil
                ? "the model stores its vocabulary strings; build it with build_binary -v so the scorer data can follow the model"
                : "\(file.bytes.count - model.endOfModel) bytes follow the model (is it already a scorer package?)")
        }
        var bytes = [UInt8](file.bytes)
        bytes += Array("EIRT".utf8)
        withUnsafeBytes(of: Self.fileVersion) { bytes.append(contentsOf: $0) }
        bytes.append(utf8Mode ? 1 : 0)
        withUnsafeBytes(of: Double(alpha)) { bytes.append(contentsOf: $0) }   // (double)(float), as the reference tool
        withUnsafeBytes(of: Double(beta)) { bytes.append(contentsOf: $0) }
        let fst = ConstFst.encode(acceptor: sequences, fileOffset: bytes.count)
        bytes += fst.bytes
        do { try Data(bytes).write(to: URL(fileURLWithPath: path)) } catch {
            throw LanguageModelError(path: path, problem: "cannot write the scorer (\(error.localizedDescription))")
        }
        return (fst.states, fst.arcs)
    }
}
