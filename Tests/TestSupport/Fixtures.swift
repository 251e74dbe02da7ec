import Foundation

/// Where the committed fixtures and the released model live, for every test target.
public enum Fixtures {
    /// The repository root, found from this file's path.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    public static let clips = root.appendingPathComponent("Fixtures/clips")

    /// `shared/data` of the workspace (real test data from public sources), beside the
    /// checkout as CI lays it out.
    public static var sharedData: URL {
        let beside = root.appendingPathComponent("../shared/data").standardized
        return FileManager.default.fileExists(atPath: beside.path) ? beside : URL(fileURLWithPath: "/work/shared/data")
    }
    public static let reference = root.appendingPathComponent("Fixtures/reference")

    /// The 16 kHz test clips hy-01 … hy-12, in order.
    public static var clipNames: [String] { (1...12).map { String(format: "hy-%02d.wav", $0) } }

    /// JSON in `Fixtures/reference/…`.
    public static func json(_ relative: String) throws -> Any {
        let url = reference.appendingPathComponent(relative)
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url))
    }

    /// The released default model. Like the CLI, the tests fetch it on first use with
    /// `Weights/fetch-default-model.sh` (which checks its SHA-256); a test that needs it fails,
    /// never skips, when it cannot be had.
    public static func releasedModelPath() throws -> String {
        if let path = ProcessInfo.processInfo.environment["DEEPSPEECH_TEST_MODEL"], !path.isEmpty { return path }
        let path = Fixtures.path("Weights/armspeech.tflite")
        if FileManager.default.fileExists(atPath: path) { return path }
        modelFetchLock.lock()
        defer { modelFetchLock.unlock() }
        if !FileManager.default.fileExists(atPath: path) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [Fixtures.path("Weights/fetch-default-model.sh")]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
        }
        struct Missing: Error, CustomStringConvertible {
            var description: String { "the released model is missing and Weights/fetch-default-model.sh could not fetch it (or set DEEPSPEECH_TEST_MODEL)" }
        }
        guard FileManager.default.fileExists(atPath: path) else { throw Missing() }
        return path
    }

    private static let modelFetchLock = NSLock()
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
