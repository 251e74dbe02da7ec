import Foundation
internal import _CFFTW

/// DeepSpeech2's front end as deepspeech.pytorch computes it (librosa's `stft` with its
/// pre-0.10 defaults, then `log1p` and per-utterance normalisation):
///
/// ```
/// n_fft = window = sampleRate · windowSeconds (320 at 16 kHz, 20 ms), hop = sampleRate · stepSeconds (160)
/// pad the signal by n_fft/2 on each side, reflecting it (x[1], x[2], … mirrored; no edge repeat)
/// frame t = samples [t·hop, t·hop + n_fft) of the padded signal, frames = 1 + len / hop
/// S[f][t] = log(1 + |Σ_n w[n]·x_t[n]·e^(−2πi·f·n/n_fft)|),  f = 0 … n_fft/2
/// S = (S − mean(S)) / std(S)     (over the whole matrix; std with N − 1, as torch's .std())
/// ```
/// The window is Hamming unless the checkpoint says otherwise: the *periodic* one
/// (`0.54 − 0.46·cos(2πn/N)`) for files from deepspeech.pytorch V2.1 on, the *symmetric* one
/// (denominator N − 1) for v2.0 files, which passed scipy's function instead of its name.
/// The FFT runs in double and the magnitude is rounded to float, as librosa's complex64 output.
public struct LogSpectrogram: Sendable {
    public enum Window: String, Sendable, Codable, CaseIterable {
        case hamming, hann, blackman, bartlett
    }

    public let sampleRate: Int
    public let fftLength: Int
    public let stepLength: Int
    public let windowKind: Window
    public let symmetricWindow: Bool
    /// Whether to normalise each utterance to zero mean and unit variance (deepspeech.pytorch's default).
    public let normalize: Bool
    public let window: [Double]
    private let plan: FFTPlan

    /// Frequency bins per frame, `fftLength / 2 + 1` (161 at 16 kHz).
    public var binCount: Int { fftLength / 2 + 1 }

    public init(sampleRate: Int, windowSeconds: Double, stepSeconds: Double, window: Window = .hamming,
                symmetricWindow: Bool = false, normalize: Bool = true) {
        self.sampleRate = sampleRate
        fftLength = max(2, Int(Double(sampleRate) * windowSeconds))
        stepLength = max(1, Int(Double(sampleRate) * stepSeconds))
        windowKind = window
        self.symmetricWindow = symmetricWindow
        self.normalize = normalize
        self.window = Self.window(window, length: fftLength, symmetric: symmetricWindow)
        plan = FFTPlan(length: fftLength)
    }

    /// scipy's windows: periodic ones are the symmetric window of length N + 1 without its last point.
    static func window(_ kind: Window, length n: Int, symmetric: Bool) -> [Double] {
        let m = Double(symmetric ? n - 1 : n)
        let pi = Double.pi
        return (0..<n).map { i in
            let x = Double(i)
            switch kind {
            case .hamming: return 0.54 - 0.46 * cos(2 * pi * x / m)
            case .hann: return 0.5 - 0.5 * cos(2 * pi * x / m)
            case .blackman: return 0.42 - 0.5 * cos(2 * pi * x / m) + 0.08 * cos(4 * pi * x / m)
            case .bartlett: return 1 - abs(2 * x / m - 1)
            }
        }
    }

    /// Frames for `sampleCount` samples: `1 + sampleCount / hop` (0 for no samples).
    public func frameCount(sampleCount: Int) -> Int { sampleCount == 0 ? 0 : 1 + sampleCount / stepLength }

    /// The normalised log-magnitude spectrogram, **time-major**: `[frames][binCount]`.
    public func compute(_ samples: [Float]) -> [Float] {
        let frames = frameCount(sampleCount: samples.count)
        guard frames > 0 else { return [] }
        let bins = binCount, pad = fftLength / 2, n = samples.count
        var output = [Float](repeating: 0, count: frames * bins)
        var input = [Double](repeating: 0, count: fftLength)
        var pairs = [Double](repeating: 0, count: 2 * bins)
        // Reflect-padding index: mirror at both ends without repeating the edge sample.
        func sample(_ i: Int) -> Float {
            guard n > 1 else { return samples[0] }
            let period = 2 * (n - 1)
            var k = i % period
            if k < 0 { k += period }
            return samples[k < n ? k : period - k]
        }
        input.withUnsafeMutableBufferPointer { x in
        pairs.withUnsafeMutableBufferPointer { p in
            for t in 0..<frames {
                let start = t * stepLength - pad
                for i in 0..<fftLength { x[i] = Double(sample(start + i)) * window[i] }
                plan.execute(x.baseAddress!, UnsafeMutableRawPointer(p.baseAddress!).assumingMemoryBound(to: fftw_complex.self))
                for f in 0..<bins {
                    let magnitude = Float((p[2 * f] * p[2 * f] + p[2 * f + 1] * p[2 * f + 1]).squareRoot())
                    output[t * bins + f] = log1p(magnitude)
                }
            }
        }}
        if normalize {
            var sum = 0.0
            for v in output { sum += Double(v) }
            let mean = sum / Double(output.count)
            var squares = 0.0
            for v in output { squares += (Double(v) - mean) * (Double(v) - mean) }
            let std = output.count > 1 ? (squares / Double(output.count - 1)).squareRoot() : 0
            // A constant input (silence) has std 0; torch would divide by zero and give NaN.
            // Here it becomes all zeros, the only sensible spectrogram of silence.
            let scale = std > 0 ? 1 / std : 0
            for i in 0..<output.count { output[i] = Float((Double(output[i]) - mean) * scale) }
        }
        return output
    }
}
