import Foundation
import XCTest
import SpeechLanguageModel
import TestSupport

/// `KenLMTrieWriter` against KenLM's `build_binary -v trie` on the same ARPA file.
final class KenLMTrieWriterTests: XCTestCase {
    func testWritesWhatBuildBinaryWrites() throws {
        let arpa = try ARPAModel(path: Fixtures.path("Fixtures/lm/hy-3gram.arpa"))
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("trie-\(getpid()).bin").path
        try KenLMTrieWriter.write(arpa, to: out)
        let ours = try Data(contentsOf: URL(fileURLWithPath: out))
        let reference = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("Fixtures/lm/hy-3gram.trie.bin")))
        XCTAssertEqual(ours.count, reference.count)
        let firstDifference = zip(ours, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        XCTAssertNil(firstDifference, "first differing byte: \(firstDifference ?? -1)")
        // And it reads back and scores like the ARPA file.
        let binary = try KenLMBinaryModel(path: out)
        for sentence in [["մայրիկս", "պատրաստել", "է"], ["ես", "ուզում", "եմ", "գնալ", "սևան"], ["անհայտ", "բառ"]] {
            XCTAssertEqual(binary.score(sentence: sentence).total, arpa.score(sentence: sentence).total, accuracy: 1e-6)
        }
    }

    func testPrunedARPAIsRefused() throws {
        // kpu/kenlm's test.arpa lacks some suffixes; KenLM fills them with blanks.
        let arpa = try ARPAModel(path: Fixtures.sharedData.appendingPathComponent("kenlm/test.arpa").path)
        XCTAssertThrowsError(try KenLMTrieWriter.write(arpa, to: "/tmp/never.bin")) { error in
            XCTAssertTrue("\(error)".contains("build_binary"), "\(error)")
        }
    }
}
