import Foundation

/// TensorFlow's MFCC mel filterbank (`MfccMelFilterbank`): triangular filters on the mel
/// scale `1127 · ln(1 + f/700)`, applied to spectral **magnitudes** (square roots of the power
/// spectrum), each triangle peaking at 1 with no area normalisation.
///
/// Edge cases that matter for bit-exactness:
/// - the DC bin is never used: the first bin is `Int(1.5 + lower / hzPerBin)`;
/// - the last bin `Int(upper / hzPerBin)` is included, so with upper = Nyquist the Nyquist bin
///   contributes;
/// - bins below the first centre feed only the rising edge of channel 0 (`bandMapper == -1`).
public struct MelFilterbank: Sendable {
    public let channelCount: Int
    public let inputLength: Int
    /// First and last spectrum bins used (inclusive).
    public let startIndex: Int
    public let endIndex: Int
    /// For each bin, the channel whose falling edge it feeds (−1: only channel 0's rising edge;
    /// −2: unused).
    public let bandMapper: [Int]
    /// Weight of each bin on its falling edge; `1 − weight` goes to the next channel's rising edge.
    public let weights: [Double]

    public static func mel(_ frequency: Double) -> Double { 1127.0 * log1p(frequency / 700.0) }

    public init(inputLength: Int, sampleRate: Int, channelCount: Int = 40,
                lowerFrequency: Double = 20, upperFrequency: Double = 4000) {
        self.channelCount = channelCount
        self.inputLength = inputLength
        let melLow = Self.mel(lowerFrequency), melHigh = Self.mel(upperFrequency)
        let spacing = (melHigh - melLow) / Double(channelCount + 1)
        let centres = (0...channelCount).map { melLow + spacing * Double($0 + 1) }
        let hzPerBin = 0.5 * Double(sampleRate) / Double(inputLength - 1)
        startIndex = Int(1.5 + lowerFrequency / hzPerBin)
        endIndex = Int(upperFrequency / hzPerBin)

        var mapper = [Int](repeating: -2, count: inputLength)
        var channel = 0
        for i in 0..<inputLength where i >= startIndex && i <= endIndex {
            let m = Self.mel(Double(i) * hzPerBin)
            while channel < channelCount && centres[channel] < m { channel += 1 }
            mapper[i] = channel - 1
        }
        var w = [Double](repeating: 0, count: inputLength)
        for i in 0..<inputLength where i >= startIndex && i <= endIndex {
            let m = Self.mel(Double(i) * hzPerBin)
            let c = mapper[i]
            w[i] = c >= 0 ? (centres[c + 1] - m) / (centres[c + 1] - centres[c])
                          : (centres[0] - m) / (centres[0] - melLow)
        }
        bandMapper = mapper
        weights = w
    }

    /// Mel energies (linear, not logged) of one power-spectrum frame, in double.
    public func apply(_ powerSpectrum: UnsafeBufferPointer<Float>, into output: inout [Double]) {
        for c in 0..<channelCount { output[c] = 0 }
        for i in startIndex...endIndex {
            let magnitude = Double(powerSpectrum[i]).squareRoot()
            let weighted = magnitude * weights[i]
            let c = bandMapper[i]
            if c >= 0 { output[c] += weighted }
            if c + 1 < channelCount { output[c + 1] += magnitude - weighted }
        }
    }
}
