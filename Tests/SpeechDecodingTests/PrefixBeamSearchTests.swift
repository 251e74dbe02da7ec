import Foundation
import XCTest
import TestSupport
import SpeechDecoding

final class PrefixBeamSearchTests: XCTestCase {
    private let minusFloatMax = Double(-Float.greatestFiniteMagnitude)

    private func assertClose(_ value: Double, _ expected: Double, accuracy: Double = 1e-6,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(value, expected, accuracy: accuracy, file: file, line: line)
    }

    /// Classes: 0 = "a", 1 = blank. Frames p = [0.6, 0.4], [0.3, 0.7]; beam 10 (no pruning).
    ///
    /// Frame 0 (classes visited in id order: a, then blank):
    ///   - root + a -> new prefix "a": ln 0.6, emitted at frame 0.
    ///   - root + blank: root blank = ln 0.4.
    /// Frame 1 (beam order after frame 0 = post-order: "a", root):
    ///   - a, prefix "a": repeat collapses, "a" non-blank = 0.3 * 0.6 = 0.18; "aa" needs a blank
    ///     between the a's and "a" had none, so "aa" is created with probability 0 (-FLT_MAX).
    ///   - a, prefix root: "a" non-blank += 0.3 * 0.4 = 0.12 -> 0.30. This path (0.12) does not beat
    ///     the current 0.18, so the timestep of "a" stays 0.
    ///   - blank, "a": "a" blank = 0.7 * 0.6 = 0.42; blank, root: root blank = 0.7 * 0.4 = 0.28.
    /// Result: "a" = 0.42 + 0.30 = 0.72 at [0], "" = 0.28, "aa" = -FLT_MAX. The impossible "aa"
    /// has no timestep history (Coqui would crash on it); it reports its parent's timesteps plus
    /// its creation frame.
    func testTwoFramesByHand() throws {
        var search = try PrefixBeamSearch(classCount: 2, beamWidth: 10)
        search.next(probabilities: [0.6, 0.4, 0.3, 0.7])
        let results = search.decode(candidates: 5)
        XCTAssertEqual(results.count, 3)
        XCTAssertEqual(results[0].labels, [0])
        XCTAssertEqual(results[0].timesteps, [0])
        assertClose(results[0].confidence, log(0.72))
        XCTAssertEqual(results[1].labels, [])
        XCTAssertEqual(results[1].timesteps, [])
        assertClose(results[1].confidence, log(0.28))
        XCTAssertEqual(results[2].labels, [0, 0])
        XCTAssertEqual(results[2].timesteps, [0, 1])
        XCTAssertEqual(results[2].confidence, minusFloatMax)
        XCTAssertEqual(search.framesConsumed, 2)
        XCTAssertEqual(search.decode(candidates: 1), [results[0]])
        XCTAssertEqual(search.decode(candidates: 0), [])
    }

    /// Classes: 0 = "a", 1 = blank. Frames: [0.0005, 0.9995], [0.2, 0.8], [0.1, 0.9], [0.9, 0.1].
    ///
    /// Frame 0: blank ≥ 0.999, skipped (but counted: the next frame is absolute frame 1).
    /// Frame 1: "a" = 0.2, emitted at 1; "" = 0.8.
    /// Frame 2 (beam: "a", root):
    ///   - a, "a": repeat, "a" non-blank = 0.1 * 0.2 = 0.02; "aa" created at probability 0.
    ///   - a, root: "a" non-blank += 0.1 * 0.8 = 0.08. This path beats 0.02, so "a" would move
    ///     to frame 2 ...
    ///   - blank, "a": ... but the blank path 0.9 * 0.2 = 0.18 beats the non-blank total 0.10 and
    ///     cancels the move: "a" stays at frame 1. "a" = 0.18 + 0.10 = 0.28, "" = 0.72.
    /// Frame 3 (beam, post-order: "aa" (-FLT_MAX, skipped), "a", root):
    ///   - a, "a": repeat 0.9 * 0.10 = 0.09; extension "aa" after the blank: 0.9 * 0.18 = 0.162,
    ///     emitted at 3 after "a"@1.
    ///   - a, root: "a" += 0.9 * 0.72 = 0.648, which beats 0.09: "a" moves to frame 3.
    ///   - blank: "a" blank = 0.1 * 0.28 = 0.028 (does not beat 0.738); "" = 0.1 * 0.72 = 0.072.
    /// Result: "a" 0.766 @[3], "aa" 0.162 @[1, 3], "" 0.072.
    func testTimestepsMoveOnlyWhenANewPathWins() throws {
        var search = try PrefixBeamSearch(classCount: 2, beamWidth: 10)
        search.next(probabilities: [0.0005, 0.9995, 0.2, 0.8, 0.1, 0.9])
        // Intermediate result after frame 2.
        let intermediate = search.decode(candidates: 3)
        XCTAssertEqual(intermediate.map(\.labels), [[], [0], [0, 0]])
        XCTAssertEqual(intermediate[1].timesteps, [1])
        assertClose(intermediate[0].confidence, log(0.72))
        assertClose(intermediate[1].confidence, log(0.28))

        search.next(probabilities: [0.9, 0.1])
        let results = search.decode(candidates: 3)
        XCTAssertEqual(results.map(\.labels), [[0], [0, 0], []])
        XCTAssertEqual(results.map(\.timesteps), [[3], [1, 3], []])
        assertClose(results[0].confidence, log(0.766))
        assertClose(results[1].confidence, log(0.162))
        assertClose(results[2].confidence, log(0.072))
    }

    /// Classes: a, b, blank; one frame [0.4, 0.4, 0.2]. "a" and "b" tie at ln 0.4: the smaller
    /// label comes first, both in the output order and when beam 1 must choose.
    func testTiesPreferTheSmallerLabel() throws {
        let probabilities: [Float] = [0.4, 0.4, 0.2]
        let wide = try PrefixBeamSearch.decode(probabilities, classCount: 3, beamWidth: 10, candidates: 3)
        XCTAssertEqual(wide.map(\.labels), [[0], [1], []])
        XCTAssertEqual(wide[0].confidence, wide[1].confidence)
        let narrow = try PrefixBeamSearch.decode(probabilities, classCount: 3, beamWidth: 1, candidates: 3)
        XCTAssertEqual(narrow.map(\.labels), [[0]])
        assertClose(narrow[0].confidence, log(0.4))
    }

    /// If no frame ever has blank < 0.999 nothing is expanded: one empty candidate, confidence 0.
    func testAllSilenceGivesTheEmptyTranscript() throws {
        var search = try PrefixBeamSearch(classCount: 3, beamWidth: 5)
        XCTAssertEqual(search.decode(candidates: 3), [CandidateTranscript(labels: [], timesteps: [], confidence: 0)])
        search.next(probabilities: [0.0, 0.0005, 0.9995, 0.0, 0.0, 1.0])
        XCTAssertEqual(search.framesConsumed, 2)
        XCTAssertEqual(search.decode(candidates: 3), [CandidateTranscript(labels: [], timesteps: [], confidence: 0)])
    }

    /// Feeding frames one by one, in chunks of 16 (the native client's batches) or all at once
    /// gives identical results, and intermediate decodes change nothing.
    func testChunkingDoesNotMatter() throws {
        let npy = try ArmenianModel.probabilities("hy-03")
        let classes = npy.shape[1]
        let frames = npy.shape[0]
        let whole = try PrefixBeamSearch.decode(npy.values, classCount: classes, beamWidth: 64, candidates: 5)

        var oneByOne = try PrefixBeamSearch(classCount: classes, beamWidth: 64)
        var chunked = try PrefixBeamSearch(classCount: classes, beamWidth: 64)
        npy.values.withUnsafeBufferPointer { all in
            for t in 0 ..< frames {
                oneByOne.next(probabilities: UnsafeBufferPointer(rebasing: all[(t * classes) ..< ((t + 1) * classes)]), frames: 1)
                if t % 7 == 0 { _ = oneByOne.decode(candidates: 3) }
            }
            var start = 0
            while start < frames {
                let count = min(16, frames - start)
                chunked.next(probabilities: UnsafeBufferPointer(rebasing: all[(start * classes) ..< ((start + count) * classes)]),
                             frames: count)
                _ = chunked.decode(candidates: 1)
                start += count
            }
        }
        XCTAssertEqual(oneByOne.decode(candidates: 5), whole)
        XCTAssertEqual(chunked.decode(candidates: 5), whole)
        XCTAssertEqual(chunked.framesConsumed, frames)
    }

    /// A copy is an independent search (copy-on-write).
    /// After [a 0.6, b 0.1, blank 0.3]: then [0.9, 0.05, 0.05] gives "a" (0.54 + 0.27 + 0.03);
    /// [0.05, 0.9, 0.05] gives "ab" (0.6 * 0.9 = 0.54) over "b" (0.27 + 0.09 + 0.005).
    func testCopiesAreIndependent() throws {
        var first = try PrefixBeamSearch(classCount: 3, beamWidth: 4)
        first.next(probabilities: [0.6, 0.1, 0.3])
        var second = first
        first.next(probabilities: [0.9, 0.05, 0.05])
        second.next(probabilities: [0.05, 0.9, 0.05])
        XCTAssertEqual(first.decode(candidates: 1)[0].labels, [0])
        XCTAssertEqual(second.decode(candidates: 1)[0].labels, [0, 1])
        XCTAssertEqual(first.framesConsumed, 2)
        XCTAssertEqual(second.framesConsumed, 2)
    }

    /// On peaky distributions (one class ≥ 0.95 per frame) beam width 1 follows the best path:
    /// same labels and timesteps as greedy decoding.
    func testBeamWidthOneMatchesGreedyOnPeakyInput() throws {
        for (classes, seed) in [(3, 11 as UInt32), (5, 12), (41, 13), (60, 14)] {
            var state = seed
            var probabilities: [Float] = []
            for _ in 0 ..< 300 {
                state = (state &* 1_103_515_245 &+ 12345) & 0x7FFF_FFFF
                let r = Int(state >> 16)
                // Half the frames are blank, the rest a random label.
                let peak = r % 2 == 0 ? classes - 1 : (r / 2) % (classes - 1)
                for c in 0 ..< classes {
                    probabilities.append(c == peak ? 0.95 : 0.05 / Float(classes - 1))
                }
            }
            let greedy = GreedyCTCDecoder.decode(probabilities: probabilities, classCount: classes)
            let beam = try PrefixBeamSearch.decode(probabilities, classCount: classes, beamWidth: 1, candidates: 1)
            XCTAssertEqual(beam.count, 1)
            XCTAssertGreaterThan(greedy.labels.count, 50)
            XCTAssertEqual(beam[0].labels, greedy.labels, "classes \(classes)")
            XCTAssertEqual(beam[0].timesteps, greedy.timesteps, "classes \(classes)")
        }
    }

    func testInvalidArguments() {
        XCTAssertThrowsError(try PrefixBeamSearch(classCount: 1, beamWidth: 1)) { error in
            XCTAssertEqual(error as? PrefixBeamSearchError, .invalidClassCount(1))
            XCTAssertTrue("\(error)".contains("class count 1"))
        }
        XCTAssertThrowsError(try PrefixBeamSearch(classCount: 3, beamWidth: 0)) { error in
            XCTAssertEqual(error as? PrefixBeamSearchError, .invalidBeamWidth(0))
        }
        XCTAssertThrowsError(try PrefixBeamSearch(classCount: 3, beamWidth: 1, cutoffTopN: 0)) { error in
            XCTAssertEqual(error as? PrefixBeamSearchError, .invalidCutoffTopN(0))
        }
        for p in [0.0, 1.5, -1, .nan] {
            XCTAssertThrowsError(try PrefixBeamSearch(classCount: 3, beamWidth: 1, cutoffProbability: p))
        }
        XCTAssertThrowsError(try PrefixBeamSearch(classCount: 1 << 20, beamWidth: 1 << 12)) { error in
            guard case PrefixBeamSearchError.beamTooLarge = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try PrefixBeamSearch(alphabet: Alphabet.utf8Bytes(), beamWidth: 3).classCount, 256)
    }

    /// NaN or out-of-range probabilities are clamped to [0, 1] instead of breaking the search.
    func testMalformedProbabilitiesAreClamped() throws {
        let clean: [Float] = [0.7, 0, 0.3, 0, 1, 0]
        let dirty: [Float] = [0.7, .nan, 0.3, -2, .infinity, -.infinity]
        XCTAssertEqual(try PrefixBeamSearch.decode(dirty, classCount: 3, beamWidth: 4, candidates: 4),
                       try PrefixBeamSearch.decode(clean, classCount: 3, beamWidth: 4, candidates: 4))
    }

    /// The scorer hooks: a dictionary that forbids "b", a bonus on extensions and a final bonus.
    func testScorerHooks() throws {
        struct ToyScorer: PrefixScorer {
            var beamCutoffMargin: Double { 0 }
            var initialState: Int32 { 7 }
            func nextState(from state: Int32, appending label: Int) -> Int32? {
                label == 1 ? nil : state + 1
            }
            func scoreExtension(_ logProbability: Float, parent: PrefixPath, label: Int) -> Float {
                logProbability + (label == 0 ? 2 : 0)
            }
            func scoreFinal(_ score: Float, prefix: PrefixPath) -> Float {
                XCTAssertEqual(prefix.scorerState, 7 + Int32(prefix.labels.count))
                return score + (prefix.isEmpty ? 0 : 1)
            }
        }
        var search = try PrefixBeamSearch(classCount: 4, beamWidth: 10, scorer: ToyScorer())
        search.next(probabilities: [0.2, 0.5, 0.1, 0.2])
        let results = search.decode(candidates: 10)
        XCTAssertFalse(results.contains { $0.labels.contains(1) })
        XCTAssertEqual(results.map(\.labels), [[0], [2], []])
        assertClose(results[0].confidence, Double(Float(log(0.2)) + 2 + 1), accuracy: 1e-5)
        assertClose(results[1].confidence, log(0.1) + 1, accuracy: 1e-5)
        assertClose(results[2].confidence, log(0.2), accuracy: 1e-5)
    }

    /// `bestLabels()` is `decode(candidates: 1)[0].labels` at every frame, and the stable labels
    /// start every candidate in the beam and only ever grow (so a stream can convert them to
    /// text once). Peaked random frames over 6 classes, 400 frames, beam 16.
    func testBestLabelsAndStableLabelsAgreeWithDecode() throws {
        var search = try PrefixBeamSearch(classCount: 6, beamWidth: 16)
        var seed: UInt64 = 99
        var stable: [Int] = []
        for _ in 0..<400 {
            var frame = (0..<6).map { _ -> Float in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Float(seed >> 40) / Float(1 << 24) + 0.01
            }
            let peak = Int(seed >> 61) % 6
            frame[peak] += 4
            let sum = frame.reduce(0, +)
            search.next(probabilities: frame.map { $0 / sum })
            let all = search.decode(candidates: 16)
            XCTAssertEqual(search.bestLabels(), all[0].labels)
            let count = search.stableLabelCount
            XCTAssertGreaterThanOrEqual(count, stable.count)
            stable += search.stableLabels(from: stable.count)
            XCTAssertEqual(stable.count, count)
            for candidate in all { XCTAssertEqual(Array(candidate.labels.prefix(count)), stable) }
            XCTAssertEqual(stable + search.bestLabelsAfterStable(), all[0].labels)
        }
        XCTAssertGreaterThan(stable.count, 50, "the trunk should grow on peaked input")
    }
}
