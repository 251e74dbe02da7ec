import Foundation
import XCTest
import TestSupport
import SpeechDecoding

extension CoquiDecoderReference {
    struct Result {
        var confidence: String
        var labels: String
        var timesteps: String

        var transcript: CandidateTranscript {
            func ints(_ text: String) -> [Int] { text.split(separator: " ").map { Int($0)! } }
            return CandidateTranscript(labels: ints(labels), timesteps: ints(timesteps), confidence: Double(confidence)!)
        }
    }

    struct Case {
        var source: String
        var beamWidth: Int
        var cutoffTopN: Int
        var cutoffProbability: Double
        var requested: Int
        var results: [Result]

        var name: String { "\(source) beam \(beamWidth) top-n \(cutoffTopN) cutoff \(cutoffProbability)" }

        func probabilities() throws -> (values: [Float], classes: Int) {
            if let spec = CoquiDecoderReference.synthetic[source] {
                return (SyntheticProbabilities.make(spec), spec.classes)
            }
            let npy = try ArmenianModel.probabilities(source)
            return (npy.values, npy.shape[1])
        }
    }
}

/// Bit-exact comparison with Coqui STT 1.4.0's own decoder run on the same probabilities (see
/// the header of CoquiDecoderReference.swift): labels, timesteps and confidence (as the exact
/// float value) of every candidate, on the Armenian clips' LiteRT probabilities and on
/// synthetic inputs full of exact ties.
final class CoquiDecoderParityTests: XCTestCase {
    func testSyntheticProbabilitiesMatchTheGenerator() throws {
        // First non-lead frame of synthetic-b, recomputed by hand from the LCG.
        let spec = try XCTUnwrap(CoquiDecoderReference.synthetic["synthetic-b"])
        let values = SyntheticProbabilities.make(spec)
        XCTAssertEqual(values.count, spec.frames * spec.classes)
        XCTAssertEqual(Array(values[0 ..< 6]), [0, 0, 0, 0, 0, 1])
        var state: UInt32 = 2
        var weights: [Int] = []
        for c in 0 ..< 6 {
            state = (state &* 1_103_515_245 &+ 12345) & 0x7FFF_FFFF
            weights.append(Int(state >> 16) % (c == 5 ? 9 : 5))
        }
        let total = Float(weights.reduce(0, +))
        XCTAssertEqual(Array(values[12 ..< 18]), weights.map { Float($0) / total })
    }

    func testMatchesCoquiDecoderExactly() throws {
        var matched = 0
        for reference in CoquiDecoderReference.cases {
            let (values, classes) = try reference.probabilities()
            let results = try PrefixBeamSearch.decode(values, classCount: classes, beamWidth: reference.beamWidth,
                                                      candidates: reference.requested, cutoffTopN: reference.cutoffTopN,
                                                      cutoffProbability: reference.cutoffProbability)
            let expected = reference.results.map(\.transcript)
            XCTAssertEqual(results.count, expected.count, reference.name)
            var same = results.count == expected.count
            for (k, (mine, theirs)) in zip(results, expected).enumerated() {
                XCTAssertEqual(mine.labels, theirs.labels, "\(reference.name) candidate \(k) labels")
                XCTAssertEqual(mine.timesteps, theirs.timesteps, "\(reference.name) candidate \(k) timesteps")
                XCTAssertEqual(mine.confidence.bitPattern, theirs.confidence.bitPattern,
                               "\(reference.name) candidate \(k) confidence \(mine.confidence) vs \(theirs.confidence)")
                same = same && mine == theirs
            }
            if same { matched += 1 }
        }
        print("Coqui decoder parity: \(matched)/\(CoquiDecoderReference.cases.count) cases bit-identical")
    }
}
