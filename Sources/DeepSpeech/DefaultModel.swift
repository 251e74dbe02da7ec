import Foundation

/// The model used when none is given: the released Coqui STT model "armspeech" 0.1.4
/// (Armenian, MIT licence), stored as `Weights/armspeech.tflite` in the source tree and
/// downloaded by `Weights/fetch-default-model.sh`, which checks its SHA-256.
public enum DefaultModel {
    public static let fileName = "armspeech.tflite"
    public static let sha256 = "3b834da11f2d0a1a5079b44dd5d5da2b1955dec56474ba11b4c3793e934787bc"
    public static let fetchScript = "Weights/fetch-default-model.sh"

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// `$DEEPSPEECH_MODEL` if set, else `Weights/armspeech.tflite` in the source tree that
    /// contains the current directory or this executable.
    public static func locate() -> String? {
        if let path = ProcessInfo.processInfo.environment["DEEPSPEECH_MODEL"], !path.isEmpty { return path }
        guard let root = sourceTree() else { return nil }
        let path = root.appendingPathComponent("Weights/\(fileName)").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Returns the default model's path, running the fetch script on first use.
    /// - Parameter log: receives progress lines (the CLI sends them to stderr).
    public static func path(log: (String) -> Void) throws -> String {
        if let path = locate() { return path }
        guard let root = sourceTree() else {
            throw Unavailable(description: "no --model given and the default model was not found: run \(fetchScript) in the swift-deepspeech source tree, or set DEEPSPEECH_MODEL")
        }
        let script = root.appendingPathComponent(fetchScript).path
        log("deepspeech: first use: fetching the default model (armspeech 0.1.4, MIT) with \(fetchScript) ...")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script]
        process.standardOutput = FileHandle.nullDevice   // the script prints the path on stdout
        do { try process.run() } catch {
            throw Unavailable(description: "cannot run \(script): \(error)")
        }
        process.waitUntilExit()
        let path = root.appendingPathComponent("Weights/\(fileName)").path
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: path) else {
            throw Unavailable(description: "fetching the default model failed (\(script) exited with \(process.terminationStatus)); see the messages above")
        }
        log("deepspeech: default model stored at \(path) (sha256 checked)")
        return path
    }

    /// The swift-deepspeech checkout: the first directory, walking up from the current
    /// directory and then from the executable, that has `Weights/fetch-default-model.sh`.
    static func sourceTree() -> URL? {
        var starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        if let executable = Bundle.main.executableURL { starts.append(executable.resolvingSymlinksInPath().deletingLastPathComponent()) }
        for start in starts {
            var dir = start.standardized
            while true {
                if FileManager.default.fileExists(atPath: dir.appendingPathComponent(fetchScript).path) { return dir }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }
}
