import Foundation

/// DeepSpeech/Coqui STT feature extraction: 26 MFCCs per frame from a `windowLength`-sample
/// window (32 ms) every `stepLength` samples (20 ms), with TensorFlow's spectrogram and MFCC
/// kernels (40 mel channels from 20 Hz to the Nyquist frequency).
///
/// Two framings are offered, because the training graph and the native clients differ at the
/// end of the signal:
/// - `framesLikeTensorFlow` drops the tail (`1 + (n − window) / step` frames, none when
///   n < window), as `tf.raw_ops.AudioSpectrogram` does;
/// - `framesLikeNativeClient` adds one more frame for the samples left after the last full
///   window, zero-padded to the window length — what Coqui STT 1.4's `finishStream` does — so
///   every utterance yields `fullWindows + 1` frames.
public struct FeatureExtractor: Sendable {
    public let sampleRate: Int
    public let windowLength: Int
    public let stepLength: Int
    public let spectrum: PowerSpectrum
    public let mfcc: MFCC
    public var coefficientCount: Int { mfcc.coefficientCount }

    public static let deepSpeechCoefficients = 26
    public static let deepSpeechMelChannels = 40
    public static let deepSpeechLowerFrequency = 20.0

    /// - Parameters:
    ///   - windowMilliseconds, stepMilliseconds: from the model's metadata (32 and 20 for
    ///     every released model); converted to samples as the native client does,
    ///     `Int(sampleRate · ms / 1000)`.
    public init(sampleRate: Int = 16000, windowMilliseconds: Int = 32, stepMilliseconds: Int = 20,
                coefficientCount: Int = FeatureExtractor.deepSpeechCoefficients) {
        self.sampleRate = sampleRate
        windowLength = Int(Double(sampleRate) * (Double(windowMilliseconds) / 1000.0))
        stepLength = Int(Double(sampleRate) * (Double(stepMilliseconds) / 1000.0))
        spectrum = PowerSpectrum(windowLength: windowLength)
        let bank = MelFilterbank(inputLength: spectrum.binCount, sampleRate: sampleRate,
                                 channelCount: FeatureExtractor.deepSpeechMelChannels,
                                 lowerFrequency: FeatureExtractor.deepSpeechLowerFrequency,
                                 upperFrequency: Double(sampleRate) / 2)
        mfcc = MFCC(filterbank: bank, coefficientCount: coefficientCount)
    }

    /// Scratch memory for `frame(_:into:scratch:)`, allocated once per stream.
    public struct Scratch: Sendable {
        var power: [Float]
        var mel: [Double]
        var window: [Float]
        var fft: PowerSpectrum.Buffers?
        /// A placeholder with no storage (to swap a stream's scratch out without copying).
        public static let empty = Scratch(power: [], mel: [], window: [], fft: nil)
    }

    public func makeScratch() -> Scratch {
        Scratch(power: [Float](repeating: 0, count: spectrum.binCount),
                mel: [Double](repeating: 0, count: mfcc.filterbank.channelCount),
                window: [Float](repeating: 0, count: windowLength),
                fft: PowerSpectrum.Buffers(spectrum))
    }

    /// MFCCs of one window. `samples` may be shorter than the window; the rest is zeros.
    public func frame(_ samples: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>,
                      scratch: inout Scratch) {
        let n = min(samples.count, windowLength)
        for i in 0..<n { scratch.window[i] = samples[i] }
        for i in n..<windowLength { scratch.window[i] = 0 }
        var fft = scratch.fft ?? PowerSpectrum.Buffers(spectrum)
        scratch.fft = nil   // moved out while in use, so it is not copied
        scratch.window.withUnsafeBufferPointer { w in
            scratch.power.withUnsafeMutableBufferPointer { p in spectrum.compute(frame: w, into: p, buffers: &fft) }
        }
        scratch.fft = fft
        scratch.power.withUnsafeBufferPointer { p in
            mfcc.compute(powerSpectrum: p, scratch: &scratch.mel, into: output)
        }
    }

    /// Number of full windows in `sampleCount` samples.
    public func fullWindowCount(_ sampleCount: Int) -> Int {
        sampleCount < windowLength ? 0 : 1 + (sampleCount - windowLength) / stepLength
    }

    /// MFCC frames `[frames][coefficientCount]`, full windows only (TensorFlow's framing).
    public func framesLikeTensorFlow(_ samples: [Float]) -> [Float] {
        frames(samples, includeTail: false)
    }

    /// MFCC frames `[frames][coefficientCount]` as the native client computes them for a
    /// whole utterance: full windows, then the remainder zero-padded to one more window.
    public func framesLikeNativeClient(_ samples: [Float]) -> [Float] {
        frames(samples, includeTail: true)
    }

    func frames(_ samples: [Float], includeTail: Bool) -> [Float] {
        let full = fullWindowCount(samples.count)
        let count = full + (includeTail ? 1 : 0)
        let width = coefficientCount
        var out = [Float](repeating: 0, count: count * width)
        var scratch = makeScratch()
        samples.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for k in 0..<count {
                    let start = k * stepLength
                    let end = min(start + windowLength, x.count)
                    let slice = UnsafeBufferPointer(rebasing: x[min(start, end)..<end])
                    frame(slice, into: UnsafeMutableBufferPointer(rebasing: o[(k * width)..<((k + 1) * width)]), scratch: &scratch)
                }
            }
        }
        return out
    }
}
