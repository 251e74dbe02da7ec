import Foundation

/// Where the committed fixtures and the released model live, for every test target.
public enum Fixtures {
    /// The repository root, found from this file's path.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    public static let clips = root.appendingPathComponent("Fixtures/clips")
    public static let reference = root.appendingPathComponent("Fixtures/reference")

    /// The 16 kHz test clips hy-01 … hy-12, in order.
    public static var clipNames: [String] { (1...12).map { String(format: "hy-%02d.wav", $0) } }

    /// JSON in `Fixtures/reference/…`.
    public static func json(_ relative: String) throws -> Any {
        let url = reference.appendingPathComponent(relative)
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url))
    }

    /// The released default model. Tests that need it fail (never skip) when it is missing:
    /// `Weights/fetch-default-model.sh` downloads it, and `.ci/run` does that first.
    public static func releasedModelPath() throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["DEEPSPEECH_TEST_MODEL"],
                          path("Weights/armspeech.tflite")].compactMap { $0 }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate) { return candidate }
        struct Missing: Error, CustomStringConvertible {
            var description: String { "the released model is missing: run Weights/fetch-default-model.sh (or set DEEPSPEECH_TEST_MODEL)" }
        }
        throw Missing()
    }
}

/// Largest absolute and relative difference between two arrays of equal length.
public struct Difference: CustomStringConvertible {
    public var maxAbsolute: Float = 0
    public var maxRelative: Float = 0
    public var worstIndex = -1

    public init(_ a: [Float], _ b: [Float], relativeFloor: Float = 1e-6) {
        precondition(a.count == b.count, "length mismatch: \(a.count) vs \(b.count)")
        for i in 0..<a.count {
            let d = abs(a[i] - b[i])
            if d > maxAbsolute { maxAbsolute = d; worstIndex = i }
            maxRelative = max(maxRelative, d / max(abs(b[i]), relativeFloor))
        }
    }

    public var description: String { "max abs \(maxAbsolute) (at \(worstIndex)), max rel \(maxRelative)" }
}
