import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// DeepSpeech 0.6's language model pair, `lm.binary` + `trie` (format 5):
/// `Fixtures/lm/hy-3gram.v06.binary` (`build_binary -a 255 -q 8 trie` of the fixture ARPA, vocabulary
/// strings kept) and `hy-3gram.v06.trie` (Fixtures/make_legacy_trie.py). They hold the model and
/// the words of `hy.scorer`, so with its alpha/beta they must decode exactly as the `.scorer`
/// does, and as Coqui STT 1.4.0 did with `hy.scorer` (`Fixtures/reference/peers/stt-scorer.json`).
final class LegacyScorerTests: XCTestCase {
    static let model: SpeechModel? = try? SpeechModel(path: Fixtures.releasedModelPath())
    let binary = "Fixtures/lm/hy-3gram.v06.binary", trie = "Fixtures/lm/hy-3gram.v06.trie"

    /// The acoustic model runs once per clip; both scorers decode its probabilities (the
    /// command-line test decodes hy-03 through the whole file path with the pair).
    func testPairDecodesLikeTheScorerPackageAndCoquiSTT() throws {
        let model = try XCTUnwrap(Self.model)
        let reference = try XCTUnwrap(Fixtures.json("peers/stt-scorer.json") as? [String: Any])
        let results = try XCTUnwrap(reference["default"] as? [String: [String: Any]])
        let package = try ScorerPackage(path: Fixtures.path("Fixtures/lm/hy.scorer"))
        let fromPackage = try LanguageModelScorer(package: package, alphabet: model.alphabet)
        let legacy = try LanguageModelScorer.load(path: Fixtures.path(binary), trie: Fixtures.path(trie), alphabet: model.alphabet,
                                                  alpha: package.defaultAlpha, beta: package.defaultBeta)
        XCTAssertFalse(legacy.isUTF8Mode)
        XCTAssertEqual(legacy.alpha, package.defaultAlpha)
        XCTAssertEqual(legacy.beta, package.defaultBeta)
        func decode(_ probabilities: [Float], _ scorer: LanguageModelScorer) throws -> [CandidateTranscript] {
            var search = try PrefixBeamSearch(classCount: model.classCount, beamWidth: model.defaultBeamWidth, scorer: scorer)
            probabilities.withUnsafeBufferPointer { search.next(probabilities: $0, frames: $0.count / model.classCount) }
            return search.decode(candidates: 3)
        }
        var sameAsPackage = 0
        var coquiLegacy = Set<String>(), coquiPackage = Set<String>()
        for clip in Fixtures.clipNames {
            let samples = try ModelInput.load(path: Fixtures.clips.appendingPathComponent(clip).path, sampleRate: model.sampleRate)
            let probabilities = try model.probabilities(samples)
            let ours = try decode(probabilities, legacy), viaPackage = try decode(probabilities, fromPackage)
            // Bit for bit the .scorer path: same labels, timesteps and confidences.
            sameAsPackage += ours == viaPackage ? 1 : 0
            XCTAssertEqual(ours, viaPackage, "\(clip): the 0.6 pair and hy.scorer decode differently")
            // Against Coqui STT 1.4.0, compared as ScorerParityTests compares.
            let expected = try XCTUnwrap(results[clip]?["candidates"] as? [[String: Any]])
            func matchesCoqui(_ candidates: [CandidateTranscript]) throws -> Bool {
                var ok = candidates.count == expected.count
                for (o, e) in zip(candidates, expected) {
                    let confidence = try XCTUnwrap(e["confidence"] as? Double)
                    let steps = try XCTUnwrap(e["tokens"] as? [[String: Any]]).map { $0["timestep"] as? Int ?? -1 }
                    if o.text(in: model.alphabet) != e["text"] as? String || o.timesteps != steps
                        || abs(o.confidence - confidence) > 1e-3 * abs(confidence) { ok = false }
                }
                return ok
            }
            if try matchesCoqui(ours) { coquiLegacy.insert(clip) }
            if try matchesCoqui(viaPackage) { coquiPackage.insert(clip) }
            print("  \(clip): \(ours == viaPackage ? "same as hy.scorer" : "differs from hy.scorer"), \(coquiLegacy.contains(clip) ? "identical to" : "differs from") Coqui | \(ours.first?.text(in: model.alphabet) ?? "")")
        }
        print("lm.binary + trie: \(sameAsPackage)/12 clips bit-identical to hy.scorer; \(coquiLegacy.count)/12 identical to Coqui STT 1.4.0 with hy.scorer (the .scorer path: \(coquiPackage.count)/12)")
        XCTAssertEqual(sameAsPackage, 12)
        XCTAssertEqual(coquiLegacy, coquiPackage)
        XCTAssertGreaterThanOrEqual(coquiLegacy.count, 9)
    }

    /// Without --lm_alpha/--lm_beta the pair takes the 0.6 client's defaults (the trie has none).
    func testDefaultsAreTheDeepSpeech06Clients() throws {
        let alphabet = try XCTUnwrap(Self.model).alphabet
        let scorer = try LanguageModelScorer.load(path: Fixtures.path(binary), trie: Fixtures.path(trie), alphabet: alphabet)
        XCTAssertEqual(scorer.alpha, Double(Float(0.75)))
        XCTAssertEqual(scorer.beta, Double(Float(1.85)))
        XCTAssertNotNil(scorer.vocabulary)
        // The same binary without the trie still works: its stored words make the vocabulary.
        let bare = try LanguageModelScorer.load(path: Fixtures.path(binary), alphabet: alphabet)
        XCTAssertEqual(Set(try XCTUnwrap(bare.vocabulary).acceptedSequences()), Set(try XCTUnwrap(scorer.vocabulary).acceptedSequences()))
        // An ARPA file goes with a trie too (DeepSpeech 0.6's KenLM loader took both).
        let arpa = try LanguageModelScorer.load(path: Fixtures.path("Fixtures/lm/hy-3gram.arpa"), trie: Fixtures.path(trie), alphabet: alphabet)
        XCTAssertEqual(arpa.languageModel.order, 3)
    }

    // MARK: - Refusals: one line each, naming the file

    func deepspeech(_ arguments: [String], stdin: Data? = nil) throws -> CommandLineRunner.Run {
        try CommandLineRunner.deepspeech(arguments, stdin: stdin)
    }

    func testBadTriesAreOneLineErrorsNamingTheFile() throws {
        let model = try Fixtures.releasedModelPath()
        let alphabet = try XCTUnwrap(Self.model).alphabet
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("legacy-scorer-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(trie))))
        func write(_ name: String, _ bytes: [UInt8]) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
        let truncated = try write("truncated.trie", Array(good.prefix(good.count / 2)))
        var v3 = good
        v3[4] = 3                                               // DeepSpeech 0.5's header
        let version3 = try write("v05.trie", v3)
        var flipped = good
        flipped[8] = 1                                          // says UTF-8 mode, the model has an alphabet
        let utf8Mode = try write("utf8-mode.trie", flipped)
        // A UTF-8 mode graph (byte labels) marked as alphabet mode.
        let words = Set(try XCTUnwrap(KenLMBinaryModel(path: Fixtures.path(binary)).vocabularyWords)).subtracting(["<s>", "</s>", "<unk>"])
        let bytesGraph = try write("bytes-graph.trie", LegacyTrieFile.encode(acceptor: words.map { $0.utf8.map { Int32($0) } }, utf8Mode: false))

        let cases: [(trie: String, expected: String)] = [
            (truncated, "truncated"),
            (version3, "DeepSpeech 0.4/0.5"),
            (utf8Mode, "UTF-8 (bytes) mode"),
            (bytesGraph, "another alphabet"),
        ]
        for (path, expected) in cases {
            // The library…
            do {
                _ = try LanguageModelScorer.load(path: Fixtures.path(binary), trie: path, alphabet: alphabet)
                XCTFail("\(path) was accepted")
            } catch {
                XCTAssertTrue("\(error)".hasPrefix(path + ": ") && "\(error)".contains(expected), "\(error)")
            }
            // …and the command line, as the DeepSpeech 0.6 client is called.
            let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-01.wav", "--lm", binary, "--trie", path])
            XCTAssertEqual(run.status, 1, "\(path)")
            XCTAssertEqual(run.stdout, "")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
            XCTAssertTrue(run.stderr.hasPrefix("deepspeech: error: \(path): ") && run.stderr.contains(expected), run.stderr)
        }

        // A trie passed alone as the scorer, the files swapped, a trie next to a .scorer.
        let misuse: [([String], String, String)] = [
            (["--scorer", trie], trie, "--lm lm.binary --trie"),
            (["--lm", trie, "--trie", binary], trie, "swapped"),
            (["--scorer", "Fixtures/lm/hy.scorer", "--trie", trie], "Fixtures/lm/hy.scorer", "carries its own vocabulary"),
            (["--scorer", version3], version3, "DeepSpeech 0.4/0.5"),
        ]
        for (arguments, file, expected) in misuse {
            let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-01.wav"] + arguments)
            XCTAssertEqual(run.status, 1, "\(arguments)")
            XCTAssertEqual(run.stdout, "")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
            XCTAssertTrue(run.stderr.hasPrefix("deepspeech: error: \(file): ") && run.stderr.contains(expected), run.stderr)
        }
        let noLM = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-01.wav", "--trie", trie])
        XCTAssertNotEqual(noLM.status, 0)
        XCTAssertTrue(noLM.stderr.contains("--trie needs"), noLM.stderr)
    }

    /// `--lm lm.binary --trie trie` (and `--scorer lm.binary --trie trie`) transcribe; `scorer info`
    /// prints what a trie file and the pair hold.
    func testCommandLine() throws {
        let model = try Fixtures.releasedModelPath()
        let reference = try XCTUnwrap(Fixtures.json("peers/stt-scorer.json") as? [String: Any])
        let expected = try XCTUnwrap((reference["default"] as? [String: [String: Any]])?["hy-03.wav"]?["text"] as? String)
        let alpha = try XCTUnwrap(reference["alpha"] as? Double), beta = try XCTUnwrap(reference["beta"] as? Double)
        for flag in ["--lm", "--scorer"] {
            let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-03.wav", flag, binary, "--trie", trie,
                                      "--lm_alpha", "\(alpha)", "--lm_beta", "\(beta)"])
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(run.stdout, expected + "\n")
        }
        let info = try deepspeech(["scorer", "info", trie])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("DeepSpeech 0.6 trie file, format version 5"), info.stdout)
        XCTAssertTrue(info.stdout.contains("alphabet (words end with the space label)"), info.stdout)
        XCTAssertTrue(info.stdout.contains("vocabulary: 129 words"), info.stdout)
        let pair = try deepspeech(["scorer", "info", binary, "--trie", trie])
        XCTAssertEqual(pair.status, 0, pair.stderr)
        XCTAssertTrue(pair.stdout.contains("format version 5"), pair.stdout)
        XCTAssertTrue(pair.stdout.contains("KenLM quantArrayTrie, order 3"), pair.stdout)
        XCTAssertTrue(pair.stdout.contains("default alpha 0.75, beta 1.850000023841858"), pair.stdout)
        XCTAssertTrue(pair.stdout.contains("vocabulary: 129 words"), pair.stdout)
    }
}
