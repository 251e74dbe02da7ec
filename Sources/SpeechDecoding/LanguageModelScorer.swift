import MappedFiles
import SpeechLanguageModel

/// Coqui STT's `Scorer` as a ``PrefixScorer``: a scorer package's vocabulary graph restricts
/// which prefixes may exist, and at every word boundary the completed word is scored with the
/// language model: `log_p += (ln P_LM(word | previous words) + hot-word boosts) · alpha + beta`
/// (−1000 in place of ln P when any word of the n-gram is out of the LM's vocabulary). When
/// candidates are produced, an unfinished last word is scored the same way, without boosts.
///
/// Word boundaries: in alphabet mode a space label ends the word before it; in UTF-8 (bytes)
/// mode every complete codepoint is a "word". The float/double rounding follows the
/// reference, step by step (see the comments), so that scores match it.
public struct LanguageModelScorer: PrefixScorer, Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        ObjectIdentifier(a.languageModel as AnyObject) == ObjectIdentifier(b.languageModel as AnyObject) && a.alpha == b.alpha
            && a.beta == b.beta && a.hotWords == b.hotWords && a.alphabet.labels == b.alphabet.labels && a.isUTF8Mode == b.isUTF8Mode
    }

    /// The n-gram model that scores words.
    public let languageModel: any NGramLanguageModel
    /// The words prefixes may spell (`nil`: any label sequence).
    public let vocabulary: ConstFst?
    /// Bytes mode: every codepoint is a word and labels are UTF-8 bytes − 1.
    public let isUTF8Mode: Bool
    public let alphabet: Alphabet
    /// The language-model weight and the per-word bonus (Coqui: `SetScorerAlphaBeta`).
    public private(set) var alpha: Double
    public private(set) var beta: Double
    /// Words and their boosts (Coqui: `AddHotWord`); added to ln P_LM inside the alpha term.
    public private(set) var hotWords: [String: Float]

    /// The reference's stand-in for ln P of an n-gram with an out-of-vocabulary word.
    public static let outOfVocabularyScore = -1000.0
    /// log10(e) as the reference has it (a float constant).
    static let log10e: Float = 0.4342944819
    /// DeepSpeech's default weights, used for a bare language model that carries none.
    public static let defaultAlpha = 0.75, defaultBeta = 1.85

    /// A scorer package: its model, vocabulary, mode and default alpha and beta.
    /// - Throws: ``LanguageModelScorerError`` when the alphabet has no space label in alphabet mode.
    public init(package: ScorerPackage, alphabet: Alphabet, alpha: Double? = nil, beta: Double? = nil,
                hotWords: [String: Float] = [:]) throws {
        if !package.isUTF8Mode && alphabet.spaceLabel == nil { throw LanguageModelScorerError.noSpaceLabel }
        languageModel = package.languageModel
        vocabulary = package.vocabulary
        isUTF8Mode = package.isUTF8Mode
        self.alphabet = alphabet
        self.alpha = alpha ?? package.defaultAlpha
        self.beta = beta ?? package.defaultBeta
        self.hotWords = hotWords
    }

    /// A bare language model (an ARPA file or a KenLM binary, as deepspeech.pytorch users have),
    /// in alphabet mode. `words` (usually the model's own vocabulary) restrict the prefixes to
    /// those words, as a scorer's graph does; without them any spelling is allowed and unknown
    /// words only score −1000.
    public init(languageModel: any NGramLanguageModel, words: [String]?, alphabet: Alphabet, alpha: Double? = nil,
                beta: Double? = nil, hotWords: [String: Float] = [:]) throws {
        guard alphabet.spaceLabel != nil else { throw LanguageModelScorerError.noSpaceLabel }
        self.languageModel = languageModel
        if let words {
            let vocabulary = try ScorerVocabulary.sequences(words: words, alphabet: alphabet)
            self.vocabulary = ConstFst(encoded: ConstFst.encode(acceptor: vocabulary.sequences, fileOffset: 0).bytes)
        } else {
            self.vocabulary = nil
        }
        isUTF8Mode = false
        self.alphabet = alphabet
        self.alpha = alpha ?? Self.defaultAlpha
        self.beta = beta ?? Self.defaultBeta
        self.hotWords = hotWords
    }

    /// A language model with a vocabulary graph read elsewhere (DeepSpeech 0.6's `trie` next
    /// to an ARPA file), checked against the alphabet by ``checkLegacyTrie(_:alphabet:)``.
    init(languageModel: any NGramLanguageModel, trie: LegacyTrieFile, alphabet: Alphabet, alpha: Double?, beta: Double?,
         hotWords: [String: Float]) throws {
        try Self.checkLegacyTrie(trie, alphabet: alphabet)
        self.languageModel = languageModel
        vocabulary = trie.vocabulary
        isUTF8Mode = trie.isUTF8Mode
        self.alphabet = alphabet
        self.alpha = alpha ?? LegacyTrieFile.defaultAlpha
        self.beta = beta ?? LegacyTrieFile.defaultBeta
        self.hotWords = hotWords
    }

    /// The same scorer with `extra` hot words added (a boost given here replaces the
    /// scorer's own for that word); the language model and vocabulary are shared, not copied.
    public func addingHotWords(_ extra: [String: Float]) -> Self {
        var copy = self
        copy.hotWords.merge(extra) { _, new in new }
        return copy
    }

    public var beamCutoffMargin: Double { max(0, beta) }
    public var initialState: Int32 { Int32(vocabulary?.start ?? 0) }

    public func nextState(from state: Int32, appending label: Int) -> Int32? {
        guard let fst = vocabulary else { return 0 }
        guard state >= 0, let next = fst.next(Int(state), label: Int32(label + 1)) else { return nil }
        // A completed word restarts the graph.
        return Int32(fst.isFinal(next) ? fst.start : next)
    }

    public func scoreExtension(_ logProbability: Float, parent: PrefixPath, label: Int) -> Float {
        var logP = logProbability
        // Alphabet mode scores the prefix before the space; bytes mode the new prefix.
        let words: [String]
        if isUTF8Mode {
            let labels = recentLabels(parent, then: label)
            guard isCodepointBoundary(labels) else { return logP }
            words = ngram(labels)
        } else {
            guard label == alphabet.spaceLabel else { return logP }
            words = ngram(recentLabels(parent))
        }
        var boost: Float = 0
        if !hotWords.isEmpty { for word in words { boost += hotWords[word] ?? 0 } }
        let bos = words.count < languageModel.order
        // float score = (double cond + float boost) * double alpha
        let score = Float((conditionalLogProbability(words, bos: bos) + Double(boost)) * alpha)
        logP += score
        logP = Float(Double(logP) + beta)   // float += double
        return logP
    }

    public func scoreFinal(_ score: Float, prefix: PrefixPath) -> Float {
        let labels = recentLabels(prefix)
        guard let last = labels.last else {
            // Bytes mode: the root gets beta (its n-gram is empty), alphabet mode nothing.
            return isUTF8Mode ? Float(Double(Float(0 * alpha)) + beta) + score : score
        }
        // Only a prefix whose last word is unfinished is scored.
        if isUTF8Mode {
            if isCodepointBoundary(labels) { return score }
        } else if last == alphabet.spaceLabel || labels.count < 1 {
            return score
        }
        let words = ngram(labels)
        let bos = words.count < languageModel.order
        var s = Float(conditionalLogProbability(words, bos: bos) * alpha)
        s = Float(Double(s) + beta)
        return score + s
    }

    // MARK: - Words and the language model

    /// The end of a prefix's labels (then `extra`), just long enough for ``ngram(_:)`` to see
    /// `order` words (alphabet mode: back to the `order`-th space before the last word;
    /// bytes mode: back to the `order`-th codepoint start). Walking only this far keeps word
    /// scoring independent of how long the transcript already is.
    func recentLabels(_ path: PrefixPath, then extra: Int? = nil) -> [Int] {
        var reversed: [Int] = []
        var boundaries = 0
        let order = languageModel.order
        if let extra {
            reversed.append(extra)
            if isUTF8Mode && (extra + 1) & 0xC0 != 0x80 { boundaries += 1 }
        }
        var node: PrefixPath? = path
        while boundaries < order, let p = node, let label = p.lastLabel {
            if isUTF8Mode {
                reversed.append(label)
                if (label + 1) & 0xC0 != 0x80 { boundaries += 1 }
            } else {
                if label == alphabet.spaceLabel && !reversed.isEmpty {
                    boundaries += 1
                    if boundaries == order { break }
                }
                reversed.append(label)
            }
            node = p.parent
        }
        return reversed.reversed()
    }

    /// The last `order` words ending at the end of `labels`, oldest first (Coqui's
    /// `make_ngram`): words run between spaces in alphabet mode, codepoints in bytes mode.
    func ngram(_ labels: [Int]) -> [String] {
        var words: [String] = []
        var end = labels.count
        let order = languageModel.order
        while words.count < order && end > 0 {
            var start = end - 1
            if isUTF8Mode {
                while start > 0 && (labels[start] + 1) & 0xC0 == 0x80 { start -= 1 }
                words.append(String(decoding: labels[start..<end].map { UInt8(truncatingIfNeeded: $0 + 1) }, as: UTF8.self))
                end = start
            } else {
                // Skip the space that ends the word (when scoring past it), collect to the previous space.
                var wordEnd = end
                if labels[wordEnd - 1] == alphabet.spaceLabel { wordEnd -= 1 }
                start = wordEnd
                while start > 0 && labels[start - 1] != alphabet.spaceLabel { start -= 1 }
                words.append(alphabet.decode(Array(labels[start..<wordEnd])))
                end = start
            }
        }
        return words.reversed()
    }

    /// Coqui's `get_log_cond_prob`: ln P of the last word given the others (log10 / log10 e),
    /// or −1000 as soon as any word is out of the LM's vocabulary.
    func conditionalLogProbability(_ words: [String], bos: Bool) -> Double {
        let lm = languageModel
        var state = bos ? lm.beginSentenceState : lm.nullContextState
        var cond: Float = 0
        for word in words {
            let index = lm.index(of: word)
            if index == 0 { return Self.outOfVocabularyScore }
            let result = lm.score(state, word: index)
            cond = result.log10Probability
            state = result.state
        }
        return Double(cond) / Double(Self.log10e)
    }

    /// Bytes mode: whether the labels end exactly at the end of a UTF-8 codepoint.
    func isCodepointBoundary(_ labels: [Int]) -> Bool {
        guard !labels.isEmpty else { return false }
        var distance = 1, i = labels.count - 1
        while (labels[i] + 1) & 0xC0 == 0x80 {
            guard i > 0 else { return false }
            i -= 1
            distance += 1
        }
        let first = UInt8(truncatingIfNeeded: labels[i] + 1)
        let needed: Int
        if first >> 3 == 0x1E { needed = 4 } else if first >> 4 == 0x0E { needed = 3 } else if first >> 5 == 0x06 { needed = 2 }
        else if first >> 7 == 0 { needed = 1 } else { return false }
        return distance == needed
    }
}

public enum LanguageModelScorerError: Error, CustomStringConvertible {
    case noSpaceLabel
    public var description: String {
        switch self {
        case .noSpaceLabel: return "the alphabet has no space label, which a word-based (alphabet mode) scorer needs to find word boundaries"
        }
    }
}

extension LanguageModelScorer {
    /// The same scorer with other weights.
    public func with(alpha: Double, beta: Double) -> LanguageModelScorer {
        var copy = self
        copy.alpha = alpha
        copy.beta = beta
        return copy
    }

    /// Opens whatever language model `path` holds: a scorer package (`.scorer`), a KenLM
    /// binary (its stored vocabulary, if any, restricts the words) or an ARPA file (its
    /// unigrams restrict the words). With `trie`, `path` is DeepSpeech 0.6's `lm.binary` (or
    /// an ARPA file) and `trie` its vocabulary file (format 5); alpha and beta then default to
    /// the 0.6 client's 0.75 and 1.85.
    public static func load(path: String, trie: String? = nil, alphabet: Alphabet, alpha: Double? = nil, beta: Double? = nil,
                            hotWords: [String: Float] = [:]) throws -> LanguageModelScorer {
        let file = try MappedFile(path: path)
        if LegacyTrieFile.hasMagic(file.bytes) {
            let header = try LegacyTrieFile.readHeader(file.bytes, path: path)   // refuses 0.2-0.5 files by name
            throw LanguageModelError(path: path, problem: trie != nil
                ? "a DeepSpeech 0.6 trie file, not a language model (are the language model and the trie swapped?)"
                : "a DeepSpeech 0.6 trie file (format \(header.version)), which holds only the vocabulary; pass it as the trie next to its KenLM lm.binary (deepspeech --lm lm.binary --trie \(path))")
        }
        let head = String(decoding: file.bytes.prefix(1024), as: UTF8.self)
        if let trie {
            let trieFile = try LegacyTrieFile(path: trie)
            if head.hasPrefix("mmap lm ") {
                let package = try ScorerPackage(languageModel: try KenLMBinaryModel(file: file), trie: trieFile)
                try checkLegacyTrie(trieFile, alphabet: alphabet)
                return try LanguageModelScorer(package: package, alphabet: alphabet, alpha: alpha, beta: beta, hotWords: hotWords)
            }
            if head.contains("\\data\\") {
                return try LanguageModelScorer(languageModel: try ARPAModel(path: path), trie: trieFile, alphabet: alphabet,
                                               alpha: alpha, beta: beta, hotWords: hotWords)
            }
            throw LanguageModelError(path: path, problem: "not a KenLM binary or ARPA file to go with the trie \(trie)")
        }
        if head.hasPrefix("mmap lm ") {
            let model = try KenLMBinaryModel(file: file)
            if model.endOfModel < file.bytes.count, file.bytes[model.endOfModel..<min(file.bytes.count, model.endOfModel + 4)].elementsEqual("EIRT".utf8) {
                return try LanguageModelScorer(package: try ScorerPackage(file: file, languageModel: model), alphabet: alphabet,
                                               alpha: alpha, beta: beta, hotWords: hotWords)
            }
            return try LanguageModelScorer(languageModel: model, words: model.vocabularyWords, alphabet: alphabet,
                                           alpha: alpha, beta: beta, hotWords: hotWords)
        }
        if head.contains("\\data\\") {
            let model = try ARPAModel(path: path)
            return try LanguageModelScorer(languageModel: model, words: model.words, alphabet: alphabet, alpha: alpha, beta: beta, hotWords: hotWords)
        }
        throw LanguageModelError(path: path, problem: "not a scorer package, KenLM binary or ARPA file")
    }

    /// Whether a DeepSpeech 0.6 trie fits the model's alphabet, as generate_trie would have
    /// made it for that alphabet: UTF-8 mode only with the 255-byte alphabet; in alphabet mode
    /// every label within the alphabet and exactly the space label ending each word.
    public static func checkLegacyTrie(_ trie: LegacyTrieFile, alphabet: Alphabet) throws {
        func fail(_ problem: String) -> LanguageModelError { LanguageModelError(path: trie.path, problem: problem) }
        let fst = trie.vocabulary
        if trie.isUTF8Mode {
            guard alphabet.isUTF8Bytes else {
                throw fail("the trie is in UTF-8 (bytes) mode but the model's alphabet has \(alphabet.size) labels, not the 255 bytes of a bytes-output model: it was generated for another model")
            }
            try fst.forEachArc { _, label, _ in
                guard (1...255).contains(label) else { throw fail("UTF-8 mode trie with arc label \(label), not a byte value") }
            }
            return
        }
        guard let space = alphabet.spaceLabel else { throw LanguageModelScorerError.noSpaceLabel }
        try fst.forEachArc { _, label, target in
            guard label >= 1, Int(label) <= alphabet.size else {
                throw fail("alphabet mode trie with label \(label - 1), beyond the model's \(alphabet.size)-label alphabet: it was generated for another alphabet (or is a UTF-8 mode graph)")
            }
            guard (Int(label) == space + 1) == fst.isFinal(target) else {
                throw fail("alphabet mode trie whose words do not end with the model's space label (\(space)): it was generated for another alphabet")
            }
        }
    }
}
