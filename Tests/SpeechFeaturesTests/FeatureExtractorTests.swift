import Foundation
import XCTest
import SpeechAudio
import TestSupport
import SpeechFeatures

final class FeatureExtractorTests: XCTestCase {
    let extractor = FeatureExtractor()

    func testDeepSpeechGeometry() {
        XCTAssertEqual(extractor.windowLength, 512)
        XCTAssertEqual(extractor.stepLength, 320)
        XCTAssertEqual(extractor.spectrum.fftLength, 512)
        XCTAssertEqual(extractor.spectrum.binCount, 257)
        XCTAssertEqual(extractor.fullWindowCount(511), 0)
        XCTAssertEqual(extractor.fullWindowCount(512), 1)
        XCTAssertEqual(extractor.fullWindowCount(32000), 99)   // 1 + (32000 − 512) / 320
        XCTAssertEqual(extractor.framesLikeNativeClient([Float](repeating: 0, count: 32000)).count, 100 * 26)
    }

    /// TensorFlow's band mapping for 257 bins at 16 kHz, 40 channels, 20–8000 Hz.
    func testMelBandMapperMatchesTensorFlow() {
        let bank = extractor.mfcc.filterbank
        XCTAssertEqual(bank.startIndex, 2)
        XCTAssertEqual(bank.endIndex, 256)
        XCTAssertEqual(Array(bank.bandMapper.prefix(12)), [-2, -2, -1, 0, 1, 1, 2, 3, 3, 4, 4, 5])
        XCTAssertEqual(Array(bank.bandMapper[250...256]), [Int](repeating: 39, count: 7))
    }

    /// A silent frame: every mel energy floors at 1e-12, so c0 = √(2/40)·40·ln(1e-12).
    func testSilentFrame() {
        let mfcc = extractor.framesLikeTensorFlow([Float](repeating: 0, count: 512))
        XCTAssertEqual(mfcc.count, 26)
        XCTAssertEqual(Double(mfcc[0]), (2.0 / 40).squareRoot() * 40 * log(1e-12), accuracy: 1e-4)
        XCTAssertEqual(Double(mfcc[0]), -247.1394, accuracy: 1e-4)
        for c in mfcc.dropFirst() { XCTAssertEqual(c, 0, accuracy: 1e-4) }
    }

    /// MFCCs against `tf.raw_ops.AudioSpectrogram` + `tf.raw_ops.Mfcc`, recorded by
    /// Fixtures/record_tf_features.py on whole clips (TensorFlow's framing drops the tail).
    /// Tolerance: 1e-4 absolute (the values range over about ±250); the first spectrogram
    /// frames within 1e-6 relative.
    func testMFCCMatchesTensorFlow() throws {
        let clips = ["hy-01.wav", "hy-02.wav", "hy-03.wav", "hy-04.wav", "noise-2s.wav"]
        var worst: Float = 0
        for clip in clips {
            let samples = try ModelInput.load(path: Fixtures.clips.appendingPathComponent(clip).path, sampleRate: 16000)
            let name = (clip as NSString).deletingPathExtension
            let reference = try NPYFile(path: Fixtures.reference.appendingPathComponent("tf/\(name).mfcc.npy").path)
            let ours = extractor.framesLikeTensorFlow(samples)
            XCTAssertEqual(reference.shape, [ours.count / 26, 26], clip)
            let diff = Difference(ours, reference.values)
            worst = max(worst, diff.maxAbsolute)
            XCTAssertLessThanOrEqual(diff.maxAbsolute, 1e-4, "\(clip): \(diff)")

            let spectrogram = try NPYFile(path: Fixtures.reference.appendingPathComponent("tf/\(name).spectrogram-first8.npy").path)
            var power = [Float](repeating: 0, count: 257)
            for frame in 0..<spectrogram.shape[0] {
                samples.withUnsafeBufferPointer { x in
                    power.withUnsafeMutableBufferPointer { p in
                        extractor.spectrum.compute(frame: UnsafeBufferPointer(rebasing: x[(frame * 320)..<(frame * 320 + 512)]), into: p)
                    }
                }
                let expected = Array(spectrogram.values[(frame * 257)..<((frame + 1) * 257)])
                let d = Difference(power, expected, relativeFloor: 1e-12)
                XCTAssertLessThanOrEqual(d.maxRelative, 1e-6, "\(clip) spectrogram frame \(frame): \(d)")
            }
        }
        print("MFCC vs TensorFlow: max abs diff \(worst) over \(clips.count) clips")
    }

    /// MFCCs as the Coqui STT 1.4 model computes them inside TFLite, streaming, with the
    /// zero-padded tail window (recorded with LiteRT by Fixtures/record_litert.py).
    func testNativeClientFramingMatchesLiteRT() throws {
        var worst: Float = 0
        for clip in Fixtures.clipNames {
            let samples = try ModelInput.load(path: Fixtures.clips.appendingPathComponent(clip).path, sampleRate: 16000)
            let name = (clip as NSString).deletingPathExtension
            let reference = try NPYFile(path: Fixtures.reference.appendingPathComponent("litert/\(name).mfcc.npy").path)
            let ours = extractor.framesLikeNativeClient(samples)
            XCTAssertEqual(reference.shape, [ours.count / 26, 26], clip)
            let diff = Difference(ours, reference.values)
            worst = max(worst, diff.maxAbsolute)
            XCTAssertLessThanOrEqual(diff.maxAbsolute, 1e-4, "\(clip): \(diff)")
        }
        print("MFCC vs LiteRT (native-client framing): max abs diff \(worst)")
    }

    func testContextWindowsPadWithZerosAndAreFrameMajor() {
        // 3 frames of 2 features, context 1 → windows of 3 frames.
        let frames: [Float] = [1, 2, 3, 4, 5, 6]
        let windows = ContextWindows.make(frames: frames, featureCount: 2, context: 1)
        XCTAssertEqual(windows, [0, 0, 1, 2, 3, 4,
                                 1, 2, 3, 4, 5, 6,
                                 3, 4, 5, 6, 0, 0])
    }
}
