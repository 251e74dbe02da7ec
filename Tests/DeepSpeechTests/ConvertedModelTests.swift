import DeepSpeech
import Foundation
import TestSupport
import XCTest

/// `deepspeech convert`'s `.dsmodel`: the released int8 model survives conversion bit for bit,
/// and damaged or foreign files are refused by name.
final class ConvertedModelTests: XCTestCase {
    func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID())-\(name)").path
    }

    func testReleasedModelConvertsLosslessly() throws {
        let source = try SpeechModel(path: try Fixtures.releasedModelPath())
        let output = temporary("armspeech.dsmodel")
        defer { try? FileManager.default.removeItem(atPath: output) }
        try source.convert(to: output)
        let converted = try SpeechModel(path: output)
        XCTAssertEqual(converted.acoustic?.precision, .int8Hybrid)
        XCTAssertEqual(converted.acoustic?.hyperparameters, source.acoustic?.hyperparameters)
        XCTAssertEqual(converted.acoustic?.metadata, source.acoustic?.metadata)
        XCTAssertEqual(converted.acoustic?.layers.map(\.scale), source.acoustic?.layers.map(\.scale))
        // int8 weights stay int8: the file is a quarter of float32's size, like the .tflite.
        let size = try FileManager.default.attributesOfItem(atPath: output)[.size] as! Int
        XCTAssertLessThan(size, 48_000_000)
        for clip in ["hy-01.wav", "hy-07.wav"] {
            let audio = try ModelInput.load(path: Fixtures.clips.appendingPathComponent(clip).path, sampleRate: 16000)
            XCTAssertEqual(try converted.probabilities(audio), try source.probabilities(audio), clip)
        }
    }

    func testDamagedConvertedFilesAreRefusedByName() throws {
        let source = try SpeechModel(path: Fixtures.path("Fixtures/models/tensorflow/ds-h64.pb"))
        let good = temporary("good.dsmodel")
        defer { try? FileManager.default.removeItem(atPath: good) }
        try source.convert(to: good)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        func refused(_ damaged: [UInt8], _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let path = temporary("bad.dsmodel")
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try SpeechModel(path: path), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(path) && "\(error)".contains(expected), "\(error)", file: file, line: line)
            }
        }
        try refused(Array(bytes.prefix(bytes.count - 100)), "lies outside the file")
        var version = bytes
        version[8] = 9
        try refused(version, "format version 9")
        // The header names a tensor that is not there.
        let header = String(decoding: bytes[16..<(16 + Int(bytes[12]) + Int(bytes[13]) << 8)], as: UTF8.self)
        let renamed = header.replacingOccurrences(of: "\"layer_5\\/weights\"", with: "\"layer_9\\/weights\"")
            .replacingOccurrences(of: "\"layer_5/weights\"", with: "\"layer_9/weights\"")
        XCTAssertNotEqual(renamed, header)
        try refused(Array(bytes[0..<16]) + Array(renamed.utf8) + Array(bytes[(16 + header.utf8.count)...]), "missing tensor 'layer_5/weights'")
        // A shape that disagrees with the bytes.
        let reshaped = header.replacingOccurrences(of: "[64,494]", with: "[64,495]")
        XCTAssertNotEqual(reshaped, header)
        try refused(Array(bytes[0..<16]) + Array(reshaped.utf8) + Array(bytes[(16 + header.utf8.count)...]), "does not match float32 [64, 495]")
    }
}
