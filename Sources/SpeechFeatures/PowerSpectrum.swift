import Foundation
internal import _CFFTW

/// One frame of TensorFlow's `AudioSpectrogram` kernel with `magnitude_squared = true`:
/// periodic Hann window, real FFT of length `NextPowerOfTwo(windowLength)` (zero-padded),
/// `|X[k]|²` for k = 0 … fftLength/2.
///
/// Like TensorFlow, everything is computed in double and cast to `Float` only at the end, which
/// is why this uses FFTW's double-precision transform: the result matches
/// `tf.raw_ops.AudioSpectrogram` to the last bit or within one float ulp (the two FFTs round
/// differently in the 16th digit).
///
/// Thread safety: the FFTW plan is created once, under a lock (FFTW's planner is not
/// thread-safe), and executed with the "new-array" interface, which FFTW documents as safe to
/// call concurrently on one plan. Each call uses its own buffers.
public struct PowerSpectrum: Sendable {
    public let windowLength: Int
    public let fftLength: Int
    /// Number of output bins, `fftLength / 2 + 1`.
    public var binCount: Int { fftLength / 2 + 1 }
    /// Periodic Hann window `0.5 − 0.5·cos(2πi / N)`, N = windowLength (not N − 1).
    public let window: [Double]
    private let plan: FFTPlan

    public init(windowLength: Int) {
        precondition(windowLength > 1, "window length must be at least 2")
        self.windowLength = windowLength
        var n = 1
        while n < windowLength { n <<= 1 }
        fftLength = n
        let pi = atan(1.0) * 4
        window = (0..<windowLength).map { 0.5 - 0.5 * cos(2 * pi * Double($0) / Double(windowLength)) }
        plan = FFTPlan(length: n)
    }

    /// Work memory for `compute`: the windowed frame and the complex spectrum, in double.
    public struct Buffers: Sendable {
        var input: [Double]
        var spectrum: [Double]   // interleaved (re, im) pairs
        public init(_ spectrum: PowerSpectrum) {
            input = [Double](repeating: 0, count: spectrum.fftLength)
            self.spectrum = [Double](repeating: 0, count: 2 * spectrum.binCount)
        }
    }

    /// Computes the power spectrum of `frame` (exactly `windowLength` samples) into `output`
    /// (`binCount` values).
    public func compute(frame: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        var buffers = Buffers(self)
        compute(frame: frame, into: output, buffers: &buffers)
    }

    /// As `compute(frame:into:)`, with work memory allocated once by the caller.
    public func compute(frame: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>, buffers: inout Buffers) {
        precondition(frame.count == windowLength && output.count == binCount)
        precondition(buffers.input.count == fftLength && buffers.spectrum.count == 2 * binCount)
        buffers.input.withUnsafeMutableBufferPointer { input in
        buffers.spectrum.withUnsafeMutableBufferPointer { pairs in
        for i in 0..<windowLength { input[i] = Double(frame[i]) * window[i] }
        for i in windowLength..<fftLength { input[i] = 0 }
        // fftw_complex is a (Double, Double) tuple: (re, im), so the pairs can be its storage.
        plan.execute(input.baseAddress!, UnsafeMutableRawPointer(pairs.baseAddress!).assumingMemoryBound(to: fftw_complex.self))
        for k in 0..<binCount {
            let re = pairs[2 * k], im = pairs[2 * k + 1]
            output[k] = Float(re * re + im * im)
        }
        }}
    }
}

/// An FFTW real-to-complex plan, shareable across threads (see `PowerSpectrum`).
final class FFTPlan: @unchecked Sendable {
    // Only the planner needs serialising; `fftw_execute_dft_r2c` on distinct arrays does not.
    private static let plannerLock = NSLock()
    private let plan: fftw_plan
    let length: Int

    init(length: Int) {
        self.length = length
        let input = fftw_alloc_real(length)!
        let output = fftw_alloc_complex(length / 2 + 1)!
        FFTPlan.plannerLock.lock()
        plan = fftw_plan_dft_r2c_1d(Int32(length), input, output, UInt32(FFTW_ESTIMATE | FFTW_UNALIGNED))
        FFTPlan.plannerLock.unlock()
        fftw_free(input)
        fftw_free(output)
    }

    func execute(_ input: UnsafeMutablePointer<Double>, _ output: UnsafeMutablePointer<fftw_complex>) {
        fftw_execute_dft_r2c(plan, input, output)
    }

    deinit {
        FFTPlan.plannerLock.lock()
        fftw_destroy_plan(plan)
        FFTPlan.plannerLock.unlock()
    }
}
