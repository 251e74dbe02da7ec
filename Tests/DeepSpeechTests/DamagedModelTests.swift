import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// Randomly damaged copies of the released model (bytes overwritten in the FlatBuffers tables
/// and the weights, or the file cut short) are refused with an error or loaded and run without
/// crashing.
final class DamagedModelTests: XCTestCase {
    func testRandomlyDamagedModelsNeverCrash() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try Fixtures.releasedModelPath())))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("damaged-\(getpid()).tflite").path
        var seed: UInt64 = 77
        func random(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(max(n, 1)))
        }
        // The FlatBuffers metadata of a .tflite sits at both ends (root table and vtables first,
        // tensor/operator tables after the weight buffers); damage lands there most of the time.
        let regions = [0..<65536, (original.count - 65536)..<original.count, 0..<original.count]
        var refused = 0, loaded = 0
        for trial in 0..<40 {
            var bytes = original
            if trial % 5 == 4 {
                bytes = Array(bytes.prefix(random(bytes.count)))
            } else {
                let region = regions[trial % regions.count]
                for _ in 0..<(1 + random(16)) {
                    bytes[region.lowerBound + random(region.count)] = UInt8(truncatingIfNeeded: random(256))
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            guard let model = try? SpeechModel(path: path) else { refused += 1; continue }
            loaded += 1
            _ = model.transcribe([Float](repeating: 0.01, count: 8000))
        }
        print("damaged models: \(refused) refused, \(loaded) loaded and run without crashing")
        XCTAssertGreaterThan(refused, 0)
    }
}
