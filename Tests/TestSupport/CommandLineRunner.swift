import Foundation

/// Runs the built `deepspeech` executable as a user would, from the repository root.
public enum CommandLineRunner {
    public struct Run: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    struct NotBuilt: Error, CustomStringConvertible { var description: String }

    /// - Parameter stdin: bytes written to the process's standard input (else /dev/null).
    public static func deepspeech(_ arguments: [String], stdin: Data? = nil) throws -> Run {
        // The test bundle sits next to the products it was built with.
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let executable = products.appendingPathComponent("deepspeech")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw NotBuilt(description: "deepspeech executable not built next to the tests at \(executable.path)")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = Fixtures.root
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            // Written from another thread so a full pipe cannot deadlock against our reads.
            let writer = input.fileHandleForWriting
            Thread.detachNewThread {
                writer.write(stdin)
                try? writer.close()
            }
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }
}
