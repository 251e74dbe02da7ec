import NIOCore
import Logging
import HummingbirdCore

/// Drops a connection whose first request head (request line and headers, up to the blank
/// line) is not complete within `limit` of connecting: a client that sends nothing, or
/// dribbles header bytes to keep a connection open (slowloris), is closed however often it
/// sends a byte. After the head, Hummingbird's idle timeout and the request timeout apply.
///
/// It sits first in the pipeline and sees raw bytes, before the HTTP decoder and before the
/// WebSocket upgrade negotiation, where Hummingbird's own handlers are not yet installed.
final class RequestHeadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let limit: TimeAmount
    private var timer: Scheduled<Void>?
    /// The last bytes seen, to find "\r\n\r\n" split across reads.
    private var tail: [UInt8] = []

    init(limit: TimeAmount) { self.limit = limit }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: limit) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if timer != nil {
            tail.append(contentsOf: buffer.readableBytesView)
            if Self.containsHeadEnd(tail) {
                timer?.cancel()
                timer = nil
                tail = []
            } else if tail.count > 3 {
                tail.removeFirst(tail.count - 3)
            }
        }
        context.fireChannelRead(data)
    }

    static func containsHeadEnd(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return true
        }
        return false
    }
}

/// A child channel that installs ``RequestHeadDeadline`` before `inner` sets up its pipeline.
struct HeadDeadlineChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let limit: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RequestHeadDeadline(limit: limit), position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
