import Foundation
import XCTest
import SpeechLanguageModel
import TestSupport

/// Randomly damaged language-model files (bytes overwritten, files cut short) are either
/// refused with an error or read and scored without crashing: never a crash, never a read
/// outside the file.
final class DamagedFilesTests: XCTestCase {
    func testRandomMutationsNeverCrash() throws {
        let kenlm = Fixtures.sharedData.appendingPathComponent("kenlm")
        let files = ["test_trie.bin", "test_probing.bin", "test_q8b5a255.bin", "test_a255.bin"].map { kenlm.appendingPathComponent($0).path }
            + [Fixtures.path("Fixtures/lm/hy.scorer")]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-fuzz-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var seed: UInt64 = 2026
        func random(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(max(n, 1)))
        }
        var refused = 0, read = 0
        for file in files {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            for trial in 0..<200 {
                var bytes = original
                if trial % 4 == 3 {
                    bytes = Array(bytes.prefix(random(bytes.count)))            // cut short
                } else {
                    for _ in 0..<(1 + random(8)) { bytes[random(bytes.count)] = UInt8(truncatingIfNeeded: random(256)) }
                }
                let path = dir.appendingPathComponent("damaged").path
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                if file.hasSuffix(".scorer") {
                    guard let scorer = try? ScorerPackage(path: path) else { refused += 1; continue }
                    read += 1
                    var state = scorer.vocabulary.start
                    for label in [5, 1, 20, 3] where state >= 0 { state = scorer.vocabulary.next(state, label: Int32(label)) ?? scorer.vocabulary.start }
                    _ = scorer.languageModel.score(sentence: ["մայրիկս", "է"])
                } else {
                    guard let model = try? KenLMBinaryModel(path: path) else { refused += 1; continue }
                    read += 1
                    _ = model.score(sentence: ["looking", "on", "a", "little", "the", "not_found"])
                }
            }
        }
        print("damaged files: \(refused) refused, \(read) read and scored without crashing")
        XCTAssertGreaterThan(refused, 0)
    }

    func testDamagedARPATextGetsLineNumbers() throws {
        let text = try String(contentsOfFile: Fixtures.path("Fixtures/lm/hy-3gram.arpa"), encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[20] = "garbage"
        XCTAssertThrowsError(try ARPAModel(text: lines.joined(separator: "\n"), path: "x.arpa")) { error in
            XCTAssertTrue("\(error)".contains("x.arpa: line 21"), "\(error)")
        }
    }
}
