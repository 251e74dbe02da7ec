import Foundation
import Synchronization
import XCTest
import DeepSpeech
import TestSupport

/// Many streams over one shared model at once give exactly what they give one at a time.
final class ConcurrentStreamsTests: XCTestCase {
    struct Outcome: Sendable, Equatable {
        var intermediate: [String]
        var final: [Candidate]
    }

    /// One stream over `samples` in chunks of `chunk`, an intermediate decode after each.
    /// With `yielding`, the task yields between chunks so that streams interleave on the
    /// cooperative pool.
    static func run(model: SpeechModel, samples: [Float], chunk: Int, yielding: Bool) async throws -> Outcome {
        var stream = try model.makeStream(options: DecodingOptions(beamWidth: 64, candidates: 2))
        var texts: [String] = []
        for start in stride(from: 0, to: samples.count, by: chunk) {
            samples.withUnsafeBufferPointer { stream.feed(UnsafeBufferPointer(rebasing: $0[start..<min(start + chunk, samples.count)])) }
            texts.append(stream.intermediate())
            if yielding { await Task.yield() }
        }
        return Outcome(intermediate: texts, final: stream.finishWithMetadata().candidates)
    }

    static func runBlocking(model: SpeechModel, samples: [Float], chunk: Int) throws -> Outcome {
        var stream = try model.makeStream(options: DecodingOptions(beamWidth: 64, candidates: 2))
        var texts: [String] = []
        for start in stride(from: 0, to: samples.count, by: chunk) {
            samples.withUnsafeBufferPointer { stream.feed(UnsafeBufferPointer(rebasing: $0[start..<min(start + chunk, samples.count)])) }
            texts.append(stream.intermediate())
        }
        return Outcome(intermediate: texts, final: stream.finishWithMetadata().candidates)
    }

    func testEightStreamsOnOneModelFromTasksAndThreadsMatchSequentialRuns() async throws {
        let model = try SpeechModel(path: Fixtures.releasedModelPath())
        let clips = Array(Fixtures.clipNames.prefix(8))
        let inputs = try clips.map { try ModelInput.load(path: Fixtures.clips.appendingPathComponent($0).path, sampleRate: 16000) }
        let chunks = [5120, 1000, 320, 4096, 777, 16000, 2560, 3000]   // a different feeding pattern per stream

        var sequential: [Outcome] = []
        for i in 0..<8 { sequential.append(try Self.runBlocking(model: model, samples: inputs[i], chunk: chunks[i])) }

        // 8 tasks in a task group, interleaving at every chunk.
        let fromTasks = try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
            for i in 0..<8 {
                group.addTask { (i, try await Self.run(model: model, samples: inputs[i], chunk: chunks[i], yielding: true)) }
            }
            var results = [Outcome?](repeating: nil, count: 8)
            for try await (i, outcome) in group { results[i] = outcome }
            return results.compactMap { $0 }
        }
        XCTAssertEqual(fromTasks.count, 8)
        for i in 0..<8 { XCTAssertEqual(fromTasks[i], sequential[i], "task \(i) (\(clips[i]))") }

        // 8 OS threads at once, preempted wherever the scheduler likes.
        let fromThreads = Mutex([Int: Outcome]())
        let done = DispatchGroup()
        for i in 0..<8 {
            done.enter()
            let thread = Thread {
                if let outcome = try? Self.runBlocking(model: model, samples: inputs[i], chunk: chunks[i]) {
                    fromThreads.withLock { $0[i] = outcome }
                }
                done.leave()
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        done.wait()
        let threaded = fromThreads.withLock { $0 }
        XCTAssertEqual(threaded.count, 8)
        for i in 0..<8 { XCTAssertEqual(threaded[i], sequential[i], "thread \(i) (\(clips[i]))") }
        // Not vacuous: the streams saw speech.
        XCTAssertTrue(sequential.allSatisfy { !($0.final.first?.text.isEmpty ?? true) })
    }
}
