import Foundation

/// TensorFlow's `Mfcc` kernel: mel filterbank → `ln(max(x, 1e-12))` → DCT-II scaled by
/// `sqrt(2/C)` for every coefficient (not orthonormal: c0 is not divided by √2), no liftering.
/// Computed in double, cast to `Float` at the end.
///
/// A silent frame gives c0 = √(2/40)·40·ln(1e-12) ≈ −247.1394 and ≈ 0 elsewhere.
public struct MFCC: Sendable {
    public let filterbank: MelFilterbank
    public let coefficientCount: Int
    /// `dct[i * channels + j] = sqrt(2/C) · cos(i · π/C · (j + 0.5))`.
    let dct: [Double]

    public static let filterbankFloor = 1e-12

    public init(filterbank: MelFilterbank, coefficientCount: Int = 13) {
        precondition(coefficientCount <= filterbank.channelCount, "more coefficients than mel channels")
        self.filterbank = filterbank
        self.coefficientCount = coefficientCount
        let c = filterbank.channelCount
        let pi = atan(1.0) * 4
        let scale = (2.0 / Double(c)).squareRoot()
        var table = [Double](repeating: 0, count: coefficientCount * c)
        for i in 0..<coefficientCount {
            for j in 0..<c { table[i * c + j] = scale * cos(Double(i) * (pi / Double(c)) * (Double(j) + 0.5)) }
        }
        dct = table
    }

    /// MFCC of one power-spectrum frame into `output` (`coefficientCount` values).
    /// `scratch` must hold `filterbank.channelCount` doubles.
    public func compute(powerSpectrum: UnsafeBufferPointer<Float>, scratch: inout [Double],
                        into output: UnsafeMutableBufferPointer<Float>) {
        filterbank.apply(powerSpectrum, into: &scratch)
        let c = filterbank.channelCount
        for j in 0..<c { scratch[j] = log(max(scratch[j], MFCC.filterbankFloor)) }
        for i in 0..<coefficientCount {
            var sum = 0.0
            for j in 0..<c { sum += dct[i * c + j] * scratch[j] }
            output[i] = Float(sum)
        }
    }
}
