import Foundation
import Dispatch

/// A bounded pool: at most `workers` jobs run at once, at most `queueLimit` wait, in arrival
/// order, and a job that cannot even wait is refused at once (``ServerError/overloaded``).
///
/// Jobs are CPU-bound transcriptions, so they run on Dispatch's threads, never on the Swift
/// concurrency pool that serves connections: a busy pool does not stop `/healthz` or
/// `/metrics` from answering.
public actor WorkerPool {
    public let workers: Int
    public let queueLimit: Int
    private var running = 0
    private var waiting: [(id: Int, continuation: CheckedContinuation<Void, Error>)] = []
    private var nextID = 0

    public init(workers: Int, queueLimit: Int) {
        self.workers = max(1, workers)
        self.queueLimit = max(0, queueLimit)
    }

    /// Jobs waiting for a worker.
    public var queueDepth: Int { waiting.count }
    /// Jobs running.
    public var busy: Int { running }

    /// Runs `job` on a worker thread when one is free. Waits at most `timeout` seconds for
    /// it (``ServerError/timedOut``); once started, a job runs to the end.
    public func run<T: Sendable>(timeout: Double, _ job: @escaping @Sendable () throws -> T) async throws -> T {
        try await acquire(timeout: timeout)
        defer { release() }
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try job() })
            }
        }
    }

    private func acquire(timeout: Double) async throws {
        if running < workers {
            running += 1
            return
        }
        guard waiting.count < queueLimit else { throw ServerError.overloaded }
        let id = nextID
        nextID += 1
        let watchdog = Task { [weak self] in
            try await Task.sleep(nanoseconds: UInt64(max(0, timeout) * 1e9))
            await self?.expire(id)
        }
        defer { watchdog.cancel() }
        // The slot is handed over by `release` (running stays the same), or the wait expires.
        try await withCheckedThrowingContinuation { waiting.append((id, $0)) }
    }

    private func expire(_ id: Int) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(throwing: ServerError.timedOut)
    }

    private func release() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().continuation.resume()
        }
    }
}
