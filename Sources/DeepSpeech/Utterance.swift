import Foundation

/// One stretch of speech between pauses, transcribed on its own (see
/// ``SpeechModel/transcribeUtterances(source:options:pauses:progress:utterance:)``).
public struct Utterance: Codable, Sendable, Equatable {
    /// Seconds from the start of the audio where speech begins (the first loud 10 ms frame).
    public var startTime: Double
    /// Seconds from the start of the audio where speech ends (the start of the pause after
    /// it, or the last loud frame at the end of the audio).
    public var endTime: Double
    /// Candidates, best first. Token and word times count from the start of the audio, not
    /// of the utterance; token timesteps too (20 ms steps, rounded down).
    public var candidates: [Candidate]

    /// The best candidate's text ("" if the model heard nothing).
    public var text: String { candidates.first?.text ?? "" }

    public init(startTime: Double, endTime: Double, candidates: [Candidate]) {
        self.startTime = startTime
        self.endTime = endTime
        self.candidates = candidates
    }

    enum CodingKeys: String, CodingKey { case startTime = "start_time", endTime = "end_time", candidates = "transcripts" }
}

extension Candidate {
    /// The candidate with every time moved later by `samples` samples at `sampleRate`
    /// (`stepLength` samples per timestep).
    func shifted(bySamples samples: Int, sampleRate: Int, stepLength: Int) -> Candidate {
        let seconds = Double(samples) / Double(sampleRate)
        let steps = samples / stepLength
        var copy = self
        copy.tokens = tokens.map {
            Token(text: $0.text, timestep: $0.timestep + steps, startTime: roundedSeconds($0.startTime + seconds))
        }
        copy.words = words.map { Word(word: $0.word, startTime: roundedSeconds($0.startTime + seconds), duration: $0.duration) }
        return copy
    }
}

extension SpeechModel {
    /// Transcribes a long recording utterance by utterance: a ``PauseDetector`` watches the
    /// audio as it streams in, and at every pause the current stream is finished and a new
    /// one started. Each utterance is handed to `utterance` as soon as its pause is found, so
    /// a caller can print or store it at once; memory stays constant however long the audio.
    ///
    /// Stretches without speech are skipped. An utterance includes the pause's first
    /// `minimumPause` seconds (the model sees the silence after the last word).
    /// - Returns: the summed per-stage timings.
    @discardableResult
    public func transcribeUtterances(source: any AudioSource, options: DecodingOptions = DecodingOptions(),
                                     pauses: PauseDetector.Options = PauseDetector.Options(),
                                     progress: ((TranscriptionProgress) -> Void)? = nil,
                                     utterance: (Utterance) throws -> Void) throws -> StageTimings {
        let started = DispatchTime.now()
        var input = ModelInputStream(source: source, sampleRate: sampleRate)
        var stream = try makeStream(options: options)
        var detector = PauseDetector(sampleRate: sampleRate, options: pauses)
        var timings = StageTimings()
        var utteranceStart = 0   // sample index where the current stream began
        var consumed = 0         // samples fed so far
        let rate = sampleRate, step = Int((secondsPerFrame * Double(sampleRate)).rounded())

        func emit(speechStart: Int?, speechEnd: Int) throws {
            guard let speechStart else { stream.reset(); return }
            let result = stream.finishWithMetadata()
            timings.add(result.timings)
            let candidates = result.candidates.map { $0.shifted(bySamples: utteranceStart, sampleRate: rate, stepLength: step) }
            try utterance(Utterance(startTime: roundedSeconds(Double(speechStart) / Double(rate)),
                                    endTime: roundedSeconds(Double(max(speechEnd, speechStart)) / Double(rate)),
                                    candidates: candidates))
        }

        while true {
            let readStart = DispatchTime.now()
            guard let block = try input.next() else { break }
            timings.audio += DispatchTime.secondsSince(readStart)
            let found = block.withUnsafeBufferPointer { detector.process($0) }
            var offset = 0
            for pause in found {
                let cut = pause.confirmedAt - consumed
                block.withUnsafeBufferPointer { stream.feed(UnsafeBufferPointer(rebasing: $0[offset..<cut])) }
                offset = cut
                try emit(speechStart: pause.speechStart, speechEnd: pause.speechEnd)
                utteranceStart = pause.confirmedAt
            }
            block.withUnsafeBufferPointer { stream.feed(UnsafeBufferPointer(rebasing: $0[offset...])) }
            consumed += block.count
            progress?(TranscriptionProgress(processedSeconds: input.secondsRead, totalSeconds: input.estimatedDuration,
                                            elapsedSeconds: DispatchTime.secondsSince(started)))
        }
        if consumed == 0 { throw AudioError(path: source.name, problem: .noSamples) }
        try emit(speechStart: detector.speechStart, speechEnd: detector.speechEnd)
        return timings
    }

    /// ``transcribeUtterances(source:options:pauses:progress:utterance:)`` on a file, collecting
    /// the utterances.
    public func transcribeUtterances(file path: String, options: DecodingOptions = DecodingOptions(),
                                     pauses: PauseDetector.Options = PauseDetector.Options()) throws -> [Utterance] {
        var all: [Utterance] = []
        try transcribeUtterances(source: try AudioFileStream(path: path), options: options, pauses: pauses) { all.append($0) }
        return all
    }
}
