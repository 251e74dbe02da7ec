import Foundation

/// A back-off language model read from an ARPA text file and held in memory, scored exactly as
/// KenLM scores the same file (KenLM loads ARPA into its probing structure; this mirrors it):
/// zero or missing backoffs are "no extension" (−0.0) unless the n-gram is the context of a
/// longer one (+0.0); n-grams that end a longer n-gram are marked as extending to the left; and
/// where SRILM pruning removed the suffix of a kept n-gram, a blank entry is added whose
/// probability is what backing off gives, so lookups reach the longer n-gram.
///
/// Checks the file as KenLM does and names the line of every problem: the `\data\` counts,
/// section headers, fields, words missing from the unigrams, positive probabilities, a backoff
/// on the highest order.
public final class ARPAModel: NGramLanguageModel, @unchecked Sendable {
    // @unchecked: all storage is immutable after init.
    public let path: String
    public let order: Int
    /// The counts announced in `\data\` (and found).
    public let counts: [Int]
    /// Words in id order; id 0 is `<unk>` (added with log10 probability −100 when missing).
    public let words: [String]
    /// Whether the file had its own `<unk>`.
    public let hasUnknown: Bool

    struct Entry { var prob: Float; var backoff: Float; var extendsLeft: Bool }
    private let ids: [String: WordIndex]
    private var unigramEntries: [Entry]
    /// Orders 2 … N, keyed by KenLM's combined word hash of the n-gram.
    private var tables: [[UInt64: Entry]]
    /// The n-grams of each order 2 … N as read (ARPA word ids, text order).
    let ngramWords: [[[WordIndex]]]
    /// Whether suffixes missing from the file had to be added as blanks (SRILM pruning).
    public private(set) var hasBlanks = false

    /// KenLM's default probability for `<unk>` when the ARPA file has none.
    public static let missingUnknownLog10Probability: Float = -100

    public convenience init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LanguageModelError(path: path, problem: "cannot read the file")
        }
        try self.init(text: String(decoding: data, as: UTF8.self), path: path)
    }

    public init(text: String, path: String = "<arpa>") throws {
        self.path = path
        var lineNumber = 0
        func fail(_ problem: String) -> LanguageModelError { LanguageModelError(path: path, problem: "line \(lineNumber): \(problem)") }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" }).makeIterator()
        func nextLine() -> Substring? {
            guard var line = lines.next() else { return nil }
            lineNumber += 1
            if line.hasSuffix("\r") { line = line.dropLast() }
            return line
        }
        // Header: blank lines and comments, then \data\ and the counts.
        var announced: [Int] = []
        while true {
            guard let line = nextLine() else { throw fail("no \\data\\ section; not an ARPA file") }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard trimmed == "\\data\\" else {
                if line.utf8.first == 0x1F { throw fail("this looks gzip-compressed; decompress it first") }
                if trimmed.hasPrefix("mmap lm") { throw fail("this is a KenLM binary; read it with KenLMBinaryModel") }
                throw fail("expected \\data\\, found '\(trimmed.prefix(40))'")
            }
            break
        }
        while let line = nextLine() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { if announced.isEmpty { continue } else { break } }
            guard trimmed.hasPrefix("ngram "), let eq = trimmed.firstIndex(of: "="),
                  let n = Int(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 6)..<eq].trimmingCharacters(in: .whitespaces)),
                  let c = Int(trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)) else {
                throw fail("expected 'ngram N=count', found '\(trimmed.prefix(40))'")
            }
            guard n == announced.count + 1 else { throw fail("ngram \(n) out of order (expected \(announced.count + 1))") }
            guard c >= 0 else { throw fail("negative count") }
            announced.append(c)
        }
        guard !announced.isEmpty else { throw fail("no 'ngram N=count' lines after \\data\\") }
        order = announced.count
        counts = announced

        // Sections.
        var ids: [String: WordIndex] = ["<unk>": 0]
        var words = ["<unk>"]
        var unigrams = [Entry(prob: Self.missingUnknownLog10Probability, backoff: -0.0, extendsLeft: false)]
        var sawUnknown = false
        var grams: [[(words: [WordIndex], prob: Float, backoff: Float)]] = []
        for n in 1...order {
            // Find the section header.
            while true {
                guard let line = nextLine() else { throw fail("missing \\\(n)-grams: section") }
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { continue }
                guard trimmed == "\\\(n)-grams:" else { throw fail("expected \\\(n)-grams:, found '\(trimmed.prefix(40))'") }
                break
            }
            var section: [(words: [WordIndex], prob: Float, backoff: Float)] = []
            section.reserveCapacity(announced[n - 1])
            while section.count < announced[n - 1] {
                guard let line = nextLine() else { throw fail("the file ends inside the \(n)-grams (\(section.count) of \(announced[n - 1]))") }
                if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard fields.count == n + 1 || fields.count == n + 2 else {
                    throw fail("a \(n)-gram line needs a probability, \(n) word(s) and an optional backoff; found \(fields.count) fields")
                }
                guard let prob = Float(fields[0]) ?? Self.special(fields[0]) else { throw fail("'\(fields[0])' is not a number") }
                guard prob <= 0 else { throw fail("positive log probability \(prob)") }
                var backoff: Float = 0
                if fields.count == n + 2 {
                    guard let b = Float(fields[n + 1]) ?? Self.special(fields[n + 1]), b.isFinite else { throw fail("'\(fields[n + 1])' is not a finite backoff") }
                    guard n < order || b == 0 else { throw fail("the highest order (\(n)) cannot have a backoff") }
                    backoff = b
                }
                var key: [WordIndex] = []
                for w in fields[1...n] {
                    var word = String(w)
                    if word == "<UNK>" { word = "<unk>" }
                    if n == 1 {
                        if word == "<unk>" {
                            sawUnknown = true
                            unigrams[0] = Entry(prob: prob, backoff: backoff == 0 ? -0.0 : backoff, extendsLeft: false)
                            key.append(0)
                        } else {
                            guard ids[word] == nil else { throw fail("the unigram '\(word)' appears twice") }
                            ids[word] = WordIndex(words.count)
                            key.append(WordIndex(words.count))
                            words.append(word)
                            unigrams.append(Entry(prob: prob, backoff: backoff == 0 ? -0.0 : backoff, extendsLeft: false))
                        }
                    } else {
                        guard let id = ids[word] else { throw fail("the word '\(word)' was not seen in the unigrams") }
                        key.append(id)
                    }
                }
                section.append((key, prob, backoff == 0 ? -0.0 : backoff))
            }
            grams.append(section)
        }
        while let line = nextLine() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard trimmed == "\\end\\" else { throw fail("expected \\end\\, found '\(trimmed.prefix(40))'") }
            break
        }
        self.ids = ids
        self.words = words
        hasUnknown = sawUnknown
        unigramEntries = unigrams
        tables = Array(repeating: [:], count: max(0, order - 1))
        // Orders ascending: store, mark contexts as extendable and suffixes as extending left,
        // adding blanks for suffixes SRILM pruned.
        ngramWords = grams.dropFirst().map { $0.map(\.words) }
        for n in 2...max(2, order) where n <= order {
            for g in grams[n - 1] {
                tables[n - 2][Self.key(g.words)] = Entry(prob: g.prob, backoff: g.backoff, extendsLeft: false)
            }
            for g in grams[n - 1] {
                markContext(Array(g.words.dropLast()))
                ensureSuffix(Array(g.words.dropFirst()))
            }
        }
    }

    static func special(_ s: Substring) -> Float? {
        switch s.lowercased() { case "-inf", "-infinity": return -.infinity; default: return nil }
    }

    /// KenLM's key for words `w1 … wn` in text order: start from wn, combine leftwards.
    static func key(_ words: [WordIndex]) -> UInt64 {
        var h = UInt64(words.last!)
        for w in words.dropLast().reversed() { h = KenLMProbingSearch.combine(h, w) }
        return h
    }

    /// The context of a longer n-gram can be extended: a −0.0 backoff becomes +0.0.
    private func markContext(_ context: [WordIndex]) {
        if context.count == 1 {
            if !Self.hasExtension(unigramEntries[Int(context[0])].backoff) { unigramEntries[Int(context[0])].backoff = 0 }
        } else if let e = tables[context.count - 2][Self.key(context)], !Self.hasExtension(e.backoff) {
            tables[context.count - 2][Self.key(context)]!.backoff = 0
        }
    }

    /// The suffix of a longer n-gram extends left; when missing, it is added as a blank.
    private func ensureSuffix(_ suffix: [WordIndex]) {
        if suffix.count == 1 { unigramEntries[Int(suffix[0])].extendsLeft = true; return }
        let k = Self.key(suffix)
        if tables[suffix.count - 2][k] != nil {
            tables[suffix.count - 2][k]!.extendsLeft = true
            return
        }
        hasBlanks = true
        ensureSuffix(Array(suffix.dropFirst()))
        // Blank: the probability backing off gives, P(w | shorter context) + backoff(context).
        let shorter = Array(suffix.dropFirst())
        let lower = shorter.count == 1 ? unigramEntries[Int(shorter[0])].prob : tables[shorter.count - 2][Self.key(shorter)]!.prob
        let context = Array(suffix.dropLast())
        let contextBackoff: Float = context.count == 1 ? unigramEntries[Int(context[0])].backoff
            : (tables[context.count - 2][Self.key(context)]?.backoff ?? 0)
        tables[suffix.count - 2][k] = Entry(prob: lower + contextBackoff, backoff: -0.0, extendsLeft: true)
    }

    /// Probability and backoff (with KenLM's extension marks) of an n-gram given as ARPA ids.
    func entry(_ words: [WordIndex]) -> (prob: Float, backoff: Float) {
        if words.count == 1 { let e = unigramEntries[Int(words[0])]; return (e.prob, e.backoff) }
        let e = tables[words.count - 2][Self.key(words)]!
        return (e.prob, e.backoff)
    }

    // MARK: - NGramLanguageModel

    public func index(of word: String) -> WordIndex { ids[word == "<UNK>" ? "<unk>" : word] ?? 0 }

    public func unigram(_ word: WordIndex) -> (prob: Float, backoff: Float, node: UInt64, independentLeft: Bool) {
        let e = unigramEntries[Int(min(Int(word), unigramEntries.count - 1))]
        return (e.prob, e.backoff, UInt64(word), !e.extendsLeft)
    }

    public func middle(order n: Int, node: UInt64, word: WordIndex) -> (prob: Float, backoff: Float, node: UInt64, independentLeft: Bool)? {
        let key = KenLMProbingSearch.combine(node, word)
        guard let e = tables[n - 2][key] else { return nil }
        return (e.prob, e.backoff, key, !e.extendsLeft)
    }

    public func longest(node: UInt64, word: WordIndex) -> Float? {
        tables[order - 2][KenLMProbingSearch.combine(node, word)]?.prob
    }
}
