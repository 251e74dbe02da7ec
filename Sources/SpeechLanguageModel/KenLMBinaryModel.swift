import MappedFiles
import Foundation

/// Why a language model file could not be read. Every message names the file.
public struct LanguageModelError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): \(problem)" }
}

/// A KenLM binary language model (`build_binary` output, format version 5), all model types:
/// probing, trie, quantized trie (`-q`, `-b`), with Bhiksha pointer compression (`-a`), with or
/// without stored vocabulary strings. The file is memory-mapped, not copied.
///
/// Scores are KenLM's to the bit (`KenLMQueryParityTests` compares them with KenLM's `query`).
public final class KenLMBinaryModel: NGramLanguageModel, @unchecked Sendable {
    // @unchecked: the mapped bytes are immutable after init and only read.

    public enum ModelType: Int32, Sendable { case probing = 0, restProbing = 1, trie = 2, quantTrie = 3, arrayTrie = 4, quantArrayTrie = 5 }

    public let path: String
    public let order: Int
    /// Counts as stored (the trie adds `<unk>` and blank n-grams; see the format notes).
    public let counts: [Int]
    public let modelType: ModelType
    /// Vocabulary words in id order, when the file stores them.
    public let vocabularyWords: [String]?
    /// Where the model's data ends (a scorer package's own data follows there).
    public let endOfModel: Int

    let file: MappedFile
    let search: any KenLMSearch
    let vocabulary: any KenLMVocabulary

    public convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    /// Reads the model at the start of a mapped file (a KenLM binary, or a scorer package,
    /// whose own data follows the model at ``endOfModel``).
    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        self.path = path
        func fail(_ problem: String) -> LanguageModelError { LanguageModelError(path: path, problem: problem) }
        let data = file.bytes
        let base = data.baseAddress!
        let magic = "mmap lm http://kheafield.com/code format version 5\n"
        guard data.count >= 108 else { throw fail("too short for a KenLM binary (\(data.count) bytes)") }
        let head = String(decoding: data.prefix(56).prefix { $0 != 0 }, as: UTF8.self)
        if head.hasPrefix("mmap lm http://kheafield.com/code incomplete") { throw fail("KenLM's build_binary did not finish this file (marked incomplete)") }
        guard head == magic else {
            if head.hasPrefix("mmap lm http://kheafield.com/code format version") { throw fail("unsupported KenLM binary version (\(head.trimmingCharacters(in: .whitespacesAndNewlines))); version 5 is read") }
            if String(decoding: data.prefix(256), as: UTF8.self).contains("\\data\\") {
                throw fail("this is an ARPA text file, not a KenLM binary; read it with ARPAModel")
            }
            throw fail("not a KenLM binary (no 'mmap lm' header)")
        }
        func u8(_ o: Int) -> Int { Int(base.load(fromByteOffset: o, as: UInt8.self)) }
        func i32(_ o: Int) -> Int32 { base.loadUnaligned(fromByteOffset: o, as: Int32.self) }
        func u64(_ o: Int) -> UInt64 { base.loadUnaligned(fromByteOffset: o, as: UInt64.self) }
        order = u8(88)
        guard order >= 1 && order <= 6 else { throw fail("order \(order) in the header; KenLM supports 1-6") }
        guard let type = ModelType(rawValue: i32(96)) else { throw fail("unknown model type \(i32(96))") }
        modelType = type
        let hasVocabulary = u8(100) != 0
        let headerEnd = 108 + 8 * order
        guard data.count >= headerEnd else { throw fail("truncated header") }
        counts = (0..<order).map { Int(exactly: u64(108 + 8 * $0)) ?? -1 }
        let headerSize = (headerEnd + 7) & ~7
        guard counts.allSatisfy({ $0 >= 0 && $0 < 1 << 40 }) else { throw fail("implausible n-gram counts \(counts)") }

        let vocabularyStart = headerSize
        let searchStart: Int
        switch type {
        case .probing, .restProbing:
            guard type == .probing else { throw fail("REST_PROBING models are not supported") }
            let vocab = try KenLMProbingVocabulary(base: base, offset: vocabularyStart, count: counts[0], fileSize: data.count, fail: fail)
            vocabulary = vocab
            searchStart = vocabularyStart + vocab.byteSize
            search = try KenLMProbingSearch(base: base, offset: searchStart, counts: counts, fileSize: data.count, fail: fail)
        case .trie, .quantTrie, .arrayTrie, .quantArrayTrie:
            let vocab = try KenLMSortedVocabulary(base: base, offset: vocabularyStart, count: counts[0], fileSize: data.count, fail: fail)
            vocabulary = vocab
            searchStart = vocabularyStart + vocab.byteSize
            search = try KenLMTrieSearch(base: base, offset: searchStart, counts: counts,
                                         quantized: type == .quantTrie || type == .quantArrayTrie,
                                         bhiksha: type == .arrayTrie || type == .quantArrayTrie,
                                         fileSize: data.count, fail: fail)
        }
        endOfModel = searchStart + search.byteSize
        guard endOfModel <= data.count else {
            throw fail("truncated: the header's counts need \(endOfModel) bytes, the file has \(data.count)")
        }
        if hasVocabulary {
            var words: [String] = []
            var start = endOfModel
            let bytes = data
            while words.count < counts[0], start < data.count {
                guard let end = bytes[start...].firstIndex(of: 0) else { break }
                words.append(String(decoding: bytes[start..<end], as: UTF8.self))
                start = end + 1
            }
            vocabularyWords = words
        } else {
            vocabularyWords = nil
        }
    }

    public func index(of word: String) -> WordIndex { vocabulary.index(of: word) }

    public func unigram(_ word: WordIndex) -> (prob: Float, backoff: Float, node: KenLMNode, independentLeft: Bool) {
        search.unigram(word)
    }

    public func middle(order n: Int, node: KenLMNode, word: WordIndex) -> (prob: Float, backoff: Float, node: KenLMNode, independentLeft: Bool)? {
        search.middle(order: n, node: node, word: word)
    }

    public func longest(node: KenLMNode, word: WordIndex) -> Float? { search.longest(node: node, word: word) }
}

/// A trie node range `[begin, end)` in the next order, or a probing model's n-gram hash.
public struct KenLMNode: Sendable {
    var begin: UInt64
    var end: UInt64
}

protocol KenLMVocabulary: Sendable {
    func index(of word: String) -> WordIndex
    var byteSize: Int { get }
}

protocol KenLMSearch: Sendable {
    var byteSize: Int { get }
    func unigram(_ word: WordIndex) -> (prob: Float, backoff: Float, node: KenLMNode, independentLeft: Bool)
    func middle(order n: Int, node: KenLMNode, word: WordIndex) -> (prob: Float, backoff: Float, node: KenLMNode, independentLeft: Bool)?
    func longest(node: KenLMNode, word: WordIndex) -> Float?
}

/// Trie models' vocabulary: the sorted MurmurHash64A of every word but `<unk>`; id = position + 1.
struct KenLMSortedVocabulary: KenLMVocabulary, @unchecked Sendable {
    let hashes: UnsafePointer<UInt64>
    let count: Int
    let byteSize: Int

    init(base: UnsafeRawPointer, offset: Int, count words: Int, fileSize: Int, fail: (String) -> LanguageModelError) throws {
        byteSize = 8 + 8 * words
        guard offset + byteSize <= fileSize else { throw fail("truncated in the vocabulary") }
        count = Int(exactly: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) ?? Int.max
        guard count < words + 1 else { throw fail("vocabulary holds \(count) words but the header counts \(words)") }
        guard offset % 8 == 0 else { throw fail("misaligned vocabulary") }
        hashes = (base + offset + 8).assumingMemoryBound(to: UInt64.self)
    }

    func index(of word: String) -> WordIndex {
        let key = MurmurHash64A.hash(Array(word.utf8))
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if hashes[mid] < key { lo = mid + 1 } else { hi = mid }
        }
        return lo < count && hashes[lo] == key ? WordIndex(lo + 1) : 0
    }
}

/// Probing models' vocabulary: a linear-probing table of `{uint64 hash; uint32 id}`.
struct KenLMProbingVocabulary: KenLMVocabulary, @unchecked Sendable {
    let table: UnsafeRawPointer
    let buckets: Int
    let byteSize: Int

    init(base: UnsafeRawPointer, offset: Int, count words: Int, fileSize: Int, fail: (String) -> LanguageModelError) throws {
        buckets = max(words + 1, Int(Float(1.5) * Float(words)))
        byteSize = 8 + 12 * buckets
        guard offset + byteSize <= fileSize else { throw fail("truncated in the vocabulary") }
        table = base + offset + 8
    }

    func index(of word: String) -> WordIndex {
        let key = MurmurHash64A.hash(Array(word.utf8))
        var b = Int(key % UInt64(buckets))
        for _ in 0..<buckets {
            let stored = table.loadUnaligned(fromByteOffset: 12 * b, as: UInt64.self)
            if stored == key { return table.loadUnaligned(fromByteOffset: 12 * b + 8, as: UInt32.self) }
            if stored == 0 { return 0 }
            b = b + 1 == buckets ? 0 : b + 1
        }
        return 0
    }
}
