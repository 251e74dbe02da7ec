/// A word's index in a language model's vocabulary; 0 is `<unk>`.
public typealias WordIndex = UInt32

/// What a language model remembers of the words before the next one (KenLM's `State`): the
/// most recent words first, with the backoff of each context n-gram, up to `order − 1`.
public struct LanguageModelState: Sendable, Equatable, Hashable {
    public var words: [WordIndex] = []
    public var backoffs: [Float] = []
    public var length: Int { words.count }
    public init() {}
}

/// The result of scoring one word: its log10 probability given the state, the length of the
/// n-gram that matched (1 = unigram), and the state after it.
public struct LanguageModelScore: Sendable, Equatable {
    public var log10Probability: Float
    public var ngramLength: Int
    public var state: LanguageModelState
}

/// The lookups a back-off n-gram model needs; ``NGramLanguageModel/score(_:word:)`` turns them
/// into KenLM's `FullScore`.
public protocol NGramLanguageModel: Sendable {
    var order: Int { get }
    /// n-gram counts per order as the model stores them.
    var counts: [Int] { get }
    /// The index of a word, 0 (`<unk>`) when it is not in the vocabulary.
    func index(of word: String) -> WordIndex
    /// Opaque position of an n-gram for extending it to the left (trie node range or hash).
    associatedtype Node
    func unigram(_ word: WordIndex) -> (prob: Float, backoff: Float, node: Node, independentLeft: Bool)
    /// The n-gram of order `n` (2 … order − 1) that adds `word` on the left of the n-gram at `node`.
    func middle(order n: Int, node: Node, word: WordIndex) -> (prob: Float, backoff: Float, node: Node, independentLeft: Bool)?
    /// The longest-order n-gram that adds `word` on the left of the n-gram at `node`.
    func longest(node: Node, word: WordIndex) -> Float?
}

extension NGramLanguageModel {
    /// The state at the start of a sentence: `<s>` with its backoff.
    public var beginSentenceState: LanguageModelState {
        let start = index(of: "<s>")
        var state = LanguageModelState()
        state.words = [start]
        state.backoffs = [unigram(start).backoff]
        return state
    }

    /// No context at all.
    public var nullContextState: LanguageModelState { LanguageModelState() }

    /// KenLM's `FullScore`: the longest matching n-gram's probability plus the backoffs of the
    /// longer contexts that did not match, and the state to continue from.
    public func score(_ state: LanguageModelState, word: WordIndex) -> LanguageModelScore {
        let uni = unigram(word)
        var prob = uni.prob
        var ngramLength = 1
        var backoffs: [Float] = [uni.backoff]
        var keep = Self.hasExtension(uni.backoff) ? 1 : 0
        var independentLeft = uni.independentLeft
        var node = uni.node
        var i = 0
        while !independentLeft && i < state.length {
            let context = state.words[i]
            if i == order - 2 {
                if let p = longest(node: node, word: context) {
                    prob = p
                    ngramLength = order
                }
                break
            }
            guard let m = middle(order: i + 2, node: node, word: context) else { break }
            backoffs.append(m.backoff)
            prob = m.prob
            ngramLength = i + 2
            if Self.hasExtension(m.backoff) { keep = i + 2 }
            independentLeft = m.independentLeft
            node = m.node
            i += 1
        }
        // Charge the backoffs of the context n-grams longer than the one that matched.
        if ngramLength - 1 < state.length {
            for j in (ngramLength - 1)..<state.length { prob += state.backoffs[j] }
        }
        var out = LanguageModelState()
        out.words = Array(([word] + state.words).prefix(keep))
        out.backoffs = Array(backoffs.prefix(keep))
        return LanguageModelScore(log10Probability: prob, ngramLength: ngramLength, state: out)
    }

    /// Scores a sentence from `<s>` (optionally ending with `</s>`): per-word scores and the total.
    public func score(sentence words: [String], endOfSentence: Bool = true) -> (words: [LanguageModelScore], total: Float) {
        var state = beginSentenceState
        var scores: [LanguageModelScore] = []
        var total: Float = 0
        for word in words + (endOfSentence ? ["</s>"] : []) {
            let s = score(state, word: index(of: word))
            scores.append(s)
            total += s.log10Probability
            state = s.state
        }
        return (scores, total)
    }

    /// KenLM marks "this n-gram can be extended" by any backoff other than −0.0.
    @inline(__always)
    static func hasExtension(_ backoff: Float) -> Bool { backoff.bitPattern != (-0.0 as Float).bitPattern }
}

/// MurmurHash64A with seed 0, KenLM's vocabulary hash.
public enum MurmurHash64A {
    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        let m: UInt64 = 0xc6a4_a793_5bd1_e995, r: UInt64 = 47
        var h = seed ^ (UInt64(bytes.count) &* m)
        let blocks = bytes.count / 8
        for b in 0..<blocks {
            var k: UInt64 = 0
            for i in 0..<8 { k |= UInt64(bytes[b * 8 + i]) << (8 * UInt64(i)) }
            k = k &* m
            k ^= k >> r
            k = k &* m
            h ^= k
            h = h &* m
        }
        let tail = bytes.count & 7
        if tail > 0 {
            for i in stride(from: tail - 1, through: 0, by: -1) { h ^= UInt64(bytes[blocks * 8 + i]) << (8 * UInt64(i)) }
            h = h &* m
        }
        h ^= h >> r
        h = h &* m
        h ^= h >> r
        return h
    }
}
