import Foundation
import DeepSpeech

/// One transcription as the server reports it.
public struct ServedTranscription: Sendable {
    public var transcription: Transcription
    /// Wall-clock seconds the worker spent, decoding the upload included.
    public var processingSeconds: Double
    public var text: String { transcription.text }
    public var audioSeconds: Double { transcription.audioSeconds }
}

/// The one loaded model every request shares, with the worker pool that runs transcriptions
/// on it. Uploads are decoded and transcribed exactly as the CLI's `deepspeech --audio FILE`
/// does (same reader, same resampler, same stream), so every route gives the CLI's text.
public final class TranscriptionService: Sendable {
    public let model: SpeechModel
    public let configuration: ServerConfiguration
    public let pool: WorkerPool
    public let metrics = ServerMetrics()
    let uploads: UploadFolder

    public init(model: SpeechModel, configuration: ServerConfiguration) throws {
        self.model = model
        self.configuration = configuration
        pool = WorkerPool(workers: configuration.workers, queueLimit: configuration.queueLimit)
        uploads = try UploadFolder()
    }

    /// Decoding options for a request: the server's, with an OpenAI `prompt`'s words as hot
    /// words when there is a scorer to boost them in.
    public func options(prompt: String?) -> DecodingOptions {
        var options = configuration.decoding
        if let prompt, let scorer = options.scorer, configuration.promptBoost != 0 {
            let words = prompt.split(whereSeparator: { $0.isWhitespace || $0.isPunctuation }).map { $0.lowercased() }.prefix(100)
            if !words.isEmpty {
                options.scorer = scorer.addingHotWords(Dictionary(words.map { ($0, configuration.promptBoost) }) { a, _ in a })
            }
        }
        return options
    }

    /// Transcribes an upload on a worker, waiting for one at most until `deadline` (seconds
    /// from now). Throws ``ServerError`` for every failure, with the status to answer.
    public func transcribe(_ audio: UploadedAudio, options: DecodingOptions? = nil, timeout: Double? = nil) async throws -> ServedTranscription {
        let options = options ?? configuration.decoding
        do {
            let result = try await pool.run(timeout: timeout ?? configuration.requestTimeout) { [self] in
                try self.transcribeNow(audio, options: options)
            }
            metrics.transcribed(audioSeconds: result.audioSeconds, processingSeconds: result.processingSeconds)
            return result
        } catch {
            throw ServerError.wrapping(error)
        }
    }

    /// The blocking part, on a worker thread.
    func transcribeNow(_ audio: UploadedAudio, options: DecodingOptions) throws -> ServedTranscription {
        let started = DispatchTime.now()
        let limit = configuration.maxAudioSeconds
        func run(_ source: any AudioSource) throws -> Transcription {
            if let duration = source.estimatedDuration, duration > limit + 1 {
                throw LimitedAudioSource.tooLong(audio.name, limit)
            }
            return try model.transcribe(source: LimitedAudioSource(source, limit: limit), options: options)
        }
        let transcription: Transcription
        do {
            switch audio {
            case .file(let bytes, let name):
                if bytes.isEmpty { throw AudioError(path: name, problem: .empty) }
                transcription = try uploads.withFile(bytes) { path in
                    do { return try run(try AudioFileStream(path: path)) } catch let error as AudioError {
                        // Name the upload, not the private file it was written to.
                        throw AudioError(path: name, problem: error.problem)
                    }
                }
            case .pcm16(let bytes, let rate, let channels, let name):
                if bytes.count < 2 * channels { throw AudioError(path: name, problem: .noSamples) }
                transcription = try run(try PCM16BytesSource(bytes: bytes, sampleRate: rate, channels: channels, name: name))
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        return ServedTranscription(transcription: transcription, processingSeconds: seconds)
    }
}
