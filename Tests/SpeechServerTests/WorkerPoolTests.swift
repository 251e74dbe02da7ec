import Foundation
import XCTest
import SpeechServer

final class WorkerPoolTests: XCTestCase {
    /// With 1 worker and room for 2 waiting, a 4th concurrent job is refused at once with 503,
    /// the others all run, one at a time, in arrival order.
    func testBoundedQueueRefusesTheOverflowAndRunsTheRest() async throws {
        let pool = WorkerPool(workers: 1, queueLimit: 2)
        let order = OrderLog()
        let gate = DispatchSemaphore(value: 0)
        let first = Task { try await pool.run(timeout: 10) { gate.wait(); order.add(0); return 0 } }
        while await pool.busy == 0 { await Task.yield() }
        let second = Task { try await pool.run(timeout: 10) { order.add(1); return 1 } }
        while await pool.queueDepth < 1 { await Task.yield() }
        let third = Task { try await pool.run(timeout: 10) { order.add(2); return 2 } }
        while await pool.queueDepth < 2 { await Task.yield() }
        do {
            _ = try await pool.run(timeout: 10) { 3 }
            XCTFail("a full queue must refuse")
        } catch let error as ServerError {
            XCTAssertEqual(error.status, .serviceUnavailable)
            XCTAssertEqual(error.retryAfter, 1)
        }
        gate.signal()
        let results = try await [first.value, second.value, third.value]
        XCTAssertEqual(results, [0, 1, 2])
        XCTAssertEqual(order.values, [0, 1, 2])
        let busy = await pool.busy, depth = await pool.queueDepth
        XCTAssertEqual(busy, 0)
        XCTAssertEqual(depth, 0)
    }

    func testWaitingLongerThanTheTimeoutIs504AndFreesTheSlot() async throws {
        let pool = WorkerPool(workers: 1, queueLimit: 4)
        let gate = DispatchSemaphore(value: 0)
        let blocker = Task { try await pool.run(timeout: 10) { gate.wait() } }
        while await pool.busy == 0 { await Task.yield() }
        do {
            try await pool.run(timeout: 0.05) { }
            XCTFail("expected a timeout")
        } catch let error as ServerError {
            XCTAssertEqual(error.status, .gatewayTimeout)
        }
        let depth = await pool.queueDepth
        XCTAssertEqual(depth, 0)
        gate.signal()
        try await blocker.value
        let value = try await pool.run(timeout: 1) { 7 }
        XCTAssertEqual(value, 7)
    }

    func testConstantTimeCompare() {
        XCTAssertTrue(constantTimeEquals(Array("secret".utf8), Array("secret".utf8)))
        XCTAssertFalse(constantTimeEquals(Array("secret".utf8), Array("secreT".utf8)))
        XCTAssertFalse(constantTimeEquals(Array("secret".utf8), Array("secret2".utf8)))
        XCTAssertFalse(constantTimeEquals([], Array("x".utf8)))
        XCTAssertTrue(constantTimeEquals([], []))
    }
}

final class OrderLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int] = []
    func add(_ value: Int) { lock.withLock { items.append(value) } }
    var values: [Int] { lock.withLock { items } }
}
