import Foundation
import Dispatch
import DeepSpeech

/// One live stream (a WebSocket or a Wyoming connection): 16-bit PCM arrives in pieces, is
/// downmixed and resampled to the model's rate, and fed to a ``SpeechStream`` on a Dispatch
/// thread, so decoding never blocks the threads that serve connections.
///
/// The result equals the CLI's `--stream` on the same audio at the model's rate (chunking does
/// not change a stream's result). Calls must not overlap; each connection makes them in order.
final class LiveTranscription: @unchecked Sendable {
    let service: TranscriptionService
    let inputRate: Int
    let channels: Int
    private var stream: SpeechStream
    private var resampler: ResamplingStream?
    /// An odd byte (or partial frame) left from the previous piece.
    private var pending: [UInt8] = []
    private var framesIn = 0
    private let started = DispatchTime.now()

    init(service: TranscriptionService, sampleRate: Int, channels: Int, options: DecodingOptions? = nil) throws {
        guard AudioFileStream.sampleRates.contains(sampleRate), (1...AudioFileStream.maximumChannels).contains(channels) else {
            throw ServerError.badRequest("audio must be 1-\(AudioFileStream.maximumChannels) channels at \(AudioFileStream.sampleRates.lowerBound)-\(AudioFileStream.sampleRates.upperBound) Hz (got \(channels) channels at \(sampleRate) Hz)",
                                         cause: "bad_audio")
        }
        self.service = service
        self.inputRate = sampleRate
        self.channels = channels
        stream = try service.model.makeStream(options: options ?? service.configuration.decoding)
        let modelRate = service.model.sampleRate
        resampler = sampleRate == modelRate ? nil : ResamplingStream(Resampler(inputRate: sampleRate, outputRate: modelRate))
    }

    /// Seconds of audio received.
    var audioSeconds: Double { Double(framesIn) / Double(inputRate) }

    /// Feeds little-endian 16-bit PCM and returns the partial transcript. Throws 413 when the
    /// stream passes the server's audio length limit.
    func feed(pcm16 bytes: [UInt8]) async throws -> String {
        try await offload { [self] in
            pending.append(contentsOf: bytes)
            let frameBytes = 2 * channels
            let frames = pending.count / frameBytes
            let samples = RawPCMStream.samples(pcm16: pending, count: frames * channels)
            pending.removeFirst(frames * frameBytes)
            framesIn += frames
            if audioSeconds > service.configuration.maxAudioSeconds {
                throw ServerError.tooLarge("the stream is longer than the server's limit of \(service.configuration.maxAudioSeconds) s (--max-audio-seconds)")
            }
            var mono = ModelInput.downmix(samples, channels: channels)
            if resampler != nil { mono = resampler!.process(mono) }
            stream.feed(mono)
            return stream.intermediate()
        }
    }

    /// Ends the stream: the final transcription (best candidate first).
    func finish() async throws -> ServedTranscription {
        let result = try await offload { [self] in
            if resampler != nil { stream.feed(resampler!.finish()) }
            let transcription = stream.finishWithMetadata()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
            return ServedTranscription(transcription: transcription, processingSeconds: seconds)
        }
        service.metrics.transcribed(audioSeconds: result.audioSeconds, processingSeconds: result.processingSeconds)
        return result
    }

    private func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(with: Result { try work() }) }
        }
    }
}
