import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// Files read block by block, utterances cut at pauses, subtitles, and the stream's life cycle.
final class LongAudioTests: XCTestCase {
    static let model: SpeechModel? = try? SpeechModel(path: Fixtures.releasedModelPath())

    func loadModel() throws -> SpeechModel {
        if let model = Self.model { return model }
        return try SpeechModel(path: Fixtures.releasedModelPath())
    }

    func int16Samples(_ clip: String) throws -> [Int16] {
        let audio = try AudioFileReader.read(path: Fixtures.clips.appendingPathComponent(clip).path)
        return audio.samples.map { Int16(($0 * 32768).rounded()) }
    }

    /// Reading a file in blocks (here with resampling from 44.1 kHz stereo float) gives the
    /// same candidates as decoding it whole and transcribing the samples.
    func testFileTranscriptionIsStreamedWithoutChangingTheResult() throws {
        let model = try loadModel()
        let path = Fixtures.clips.appendingPathComponent("hy-01-44k-stereo-float.wav").path
        var reports: [TranscriptionProgress] = []
        let streamed = try model.transcribe(file: path, options: DecodingOptions(candidates: 2)) { reports.append($0) }
        let whole = try model.transcribeWithMetadata(try ModelInput.load(path: path, sampleRate: 16000), options: DecodingOptions(candidates: 2))
        XCTAssertEqual(streamed.candidates, whole.candidates)
        XCTAssertFalse(reports.isEmpty)
        XCTAssertEqual(reports.last?.processedSeconds ?? 0, 3.374, accuracy: 0.01)
        XCTAssertEqual(reports.last?.totalSeconds ?? 0, 3.374, accuracy: 0.01)
    }

    /// Three clips with 1.2 s of quiet noise between them: three utterances, each within its
    /// clip's extent and transcribed (nearly) as Coqui STT transcribes the clip on its own:
    /// character error rate at most 0.3 each and 0.2 on average (a cut inside a word costs far
    /// more). Not exactly: an utterance starts inside the pause, on the 10 ms grid, so its
    /// 20 ms feature frames are offset from the clip's, and this model is sensitive to that.
    func testUtterancesAreCutAtPausesAndTranscribedLikeTheClipsAlone() throws {
        let model = try loadModel()
        let clips = ["hy-01.wav", "hy-06.wav", "hy-10.wav"]
        var samples: [Int16] = []
        var extents: [(Double, Double)] = []
        var noiseState: UInt32 = 1
        for (i, clip) in clips.enumerated() {
            if i > 0 {
                for _ in 0..<Int(1.2 * 16000) {
                    noiseState = noiseState &* 1_664_525 &+ 1_013_904_223
                    samples.append(Int16(Int(noiseState >> 16) % 31 - 15))      // about −70 dBFS
                }
            }
            let start = Double(samples.count) / 16000
            samples += try int16Samples(clip)
            extents.append((start, Double(samples.count) / 16000))
        }
        let path = try WAVWriter.temporaryFile(WAVWriter.pcm16(samples, sampleRate: 16000), name: "three-utterances.wav")
        let utterances = try model.transcribeUtterances(file: path)
        XCTAssertEqual(utterances.count, 3, utterances.map(\.text).description)
        guard utterances.count == 3 else { return }
        let reference = try XCTUnwrap(Fixtures.json("peers/stt-beam500-c3.json") as? [String: [String: Any]])
        var totalErrors = 0.0
        defer { XCTAssertLessThanOrEqual(totalErrors / 3, 0.2, "mean character error rate against the clips alone") }
        for (i, utterance) in utterances.enumerated() {
            XCTAssertGreaterThanOrEqual(utterance.startTime, extents[i].0 - 0.01, "utterance \(i) starts before its clip")
            XCTAssertLessThanOrEqual(utterance.endTime, extents[i].1 + 0.01, "utterance \(i) ends after its clip")
            XCTAssertGreaterThan(utterance.endTime - utterance.startTime, 0.5 * (extents[i].1 - extents[i].0))
            let expected = try XCTUnwrap(reference[clips[i]]?["text"] as? String)
            let errorRate = Double(editDistance(Array(utterance.text), Array(expected))) / Double(expected.count)
            XCTAssertLessThanOrEqual(errorRate, 0.3, "utterance \(i): \(utterance.text) | coqui on the clip alone: \(expected)")
            totalErrors += errorRate
            // Times count from the start of the file.
            let words = try XCTUnwrap(utterance.candidates.first?.words)
            XCTAssertGreaterThanOrEqual(words.first?.startTime ?? -1, extents[i].0 - 0.01)
            XCTAssertLessThanOrEqual(words.last?.startTime ?? .infinity, extents[i].1)
        }
    }

    func testFinishResetsTheStreamForTheNextUtterance() throws {
        let model = try loadModel()
        let samples = try ModelInput.load(path: Fixtures.clips.appendingPathComponent("hy-04.wav").path, sampleRate: 16000)
        var stream = try model.makeStream()
        XCTAssertEqual(stream.intermediate(), "")
        XCTAssertEqual(stream.intermediateFlushingBuffers(), "")      // nothing fed: no crash, nothing heard
        stream.reset()
        stream.feed(samples)
        let first = stream.finishWithMetadata()
        XCTAssertEqual(stream.audioSeconds, 0)
        stream.feed(pcm16: try int16Samples("hy-04.wav"))
        let second = stream.finishWithMetadata()
        XCTAssertEqual(first.candidates, second.candidates)
        XCTAssertEqual(first.text, model.transcribe(samples))
        XCTAssertFalse(first.text.isEmpty)
    }

    func testSubtitleCuesSplitAtLengthGapsAndDuration() {
        func word(_ text: String, _ start: Double, _ duration: Double) -> Word { Word(word: text, startTime: start, duration: duration) }
        let words = [word("one", 0.0, 0.3), word("two", 0.4, 0.3), word("three", 2.0, 0.4),    // 1.0 s gap before "three"
                     word(String(repeating: "x", count: 40), 2.5, 0.5), word("end", 9.0, 0.1)]
        let cues = SubtitleCue.cues(from: words, until: 9.5)
        XCTAssertEqual(cues.map(\.text), ["one two", "three", String(repeating: "x", count: 40), "end"])
        XCTAssertEqual(cues[0].startTime, 0.0)
        XCTAssertEqual(cues[0].endTime, 0.7, accuracy: 1e-9)
        XCTAssertEqual(cues[2].endTime, 3.2, accuracy: 1e-9)        // stretched to the 0.7 s minimum
        XCTAssertEqual(cues[3].endTime, 9.5, accuracy: 1e-9)        // extended to the utterance's end
        XCTAssertEqual(SubtitleFormat.srt.timestamp(3661.5), "01:01:01,500")
        XCTAssertEqual(SubtitleFormat.vtt.timestamp(59.9996), "00:01:00.000")
        XCTAssertEqual(SubtitleFormat.vtt.render([SubtitleCue(startTime: 1, endTime: 2.25, text: "hi")]),
                       "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.250\nhi\n\n")
        XCTAssertEqual(SubtitleFormat.srt.render([SubtitleCue(startTime: 1, endTime: 2.25, text: "hi")]),
                       "1\n00:00:01,000 --> 00:00:02,250\nhi\n\n")
    }
}
