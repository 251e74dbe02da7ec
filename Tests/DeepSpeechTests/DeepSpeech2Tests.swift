import DeepSpeech
import Foundation
import TestSupport
import XCTest

/// DeepSpeech2 checkpoints as deepspeech.pytorch writes them (`Fixtures/models/deepspeech2`,
/// saved by PyTorch 2.13 through `Fixtures/make_deepspeech2_models.py`) against PyTorch's own
/// spectrograms and probabilities on the same clips (`Fixtures/reference/deepspeech2`).
final class DeepSpeech2Tests: XCTestCase {
    static let folder = "Fixtures/models/deepspeech2/"
    static let reference = "Fixtures/reference/deepspeech2/"
    /// PyTorch's float32 convolutions and RNNs against ours: different summation orders.
    static let probabilityTolerance: Float = 1e-5
    /// PyTorch's float32 STFT pipeline vs our double FFT rounded to float, after normalisation.
    static let spectrogramTolerance: Float = 2e-5

    struct Expectation {
        var file: String
        var frontEnd: String
        var rnn: String
        var hidden: Int
        var layers: Int
        var bidirectional: Bool
        var context: Int?
    }

    /// What `summary.json` says each file holds.
    static func expectations() throws -> [Expectation] {
        let summary = try Fixtures.json("deepspeech2/summary.json") as! [String: Any]
        let models = summary["models"] as! [String: [String: Any]]
        return models.keys.sorted().map { file in
            let m = models[file]!, h = m["hyperparameters"] as! [String: Any]
            return Expectation(file: file, frontEnd: m["front_end"] as! String, rnn: h["rnn"] as! String, hidden: h["hidden"] as! Int,
                               layers: h["layers"] as! Int, bidirectional: h["bidirectional"] as! Bool, context: h["context"] as? Int)
        }
    }

    /// Expected probabilities `[T'][29]` in model order, with the blank (index 0) moved last as
    /// `SpeechModel.probabilities` returns them.
    func expectedProbabilities(_ stem: String, clip: String) throws -> [Float] {
        let npy = try NPYFile(path: Fixtures.path(Self.reference + "\(stem).\(clip).probs.npy"))
        let classes = npy.shape[1]
        var out = [Float](repeating: 0, count: npy.values.count)
        for t in 0..<npy.shape[0] {
            for c in 1..<classes { out[t * classes + c - 1] = npy.values[t * classes + c] }
            out[t * classes + classes - 1] = npy.values[t * classes]
        }
        return out
    }

    func audio(_ clip: String) throws -> [Float] {
        try ModelInput.load(path: Fixtures.clips.appendingPathComponent(clip + ".wav").path, sampleRate: 16000)
    }

    func testEveryCheckpointMatchesPyTorch() throws {
        for e in try Self.expectations() {
            let model = try SpeechModel(path: Fixtures.path(Self.folder + e.file))
            guard case .deepSpeech2(let network) = model.network else { return XCTFail("\(e.file) is not DeepSpeech2") }
            let c = network.configuration
            XCTAssertEqual(c.rnnType, e.rnn, e.file)
            XCTAssertEqual(c.hiddenSize, e.hidden, e.file)
            XCTAssertEqual(c.hiddenLayers, e.layers, e.file)
            XCTAssertEqual(c.bidirectional, e.bidirectional, e.file)
            XCTAssertEqual(c.lookaheadContext, e.context, e.file)
            XCTAssertEqual(c.blankIndex, 0)
            XCTAssertEqual(c.symmetricWindow, e.frontEnd == "v20", e.file)
            XCTAssertEqual(c.audioScale, e.frontEnd == "v3" ? 32768 : 32767, e.file)
            XCTAssertEqual(model.alphabet.labels, ["'"] + (65...90).map { String(UnicodeScalar($0)!) } + [" "])
            let stem = String(e.file.dropLast(e.file.hasSuffix(".ckpt") ? 5 : 4))
            for clip in ["hy-01", "hy-05"] {
                let expected = try expectedProbabilities(stem, clip: clip)
                let got = try model.probabilities(try audio(clip))
                XCTAssertEqual(got.count, expected.count, "\(e.file) \(clip)")
                let d = Difference(got, expected)
                // The float16 file's reference ran in float32 from the same half weights, as we do.
                XCTAssertLessThan(d.maxAbsolute, Self.probabilityTolerance, "\(e.file) on \(clip): \(d)")
                print("difference: " + "\(e.file) on \(clip): \(d)")
            }
        }
    }

    /// The three front ends (v2.0: symmetric Hamming and int16/32767; V2.1: periodic, /32767;
    /// V3: periodic, /32768) against numpy's librosa-equivalent STFT.
    func testSpectrogramFrontEnds() throws {
        for (frontEnd, symmetric, scale) in [("v20", true, Float(32767)), ("v21", false, 32767), ("v3", false, 32768)] {
            let spectrogram = LogSpectrogram(sampleRate: 16000, windowSeconds: 0.02, stepSeconds: 0.01, symmetricWindow: symmetric)
            for clip in ["hy-01", "hy-05"] {
                let expected = try NPYFile(path: Fixtures.path(Self.reference + "\(frontEnd).\(clip).spect.npy"))   // [161][T]
                let samples = try audio(clip).map { $0 * (32768 / scale) }
                let got = spectrogram.compute(samples)                                                           // [T][161]
                let frames = spectrogram.frameCount(sampleCount: samples.count)
                XCTAssertEqual(expected.shape, [161, frames])
                var transposed = [Float](repeating: 0, count: got.count)
                for t in 0..<frames { for f in 0..<161 { transposed[f * frames + t] = got[t * 161 + f] } }
                let d = Difference(transposed, expected.values)
                XCTAssertLessThan(d.maxAbsolute, Self.spectrogramTolerance, "\(frontEnd) \(clip): \(d)")
                print("difference: " + "\(frontEnd) \(clip): \(d)")
            }
        }
    }

    /// Intermediate layers of the bidirectional LSTM and the lookahead model, to localise a drift.
    func testLayersMatchPyTorch() throws {
        let model = try SpeechModel(path: Fixtures.path(Self.folder + "ds2-bilstm.ckpt"))
        let recording = try model.record(try audio("hy-01"))
        let folder = Self.reference + "ds2-bilstm.hy-01.layers/"
        for (ours, theirs) in [("rnn_0", "rnn0"), ("rnn_1", "rnn1"), ("rnn_2", "rnn2"), ("logits", "logits")] {
            let expected = try NPYFile(path: Fixtures.path(folder + theirs + ".npy"))
            let got = try XCTUnwrap(recording[ours], ours)
            XCTAssertEqual(got.values.count, expected.values.count, ours)
            let d = Difference(got.values, expected.values)
            XCTAssertLessThan(d.maxAbsolute, 1e-4, "\(ours): \(d)")
        }
        // Convolutions: ours are [T][32][F], PyTorch's [32][F][T].
        let conv = try NPYFile(path: Fixtures.path(folder + "conv.npy"))
        let got = try XCTUnwrap(recording["conv_2"])
        let (channels, bins, frames) = (conv.shape[0], conv.shape[1], conv.shape[2])
        XCTAssertEqual(got.shape, [frames, channels, bins])
        var transposed = [Float](repeating: 0, count: got.values.count)
        for t in 0..<frames { for c in 0..<channels { for f in 0..<bins {
            transposed[(c * bins + f) * frames + t] = got.values[(t * channels + c) * bins + f]
        } } }
        XCTAssertLessThan(Difference(transposed, conv.values).maxAbsolute, 1e-4)
        XCTAssertEqual(recording.transcription.candidates.first?.text, try model.transcribeWithMetadata(try audio("hy-01")).candidates.first?.text)
    }

    /// One network, three file formats: bit-identical outputs; the converted file too.
    func testFormatsAndConversionAgree() throws {
        let samples = try audio("hy-05")
        let legacy = try SpeechModel(path: Fixtures.path(Self.folder + "ds2-bilstm.v2.pth"))
        let zip = try SpeechModel(path: Fixtures.path(Self.folder + "ds2-bilstm.v21.pth"))
        let lightning = try SpeechModel(path: Fixtures.path(Self.folder + "ds2-bilstm.ckpt"))
        guard case .deepSpeech2(let a) = legacy.network, case .deepSpeech2(let b) = zip.network else { return XCTFail() }
        let spectrogram = LogSpectrogram(sampleRate: 16000, windowSeconds: 0.02, stepSeconds: 0.01).compute(samples)
        let frames = spectrogram.count / 161
        XCTAssertEqual(a.probabilities(spectrogram: spectrogram, frames: frames), b.probabilities(spectrogram: spectrogram, frames: frames))
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("ds2-\(UUID()).dsmodel").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        try lightning.convert(to: output)
        let converted = try SpeechModel(path: output)
        XCTAssertTrue(converted.format.contains("converted from deepspeech.pytorch"), converted.format)
        XCTAssertEqual(try converted.probabilities(samples), try lightning.probabilities(samples))
        XCTAssertEqual(try converted.transcribeWithMetadata(samples).candidates.map(\.text),
                       try lightning.transcribeWithMetadata(samples).candidates.map(\.text))
    }

    /// A stream of a DeepSpeech2 model buffers the utterance: its final result equals the
    /// one-shot transcription however the audio is split.
    func testStreamEqualsOneShot() throws {
        let model = try SpeechModel(path: Fixtures.path(Self.folder + "ds2-unigru-lookahead.ckpt"))
        XCTAssertFalse(model.isStreaming)
        let samples = try audio("hy-01")
        var stream = try model.makeStream()
        var offset = 0
        for chunk in [1, 0, 5119, 3000, 100_000] where offset < samples.count {
            let end = min(samples.count, offset + chunk)
            stream.feed(Array(samples[offset..<end]))
            offset = end
            _ = stream.intermediate()
        }
        XCTAssertEqual(stream.finishWithMetadata().candidates.map(\.text), try model.transcribeWithMetadata(samples).candidates.map(\.text))
    }

    /// Malicious pickles never run code; broken files are refused by name.
    func testMaliciousAndBrokenFilesAreRefusedWithoutSideEffects() throws {
        let marker = "/tmp/swift-deepspeech-pwned"
        try? FileManager.default.removeItem(atPath: marker)
        for file in ["evil-reduce-system.pth", "evil-legacy.pth", "evil-inst.pkl", "truncated.ckpt"] {
            XCTAssertThrowsError(try SpeechModel(path: Fixtures.path(Self.folder + file)), file) { error in
                XCTAssertTrue("\(error)".contains(file), "\(error)")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }
}
