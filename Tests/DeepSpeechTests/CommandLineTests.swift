import Foundation
import XCTest
import TestSupport

/// Runs the built `deepspeech` executable as a user would.
final class CommandLineTests: XCTestCase {
    struct Run { var status: Int32; var stdout: String; var stderr: String }

    func deepspeech(_ arguments: [String]) throws -> Run {
        // The test bundle sits next to the products it was built with.
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let executable = products.appendingPathComponent("deepspeech")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            struct NotBuilt: Error, CustomStringConvertible { var description: String }
            throw NotBuilt(description: "deepspeech executable not built next to the tests at \(executable.path)")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = Fixtures.root
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    func testTranscribesAClipLikeTheReferenceEngine() throws {
        let model = try Fixtures.releasedModelPath()
        let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-01.wav"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let reference = try XCTUnwrap(Fixtures.json("peers/stt-beam500-c3.json") as? [String: [String: Any]])
        XCTAssertEqual(run.stdout, (reference["hy-01.wav"]?["text"] as? String ?? "?") + "\n")
    }

    func testJSONOutputHasTheReferenceClientsShape() throws {
        let model = try Fixtures.releasedModelPath()
        let run = try deepspeech(["--model", model, "--audio", "Fixtures/clips/hy-02.wav", "--json", "--candidate_transcripts", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let transcripts = try XCTUnwrap(object["transcripts"] as? [[String: Any]])
        XCTAssertEqual(transcripts.count, 2)
        let first = transcripts[0]
        XCTAssertNotNil(first["confidence"] as? Double)
        XCTAssertNotNil(first["text"] as? String)
        let token = try XCTUnwrap((first["tokens"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(token.keys), ["text", "timestep", "start_time"])
        let word = try XCTUnwrap((first["words"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(word.keys), ["word", "start_time", "duration"])
    }

    func testDirectoryTranscribesEveryAudioFileAndReportsBadOnes() throws {
        let model = try Fixtures.releasedModelPath()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-cli-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for clip in ["hy-04.wav", "hy-05.wav"] {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(clip))
            try FileManager.default.copyItem(at: Fixtures.clips.appendingPathComponent(clip), to: dir.appendingPathComponent(clip))
        }
        try Data("not audio".utf8).write(to: dir.appendingPathComponent("broken.wav"))
        let run = try deepspeech(["--model", model, "--audio", dir.path])
        XCTAssertEqual(run.status, 1)
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, run.stdout)
        XCTAssertTrue(lines[0].hasPrefix(dir.appendingPathComponent("hy-04.wav").path + ": "))
        XCTAssertTrue(run.stderr.contains("broken.wav"), run.stderr)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
    }

    func testErrorsAreOneLineOnStderrWithNothingOnStdout() throws {
        let model = try Fixtures.releasedModelPath()
        let cases: [([String], String)] = [
            (["--model", Fixtures.sharedData.appendingPathComponent("deepspeech-smoke-test/pruned_lm.scorer").path, "--audio", "Fixtures/clips/hy-01.wav"], "scorer"),
            (["--model", "Fixtures/clips/hy-01.wav", "--audio", "Fixtures/clips/hy-01.wav"], "audio"),
            (["--model", model, "--audio", "/nonexistent.wav"], "/nonexistent.wav"),
            (["--model", model, "--audio", "Package.swift"], "Package.swift"),
            (["--model", model, "--audio", "Fixtures/clips/hy-01.wav", "--beam_width", "0"], "beam_width"),
        ]
        for (arguments, expected) in cases {
            let run = try deepspeech(arguments)
            XCTAssertNotEqual(run.status, 0, "\(arguments)")
            XCTAssertEqual(run.stdout, "", "\(arguments)")
            XCTAssertTrue(run.stderr.contains(expected), "\(arguments): \(run.stderr)")
        }
    }

    func testHelpAndVersion() throws {
        let help = try deepspeech(["--help"])
        for flag in ["--model", "--audio", "--beam_width", "--json", "--candidate_transcripts", "--extended", "--version"] {
            XCTAssertTrue(help.stdout.contains(flag), flag)
        }
        let version = try deepspeech(["--version"])
        XCTAssertTrue(version.stdout.hasPrefix("swift-deepspeech"), version.stdout)
    }
}
