import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// `Fixtures/lm/hy.reference.scorer` is the package Coqui STT 1.4.0's own scorer code writes
/// (`Fixtures/make_reference_scorer.py`: the coqui_stt_ctcdecoder 1.4.0 wheel's `Scorer`, called as
/// generate_scorer_package does) from the inputs `hy.scorer` was built from. It is not
/// byte-identical: generate_scorer_package determinizes and minimizes the vocabulary graph
/// (OpenFST `Minimize`: 241 states, 362 arcs), our writer stores the trie (587 states, 586 arcs).
/// Everything before the FST's state and arc counts is the same, and the graphs accept the same
/// words, so the decoders behave the same; Coqui STT 1.4.0 and DeepSpeech 0.9.3 gave the same
/// candidates with both (`Fixtures/reference/peers/stt-reference-scorer.json`).
final class ReferenceScorerPackageTests: XCTestCase {
    let referencePath = Fixtures.path("Fixtures/lm/hy.reference.scorer")
    let oursPath = Fixtures.path("Fixtures/lm/hy.scorer")

    func testReadsTheReferencePackageAsOurs() throws {
        let reference = try ScorerPackage(path: referencePath), ours = try ScorerPackage(path: oursPath)
        XCTAssertEqual(reference.formatVersion, 6)
        XCTAssertFalse(reference.isUTF8Mode)
        XCTAssertEqual(reference.isUTF8Mode, ours.isUTF8Mode)
        XCTAssertEqual(reference.defaultAlpha, Double(Float(0.93)))
        XCTAssertEqual(reference.defaultBeta, Double(Float(1.18)))
        XCTAssertEqual(reference.defaultAlpha, ours.defaultAlpha)
        XCTAssertEqual(reference.defaultBeta, ours.defaultBeta)

        // The same KenLM model, byte for byte, and so the same scores.
        let end = reference.languageModel.endOfModel
        XCTAssertEqual(end, ours.languageModel.endOfModel)
        let a = try Data(contentsOf: URL(fileURLWithPath: referencePath)), b = try Data(contentsOf: URL(fileURLWithPath: oursPath))
        XCTAssertEqual(a.prefix(end), b.prefix(end))
        XCTAssertEqual(reference.languageModel.order, 3)
        XCTAssertEqual(reference.languageModel.counts, ours.languageModel.counts)
        let corpus = try String(contentsOfFile: Fixtures.path("Fixtures/lm/corpus-hy.normalised.txt"), encoding: .utf8)
        let sentences = corpus.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(sentences.count, 50)
        for sentence in sentences + [["սևան", "է", "նոր"], ["ոչինչ"]] {
            let r = reference.languageModel.score(sentence: sentence), o = ours.languageModel.score(sentence: sentence)
            XCTAssertEqual(r.total.bitPattern, o.total.bitPattern, sentence.joined(separator: " "))
            XCTAssertEqual(r.words.map { $0.ngramLength }, o.words.map { $0.ngramLength })
        }

        // The same words: the corpus's 129, each its labels + 1 and then the space label + 1.
        let words = Set(sentences.joined())
        XCTAssertEqual(words.count, 129)
        let labels = try XCTUnwrap((Fixtures.json("litert/model-info.json") as? [String: Any])?["metadata"] as? [String: Any])["alphabet"] as? [String]
        let alphabet = try Alphabet(labels: try XCTUnwrap(labels))
        let expected = try ScorerVocabulary.sequences(words: Array(words), alphabet: alphabet)
        XCTAssertEqual(expected.skipped, [])
        let accepted = reference.vocabulary.acceptedSequences()
        XCTAssertEqual(accepted.count, 129, "each word accepted once")
        XCTAssertEqual(Set(accepted), Set(expected.sequences))
        XCTAssertEqual(Set(accepted), Set(ours.vocabulary.acceptedSequences()))
        XCTAssertEqual(Set(reference.vocabularyLabelSequences()), Set(ours.vocabularyLabelSequences()))
    }

    /// Where the bytes differ: only the graph. The reference is the minimal automaton of the
    /// word set (OpenFST's acyclic minimisation merges common suffixes: one final state, after
    /// the space arc); ours is the breadth-first trie, with a final state per word.
    func testOnlyTheVocabularyGraphDiffers() throws {
        let reference = try ScorerPackage(path: referencePath), ours = try ScorerPackage(path: oursPath)
        let a = [UInt8](try Data(contentsOf: URL(fileURLWithPath: referencePath)))
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: oursPath)))
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(a.count, 18_672)
        XCTAssertEqual(b.count, 29_168)
        // KenLM model, "EIRT" 6, mode, alpha, beta, then the FST header up to its start state:
        // magic, "const", "standard", version 1, flags 4 (aligned), properties 0xa5aa5a950001.
        let counts = reference.languageModel.endOfModel + 25 + 4 + 9 + 12 + 4 + 4 + 8
        XCTAssertEqual(Array(a.prefix(counts)), Array(b.prefix(counts)))
        func int64(_ bytes: [UInt8], _ at: Int) -> Int64 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int64.self) } }
        XCTAssertEqual(int64(a, counts), 0)                              // start state
        XCTAssertEqual([int64(a, counts + 8), int64(a, counts + 16)], [241, 362])
        XCTAssertEqual([int64(b, counts + 8), int64(b, counts + 16)], [587, 586])
        XCTAssertEqual([reference.vocabulary.stateCount, reference.vocabulary.arcCount], [241, 362])
        XCTAssertEqual([ours.vocabulary.stateCount, ours.vocabulary.arcCount], [587, 586])
        let finals = (0..<reference.vocabulary.stateCount).filter { reference.vocabulary.isFinal($0) }
        XCTAssertEqual(finals, [240])
        XCTAssertEqual((0..<ours.vocabulary.stateCount).filter { ours.vocabulary.isFinal($0) }.count, 129)
    }

    /// Our writer, given the reference package's model, words and alpha/beta, writes `hy.scorer`
    /// byte for byte (so `deepspeech scorer build` from the reference's inputs gives hy.scorer).
    func testOurWriterFromTheReferenceInputsWritesHyScorer() throws {
        let reference = try ScorerPackage(path: referencePath)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: referencePath))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ref-scorer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let lm = dir.appendingPathComponent("lm.binary").path, out = dir.appendingPathComponent("x.scorer").path
        try bytes.prefix(reference.languageModel.endOfModel).write(to: URL(fileURLWithPath: lm))
        let (states, arcs) = try ScorerPackage.write(languageModel: lm, sequences: reference.vocabulary.acceptedSequences(), utf8Mode: false,
                                                     alpha: Float(reference.defaultAlpha), beta: Float(reference.defaultBeta), to: out)
        XCTAssertEqual([states, arcs], [587, 586])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: URL(fileURLWithPath: oursPath)))
    }

    /// Our beam search with either package decodes the recorded LiteRT probabilities of the 12
    /// clips identically (the decoder depends on the graph's language, not its numbering).
    func testOurDecoderGivesTheSameCandidatesWithBothPackages() throws {
        let labels = try XCTUnwrap((Fixtures.json("litert/model-info.json") as? [String: Any])?["metadata"] as? [String: Any])["alphabet"] as? [String]
        let alphabet = try Alphabet(labels: try XCTUnwrap(labels))
        let reference = try LanguageModelScorer(package: try ScorerPackage(path: referencePath), alphabet: alphabet)
        let ours = try LanguageModelScorer(package: try ScorerPackage(path: oursPath), alphabet: alphabet)
        var same = 0
        for clip in Fixtures.clipNames {
            let name = clip.replacingOccurrences(of: ".wav", with: "")
            let probabilities = try NPYFile(path: Fixtures.path("Fixtures/reference/litert/\(name).probs.npy"))
            func decode(_ scorer: LanguageModelScorer) throws -> [CandidateTranscript] {
                var search = try PrefixBeamSearch(classCount: alphabet.size + 1, beamWidth: 500, scorer: scorer)
                search.next(probabilities: probabilities.values)
                return search.decode(candidates: 3)
            }
            let r = try decode(reference), o = try decode(ours)
            XCTAssertEqual(r, o, clip)
            same += r == o ? 1 : 0
        }
        XCTAssertEqual(same, 12)
    }

    /// Coqui STT 1.4.0 with the reference package gave exactly what it gave with hy.scorer
    /// (text, confidences, tokens, timesteps of all 3 candidates), and so did DeepSpeech 0.9.3.
    func testRecordedTranscriptsAreTheSameWithBothPackages() throws {
        let reference = try XCTUnwrap(Fixtures.json("peers/stt-reference-scorer.json") as? [String: Any])
        let ours = try XCTUnwrap(Fixtures.json("peers/stt-scorer.json") as? [String: Any])
        XCTAssertEqual(reference["beam_width"] as? Int, 500)
        XCTAssertEqual(reference["candidates"] as? Int, 3)
        let stt = try XCTUnwrap(reference["stt"] as? [String: Any])
        let sttOurs = try XCTUnwrap(ours["default"] as? [String: Any])
        let deepspeech = try XCTUnwrap(reference["deepspeech"] as? [String: Any])
        let deepspeechOurs = try XCTUnwrap(reference["deepspeech_hy_scorer"] as? [String: Any])
        for clip in Fixtures.clipNames {
            let r = try XCTUnwrap(stt[clip] as? [String: Any]), o = try XCTUnwrap(sttOurs[clip] as? [String: Any])
            XCTAssertEqual(r["engine"] as? String, "1.4.0")
            XCTAssertEqual((r["candidates"] as? [Any])?.count, 3, clip)
            XCTAssertEqual(NSDictionary(dictionary: r), NSDictionary(dictionary: o), "Coqui STT 1.4.0, \(clip)")
            let dr = try XCTUnwrap(deepspeech[clip] as? [String: Any]), dOurs = try XCTUnwrap(deepspeechOurs[clip] as? [String: Any])
            XCTAssertEqual(dr["engine"] as? String, "0.9.3")
            XCTAssertEqual(NSDictionary(dictionary: dr), NSDictionary(dictionary: dOurs), "DeepSpeech 0.9.3, \(clip)")
        }
    }
}
