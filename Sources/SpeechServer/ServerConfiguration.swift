import DeepSpeech

/// Everything `deepspeech serve` can be told, with the defaults a server on one machine wants.
public struct ServerConfiguration: Sendable {
    /// Address to listen on. Default 127.0.0.1: give 0.0.0.0 to serve other machines.
    public var host = "127.0.0.1"
    /// HTTP (and WebSocket) port. Default 8080; 0 picks a free port (printed when listening).
    public var port = 8080
    /// Wyoming (Home Assistant) TCP port; `nil` (default) serves no Wyoming.
    public var wyomingPort: Int?
    /// When set, every request must carry `Authorization: Bearer <key>` (compared in constant
    /// time); `/healthz` is always open so load balancers can probe.
    public var apiKey: String?
    /// How many transcriptions run at once (default 1: a server running one stream per core
    /// starts one process per core). Each running transcription holds one core.
    public var workers = 1
    /// How many requests may wait for a worker (default 32). Beyond that, requests are answered
    /// 503 with `Retry-After` at once rather than queued without bound.
    public var queueLimit = 32
    /// Largest request body accepted, in bytes (default 64 MiB, about 35 minutes of 16 kHz
    /// 16-bit mono WAV). A larger `Content-Length` is refused with 413 before it is read.
    public var maxBodyBytes = 64 << 20
    /// Longest audio accepted, in seconds (default 600). Longer uploads get 413.
    public var maxAudioSeconds = 600.0
    /// Seconds a request may take from arrival to answer, waiting for a worker included
    /// (default 120). A request over it gets 504; a transcription already running finishes.
    public var requestTimeout = 120.0
    /// Seconds a connection may stay idle, headers and body included (default 30): slow or
    /// silent clients are dropped instead of holding connections forever.
    public var idleTimeout = 30.0
    /// Origin allowed by CORS (`*` for any); `nil` (default) sends no CORS headers.
    public var corsOrigin: String?
    /// Boost given to each word of an OpenAI `prompt`, which becomes hot words when the
    /// server has a scorer (default 2.0; 0 ignores prompts).
    public var promptBoost: Float = 2.0
    /// Beam width, scorer, alpha/beta and hot words every request decodes with.
    public var decoding = DecodingOptions()
    /// Name the model is announced under (OpenAI `model`, Wyoming `info`).
    public var modelName = "deepspeech"
    /// BCP-47 language of the model, announced in Wyoming `info` and `verbose_json`.
    public var language = "hy"

    public init() {}
}
