import Foundation
import Hummingbird
import HummingbirdWebSocket
import DeepSpeech

/// `GET /v1/stream`: live transcription over a WebSocket, in the message shapes of Vosk's and
/// Coqui's streaming servers.
///
/// - optional first text message `{"config": {"sample_rate": 8000}}` (or `?sample_rate=` in the
///   URL; default the model's rate);
/// - binary messages: 16-bit little-endian mono PCM, any size; each is answered with
///   `{"partial": "…"}`;
/// - with `--api-key`, the key goes in `Authorization: Bearer` or `?api_key=`; a wrong one gets
///   the JSON error as a message and close code 1008 (policy violation);
/// - text `{"eof": 1}`: answered with `{"text", "result": [{"word", "start", "end", "conf"}],
///   "confidence"}`, then the server closes. DeepSpeech gives no per-word confidence, so
///   `conf` is always 1.0; `confidence` is the decoder's score for the whole transcript.
struct StreamingRoute: Sendable {
    static let path = "/v1/stream"
    let service: TranscriptionService

    func shouldUpgrade(_ request: HTTPRequest) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let components = URLComponents(string: request.path ?? "")
        guard components?.path == Self.path else { return .dontUpgrade }
        let query = Dictionary((components?.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { a, _ in a }
        var authorized = true
        if let key = service.configuration.apiKey {
            let token = bearerToken(request.headerFields[.authorization]) ?? query["api_key"] ?? ""
            authorized = constantTimeEquals(Array(token.utf8), Array(key.utf8))
        }
        let rate = query["sample_rate"].flatMap { Int($0) } ?? service.model.sampleRate
        let isAuthorized = authorized
        return .upgrade([:]) { inbound, outbound, _ in
            guard isAuthorized else {
                // Hummingbird answers a refused upgrade with a bare 400, so a wrong key is told
                // over the socket instead: the OpenAI-shaped error, then close code 1008.
                await refuse(outbound, ServerError.unauthorized)
                return
            }
            await run(inbound: inbound, outbound: outbound, sampleRate: rate)
        }
    }

    /// A plain GET of the stream's path (no upgrade, or a refused key) gets a JSON error.
    func plainRequest(_ request: Request) -> Response {
        let routes = HTTPRoutes(service: service)
        var failure = ServerError(.upgradeRequired, "\(Self.path) is a WebSocket: connect with a WebSocket client", cause: "bad_request")
        do { try routes.authorize(request) } catch { failure = .unauthorized }
        return routes.errorResponse(failure, style: .openAI)
    }

    func refuse(_ outbound: WebSocketOutboundWriter, _ failure: ServerError) async {
        service.metrics.error(cause: failure.cause)
        service.metrics.request(route: "websocket", status: Int(failure.status.code))
        try? await outbound.write(.text(JSONText.encode(failure.openAIBody)))
        try? await outbound.close(.policyViolation, reason: failure.code)
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, sampleRate: Int) async {
        service.metrics.streamOpened()
        defer { service.metrics.streamClosed() }
        var rate = sampleRate
        var session: LiveTranscription?
        func send(_ object: [String: Any]) async throws { try await outbound.write(.text(JSONText.encode(object))) }
        do {
            for try await message in inbound.messages(maxSize: 4 << 20) {
                switch message {
                case .binary(let buffer):
                    if session == nil { session = try LiveTranscription(service: service, sampleRate: rate, channels: 1) }
                    let partial = try await session!.feed(pcm16: Array(buffer.readableBytesView))
                    try await send(["partial": partial])
                case .text(let text):
                    guard let object = JSONText.decode(Array(text.utf8)) as? [String: Any] else {
                        throw ServerError.badRequest("text messages must be JSON: {\"config\": {\"sample_rate\": N}} or {\"eof\": 1}")
                    }
                    if let config = object["config"] as? [String: Any] {
                        guard session == nil else { throw ServerError.badRequest("config must come before the first audio message") }
                        if let value = config["sample_rate"] as? NSNumber { rate = value.intValue }
                        continue
                    }
                    guard object["eof"] != nil else { continue }
                    let final = try await (session ?? LiveTranscription(service: service, sampleRate: rate, channels: 1)).finish()
                    try await send(Self.finalMessage(final))
                    service.metrics.request(route: "websocket", status: 200)
                    try await outbound.close(.normalClosure, reason: nil)
                    return
                }
            }
            // The client went away without {"eof": 1}: the stream is dropped.
            service.metrics.error(cause: "client_gone")
        } catch {
            let failure = ServerError.wrapping(error)
            service.metrics.error(cause: failure.cause)
            service.metrics.request(route: "websocket", status: Int(failure.status.code))
            try? await send(failure.openAIBody)
            try? await outbound.close(failure.status == .contentTooLarge ? .messageTooLarge : .protocolError, reason: String(failure.message.prefix(100)))
        }
    }

    static func finalMessage(_ result: ServedTranscription) -> [String: Any] {
        let candidate = result.transcription.candidates.first
        let words: [[String: Any]] = (candidate?.words ?? []).filter { !$0.word.isEmpty }.map {
            ["word": $0.word, "start": $0.startTime, "end": roundedTime($0.startTime + $0.duration), "conf": 1.0]
        }
        return ["text": result.text, "result": words, "confidence": candidate?.confidence ?? 0]
    }
}
