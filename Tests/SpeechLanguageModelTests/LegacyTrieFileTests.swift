import Foundation
import XCTest
import SpeechLanguageModel
import TestSupport

/// DeepSpeech 0.6's `trie` file (format 5): the header reader, the fixture pair
/// `Fixtures/lm/hy-3gram.v06.binary` + `.trie` (Fixtures/make_legacy_trie.py), and refusals.
final class LegacyTrieFileTests: XCTestCase {
    let triePath = Fixtures.path("Fixtures/lm/hy-3gram.v06.trie")
    let binaryPath = Fixtures.path("Fixtures/lm/hy-3gram.v06.binary")

    func header(version: Int32, utf8: UInt8) -> [UInt8] {
        var bytes = Array("EIRT".utf8)
        withUnsafeBytes(of: version.littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(utf8)
        return bytes
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "(no error)"
    }

    func testHeaderReader() throws {
        XCTAssertEqual(try LegacyTrieFile.readHeader(header(version: 5, utf8: 0), path: "t"), .init(version: 5, isUTF8Mode: false))
        XCTAssertEqual(try LegacyTrieFile.readHeader(header(version: 5, utf8: 1) + [0, 0, 0], path: "t"), .init(version: 5, isUTF8Mode: true))
        // 'TRIE' is a multi-character int32 constant: 0x54524945, little-endian bytes "EIRT".
        XCTAssertEqual(Array("EIRT".utf8), withUnsafeBytes(of: Int32(0x5452_4945).littleEndian) { Array($0) })
        XCTAssertTrue(LegacyTrieFile.hasMagic(header(version: 5, utf8: 0)))
        XCTAssertFalse(LegacyTrieFile.hasMagic(Array("TRIE".utf8)))

        let cases: [([UInt8], String)] = [
            (header(version: 3, utf8: 0), "DeepSpeech 0.4/0.5"),
            (header(version: 2, utf8: 0), "DeepSpeech 0.3"),
            (header(version: 1, utf8: 0), "DeepSpeech 0.2"),
            (header(version: 6, utf8: 0), "format version 6"),
            (Array(header(version: 5, utf8: 0).prefix(8)), "truncated"),
            (Array("EIRT".utf8), "truncated"),
            (Array("TRIE\u{5}\0\0\0\0".utf8), "no 'TRIE' header"),
            (Array("mmap lm http://kheafield.com/code format version 5\n\0".utf8), "KenLM binary"),
            ([], "no 'TRIE' header"),
        ]
        for (bytes, expected) in cases {
            let text = message { _ = try LegacyTrieFile.readHeader(bytes, path: "some/trie") }
            XCTAssertTrue(text.hasPrefix("some/trie: ") && text.contains(expected), "\(bytes.prefix(9)): \(text)")
            XCTAssertFalse(text.contains("\n"))
        }
    }

    /// The fixture trie accepts exactly the words of `hy.scorer` (both made from the same ARPA),
    /// its FST starts at byte 80 (aligned to the trie file), and the Swift writer reproduces it.
    func testFixtureTrieHoldsTheLanguageModelsWords() throws {
        let trie = try LegacyTrieFile(path: triePath)
        XCTAssertFalse(trie.isUTF8Mode)
        let scorer = try ScorerPackage(path: Fixtures.path("Fixtures/lm/hy.scorer"))
        XCTAssertEqual(Set(trie.vocabulary.acceptedSequences()), Set(scorer.vocabulary.acceptedSequences()))
        let model = try KenLMBinaryModel(path: binaryPath)
        let words = try XCTUnwrap(model.vocabularyWords, "lm.binary of DeepSpeech 0.6 stores its vocabulary strings")
        XCTAssertEqual(trie.vocabulary.acceptedSequences().count, Set(words).subtracting(["<s>", "</s>", "<unk>"]).count)

        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: triePath)))
        XCTAssertEqual(9 + 65, 74)
        XCTAssertEqual(bytes[74..<80], [0, 0, 0, 0, 0, 0], "padding to byte 80 of the trie file")
        XCTAssertEqual(bytes[80..<84], [0, 0, 0x80, 0x7f], "the start state's final weight (+inf) at byte 80")
        XCTAssertEqual(LegacyTrieFile.encode(acceptor: trie.vocabulary.acceptedSequences(), utf8Mode: false), bytes)
    }

    func testPairReadsAsAScorer() throws {
        let pair = try ScorerPackage(languageModelPath: binaryPath, triePath: triePath)
        let package = try ScorerPackage(path: Fixtures.path("Fixtures/lm/hy.scorer"))
        XCTAssertEqual(pair.formatVersion, 5)
        XCTAssertEqual(pair.triePath, triePath)
        XCTAssertEqual(package.formatVersion, 6)
        XCTAssertNil(package.triePath)
        XCTAssertEqual(pair.defaultAlpha, 0.75)
        XCTAssertEqual(pair.defaultBeta, Double(Float(1.85)))
        XCTAssertEqual(pair.languageModel.modelType, package.languageModel.modelType)
        XCTAssertEqual(pair.languageModel.counts, package.languageModel.counts)
        // The same quantized model: every word scores the same.
        for word in try XCTUnwrap(pair.languageModel.vocabularyWords) {
            let a = pair.languageModel.score(pair.languageModel.beginSentenceState, word: pair.languageModel.index(of: word))
            let b = package.languageModel.score(package.languageModel.beginSentenceState, word: package.languageModel.index(of: word))
            XCTAssertEqual(a.log10Probability, b.log10Probability, word)
        }
        let asLM = message { _ = try ScorerPackage(languageModelPath: Fixtures.path("Fixtures/lm/hy.scorer"), triePath: triePath) }
        XCTAssertTrue(asLM.contains("hy.scorer: a scorer package"), asLM)
    }

    func testDamagedTriesNameTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("legacy-trie-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: triePath))
        for cut in [3, 8, 9, 40, 79, 90, bytes.count - 1] {
            let path = dir.appendingPathComponent("cut-\(cut)").path
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: path))
            let text = message { _ = try LegacyTrieFile(path: path) }
            XCTAssertTrue(text.hasPrefix(path + ": ") && text.contains("truncated") || cut == 3 && text.contains("no 'TRIE' header"),
                          "cut \(cut): \(text)")
        }
    }
}
