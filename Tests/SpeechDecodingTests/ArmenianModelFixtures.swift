import Foundation
import XCTest
import SpeechDecoding
import TestSupport

/// Paths into the repository, found from this file's location.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent() // SpeechDecodingTests
        .deletingLastPathComponent() // Tests
        .deletingLastPathComponent()

    static func url(_ relativePath: String) -> URL { root.appendingPathComponent(relativePath) }

    static var litertReference: URL { url("Fixtures/reference/litert") }
    static var peersReference: URL { url("Fixtures/reference/peers") }
}

/// The released Armenian model's alphabet and LiteRT probabilities, from
/// Fixtures/reference/litert.
enum ArmenianModel {
    static func alphabet() throws -> Alphabet {
        let data = try Data(contentsOf: Repository.litertReference.appendingPathComponent("model-info.json"))
        let info = try JSONDecoder().decode(ModelInfo.self, from: data)
        return try Alphabet(serialized: hexBytes(info.metadata.alphabetSerializedHex))
    }

    static func probabilities(_ clip: String) throws -> NPYFile {
        try NPYFile(path: Repository.litertReference.appendingPathComponent("\(clip).probs.npy").path)
    }

    struct ModelInfo: Decodable {
        struct Metadata: Decodable {
            var alphabetSerializedHex: String
            var alphabet: [String]
            var beamWidth: Int
            enum CodingKeys: String, CodingKey {
                case alphabetSerializedHex = "alphabet_serialized_hex"
                case alphabet
                case beamWidth = "beam_width"
            }
        }
        var metadata: Metadata
    }

    static func modelInfo() throws -> ModelInfo {
        let data = try Data(contentsOf: Repository.litertReference.appendingPathComponent("model-info.json"))
        return try JSONDecoder().decode(ModelInfo.self, from: data)
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index ..< next], radix: 16)!)
            index = next
        }
        return out
    }
}

/// Deterministic probabilities with many exact ties (small integer weights, normalised in
/// float). The generator is mirrored by the script that produced ``CoquiDecoderReference``.
enum SyntheticProbabilities {
    struct Spec {
        var seed: UInt32
        var frames: Int
        var classes: Int
        var labelMax: Int
        var blankMax: Int
        var lead: Int
    }

    static func make(_ spec: Spec) -> [Float] {
        var state = spec.seed
        var out: [Float] = []
        out.reserveCapacity(spec.frames * spec.classes)
        for t in 0 ..< spec.frames {
            var weights = [Int](repeating: 0, count: spec.classes)
            if t < spec.lead {
                weights[spec.classes - 1] = 1
            } else {
                for c in 0 ..< spec.classes {
                    state = (state &* 1_103_515_245 &+ 12345) & 0x7FFF_FFFF
                    let r = Int(state >> 16)
                    weights[c] = r % (c == spec.classes - 1 ? spec.blankMax : spec.labelMax)
                }
                if weights.reduce(0, +) == 0 { weights[spec.classes - 1] = 1 }
            }
            let total = Float(weights.reduce(0, +))
            out.append(contentsOf: weights.map { Float($0) / total })
        }
        return out
    }
}

extension PrefixBeamSearch {
    /// Decodes all of `probabilities` in one call.
    static func decode(_ probabilities: [Float], classCount: Int, beamWidth: Int, candidates: Int,
                       cutoffTopN: Int = 40, cutoffProbability: Double = 1.0) throws -> [CandidateTranscript] {
        var search = try PrefixBeamSearch(classCount: classCount, beamWidth: beamWidth, cutoffTopN: cutoffTopN,
                                          cutoffProbability: cutoffProbability)
        search.next(probabilities: probabilities)
        return search.decode(candidates: candidates)
    }
}
