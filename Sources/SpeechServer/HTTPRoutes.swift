import Foundation
import Hummingbird
import NIOCore
import DeepSpeech

/// The HTTP routes: one per client family, all on the shared ``TranscriptionService``.
///
/// | Route | Client | Request | Answer |
/// |---|---|---|---|
/// | `POST /v1/audio/transcriptions` | OpenAI API clients | multipart `file`, `response_format`, `prompt` | json, text, verbose_json, srt, vtt |
/// | `POST /inference` | whisper.cpp server clients | multipart `file`, `response_format` | as above |
/// | `POST /api/speech-to-text` | Rhasspy remote HTTP | WAV body, or raw PCM with `?noheader=true` | text, or JSON with `Accept: application/json` |
/// | `POST /stt` | deepspeech-server | audio body | text |
/// | `POST /transcribe` | deepspeech.pytorch server | multipart `file` | `{"status", "transcription"}` |
/// | `POST /predict` | SINGA-Auto predictor | `{"query": b64}` or `{"queries": [b64, …]}` | `{"prediction"}` / `{"predictions"}` |
/// | `GET /v1/models` | OpenAI API clients | | the one model |
/// | `GET /healthz`, `GET /metrics` | probes, Prometheus | | |
struct HTTPRoutes: Sendable {
    let service: TranscriptionService
    var configuration: ServerConfiguration { service.configuration }

    /// How a route words its errors.
    enum ErrorStyle { case openAI, pytorch, plain }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in
            Self.response(.ok, JSONText.encode(["status": "ok", "model": configuration.modelName]), type: "application/json")
        }
        router.head("/healthz") { _, _ in Response(status: .ok) }
        router.get("/metrics") { request, _ in
            await respond("metrics", request, style: .plain) {
                let text = service.metrics.render(queueDepth: await service.pool.queueDepth, busyWorkers: await service.pool.busy,
                                                  workers: service.pool.workers)
                return Self.response(.ok, text, type: "text/plain; version=0.0.4")
            }
        }
        router.get("/v1/models") { request, _ in
            await respond("openai_models", request, style: .openAI) {
                let model: [String: Any] = ["id": configuration.modelName, "object": "model", "created": 0, "owned_by": "swift-deepspeech"]
                return Self.response(.ok, JSONText.encode(["object": "list", "data": [model]]), type: "application/json")
            }
        }
        router.post("/v1/audio/transcriptions") { request, _ in
            await respond("openai", request, style: .openAI) { try await openAI(request) }
        }
        router.post("/inference") { request, _ in
            await respond("whisper_cpp", request, style: .openAI) { try await openAI(request) }
        }
        router.post("/api/speech-to-text") { request, _ in
            await respond("rhasspy", request, style: .plain) { try await rhasspy(request) }
        }
        router.post("/stt") { request, _ in
            await respond("deepspeech_server", request, style: .plain) {
                let result = try await service.transcribe(.file(bytes: try await body(request), name: "request body"))
                return Self.response(.ok, result.text, type: "text/plain; charset=utf-8")
            }
        }
        router.post("/transcribe") { request, _ in
            await respond("pytorch", request, style: .pytorch) {
                let form = try await multipart(request)
                guard let file = form["file"] else {
                    throw ServerError.badRequest("audio file should be passed for the transcription as multipart field 'file'", param: "file")
                }
                let result = try await service.transcribe(.file(bytes: file.body, name: uploadName(file)))
                return Self.response(.ok, JSONText.encode(["status": "OK", "transcription": result.text]), type: "application/json")
            }
        }
        router.post("/predict") { request, _ in
            await respond("singa_auto", request, style: .plain) { try await predict(request) }
        }
    }

    // MARK: - Routes

    /// OpenAI's `POST /v1/audio/transcriptions`, and whisper.cpp's `POST /inference`, which
    /// takes the same form. `model`, `language` and `temperature` are accepted and ignored
    /// (there is one model); `prompt` becomes hot words when the server has a scorer.
    func openAI(_ request: Request) async throws -> Response {
        let form = try await multipart(request)
        guard let file = form["file"] else {
            throw ServerError.badRequest("the form has no 'file' field with the audio to transcribe", param: "file")
        }
        guard let format = TranscriptResponseFormat(requested: form.text("response_format")) else {
            throw ServerError.badRequest("response_format must be one of json, text, srt, verbose_json, vtt (got '\(form.text("response_format") ?? "")')",
                                         param: "response_format")
        }
        let result = try await service.transcribe(.file(bytes: file.body, name: uploadName(file)),
                                                  options: service.options(prompt: form.text("prompt")))
        return Self.response(.ok, format.render(result, language: configuration.language), type: format.contentType)
    }

    /// Rhasspy's remote HTTP speech to text: the body is a WAV file, or with `?noheader=true`
    /// raw 16-bit mono PCM at the model's rate. Plain text, or with `Accept: application/json`
    /// `{"text", "likelihood", "transcribe_seconds", "wav_seconds"}`; `likelihood` is the best
    /// candidate's score per 20 ms frame as a probability, `exp(confidence / frames)`.
    func rhasspy(_ request: Request) async throws -> Response {
        let bytes = try await body(request)
        let raw = ["true", "1", "yes"].contains(request.uri.queryParameters["noheader"].map { $0.lowercased() } ?? "")
        let rate = request.uri.queryParameters["rate"].flatMap { Int($0) } ?? service.model.sampleRate
        let audio: UploadedAudio = raw ? .pcm16(bytes: bytes, sampleRate: rate, channels: 1, name: "request body (raw PCM)")
                                       : .file(bytes: bytes, name: "request body")
        let result = try await service.transcribe(audio)
        let wantsJSON = request.headers[.accept]?.lowercased().contains("application/json") ?? false
        guard wantsJSON else { return Self.response(.ok, result.text, type: "text/plain; charset=utf-8") }
        let frames = max(1, result.audioSeconds / service.model.secondsPerFrame)
        let likelihood = exp((result.transcription.candidates.first?.confidence ?? -.infinity) / frames)
        return Self.response(.ok, JSONText.encode([
            "text": result.text, "likelihood": likelihood.isFinite ? likelihood : 0,
            "transcribe_seconds": result.processingSeconds, "wav_seconds": result.audioSeconds,
        ]), type: "application/json")
    }

    /// SINGA-Auto's predictor: `{"query": q}` → `{"prediction": p}`, `{"queries": [q…]}` →
    /// `{"predictions": [p…]}`, where each query is a base64 audio file (a `data:` URL prefix
    /// is allowed) and each prediction its transcript.
    func predict(_ request: Request) async throws -> Response {
        guard let object = JSONText.decode(try await body(request)) as? [String: Any] else {
            throw ServerError.badRequest("the body must be a JSON object {\"query\": \"<base64 audio>\"} or {\"queries\": [...]}", param: "query")
        }
        func transcript(_ query: Any, _ index: Int?) async throws -> String {
            let label = index.map { "queries[\($0)]" } ?? "query"
            guard var text = query as? String else { throw ServerError.badRequest("\(label) must be a base64 string", param: label) }
            if text.hasPrefix("data:"), let comma = text.firstIndex(of: ",") { text = String(text[text.index(after: comma)...]) }
            guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
                throw ServerError.badRequest("\(label) is not valid base64", param: label)
            }
            return try await service.transcribe(.file(bytes: [UInt8](data), name: label)).text
        }
        if let queries = object["queries"] as? [Any] {
            guard queries.count <= 64 else { throw ServerError.badRequest("at most 64 queries per request (got \(queries.count))", param: "queries") }
            var predictions: [String] = []
            for (i, query) in queries.enumerated() { predictions.append(try await transcript(query, i)) }
            return Self.response(.ok, JSONText.encode(["predictions": predictions]), type: "application/json")
        }
        guard let query = object["query"] else {
            throw ServerError.badRequest("the JSON object has neither \"query\" nor \"queries\"", param: "query")
        }
        return Self.response(.ok, JSONText.encode(["prediction": try await transcript(query, nil)]), type: "application/json")
    }

    // MARK: - Reading requests

    /// The whole body, refused with 413 before reading when `Content-Length` is over the
    /// limit, and while reading when a chunked body grows past it.
    func body(_ request: Request) async throws -> [UInt8] {
        let limit = configuration.maxBodyBytes
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw ServerError.tooLarge("the body declares \(declared) bytes; this server accepts at most \(limit) (--max-body-mb)")
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw ServerError.tooLarge("the body is larger than the \(limit) bytes this server accepts (--max-body-mb)")
        } catch is NIOTooManyBytesError {
            throw ServerError.tooLarge("the body is larger than the \(limit) bytes this server accepts (--max-body-mb)")
        }
    }

    func multipart(_ request: Request) async throws -> MultipartForm {
        guard let boundary = MultipartForm.boundary(contentType: request.headers[.contentType]) else {
            throw ServerError.badRequest("expected a multipart/form-data body with a boundary (got Content-Type '\(request.headers[.contentType] ?? "none")')")
        }
        return try MultipartForm(body: try await body(request), boundary: boundary)
    }

    func uploadName(_ part: MultipartForm.Part) -> String {
        let name = part.filename.map { String($0.prefix(200)) } ?? part.name
        return "upload '\(name)'"
    }

    // MARK: - Answers

    /// Runs a route: checks the API key, applies the request timeout, turns every error into
    /// the route's JSON error, and counts the answer.
    func respond(_ route: String, _ request: Request, style: ErrorStyle,
                 _ handler: @escaping @Sendable () async throws -> Response) async -> Response {
        var response: Response
        do {
            try authorize(request)
            response = try await withTimeout(configuration.requestTimeout, handler)
        } catch {
            let failure = ServerError.wrapping(error)
            service.metrics.error(cause: failure.cause)
            response = errorResponse(failure, style: style)
        }
        if let origin = configuration.corsOrigin { response.headers[.accessControlAllowOrigin] = origin }
        service.metrics.request(route: route, status: Int(response.status.code))
        return response
    }

    func authorize(_ request: Request) throws {
        guard let key = configuration.apiKey else { return }
        guard constantTimeEquals(Array((bearerToken(request.headers[.authorization]) ?? "").utf8), Array(key.utf8)) else {
            throw ServerError.unauthorized
        }
    }

    func errorResponse(_ error: ServerError, style: ErrorStyle) -> Response {
        let body: String
        switch style {
        case .openAI, .plain: body = JSONText.encode(error.openAIBody)
        case .pytorch: body = JSONText.encode(["status": "error", "message": error.message])
        }
        var response = Self.response(error.status, body, type: "application/json")
        if let retry = error.retryAfter { response.headers[.retryAfter] = "\(retry)" }
        // A body left unread (413, 401) cannot be skipped on a kept-alive connection.
        if error.status == .contentTooLarge || error.status == .unauthorized { response.headers[.connection] = "close" }
        if error.status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }

    static func response(_ status: HTTPResponse.Status, _ body: String, type: String) -> Response {
        Response(status: status, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
func bearerToken(_ header: String?) -> String? {
    guard let header, header.lowercased().hasPrefix("bearer ") else { return nil }
    return String(header.dropFirst(7))
}

/// Compares two secrets in time that depends only on their lengths.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for i in 0..<max(a.count, b.count) {
        difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
    }
    return difference == 0
}

/// `body()`, or ``ServerError/timedOut`` after `seconds`.
func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
            throw ServerError.timedOut
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
