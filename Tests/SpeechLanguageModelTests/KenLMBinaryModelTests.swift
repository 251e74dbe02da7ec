import Foundation
import XCTest
import SpeechLanguageModel
import TestSupport

/// KenLM binaries of ../shared/data/kenlm (built by KenLM's build_binary from kpu/kenlm's
/// lm/test.arpa), scored against KenLM's own expectations.
final class KenLMBinaryModelTests: XCTestCase {
    static let kenlm = Fixtures.sharedData.appendingPathComponent("kenlm")

    /// KenLM's model_test.cc `Continuation` check on test.arpa: each word scored from the state
    /// the previous one left, starting at `<s>` (log10 probability, n-gram length).
    static let continuation: [(String, Float, Int)] = [
        ("looking", -0.484652, 2), ("on", -0.348837, 3), ("a", -0.0155266, 4), ("little", -0.00306122, 5),
        ("the", -4.04005, 1), ("biarritz", -1.9889, 1), ("not_found", -2.29666, 1), ("more", -21.20632, 1),
        (".", -0.51363, 2), ("</s>", -0.0191651, 3),
    ]

    func testEveryModelTypeScoresTheContinuationAsKenLM() throws {
        for file in ["test_probing.bin", "test_trie.bin", "test_a255.bin", "test_q8.bin", "test_q8b5a255.bin"] {
            let model = try KenLMBinaryModel(path: Self.kenlm.appendingPathComponent(file).path)
            XCTAssertEqual(model.order, 5, file)
            var state = model.beginSentenceState
            for (word, expected, length) in Self.continuation {
                let score = model.score(state, word: model.index(of: word))
                let tolerance: Float = file.contains("q8") ? 0.05 : 1e-5     // quantized files round to 256 bins
                XCTAssertEqual(score.log10Probability, expected, accuracy: tolerance, "\(file): \(word)")
                XCTAssertEqual(score.ngramLength, length, "\(file): \(word)")
                state = score.state
            }
        }
    }
}

final class LanguageModelFilesTests: XCTestCase {
    let kenlm = Fixtures.sharedData.appendingPathComponent("kenlm")

    func testStoredVocabularyStringsAreReadInIdOrder() throws {
        let model = try KenLMBinaryModel(path: kenlm.appendingPathComponent("nounk_trie_vocab.bin").path)
        let words = try XCTUnwrap(model.vocabularyWords)
        XCTAssertEqual(words.count, model.counts[0])
        XCTAssertEqual(words.first, "<unk>")
        for (i, word) in words.enumerated().dropFirst() { XCTAssertEqual(model.index(of: word), WordIndex(i), word) }
        XCTAssertNil(try KenLMBinaryModel(path: kenlm.appendingPathComponent("test_trie.bin").path).vocabularyWords)
    }

    /// A DeepSpeech scorer package starts with a KenLM binary; its own data follows the model.
    func testAScorerPackageStartsWithAKenLMModel() throws {
        let path = Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test/pruned_lm.scorer").path
        let model = try KenLMBinaryModel(path: path)
        XCTAssertEqual(model.order, 4)
        XCTAssertEqual(model.modelType, .quantArrayTrie)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(String(decoding: bytes[model.endOfModel..<(model.endOfModel + 4)], as: UTF8.self), "EIRT")
        XCTAssertNotEqual(model.index(of: "the"), 0)
    }

    func testBrokenFilesGetMessagesNamingTheFileAndTheProblem() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-lm-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let trie = try Data(contentsOf: kenlm.appendingPathComponent("test_trie.bin"))
        let truncated = dir.appendingPathComponent("truncated.bin")
        try trie.prefix(trie.count - 100).write(to: truncated)
        var version = trie
        version[50] = UInt8(ascii: "4")
        let oldVersion = dir.appendingPathComponent("v4.bin")
        try version.write(to: oldVersion)
        let cases: [(String, String)] = [
            (truncated.path, "truncated"),
            (oldVersion.path, "version"),
            (kenlm.appendingPathComponent("test.arpa").path, "ARPA"),
            (Fixtures.clips.appendingPathComponent("hy-01.wav").path, "not a KenLM binary"),
            ("/nonexistent.bin", "cannot open"),
        ]
        for (path, expected) in cases {
            XCTAssertThrowsError(try KenLMBinaryModel(path: path)) { error in
                XCTAssertTrue("\(error)".contains(path) && "\(error)".contains(expected), "\(path): \(error)")
            }
        }
    }

    func testARPAErrorsNameTheLine() {
        let cases: [(String, String)] = [
            ("hello\n", "line 1: expected \\data\\"),
            ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1\ta\n", "line 6: the file ends inside the 1-grams"),
            ("\\data\\\nngram 1=1\nngram 2=1\n\n\\1-grams:\n-1\ta\n\n\\2-grams:\n-1\ta b\n", "line 9: the word 'b' was not seen in the unigrams"),
            ("\\data\\\nngram 1=1\n\n\\1-grams:\n0.5\ta\n", "line 5: positive log probability"),
            ("\\data\\\nngram 1=1\n\n\\1-grams:\n-1\ta\t-0.5\n\\end\\\n", "line 5: the highest order (1) cannot have a backoff"),
            ("\\data\\\nngram 2=1\n", "line 2: ngram 2 out of order"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try ARPAModel(text: text, path: "x.arpa")) { error in
                XCTAssertTrue("\(error)".hasPrefix("x.arpa: ") && "\(error)".contains(expected), "\(error)")
            }
        }
    }
}
