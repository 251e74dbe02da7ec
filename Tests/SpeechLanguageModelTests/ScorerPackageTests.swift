import Foundation
import XCTest
import SpeechLanguageModel
import TestSupport

/// The scorer packages DeepSpeech's generate_scorer_package wrote for its smoke test: header
/// values, the vocabulary graph, and the word lists they were built from.
final class ScorerPackageTests: XCTestCase {
    let smoke = Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test")

    func tokens(_ file: String) throws -> Set<String> {
        let text = try String(contentsOf: smoke.appendingPathComponent(file), encoding: .utf8)
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).map(String.init))
            .subtracting(["<s>", "</s>", "<unk>"])
    }

    func testAlphabetModeScorerReproducesItsWordList() throws {
        let scorer = try ScorerPackage(path: smoke.appendingPathComponent("pruned_lm.scorer").path)
        XCTAssertFalse(scorer.isUTF8Mode)
        XCTAssertEqual(scorer.defaultAlpha, Double(Float(0.75)))
        XCTAssertEqual(scorer.defaultBeta, Double(Float(1.85)))
        XCTAssertEqual(scorer.languageModel.order, 4)
        XCTAssertEqual(scorer.languageModel.counts, [3543, 13119, 17076, 17231])
        XCTAssertEqual(scorer.vocabulary.stateCount, 3451)
        XCTAssertEqual(scorer.vocabulary.arcCount, 6488)
        // The alphabet: one label per line, '#' comments skipped.
        let alphabetText = try String(contentsOf: smoke.appendingPathComponent("alphabet.txt"), encoding: .utf8)
        let labels = alphabetText.split(separator: "\n", omittingEmptySubsequences: true).map(String.init).filter { !$0.hasPrefix("#") }
        let space = try XCTUnwrap(labels.firstIndex(of: " "))
        var words = Set<String>()
        for sequence in scorer.vocabulary.acceptedSequences() {
            XCTAssertEqual(sequence.last.map { Int($0) - 1 }, space, "every word ends with the space label")
        }
        for sequence in scorer.vocabularyLabelSequences() { words.insert(sequence.map { labels[$0] }.joined()) }
        // generate_scorer_package keeps the words whose characters are all in the alphabet.
        let expected = try tokens("vocab.pruned.txt").filter { $0.allSatisfy { labels.contains(String($0)) } }
        XCTAssertEqual(words.count, expected.count)
        XCTAssertEqual(words, expected)
    }

    func testBytesModeScorerReproducesItsWordList() throws {
        let scorer = try ScorerPackage(path: smoke.appendingPathComponent("pruned_lm.bytes.scorer").path)
        XCTAssertTrue(scorer.isUTF8Mode)
        XCTAssertEqual(scorer.defaultAlpha, 0.93128901720047, accuracy: 1e-14)
        XCTAssertEqual(scorer.defaultBeta, 1.1834137439727783, accuracy: 1e-14)
        XCTAssertEqual(scorer.vocabulary.stateCount, 2)
        XCTAssertEqual(scorer.vocabulary.arcCount, 27)
        let words = Set(scorer.vocabularyLabelSequences().map { String(decoding: $0.map { UInt8($0 + 1) }, as: UTF8.self) })
        XCTAssertEqual(words, try tokens("vocab.pruned.bytes.txt"))
    }

    func testNotAScorerGetsAClearMessage() throws {
        let bare = Fixtures.sharedData.appendingPathComponent("kenlm/test_trie.bin").path
        XCTAssertThrowsError(try ScorerPackage(path: bare)) { error in
            XCTAssertTrue("\(error)".contains("not a scorer package"), "\(error)")
        }
        let withVocab = Fixtures.sharedData.appendingPathComponent("kenlm/nounk_trie_vocab.bin").path
        XCTAssertThrowsError(try ScorerPackage(path: withVocab)) { error in
            XCTAssertTrue("\(error)".contains("TRIE"), "\(error)")
        }
    }
}

/// Rebuilding the smoke-test scorer from its own language model and word list: our graph is a
/// trie, not OpenFST's minimal automaton, but it accepts exactly the same words.
final class ScorerPackageWriterTests: XCTestCase {
    func testRebuiltScorerAcceptsTheSameWordsAndKeepsTheModel() throws {
        let smoke = Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test")
        let original = try ScorerPackage(path: smoke.appendingPathComponent("pruned_lm.scorer").path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-rebuild-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let bytes = try Data(contentsOf: smoke.appendingPathComponent("pruned_lm.scorer"))
        let lm = dir.appendingPathComponent("lm.binary").path
        try bytes.prefix(original.languageModel.endOfModel).write(to: URL(fileURLWithPath: lm))
        let sequences = original.vocabulary.acceptedSequences()
        let out = dir.appendingPathComponent("rebuilt.scorer").path
        _ = try ScorerPackage.write(languageModel: lm, sequences: sequences.shuffled(), utf8Mode: false, alpha: 0.75, beta: 1.85, to: out)
        let rebuilt = try ScorerPackage(path: out)
        XCTAssertEqual(Set(rebuilt.vocabulary.acceptedSequences()), Set(sequences))
        XCTAssertEqual(rebuilt.defaultAlpha, original.defaultAlpha)
        XCTAssertEqual(rebuilt.defaultBeta, original.defaultBeta)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)).prefix(original.languageModel.endOfModel),
                       bytes.prefix(original.languageModel.endOfModel))
    }
}
