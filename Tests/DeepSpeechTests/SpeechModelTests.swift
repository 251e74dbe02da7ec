import Foundation
import XCTest
import DeepSpeech
import TestSupport

final class SpeechModelTests: XCTestCase {
    func testStreamingInAnyChunkSizeEqualsOneShot() throws {
        let model = try SpeechModel(path: Fixtures.releasedModelPath())
        let samples = try ModelInput.load(path: Fixtures.clips.appendingPathComponent("hy-03.wav").path, sampleRate: 16000)
        let oneShot = try model.transcribeWithMetadata(samples, options: DecodingOptions(candidates: 2))
        for chunk in [1, 319, 320, 4000] {
            var stream = try model.makeStream(options: DecodingOptions(candidates: 2))
            var offset = 0
            while offset < samples.count {
                stream.feed(Array(samples[offset..<min(offset + chunk, samples.count)]))
                stream.feed([])
                offset += chunk
            }
            XCTAssertEqual(stream.finishWithMetadata().candidates, oneShot.candidates, "chunk \(chunk)")
        }
    }

    func testVeryShortAndSilentInputDoNotCrash() throws {
        let model = try SpeechModel(path: Fixtures.releasedModelPath())
        XCTAssertEqual(model.transcribe([]), "")
        _ = model.transcribe([0.1])
        XCTAssertEqual(model.transcribe([Float](repeating: 0, count: 16000)), "")
        _ = model.transcribe((0..<8000).map { Float(sin(Double($0))) })
    }

    /// Issue 16: samples fed through the API that are NaN or far beyond full scale cannot
    /// poison the stream: they decode exactly as silence and full-scale samples do.
    func testNonFiniteAndHugeSamplesDecodeAsSilenceAndFullScale() throws {
        let model = try SpeechModel(path: Fixtures.releasedModelPath())
        let clean = try ModelInput.load(path: Fixtures.clips.appendingPathComponent("hy-03.wav").path, sampleRate: 16000)
        var hostile = clean, expected = clean
        for i in stride(from: 100, to: clean.count, by: 997) {
            hostile[i] = [Float.nan, .infinity, -.infinity, 1e30][i % 4]
            expected[i] = [0, 1, -1, 1][i % 4]
        }
        let got = try model.transcribeWithMetadata(hostile)
        let want = try model.transcribeWithMetadata(expected)
        XCTAssertEqual(got.text, want.text)
        XCTAssertEqual(got.candidates.first?.confidence, want.candidates.first?.confidence)
        XCTAssertTrue(got.candidates.first?.confidence.isFinite ?? false)
    }

    func testWrongFilesAsModelGetClearErrors() throws {
        let cases: [(String, String)] = [
            (Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test/pruned_lm.scorer").path, "scorer"),
            (Fixtures.clips.appendingPathComponent("hy-01.wav").path, "audio"),
            ("/nonexistent/model.tflite", "/nonexistent/model.tflite"),
        ]
        for (path, expected) in cases {
            XCTAssertThrowsError(try SpeechModel(path: path)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(path): \(error)")
                XCTAssertTrue("\(error)".contains(path), "\(path): \(error)")
            }
        }
    }

    func testWordsAreGroupedAsTheReferenceClientDoes() {
        let tokens = [("a", 1), ("b", 3), (" ", 5), ("c", 8), ("d", 9)].map { Token(text: $0.0, timestep: $0.1, startTime: Double($0.1) * 0.02) }
        let candidate = Candidate(text: "ab cd", confidence: -1, tokens: tokens)
        XCTAssertEqual(candidate.words.map(\.word), ["ab", "cd"])
        XCTAssertEqual(candidate.words[0].startTime, 0.02, accuracy: 1e-12)
        XCTAssertEqual(candidate.words[0].duration, 0.08, accuracy: 1e-12)   // until the space
        XCTAssertEqual(candidate.words[1].startTime, 0.16, accuracy: 1e-12)
        XCTAssertEqual(candidate.words[1].duration, 0.02, accuracy: 1e-12)   // until the last token
    }
}
