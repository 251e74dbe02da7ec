import Foundation
import XCTest
import TestSupport
import DeepSpeech

/// Runs the built `deepspeech` executable as a user would.
final class CommandLineTests: XCTestCase {
    func deepspeech(_ arguments: [String], stdin: Data? = nil) throws -> CommandLineRunner.Run {
        try CommandLineRunner.deepspeech(arguments, stdin: stdin)
    }

    func testTranscribesAClipLikeTheReferenceEngine() throws {
        let model = try Fixtures.releasedModelPath()
        let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-01.wav"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let reference = try XCTUnwrap(Fixtures.json("peers/stt-beam500-c3.json") as? [String: [String: Any]])
        XCTAssertEqual(run.stdout, (reference["hy-01.wav"]?["text"] as? String ?? "?") + "\n")
    }

    func testJSONOutputHasTheReferenceClientsShape() throws {
        let model = try Fixtures.releasedModelPath()
        let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-02.wav", "--json", "--candidate_transcripts", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let transcripts = try XCTUnwrap(object["transcripts"] as? [[String: Any]])
        XCTAssertEqual(transcripts.count, 2)
        let first = transcripts[0]
        XCTAssertNotNil(first["confidence"] as? Double)
        XCTAssertNotNil(first["text"] as? String)
        let token = try XCTUnwrap((first["tokens"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(token.keys), ["text", "timestep", "start_time"])
        let word = try XCTUnwrap((first["words"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(word.keys), ["word", "start_time", "duration"])
    }

    func testDirectoryTranscribesEveryAudioFileAndReportsBadOnes() throws {
        let model = try Fixtures.releasedModelPath()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-cli-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for clip in ["hy-04.wav", "hy-05.wav"] {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(clip))
            try FileManager.default.copyItem(at: Fixtures.clips.appendingPathComponent(clip), to: dir.appendingPathComponent(clip))
        }
        try Data("not audio".utf8).write(to: dir.appendingPathComponent("broken.wav"))
        let run = try deepspeech(["--model", model, "--audio", dir.path])
        XCTAssertEqual(run.status, 1)
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, run.stdout)
        XCTAssertTrue(lines[0].hasPrefix(dir.appendingPathComponent("hy-04.wav").path + ": "))
        XCTAssertTrue(run.stderr.contains("broken.wav"), run.stderr)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
    }

    func testErrorsAreOneLineOnStderrWithNothingOnStdout() throws {
        let model = try Fixtures.releasedModelPath()
        var floats = [Float](repeating: 0.1, count: 16000)
        floats[8000] = .nan
        let nanWAV = try WAVWriter.temporaryFile(WAVWriter.float32(floats, sampleRate: 16000), name: "cli-nan.wav")
        let cases: [([String], String)] = [
            (["--model", Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test/pruned_lm.scorer").path, "--audio", "Fixtures/clips/hy-01.wav"], "scorer"),
            (["--model", "Fixtures/clips/hy-01.wav", "--audio", "Fixtures/clips/hy-01.wav"], "audio"),
            (["--model", model, "--audio", "/nonexistent.wav"], "/nonexistent.wav"),
            (["--model", model, "--audio", "Package.swift"], "Package.swift"),
            (["--model", model, "--audio", "Fixtures/clips/hy-01.wav", "--beam_width", "0"], "beam_width"),
            (["--model", model, "--audio", nanWAV], "\(nanWAV): invalid audio: sample frame 8000 (at 0.500 s) is NaN"),
        ]
        for (arguments, expected) in cases {
            let run = try deepspeech(arguments)
            XCTAssertNotEqual(run.status, 0, "\(arguments)")
            XCTAssertEqual(run.stdout, "", "\(arguments)")
            XCTAssertTrue(run.stderr.contains(expected), "\(arguments): \(run.stderr)")
        }
    }

    /// Every format transcribes from the command line, and `convert` writes a file that prints
    /// the same transcript; a checkpoint without `--alphabet` and a malicious pickle are one-line errors.
    func testEveryModelFormatAndConvert() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-formats-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let graph = try SpeechModel(path: Fixtures.path("Fixtures/models/tensorflow/ds-h64.pb"))
        let alphabet = folder.appendingPathComponent("alphabet.txt").path
        try (graph.alphabet.labels.joined(separator: "\n") + "\n").write(toFile: alphabet, atomically: true, encoding: .utf8)
        let clip = "Fixtures/clips/hy-03.wav"
        for (model, extra) in [("Fixtures/models/tensorflow/ds-h64.pbmm", [String]()), ("Fixtures/models/tensorflow/ds-h64.ckpt", ["--alphabet", alphabet]),
                               ("Fixtures/models/deepspeech2/ds2-bilstm.v2.pth", []), ("Fixtures/models/deepspeech2/ds2-unigru-lookahead.ckpt", [])] {
            let direct = try deepspeech(["--model", model, "--audio", clip] + extra)
            XCTAssertEqual(direct.status, 0, direct.stderr)
            XCTAssertFalse(direct.stdout.isEmpty, model)
            let converted = folder.appendingPathComponent(UUID().uuidString + ".dsmodel").path
            let conversion = try deepspeech(["convert", "--model", model, "--output", converted] + extra)
            XCTAssertEqual(conversion.status, 0, conversion.stderr)
            XCTAssertTrue(conversion.stderr.contains("wrote \(converted)"), conversion.stderr)
            let again = try deepspeech(["--model", converted, "--audio", clip])
            XCTAssertEqual(again.stdout, direct.stdout, model)
            let inspect = try deepspeech(["inspect", "--model", converted])
            XCTAssertTrue(inspect.stdout.contains("converted from"), inspect.stdout)
        }
        for (arguments, expected) in [(["--model", "Fixtures/models/tensorflow/ds-h64.ckpt", "--audio", clip], "--alphabet"),
                                      (["--model", "Fixtures/models/deepspeech2/evil-reduce-system.pth", "--audio", clip], "evil-reduce-system.pth")] {
            let run = try deepspeech(arguments)
            XCTAssertNotEqual(run.status, 0)
            XCTAssertEqual(run.stdout, "")
            XCTAssertTrue(run.stderr.contains(expected) && run.stderr.split(separator: "\n").count == 1, run.stderr)
        }
    }

    func testHelpAndVersion() throws {
        let overview = try deepspeech(["--help"])
        XCTAssertTrue(overview.stdout.contains("transcribe (default)") && overview.stdout.contains("inspect")
                      && overview.stdout.contains("convert"), overview.stdout)
        let help = try deepspeech(["transcribe", "--help"])
        for flag in ["--model", "--audio", "--beam_width", "--json", "--candidate_transcripts", "--extended", "--version",
                     "--stream", "--segment", "--min_pause", "--output-format", "--no_progress"] {
            XCTAssertTrue(help.stdout.contains(flag), flag)
        }
        let version = try deepspeech(["--version"])
        XCTAssertTrue(version.stdout.hasPrefix("swift-deepspeech"), version.stdout)
    }

    // MARK: - Streaming, segments, subtitles

    func streamingReference(_ clip: String) throws -> (intermediate: [String], text: String) {
        let all = try XCTUnwrap(Fixtures.json("peers/stt-streaming.json") as? [String: [String: Any]])
        let run = try XCTUnwrap(all[clip]?["chunks320"] as? [String: Any])
        let final = try XCTUnwrap(run["final"] as? [[String: Any]])
        return (try XCTUnwrap(run["intermediate"] as? [String]), try XCTUnwrap(final.first?["text"] as? String))
    }

    func testStreamJSONHasCoquisIntermediateTranscriptAfterEveryChunk() throws {
        let model = try Fixtures.releasedModelPath()
        let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-02.wav", "--stream", "320", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let reference = try streamingReference("hy-02.wav")
        XCTAssertEqual(object["intermediate"] as? [String], reference.intermediate)
        XCTAssertEqual(((object["transcripts"] as? [[String: Any]])?.first?["text"]) as? String, reference.text)
    }

    /// Raw PCM on stdin, as `sox … -t raw - | deepspeech --stream 320 --audio -`: partial
    /// transcripts as they change, then the final one.
    func testRawPCMFromStdinPrintsPartialsAsTheyChange() throws {
        let model = try Fixtures.releasedModelPath()
        let wav = try Data(contentsOf: Fixtures.clips.appendingPathComponent("hy-01.wav"))
        let pcm = wav.subdata(in: 44..<wav.count)      // the fixture's canonical 44-byte header
        let run = try deepspeech(["--model", model, "--audio", "-", "--stream", "320"], stdin: pcm)
        XCTAssertEqual(run.status, 0, run.stderr)
        let reference = try streamingReference("hy-01.wav")
        var changes: [String] = []
        for text in reference.intermediate where text != (changes.last ?? "") { changes.append(text) }
        XCTAssertEqual(run.stdout, (changes + [reference.text]).map { $0 + "\n" }.joined())
    }

    func testSegmentPrintsOneTimedLinePerUtterance() throws {
        let model = try Fixtures.releasedModelPath()
        let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-03.wav", "--segment"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 1, run.stdout)
        let pattern = try NSRegularExpression(pattern: #"^\[00:00:0\d\.\d{3} --> 00:00:0\d\.\d{3}\] \S.*$"#)
        XCTAssertNotNil(pattern.firstMatch(in: lines[0], range: NSRange(lines[0].startIndex..., in: lines[0])), lines[0])
    }

    func testSubtitlesFromWordTimings() throws {
        let model = try Fixtures.releasedModelPath()
        let json = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-07.wav", "--json", "--candidate_transcripts", "1"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let words = try XCTUnwrap((object["transcripts"] as? [[String: Any]])?.first?["words"] as? [[String: Any]])
        for format in ["srt", "vtt"] {
            let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-07.wav", "--output-format", format])
            XCTAssertEqual(run.status, 0, run.stderr)
            var blocks = run.stdout.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            if format == "vtt" { XCTAssertEqual(blocks.removeFirst(), "WEBVTT") }
            XCTAssertFalse(blocks.isEmpty)
            let separator = format == "srt" ? "," : "."
            let time = try NSRegularExpression(pattern: "^\\d\\d:\\d\\d:\\d\\d\\\(separator)\\d{3} --> \\d\\d:\\d\\d:\\d\\d\\\(separator)\\d{3}$")
            var texts: [String] = []
            for (i, block) in blocks.enumerated() {
                let lines = block.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                XCTAssertEqual(lines.count, 3, block)
                XCTAssertEqual(lines.first, String(i + 1))
                XCTAssertNotNil(time.firstMatch(in: lines[1], range: NSRange(lines[1].startIndex..., in: lines[1])), lines[1])
                texts.append(lines.last ?? "")
            }
            // Every word, in order, and nothing else.
            XCTAssertEqual(texts.joined(separator: " "), words.compactMap { $0["word"] as? String }.joined(separator: " "))
        }
    }

    func testStreamingOptionsAreValidated() throws {
        let model = try Fixtures.releasedModelPath()
        let cases: [([String], String)] = [
            (["--stream", "0"], "--stream"),
            (["--stream", "320", "--segment"], "cannot be combined"),
            (["--segment", "--min_pause", "0"], "--min_pause"),
            (["--output-format", "docx"], "output-format"),
        ]
        for (arguments, expected) in cases {
            let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-01.wav"] + arguments)
            XCTAssertNotEqual(run.status, 0, "\(arguments)")
            XCTAssertEqual(run.stdout, "", "\(arguments)")
            XCTAssertTrue(run.stderr.contains(expected), "\(arguments): \(run.stderr)")
        }
        let directory = try deepspeech(["--model", model, "--audio", "Fixtures/clips", "--output-format", "srt"])
        XCTAssertNotEqual(directory.status, 0)
        XCTAssertTrue(directory.stderr.contains("single audio file"), directory.stderr)
    }

    func testInspectAnswersHowBigTheLSTMIsInOneCommand() throws {
        let model = try Fixtures.releasedModelPath()
        let text = try deepspeech(["inspect", "--model", model])
        XCTAssertEqual(text.status, 0, text.stderr)
        let lstm = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.hasPrefix("lstm ") })
        XCTAssertTrue(lstm.contains("2048 -> 2048") && lstm.contains("33,562,624"), String(lstm))
        let json = try deepspeech(["inspect", "--model", model, "--json", "--tensors"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((object["layers"] as? [[String: Any]])?.count, 6)
        XCTAssertGreaterThan((object["tensors"] as? [[String: Any]])?.count ?? 0, 6)
        let wrong = try deepspeech(["inspect", "--model", "Fixtures/clips/hy-01.wav"])
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertEqual(wrong.stdout, "")
        XCTAssertTrue(wrong.stderr.contains("hy-01.wav"), wrong.stderr)
    }

    func testGoldenRecordAndCheckExitStatus() throws {
        let model = try Fixtures.releasedModelPath()
        let golden = FileManager.default.temporaryDirectory.appendingPathComponent("cli-golden-\(getpid()).json").path
        let record = try deepspeech(["golden", "record", "--model", model, "--audio", "Fixtures/clips/hy-08.wav", "--beam_width", "20", "--output", golden])
        XCTAssertEqual(record.status, 0, record.stderr)
        let check = try deepspeech(["golden", "check", golden])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        XCTAssertTrue(check.stdout.contains("golden check passed"), check.stdout)
        let drift = try deepspeech(["golden", "check", golden, "--precision", "float32"])
        XCTAssertEqual(drift.status, 1, drift.stdout + drift.stderr)
        XCTAssertTrue(drift.stdout.contains("drifted first at stage 'layer_1'"), drift.stdout)
        let notGolden = try deepspeech(["golden", "check", "Package.swift"])
        XCTAssertNotEqual(notGolden.status, 0)
        XCTAssertTrue(notGolden.stderr.contains("Package.swift"), notGolden.stderr)
    }

    /// `scorer build` writes the same bytes as Fixtures/make_scorer.py, whose package Coqui STT
    /// 1.4.0 loads and decodes with (Fixtures/reference/peers/stt-scorer.json); `scorer info`
    /// describes it.
    func testScorerBuildReproducesTheTestScorerAndInfoDescribesIt() throws {
        let model = try Fixtures.releasedModelPath()
        let reference = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("Fixtures/lm/hy.scorer")))
        let package = try ScorerPackage(path: Fixtures.path("Fixtures/lm/hy.scorer"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-scorer-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try reference.prefix(package.languageModel.endOfModel).write(to: dir.appendingPathComponent("lm.binary"))
        // The vocabulary: the corpus's words, one per line, in another order and with a duplicate.
        let alphabet = try SpeechModel(path: model).alphabet
        var words = package.vocabularyLabelSequences().map { alphabet.decode($0) }.reversed().map { $0 }
        words.append(words[0])
        try (words.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("hy.scorer").path
        let build = try deepspeech(["scorer", "build", "--lm", dir.appendingPathComponent("lm.binary").path, "--vocab",
                                    dir.appendingPathComponent("vocab.txt").path, "--model", model, "--alpha", "0.93", "--beta", "1.18", "--output", out])
        XCTAssertEqual(build.status, 0, build.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), reference, "not byte-identical to Fixtures/lm/hy.scorer")
        let info = try deepspeech(["scorer", "info", out])
        XCTAssertEqual(info.status, 0, info.stderr)
        for expected in ["order 3", "alphabet", "129 words", "0.93"] { XCTAssertTrue(info.stdout.contains(expected), info.stdout) }
        // A model with vocabulary strings cannot carry scorer data after it.
        let refused = try deepspeech(["scorer", "build", "--lm", Fixtures.sharedData.appendingPathComponent("kenlm/nounk_trie_vocab.bin").path,
                                      "--vocab", dir.appendingPathComponent("vocab.txt").path, "--model", model, "--alpha", "1", "--beta", "1", "--output", out + "2"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("-v"), refused.stderr)
    }

    func testLMBuildWritesAnARPAModelThatScoresLikeLmplz() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lm-\(getpid()).arpa").path
        let run = try deepspeech(["lm", "build", "--text", "Fixtures/lm/corpus-hy.normalised.txt", "--order", "3", "--output", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("132 / 250 / 256"), run.stderr)
        let ours = try ARPAModel(path: out), lmplz = try ARPAModel(path: Fixtures.path("Fixtures/lm/hy-3gram.arpa"))
        XCTAssertEqual(ours.counts, lmplz.counts)
        let sentence = ["մայրիկս", "պատրաստել", "է", "համեղ", "ընթրիք"]
        XCTAssertEqual(ours.score(sentence: sentence).total, lmplz.score(sentence: sentence).total, accuracy: 1e-5)
        let missing = try deepspeech(["lm", "build", "--text", "/nonexistent.txt", "--output", out])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("/nonexistent.txt"), missing.stderr)
    }

    /// From ARPA to scorer in pure Swift: the model part is what `build_binary -v trie` writes,
    /// the vocabulary that of the test scorer.
    func testScorerBuildFromARPA() throws {
        let model = try Fixtures.releasedModelPath()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-arpa-scorer-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let corpus = try String(contentsOfFile: Fixtures.path("Fixtures/lm/corpus-hy.normalised.txt"), encoding: .utf8)
        try corpus.write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("arpa.scorer").path
        let run = try deepspeech(["scorer", "build", "--lm", "Fixtures/lm/hy-3gram.arpa", "--vocab", dir.appendingPathComponent("vocab.txt").path,
                                  "--model", model, "--alpha", "0.93", "--beta", "1.18", "--output", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let built = try ScorerPackage(path: out), reference = try ScorerPackage(path: Fixtures.path("Fixtures/lm/hy.scorer"))
        XCTAssertEqual(built.languageModel.modelType, .trie)
        let trie = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("Fixtures/lm/hy-3gram.trie.bin")))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)).prefix(built.languageModel.endOfModel), trie)
        XCTAssertEqual(Set(built.vocabulary.acceptedSequences()), Set(reference.vocabulary.acceptedSequences()))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".lm.tmp"), "temporary model left behind")
    }
}
