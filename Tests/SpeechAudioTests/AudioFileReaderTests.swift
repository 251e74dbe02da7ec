import Foundation
import XCTest
import SpeechAudio
import TestSupport

final class AudioFileReaderTests: XCTestCase {

    func testPCM16SamplesAreExactlyInt16Over32768() throws {
        let values: [Int16] = [0, 1, -1, 32767, -32768, 12345, -54, 7]
        let path = try WAVWriter.temporaryFile(WAVWriter.pcm16(values, sampleRate: 16000), name: "exact.wav")
        let audio = try AudioFileReader.read(path: path)
        XCTAssertTrue(audio.isPCM16)
        XCTAssertEqual(audio.sampleRate, 16000)
        XCTAssertEqual(audio.samples, values.map { Float($0) * (1.0 / 32768.0) })
        // 16 kHz mono input to a 16 kHz model passes through untouched.
        XCTAssertEqual(ModelInput.monoSamples(audio, sampleRate: 16000), audio.samples)
    }

    func testStereoFloatIsDownmixedAndResampled() throws {
        // 0.5 s of a 440 Hz tone at 44.1 kHz, left and right at different levels.
        let rate = 44100, n = rate / 2
        var interleaved: [Float] = []
        for i in 0..<n {
            let s = Float(sin(2 * Double.pi * 440 * Double(i) / Double(rate)))
            interleaved.append(0.6 * s); interleaved.append(0.2 * s)
        }
        let path = try WAVWriter.temporaryFile(WAVWriter.float32(interleaved, sampleRate: rate, channels: 2), name: "stereo.wav")
        let audio = try AudioFileReader.read(path: path)
        XCTAssertEqual(audio.channels, 2)
        XCTAssertFalse(audio.isPCM16)
        let mono = ModelInput.monoSamples(audio, sampleRate: 16000)
        XCTAssertEqual(mono.count, 8000)
        // Mean of the channels has amplitude 0.4; check away from the edges.
        let peak = mono[1000..<7000].map { abs($0) }.max()!
        XCTAssertEqual(peak, 0.4, accuracy: 0.002)
    }

    /// Issue 16: a float WAV with one NaN or infinite sample is refused with its position, and
    /// finite samples beyond full scale are clipped as a conversion to 16-bit PCM clips them.
    func testNonFiniteFloatSamplesAreRefusedAndHugeOnesClipped() throws {
        var samples = [Float](repeating: 0.25, count: 20000)
        samples[10] = 1e30
        samples[11] = -3
        let clipped = try AudioFileReader.read(path: WAVWriter.temporaryFile(
            WAVWriter.float32(samples, sampleRate: 16000), name: "loud.wav"))
        XCTAssertEqual(Array(clipped.samples[9...12]), [0.25, 1, -1, 0.25])
        XCTAssertEqual(clipped.samples.count, 20000)

        for (value, word) in [(Float.nan, "NaN"), (.infinity, "infinity"), (-.infinity, "-infinity")] {
            var bad = samples
            bad[17000] = value   // in the second 16384-frame block: the position counts earlier blocks
            let path = try WAVWriter.temporaryFile(WAVWriter.float32(bad, sampleRate: 16000), name: "nonfinite.wav")
            XCTAssertThrowsError(try AudioFileReader.read(path: path), word) { error in
                XCTAssertEqual("\(error)", "\(path): invalid audio: sample frame 17000 (at 1.062 s) is \(word)")
            }
        }
        // Stereo: the channel is named too.
        var stereo = [Float](repeating: 0, count: 200)
        stereo[51] = .nan
        let path = try WAVWriter.temporaryFile(WAVWriter.float32(stereo, sampleRate: 8000, channels: 2), name: "nan-stereo.wav")
        XCTAssertThrowsError(try AudioFileReader.read(path: path)) { error in
            XCTAssertTrue("\(error)".hasSuffix("sample frame 25, channel 2 (at 0.003 s) is NaN"), "\(error)")
        }
    }

    func testEveryBadInputGetsAOneLineErrorNamingTheFile() throws {
        let cases: [(String, Data, String)] = [
            ("empty.wav", Data(), "empty"),
            ("text.wav", Data("hello, this is not audio at all\n".utf8), "not an audio file"),
            ("model.wav", Data([0x1c, 0, 0, 0] + Array("TFL3".utf8) + [UInt8](repeating: 0, count: 64)), "TensorFlow Lite model"),
            ("scorer.wav", Data(Array("mmap lm http://kheafield.com/code".utf8) + [UInt8](repeating: 0, count: 64)), "--scorer"),
            ("truncated.wav", WAVWriter.pcm16([Int16](repeating: 100, count: 1000), sampleRate: 16000).prefix(600), "truncated"),
            ("header-only.wav", WAVWriter.pcm16([], sampleRate: 16000), "no samples"),
            ("short-riff.wav", Data(Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WAVE".utf8)), "truncated"),
            // Header fields that would size buffers are checked before any allocation.
            ("1000-channels.wav", WAVWriter.pcm16([Int16](repeating: 1, count: 4000), sampleRate: 16000, channels: 1000), "1000 channels"),
            ("3-hz.wav", WAVWriter.pcm16([Int16](repeating: 1, count: 4000), sampleRate: 3), "at 3 Hz"),
        ]
        for (name, data, expected) in cases {
            let path = try WAVWriter.temporaryFile(data, name: name)
            XCTAssertThrowsError(try AudioFileReader.read(path: path), name) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(path), "\(name): \(message)")
                XCTAssertTrue(message.contains(expected), "\(name): \(message)")
                XCTAssertFalse(message.contains("\n"), "\(name): \(message)")
            }
        }
        XCTAssertThrowsError(try AudioFileReader.read(path: "/nonexistent/file.wav")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/file.wav"))
        }
        XCTAssertThrowsError(try AudioFileReader.read(path: NSTemporaryDirectory())) { error in
            XCTAssertTrue("\(error)".contains("directory"))
        }
    }

    func testRealClipsInOtherFormatsDecode() throws {
        let dir = Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test")
        let reference = try AudioFileReader.read(path: dir.appendingPathComponent("LDC93S1.wav").path)
        XCTAssertEqual(reference.sampleRate, 16000)
        for (name, rate, channels) in [("LDC93S1_pcms16le_1_8000.wav", 8000, 1), ("LDC93S1_pcms16le_2_44100.wav", 44100, 2)] {
            let audio = try AudioFileReader.read(path: dir.appendingPathComponent(name).path)
            XCTAssertEqual(audio.sampleRate, rate)
            XCTAssertEqual(audio.channels, channels)
            let mono = ModelInput.monoSamples(audio, sampleRate: 16000)
            // Same utterance, so the same length at 16 kHz within one output sample per input rate step.
            XCTAssertEqual(Double(mono.count), Double(reference.samples.count), accuracy: 16000.0 / Double(rate) + 2)
        }
    }
}

final class CompressedFormatTests: XCTestCase {
    /// FLAC is lossless: the decoded samples equal the WAV's exactly. OGG/Vorbis is lossy: the
    /// decoded signal must stay within −18 dB of the original (error energy / signal energy;
    /// Vorbis quality 5 on this clip measures −22.7 dB, a wrong decode or misalignment gives ≥ 0).
    func testFLACAndOggVorbisDecode() throws {
        let wav = try AudioFileReader.read(path: Fixtures.clips.appendingPathComponent("hy-03.wav").path)
        let flac = try AudioFileReader.read(path: Fixtures.clips.appendingPathComponent("hy-03.flac").path)
        XCTAssertTrue(flac.formatDescription.contains("FLAC"), flac.formatDescription)
        XCTAssertTrue(flac.isPCM16)
        XCTAssertEqual(flac.samples, wav.samples)

        let original = try AudioFileReader.read(path: Fixtures.clips.appendingPathComponent("hy-04.wav").path)
        let ogg = try AudioFileReader.read(path: Fixtures.clips.appendingPathComponent("hy-04.ogg").path)
        XCTAssertTrue(ogg.formatDescription.contains("OGG"), ogg.formatDescription)
        XCTAssertEqual(ogg.sampleRate, 16000)
        let n = min(ogg.samples.count, original.samples.count)
        XCTAssertLessThanOrEqual(abs(ogg.samples.count - original.samples.count), 1024)
        var signal = 0.0, error = 0.0
        for i in 0..<n {
            signal += Double(original.samples[i] * original.samples[i])
            error += Double((ogg.samples[i] - original.samples[i]) * (ogg.samples[i] - original.samples[i]))
        }
        XCTAssertLessThan(10 * log10(error / signal), -18)
    }
}
