import Foundation
import XCTest
import TestSupport
import DeepSpeech

/// `deepspeech lm build --prune …` as a user runs it, against lmplz's pruned files
/// (Fixtures/lm/hy-4gram-prune*.arpa, made by Fixtures/make_pruned_lms.py).
final class LMPruneCommandTests: XCTestCase {
    func deepspeech(_ arguments: [String], stdin: Data? = nil) throws -> CommandLineRunner.Run {
        try CommandLineRunner.deepspeech(arguments, stdin: stdin)
    }

    /// The n-grams of an ARPA file, as text.
    func ngrams(_ path: String) throws -> Set<String> {
        var out: Set<String> = [], inSection = false
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            if line.hasSuffix("-grams:") { inSection = true; continue }
            if line.hasPrefix("\\") { inSection = false; continue }
            if inSection { out.insert(String(line.split(separator: "\t")[1])) }
        }
        return out
    }

    func testPruneWritesWhatLmplzPruneWrites() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lm-prune-\(getpid()).arpa").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let sentence = ["մայրիկս", "պատրաստել", "է", "համեղ", "ընթրիք"]
        // lmplz's spelling (space-separated values) and the comma form.
        for (arguments, fixture) in [(["0", "1", "1"], "hy-4gram-prune011.arpa"), (["0,1,2"], "hy-4gram-prune012.arpa"), (["0", "0", "1"], "hy-4gram-prune001.arpa")] {
            let run = try deepspeech(["lm", "build", "--text", "Fixtures/lm/corpus-hy.normalised.txt", "--order", "4", "--prune"] + arguments + ["--output", out])
            XCTAssertEqual(run.status, 0, run.stderr)
            let reference = Fixtures.path("Fixtures/lm/\(fixture)")
            XCTAssertEqual(try ngrams(out), try ngrams(reference), fixture)
            let ours = try ARPAModel(path: out), lmplz = try ARPAModel(path: reference)
            XCTAssertEqual(ours.counts, lmplz.counts, fixture)
            XCTAssertEqual(ours.score(sentence: sentence).total, lmplz.score(sentence: sentence).total, accuracy: 1e-5, fixture)
            if fixture == "hy-4gram-prune011.arpa" { XCTAssertTrue(run.stderr.contains("132 / 54 of 250 / 19 of 256 / 8 of 218"), run.stderr) }
        }
    }

    func testBadThresholdsAreRefusedByName() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lm-prune-bad-\(getpid()).arpa").path
        for (arguments, expected) in [(["0", "2", "1"], "non-decreasing"), (["0", "0", "0", "1"], "only has order 3"),
                                      (["0", "x"], "'x' is not a count"), (["0,,1"], "'' is not a count"), (["1.5"], "'1.5' is not a count")] {
            let run = try deepspeech(["lm", "build", "--text", "Fixtures/lm/corpus-hy.normalised.txt", "--order", "3", "--prune"] + arguments + ["--output", out])
            XCTAssertNotEqual(run.status, 0, "\(arguments)")
            XCTAssertTrue(run.stderr.contains("--prune") && run.stderr.contains(expected), "\(arguments): \(run.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
    }
}
