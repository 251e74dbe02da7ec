import Foundation

/// How far a long transcription has got, for progress reports.
public struct TranscriptionProgress: Sendable {
    /// Seconds of source audio read and transcribed so far.
    public var processedSeconds: Double
    /// The source's announced duration, if it has one (files do, pipes do not).
    public var totalSeconds: Double?
    /// Wall-clock seconds since the transcription started.
    public var elapsedSeconds: Double
}

extension SpeechModel {
    /// Reads an audio file (any format and rate libsndfile decodes; downmixed and resampled
    /// to the model's rate) and transcribes it. The file is read and fed block by block, so
    /// memory stays constant however long it is; the result equals that of
    /// ``transcribeWithMetadata(_:options:)`` on the whole decoded file.
    /// - Parameter progress: called after every block (about a second of audio).
    /// - Throws: `AudioError` naming the file and the problem; `PrefixBeamSearchError` for
    ///   impossible options.
    public func transcribe(file path: String, options: DecodingOptions = DecodingOptions(),
                           progress: ((TranscriptionProgress) -> Void)? = nil) throws -> Transcription {
        try transcribe(source: try AudioFileStream(path: path), options: options, progress: progress)
    }

    /// Transcribes everything an ``AudioSource`` delivers (a file, or raw PCM on a pipe).
    public func transcribe(source: any AudioSource, options: DecodingOptions = DecodingOptions(),
                           progress: ((TranscriptionProgress) -> Void)? = nil) throws -> Transcription {
        let started = DispatchTime.now()
        var input = ModelInputStream(source: source, sampleRate: sampleRate)
        var stream = try makeStream(options: options)
        var audioSeconds = 0.0, samples = 0
        while true {
            let readStart = DispatchTime.now()
            guard let block = try input.next() else { break }
            audioSeconds += DispatchTime.secondsSince(readStart)
            samples += block.count
            stream.feed(block)
            progress?(TranscriptionProgress(processedSeconds: input.secondsRead, totalSeconds: input.estimatedDuration,
                                            elapsedSeconds: DispatchTime.secondsSince(started)))
        }
        if samples == 0 { throw AudioError(path: source.name, problem: .noSamples) }
        var result = stream.finishWithMetadata()
        result.timings.audio = audioSeconds
        return result
    }
}
