import Foundation
import XCTest
import SpeechAudio
import TestSupport

/// Block-by-block reading gives exactly what whole-file reading gives.
final class StreamingAudioTests: XCTestCase {
    /// A deterministic pseudo-random signal (LCG), so the test needs no fixture.
    func signal(_ count: Int, seed: UInt64 = 12345) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23) * 0.5
        }
    }

    func testResamplingStreamEqualsWholeSignalForAnySplit() {
        let x = signal(20_000)
        for (input, output) in [(44100, 16000), (8000, 16000), (48000, 16000), (16000, 8000)] {
            let resampler = Resampler(inputRate: input, outputRate: output)
            let whole = resampler.process(x)
            for chunk in [1, 7, 160, 4096, 30_000] {
                var stream = ResamplingStream(resampler)
                var pieces: [Float] = []
                for start in stride(from: 0, to: x.count, by: chunk) {
                    pieces += stream.process(Array(x[start..<min(start + chunk, x.count)]))
                }
                pieces += stream.finish()
                XCTAssertEqual(pieces.count, whole.count, "\(input)->\(output) chunk \(chunk)")
                XCTAssertEqual(pieces, whole, "\(input)->\(output) chunk \(chunk): not bit-identical")
            }
        }
    }

    func testModelInputStreamEqualsWholeFileLoad() throws {
        for clip in ["hy-01-44k-stereo-float.wav", "hy-02-8k.wav", "hy-03.flac", "hy-01.wav"] {
            let path = Fixtures.clips.appendingPathComponent(clip).path
            let whole = try ModelInput.load(path: path, sampleRate: 16000)
            var input = try ModelInputStream(path: path, sampleRate: 16000)
            var streamed: [Float] = []
            while let block = try input.next(maxFrames: 3001) { streamed += block }
            XCTAssertEqual(streamed.count, whole.count, clip)
            XCTAssertTrue(streamed == whole, "\(clip): streamed samples differ from the whole-file load")
            XCTAssertEqual(input.estimatedDuration ?? 0, Double(whole.count) / 16000, accuracy: 0.01, clip)
        }
    }

    func testRawPCMFromAPipeIsScaledLikeTheNativeClient() throws {
        let values: [Int16] = [0, 1, -1, 32767, -32768, 1234, -4321]
        var bytes = Data()
        for v in values { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        bytes.append(0x7F)   // a dangling half sample at the end is dropped
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(bytes)
        try pipe.fileHandleForWriting.close()
        let raw = try RawPCMStream(handle: pipe.fileHandleForReading, sampleRate: 16000)
        var got: [Float] = []
        while true {
            let block = try raw.read(maxFrames: 3)
            if block.isEmpty { break }
            got += block
        }
        XCTAssertEqual(got, values.map { Float($0) / 32768 })
    }

    /// Tone bursts separated by known gaps of quiet noise: the detector reports exactly the
    /// gaps at least `minimumPause` long, with the speech boundaries to within one 10 ms frame.
    func testPauseDetectorFindsTheGapsAndOnlyThem() {
        let rate = 16000
        var x: [Float] = []
        var noise = signal(rate * 20, seed: 7).map { $0 * 0.002 }[...]   // about −60 dBFS background
        func append(_ seconds: Double, tone: Bool) {
            let n = Int(seconds * Double(rate))
            let start = x.count
            for i in 0..<n {
                let background = noise.popFirst() ?? 0
                x.append(background + (tone ? Float(0.3 * sin(2 * Double.pi * 440 * Double(start + i) / Double(rate))) : 0))
            }
        }
        // speech 1.0 s | gap 0.8 s | speech 0.6 s | gap 0.2 s (too short) | speech 0.5 s | gap 1.2 s | speech 0.7 s
        append(0.3, tone: false); append(1.0, tone: true); append(0.8, tone: false); append(0.6, tone: true)
        append(0.2, tone: false); append(0.5, tone: true); append(1.2, tone: false); append(0.7, tone: true)
        var detector = PauseDetector(sampleRate: rate, options: .init(minimumPause: 0.5))
        var pauses: [PauseDetector.Pause] = []
        for start in stride(from: 0, to: x.count, by: 999) {
            x.withUnsafeBufferPointer { pauses += detector.process(UnsafeBufferPointer(rebasing: $0[start..<min(start + 999, x.count)])) }
        }
        XCTAssertEqual(pauses.count, 2, "\(pauses)")
        guard pauses.count == 2 else { return }
        let frame = 160
        func near(_ a: Int?, _ seconds: Double) -> Bool { a.map { abs($0 - Int(seconds * Double(rate))) <= frame } ?? false }
        XCTAssertTrue(near(pauses[0].speechStart, 0.3), "\(pauses[0])")
        XCTAssertTrue(near(pauses[0].speechEnd, 1.3), "\(pauses[0])")
        XCTAssertTrue(near(pauses[0].confirmedAt, 1.8), "\(pauses[0])")
        XCTAssertTrue(near(pauses[1].speechStart, 2.1), "\(pauses[1])")
        XCTAssertTrue(near(pauses[1].speechEnd, 3.4), "\(pauses[1])")
        XCTAssertTrue(near(detector.speechStart, 4.6), "last utterance start \(String(describing: detector.speechStart))")
        XCTAssertTrue(near(detector.speechEnd, 5.3), "last utterance end \(detector.speechEnd)")
    }
}
