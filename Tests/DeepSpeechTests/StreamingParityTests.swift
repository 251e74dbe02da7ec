import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// The stream API against Coqui STT 1.4.0's (`Fixtures/reference/peers/stt-streaming.json`,
/// recorded by `Fixtures/record_streaming.py`): the same feeds, the same intermediate decodes
/// (plain and flushing), the same final candidates.
final class StreamingParityTests: XCTestCase {
    static let model: SpeechModel? = try? SpeechModel(path: Fixtures.releasedModelPath())

    func loadModel() throws -> SpeechModel {
        if let model = Self.model { return model }
        return try SpeechModel(path: Fixtures.releasedModelPath())
    }

    struct Reference {
        var intermediate: [String]
        var final: [[String: Any]]
        var raw: [String: Any]
    }

    func reference(_ clip: String, run: String) throws -> Reference? {
        let all = try XCTUnwrap(Fixtures.json("peers/stt-streaming.json") as? [String: [String: Any]])
        guard let record = all[clip]?[run] as? [String: Any] else { return nil }
        return Reference(intermediate: try XCTUnwrap(record["intermediate"] as? [String]),
                         final: try XCTUnwrap(record["final"] as? [[String: Any]]), raw: record)
    }

    func samples(_ clip: String) throws -> [Float] {
        try ModelInput.load(path: Fixtures.clips.appendingPathComponent(clip).path, sampleRate: 16000)
    }

    /// Text, token timesteps, and confidence within 1e-3 relative, for every candidate.
    func same(_ ours: Transcription, _ theirs: [[String: Any]]) -> Bool {
        guard ours.candidates.count == theirs.count else { return false }
        for (o, t) in zip(ours.candidates, theirs) {
            guard let text = t["text"] as? String, let confidence = t["confidence"] as? Double,
                  let tokens = t["tokens"] as? [[String: Any]] else { return false }
            let relative = abs(o.confidence - confidence) / max(abs(confidence), 1e-9)
            if o.text != text || o.tokens.map(\.timestep) != tokens.map({ ($0["timestep"] as? Int) ?? -1 }) || relative > 1e-3 {
                return false
            }
        }
        return true
    }

    /// Feeds 320 ms chunks, decodes after each as `decodeAfter` says, and finishes.
    func run(_ samples: [Float], model: SpeechModel, chunk: Int,
             decodeAfter: (inout SpeechStream, Int) -> String) throws -> (intermediate: [String], final: Transcription) {
        var stream = try model.makeStream(options: DecodingOptions(candidates: 3))
        var texts: [String] = []
        var index = 0
        for start in stride(from: 0, to: samples.count, by: chunk) {
            samples.withUnsafeBufferPointer { stream.feed(UnsafeBufferPointer(rebasing: $0[start..<min(start + chunk, samples.count)])) }
            texts.append(decodeAfter(&stream, index))
            index += 1
        }
        return (texts, stream.finishWithMetadata())
    }

    /// Intermediate decodes after every 320 ms chunk and the final candidates. A clip counts as
    /// identical when every intermediate text and every final candidate (text, timesteps,
    /// confidence) equals Coqui's. The threshold is what the engine achieves (see
    /// `ReferenceEngineParityTests` for why a near-tied clip can differ); a regression in the
    /// buffering would break nearly every clip.
    func testIntermediateDecodesAfterEvery320msEqualCoquiSTT() throws {
        let model = try loadModel()
        var identical = 0, clips = 0, intermediateSame = 0, intermediateTotal = 0
        for clip in Fixtures.clipNames + ["long-hy.wav"] {
            let expected = try XCTUnwrap(try reference(clip, run: "chunks320"))
            let middle = try XCTUnwrap(expected.raw["metadata_after"] as? Int)
            let middleExpected = try XCTUnwrap(expected.raw["intermediate_metadata"] as? [[String: Any]])
            var middleSame = false
            let ours = try run(try samples(clip), model: model, chunk: 5120) { stream, index in
                if index == middle { middleSame = self.same(stream.intermediateWithMetadata(candidates: 3), middleExpected) }
                return stream.intermediate()
            }
            XCTAssertEqual(ours.intermediate.count, expected.intermediate.count, clip)
            let sameTexts = zip(ours.intermediate, expected.intermediate).filter { $0 == $1 }.count
            intermediateSame += sameTexts
            intermediateTotal += expected.intermediate.count
            let ok = sameTexts == expected.intermediate.count && middleSame && same(ours.final, expected.final)
            identical += ok ? 1 : 0
            clips += 1
            print("  \(clip): \(sameTexts)/\(expected.intermediate.count) intermediate texts, metadata after chunk \(middle) \(middleSame ? "same" : "differs"), final \(same(ours.final, expected.final) ? "same" : "differs")")
        }
        print("streaming 320 ms: \(identical)/\(clips) clips identical to Coqui STT 1.4.0 throughout; \(intermediateSame)/\(intermediateTotal) intermediate texts")
        XCTAssertGreaterThanOrEqual(identical, clips - 3)
    }

    /// `intermediateWithMetadataFlushingBuffers` after every third chunk changes the stream as
    /// Coqui's `IntermediateDecodeWithMetadataFlushBuffers` does.
    func testFlushingIntermediateDecodesEqualCoquiSTT() throws {
        let model = try loadModel()
        var identical = 0
        let clips = Fixtures.clipNames
        for clip in clips {
            let expected = try XCTUnwrap(try reference(clip, run: "flush"))
            let flushed = try XCTUnwrap(expected.raw["flushed_metadata"] as? [String: [[String: Any]]])
            var flushedSame = true
            let ours = try run(try samples(clip), model: model, chunk: 5120) { stream, index in
                guard index % 3 == 2 else { return stream.intermediate() }
                let result = stream.intermediateWithMetadataFlushingBuffers(candidates: 3)
                if let theirs = flushed[String(index)], !self.same(result, theirs) { flushedSame = false }
                return result.text
            }
            let ok = ours.intermediate == expected.intermediate && flushedSame && same(ours.final, expected.final)
            identical += ok ? 1 : 0
            let firstDifference = zip(ours.intermediate, expected.intermediate).enumerated().first { $0.element.0 != $0.element.1 }
            print("  \(clip): flushing decodes \(ok ? "same" : "differ")" + (firstDifference.map { " from chunk \($0.offset): \($0.element.0) | coqui: \($0.element.1)" } ?? ""))
        }
        print("streaming with flushes: \(identical)/\(clips.count) clips identical to Coqui STT 1.4.0")
        XCTAssertGreaterThanOrEqual(identical, clips.count - 3)
    }

    /// Chunks of 1, 0, 7, 160, 513, … samples, decoding after each feed.
    func testIrregularChunkSizesEqualCoquiSTT() throws {
        let model = try loadModel()
        for clip in ["hy-01.wav", "hy-05.wav", "hy-08.wav"] {
            let expected = try XCTUnwrap(try reference(clip, run: "irregular"))
            let sizes = try XCTUnwrap(expected.raw["sizes"] as? [Int])
            let x = try samples(clip)
            var stream = try model.makeStream(options: DecodingOptions(candidates: 3))
            var texts: [String] = []
            var offset = 0, k = 0
            while offset < x.count {
                let n = min(sizes[k % sizes.count], x.count - offset)
                stream.feed(Array(x[offset..<(offset + n)]))
                texts.append(stream.intermediate())
                offset += n
                k += 1
            }
            XCTAssertEqual(texts.count, expected.intermediate.count, clip)
            XCTAssertEqual(zip(texts, expected.intermediate).filter { $0 != $1 }.count, 0, "\(clip): intermediate texts differ")
            // The final candidates equal the one-shot result however the audio was split, and
            // the best text is Coqui's (hy-05's lower candidates differ in every mode; see
            // ReferenceEngineParityTests).
            let final = stream.finishWithMetadata()
            XCTAssertEqual(final.candidates, try model.transcribeWithMetadata(x, options: DecodingOptions(candidates: 3)).candidates, clip)
            XCTAssertEqual(final.text, expected.final.first?["text"] as? String, clip)
        }
    }
}
