import Foundation
import XCTest
import SpeechAudio

/// Frequency response of `Resampler` measured with pure tones: the amplitude of a passband tone
/// must survive within ±0.001 dB, and a tone above 1.05 × the output Nyquist frequency must
/// come out at least 95 dB down (the filter is designed for 90 dB; it measures about 97).
final class ResamplerTests: XCTestCase {
    func tone(_ frequency: Double, rate: Int, seconds: Double = 0.5) -> [Float] {
        (0..<Int(Double(rate) * seconds)).map { Float(sin(2 * Double.pi * frequency * Double($0) / Double(rate))) }
    }

    /// Amplitude of `frequency` in `signal` (least-squares fit of sin and cos), ignoring the
    /// filter's start-up and tail.
    func amplitude(of frequency: Double, in signal: [Float], rate: Int) -> Double {
        let skip = signal.count / 8
        var s = 0.0, c = 0.0, n = 0.0
        for i in skip..<(signal.count - skip) {
            let phase = 2 * Double.pi * frequency * Double(i) / Double(rate)
            s += Double(signal[i]) * sin(phase); c += Double(signal[i]) * cos(phase); n += 1
        }
        return 2 * (s * s + c * c).squareRoot() / n
    }

    func rms(_ signal: [Float]) -> Double {
        let skip = signal.count / 8
        let body = signal[skip..<(signal.count - skip)]
        return (body.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(body.count)).squareRoot()
    }

    func testPassbandRippleAndStopbandAttenuation() {
        for (input, output) in [(44100, 16000), (48000, 16000), (22050, 16000), (8000, 16000), (16000, 8000)] {
            let resampler = Resampler(inputRate: input, outputRate: output)
            let nyquist = Double(min(input, output)) / 2
            var worstRipple = 0.0
            for fraction in stride(from: 0.02, through: 0.9, by: 0.04) {
                let f = fraction * nyquist
                let out = resampler.process(tone(f, rate: input))
                XCTAssertEqual(out.count, resampler.outputCount(forInputCount: Int(Double(input) * 0.5)))
                let gainDB = 20 * log10(amplitude(of: f, in: out, rate: output))
                worstRipple = max(worstRipple, abs(gainDB))
            }
            print("resampler \(input)→\(output): passband ripple ±\(worstRipple) dB")
            XCTAssertLessThan(worstRipple, 0.001, "\(input)→\(output): passband ripple \(worstRipple) dB")
            if input > output {
                var worstLeak = -200.0
                for f in stride(from: Double(output) / 2 * 1.05, to: Double(input) / 2, by: Double(input) / 23) {
                    let leakDB = 20 * log10(rms(resampler.process(tone(f, rate: input))) * 2.0.squareRoot())
                    worstLeak = max(worstLeak, leakDB)
                }
                print("resampler \(input)→\(output): worst stopband tone \(worstLeak) dB")
                XCTAssertLessThan(worstLeak, -95, "\(input)→\(output): stopband leak \(worstLeak) dB")
            }
        }
    }

    func testIdentityAndLengths() {
        let x: [Float] = (0..<1000).map { Float($0) }
        XCTAssertEqual(Resampler(inputRate: 16000, outputRate: 16000).process(x), x)
        XCTAssertEqual(Resampler(inputRate: 44100, outputRate: 16000).outputCount(forInputCount: 44100), 16000)
        XCTAssertEqual(Resampler(inputRate: 8000, outputRate: 16000).outputCount(forInputCount: 1), 2)
        XCTAssertEqual(Resampler(inputRate: 44100, outputRate: 16000).process([]), [])
        // DC passes with unit gain.
        let dc = Resampler(inputRate: 44100, outputRate: 16000).process([Float](repeating: 0.25, count: 44100))
        XCTAssertEqual(Double(dc[8000]), 0.25, accuracy: 1e-6)
    }
}
