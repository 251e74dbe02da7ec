import Foundation
import XCTest
import DeepSpeech
import TestSupport

/// `inspect` against what LiteRT's own reading of the file recorded
/// (`Fixtures/reference/litert/model-info.json`, written by Fixtures/record_litert.py).
final class ModelInspectionTests: XCTestCase {
    func testLayerTableMatchesTheFileAsLiteRTReadsIt() throws {
        let model = try SpeechModel(path: Fixtures.releasedModelPath())
        let inspection = try ModelInspection(model: model, includeTensors: true)
        let info = try XCTUnwrap(Fixtures.json("litert/model-info.json") as? [String: Any])
        var seen = Set<String>()
        let weights = try XCTUnwrap(info["fully_connected"] as? [[String: Any]]).filter { seen.insert($0["weights"] as? String ?? "").inserted }
        XCTAssertEqual(inspection.layers.count, weights.count)
        for (layer, reference) in zip(inspection.layers, weights) {
            XCTAssertEqual(layer.tensor, reference["weights"] as? String)
            XCTAssertEqual(layer.weightShape, reference["weights_shape"] as? [Int], layer.name)
            XCTAssertEqual(layer.storedType, reference["weights_dtype"] as? String, layer.name)
            let scale = try XCTUnwrap((reference["weights_scale"] as? [Double])?.first)
            XCTAssertEqual(Double(layer.scale ?? 0), scale, accuracy: scale * 1e-6, layer.name)
            let hasBias = reference["bias"] is String
            XCTAssertEqual(layer.parameters, layer.weightShape.reduce(1, *) + (hasBias ? layer.weightShape[0] : 0), layer.name)
        }
        // The LSTM: 4 gates × 2048 cells over [x (2048), h (2048)], plus 4 × 2048 biases.
        XCTAssertEqual(inspection.layers[3].parameters, 4 * 2048 * 4096 + 4 * 2048)
        XCTAssertEqual(inspection.totalParameters, inspection.layers.reduce(0) { $0 + $1.parameters })
        XCTAssertEqual(inspection.fileBytes, info["model_bytes"] as? Int)
        XCTAssertEqual(inspection.features.inputsPerStep, 494)
        XCTAssertEqual(inspection.features.stepsPerBatch, info["n_steps"] as? Int)
        XCTAssertEqual(inspection.alphabet.count + 1, info["n_classes"] as? Int)
        // Every tensor of the file is listed; constant ones have a checksum.
        let tensors = try XCTUnwrap(inspection.tensors)
        XCTAssertTrue(tensors.contains { $0.name == "layer_1/weights/transpose" && $0.bytes == 2048 * 494 && $0.crc32 != nil })
        XCTAssertTrue(tensors.contains { $0.name == "input_node" && $0.crc32 == nil })
    }

    func testCRC32IsZlibs() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)[...]), 0xCBF4_3926)   // the standard check value
        XCTAssertEqual(CRC32.checksum([]), 0)
    }
}
