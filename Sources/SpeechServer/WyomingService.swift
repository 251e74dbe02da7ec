import Foundation
import NIOCore
import NIOPosix
import ServiceLifecycle
import DeepSpeech

/// The Wyoming protocol on its own TCP port, so Home Assistant (and anything using the
/// `wyoming` package) can use the model as a speech-to-text service:
///
/// - `describe` → `info` with one ASR program and model;
/// - `transcribe` (optional: `language`, `name`) then `audio-start`, `audio-chunk`s (16-bit PCM,
///   any rate and channel count) and `audio-stop` → `transcript` `{"text"}`;
/// - a malformed event or audio gets an `error` event `{"text", "code"}` and the connection
///   is closed; other event types are ignored, as Wyoming services do.
///
/// On graceful shutdown the port stops accepting; connections finish the transcript they are
/// receiving and close.
struct WyomingService: Service {
    let service: TranscriptionService
    let host: String
    let port: Int
    let onListening: @Sendable (Int) -> Void

    func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        onListening(server.channel.localAddress?.port ?? port)
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await handle(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    func handle(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        service.metrics.streamOpened()
        defer { service.metrics.streamClosed() }
        try? await connection.executeThenClose { inbound, outbound in
            var session = WyomingSession(service: service)
            var reader = WyomingEventReader()
            do {
                for try await buffer in inbound {
                    reader.append(buffer.readableBytesView)
                    while let event = try reader.next() {
                        for reply in try await session.handle(event) {
                            try await outbound.write(ByteBuffer(bytes: reply.encoded()))
                        }
                    }
                    // Between transcripts, a shutting-down server lets the connection go.
                    if Task.isShuttingDownGracefully && !session.isReceivingAudio { return }
                }
            } catch {
                let failure = ServerError.wrapping(error is WyomingEventReader.FramingError
                    ? ServerError.badRequest("\(error)", cause: "bad_wyoming") : error)
                service.metrics.error(cause: failure.cause)
                let event = WyomingEvent(type: "error", data: ["text": .string(failure.message), "code": .string(failure.code ?? failure.cause)])
                try? await outbound.write(ByteBuffer(bytes: event.encoded()))
            }
        }
    }
}

/// What one Wyoming connection has said so far, and the answers to each event.
struct WyomingSession {
    let service: TranscriptionService
    private var live: LiveTranscription?
    private var format: (rate: Int, width: Int, channels: Int)?

    init(service: TranscriptionService) { self.service = service }

    var isReceivingAudio: Bool { live != nil }

    mutating func handle(_ event: WyomingEvent) async throws -> [WyomingEvent] {
        switch event.type {
        case "describe":
            return [info]
        case "transcribe":
            return []
        case "audio-start":
            let format = try audioFormat(event)
            live = try LiveTranscription(service: service, sampleRate: format.rate, channels: format.channels)
            self.format = format
            return []
        case "audio-chunk":
            let format = try audioFormat(event)
            if live == nil {   // a chunk without audio-start starts the stream
                live = try LiveTranscription(service: service, sampleRate: format.rate, channels: format.channels)
                self.format = format
            } else if let current = self.format, current != format {
                throw ServerError.badRequest("audio-chunk format \(format) differs from audio-start's \(current)", cause: "bad_audio")
            }
            _ = try await live!.feed(pcm16: event.payload)
            return []
        case "audio-stop":
            guard let session = live else { return [WyomingEvent(type: "transcript", data: ["text": .string("")])] }
            live = nil
            format = nil
            let result = try await session.finish()
            service.metrics.request(route: "wyoming", status: 200)
            return [WyomingEvent(type: "transcript", data: ["text": .string(result.text), "language": .string(service.configuration.language)])]
        default:
            return []
        }
    }

    /// `rate`, `width` (bytes per sample; only 2 is accepted) and `channels` of an audio event.
    func audioFormat(_ event: WyomingEvent) throws -> (rate: Int, width: Int, channels: Int) {
        let rate = event.data["rate"]?.int ?? service.model.sampleRate
        let width = event.data["width"]?.int ?? 2
        let channels = event.data["channels"]?.int ?? 1
        guard width == 2 else {
            throw ServerError.badRequest("\(event.type): only 16-bit audio (width 2) is accepted, got width \(width)", cause: "bad_audio")
        }
        return (rate, width, channels)
    }

    var info: WyomingEvent {
        let configuration = service.configuration
        let attribution: WyomingValue = .object(["name": .string("swift-deepspeech"), "url": .string("https://github.com/swift-deepspeech/swift-deepspeech")])
        let model: WyomingValue = .object([
            "name": .string(configuration.modelName), "description": .string("DeepSpeech-family model (\(service.model.format))"),
            "attribution": attribution, "installed": .bool(true), "languages": .array([.string(configuration.language)]),
            "version": .string("0.1.0"),
        ])
        let program: WyomingValue = .object([
            "name": .string("swift-deepspeech"), "description": .string("DeepSpeech and Coqui STT speech to text in Swift"),
            "attribution": attribution, "installed": .bool(true), "version": .string("0.1.0"), "models": .array([model]),
        ])
        return WyomingEvent(type: "info", data: ["asr": .array([program]), "tts": .array([]), "handle": .array([]),
                                                 "intent": .array([]), "wake": .array([]), "mic": .array([]), "snd": .array([])])
    }
}
