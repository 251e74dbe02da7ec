import ArgumentParser
import DeepSpeech
import Foundation
import SpeechServer

/// `deepspeech serve`: the model behind the HTTP, WebSocket and Wyoming protocols that
/// existing speech-to-text clients speak.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve speech to text over HTTP (OpenAI, whisper.cpp, Rhasspy, deepspeech-server, deepspeech.pytorch, SINGA-Auto routes), a WebSocket stream and the Wyoming protocol.",
        discussion: """
        One model is loaded and shared by every request. Routes:
          POST /v1/audio/transcriptions  OpenAI: multipart file, response_format json|text|verbose_json|srt|vtt, prompt
          POST /inference                whisper.cpp server: same form
          POST /api/speech-to-text       Rhasspy: WAV body, or raw 16-bit PCM with ?noheader=true; JSON with Accept: application/json
          POST /stt                      deepspeech-server: audio body, text answer
          POST /transcribe               deepspeech.pytorch: multipart file -> {"status", "transcription"}
          POST /predict                  SINGA-Auto: {"query": base64} or {"queries": [...]}
          GET  /v1/stream                WebSocket: binary 16-bit PCM in, {"partial"} after each, {"eof": 1} -> final JSON
          GET  /healthz, GET /metrics    health probe; Prometheus metrics
          Wyoming (Home Assistant)       on --wyoming-port: describe, transcribe, audio-start/chunk/stop

        One command per client (server on 127.0.0.1:8080):
          OpenAI:       OpenAI(base_url="http://127.0.0.1:8080/v1", api_key="-").audio.transcriptions.create(model="deepspeech", file=open("clip.wav", "rb"))
          whisper.cpp:  curl -F file=@clip.wav -F response_format=json http://127.0.0.1:8080/inference
          Rhasspy:      curl --data-binary @clip.wav http://127.0.0.1:8080/api/speech-to-text
          deepspeech-server: curl --data-binary @clip.wav http://127.0.0.1:8080/stt
          deepspeech.pytorch: curl -F file=@clip.wav http://127.0.0.1:8080/transcribe
          SINGA-Auto:   curl -d "{\"query\": \"$(base64 -w0 clip.wav)\"}" http://127.0.0.1:8080/predict
          WebSocket:    python3 examples/websocket_stream.py clip.wav ws://127.0.0.1:8080/v1/stream
          Wyoming:      Home Assistant > Add Integration > Wyoming Protocol > host, --wyoming-port

        Errors are JSON ({"error": {"message", "type", "param", "code"}}) naming the problem. A full \
        queue answers 503 with Retry-After. SIGTERM or SIGINT stops accepting, answers what was \
        accepted, then exits.
        """)

    @Option(name: .customLong("model"), help: ArgumentHelp("Model file (any format the transcribe command reads); default: the default model, fetched on first use.", valueName: "FILE"))
    var model: String?

    @Option(name: .customLong("alphabet"), help: ArgumentHelp("alphabet.txt, for model files that store none.", valueName: "FILE"))
    var alphabet: String?

    @Option(name: .customLong("scorer"), help: ArgumentHelp("Language model every request decodes with: a scorer package, or a KenLM binary or ARPA file.", valueName: "FILE"))
    var scorer: String?

    @Option(name: .customLong("lm_alpha"), help: ArgumentHelp("Language model weight (default: the scorer's).", valueName: "A"))
    var lmAlpha: Double?

    @Option(name: .customLong("lm_beta"), help: ArgumentHelp("Word insertion bonus (default: the scorer's).", valueName: "B"))
    var lmBeta: Double?

    @Option(name: .customLong("hot_words"), help: ArgumentHelp("Words to boost for every request, as word:boost pairs (needs --scorer).", valueName: "WORD:BOOST,…"))
    var hotWords: String?

    @Option(name: .customLong("beam_width"), help: ArgumentHelp("Beam width (default: the model's, 500 for released models).", valueName: "N"))
    var beamWidth: Int?

    @Option(name: .customLong("host"), help: ArgumentHelp("Address to listen on; 0.0.0.0 serves other machines.", valueName: "ADDRESS"))
    var host = "127.0.0.1"

    @Option(name: .customLong("port"), help: ArgumentHelp("HTTP and WebSocket port (0: any free port, printed when listening).", valueName: "PORT"))
    var port = 8080

    @Option(name: .customLong("wyoming-port"), help: ArgumentHelp("Also serve the Wyoming protocol on this TCP port (Home Assistant uses 10300).", valueName: "PORT"))
    var wyomingPort: Int?

    @Option(name: .customLong("api-key"), help: ArgumentHelp("Require 'Authorization: Bearer KEY' on every request but /healthz (default: $DEEPSPEECH_API_KEY if set, else no key).", valueName: "KEY"))
    var apiKey: String?

    @Option(name: .customLong("workers"), help: ArgumentHelp("Transcriptions run at once; each holds a core.", valueName: "N"))
    var workers = 1

    @Option(name: .customLong("queue"), help: ArgumentHelp("Requests that may wait for a worker; more get 503 with Retry-After.", valueName: "N"))
    var queue = 32

    @Option(name: .customLong("max-body-mb"), help: ArgumentHelp("Largest request body in MiB; larger get 413 before they are read.", valueName: "MB"))
    var maxBodyMB = 64.0

    @Option(name: .customLong("max-audio-seconds"), help: ArgumentHelp("Longest audio per request or stream; longer gets 413.", valueName: "SECONDS"))
    var maxAudioSeconds = 600.0

    @Option(name: .customLong("request-timeout"), help: ArgumentHelp("Seconds from a request's arrival to its answer, queueing included; over it: 504.", valueName: "SECONDS"))
    var requestTimeout = 120.0

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Seconds a connection may send nothing before it is closed (slow clients).", valueName: "SECONDS"))
    var idleTimeout = 30.0

    @Option(name: .customLong("cors-origin"), help: ArgumentHelp("Allow browser requests from this origin (* for any); default: no CORS headers.", valueName: "ORIGIN"))
    var corsOrigin: String?

    @Option(name: .customLong("prompt-boost"), help: ArgumentHelp("Boost for each word of an OpenAI 'prompt', used as hot words when there is a scorer (0 ignores prompts).", valueName: "BOOST"))
    var promptBoost: Float = 2.0

    @Option(name: .customLong("language"), help: ArgumentHelp("Language code announced to clients (Wyoming info, verbose_json).", valueName: "CODE"))
    var language = "hy"

    @Option(name: .customLong("model-name"), help: ArgumentHelp("Name the model is announced under.", valueName: "NAME"))
    var modelName = "deepspeech"

    func validate() throws {
        func checkPort(_ value: Int, _ flag: String) throws {
            if !(0...65535).contains(value) { throw ValidationError("\(flag) must be 0-65535 (got \(value))") }
        }
        try checkPort(port, "--port")
        if let wyomingPort { try checkPort(wyomingPort, "--wyoming-port") }
        if workers < 1 || workers > 256 { throw ValidationError("--workers must be 1-256 (got \(workers))") }
        if queue < 0 { throw ValidationError("--queue must be 0 or more (got \(queue))") }
        if !(maxBodyMB > 0 && maxBodyMB <= 4096) { throw ValidationError("--max-body-mb must be above 0 and at most 4096 (got \(maxBodyMB))") }
        for (value, flag) in [(maxAudioSeconds, "--max-audio-seconds"), (requestTimeout, "--request-timeout"), (idleTimeout, "--idle-timeout")]
        where !(value > 0 && value < 1e6) {
            throw ValidationError("\(flag) must be a positive number of seconds (got \(value))")
        }
        if let beamWidth, beamWidth < 1 { throw ValidationError("--beam_width must be at least 1 (got \(beamWidth))") }
        if scorer == nil && (lmAlpha != nil || lmBeta != nil || hotWords != nil) {
            throw ValidationError("--lm_alpha, --lm_beta and --hot_words need --scorer")
        }
        _ = try parseHotWords(hotWords)
    }

    func run() async throws {
        let modelPath: String
        do { modelPath = try model ?? DefaultModel.path(log: { log($0) }) } catch { fail("\(error)") }
        let speechModel: SpeechModel
        do { speechModel = try SpeechModel(path: modelPath, alphabetPath: alphabet) } catch { fail("\(error)") }
        log(speechModel.summary)

        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.wyomingPort = wyomingPort
        configuration.apiKey = apiKey ?? ProcessInfo.processInfo.environment["DEEPSPEECH_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.workers = workers
        configuration.queueLimit = queue
        configuration.maxBodyBytes = Int(maxBodyMB * 1024 * 1024)
        configuration.maxAudioSeconds = maxAudioSeconds
        configuration.requestTimeout = requestTimeout
        configuration.idleTimeout = idleTimeout
        configuration.corsOrigin = corsOrigin
        configuration.promptBoost = promptBoost
        configuration.language = language
        configuration.modelName = modelName
        configuration.decoding = DecodingOptions(beamWidth: beamWidth)
        if let scorer {
            do {
                configuration.decoding.scorer = try LanguageModelScorer.load(path: scorer, alphabet: speechModel.alphabet, alpha: lmAlpha, beta: lmBeta,
                                                                             hotWords: try parseHotWords(hotWords))
                log("scorer: \(scorer)")
            } catch { fail("\(error)") }
        }
        log("workers \(workers), queue \(queue), max body \(maxBodyMB) MiB, max audio \(maxAudioSeconds) s, request timeout \(requestTimeout) s"
            + (configuration.apiKey == nil ? ", no API key" : ", API key required"))
        do {
            let server = try SpeechServer(model: speechModel, configuration: configuration)
            try await server.run(log: { log($0) })
        } catch {
            fail("\(error)")
        }
        log("deepspeech serve: stopped")
    }
}
