import SpeechLanguageModel

/// Turns a word list into the label sequences of a scorer's vocabulary graph, as
/// generate_scorer_package does: `<s>`, `</s>` and `<unk>` are skipped; in alphabet mode each
/// word becomes its labels + 1 followed by the space label + 1, and words with a character
/// outside the alphabet are left out; in UTF-8 mode each word becomes its bytes.
public enum ScorerVocabulary {
    public struct Result: Sendable {
        public var sequences: [[Int32]]
        public var utf8Mode: Bool
        /// Words left out because the alphabet lacks one of their characters.
        public var skipped: [String]
    }

    /// - Parameters:
    ///   - words: whitespace-separated tokens of the vocabulary file (duplicates allowed).
    ///   - forceUTF8: use bytes mode even if some word is longer than one codepoint.
    /// Bytes mode is chosen, as by the reference tool, when every word is a single codepoint.
    public static func sequences(words: [String], alphabet: Alphabet, forceUTF8: Bool = false) throws -> Result {
        let unique = Set(words).subtracting(["<s>", "</s>", "<unk>"]).sorted()
        let utf8 = forceUTF8 || unique.allSatisfy { $0.unicodeScalars.count == 1 }
        if utf8 {
            return Result(sequences: unique.map { $0.utf8.map { Int32($0) } }, utf8Mode: true, skipped: [])
        }
        guard let space = alphabet.spaceLabel else { throw LanguageModelScorerError.noSpaceLabel }
        var index: [String: Int] = [:]
        for (i, label) in alphabet.labels.enumerated() { index[label] = i }
        var sequences: [[Int32]] = [], skipped: [String] = []
        for word in unique {
            var labels: [Int32] = []
            var ok = true
            for scalar in word.unicodeScalars {      // codepoints, as split_into_codepoints
                guard let i = index[String(scalar)] else { ok = false; break }
                labels.append(Int32(i + 1))
            }
            if ok { sequences.append(labels + [Int32(space + 1)]) } else { skipped.append(word) }
        }
        return Result(sequences: sequences, utf8Mode: false, skipped: skipped)
    }
}
