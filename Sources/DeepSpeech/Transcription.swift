/// Times are kept to 0.1 ms (frames are 20 ms apart), so JSON shows 0.58, not 0.5800000000000001.
func roundedSeconds(_ seconds: Double) -> Double { (seconds * 10_000).rounded() / 10_000 }

/// One recognised character (or byte, for bytes-output models) of a candidate transcript,
/// as the reference engines report it.
public struct Token: Codable, Sendable, Equatable {
    public var text: String
    /// Index of the 20 ms feature frame at which the decoder emitted the token.
    public var timestep: Int
    /// `timestep × step / sampleRate`, seconds from the start of the audio.
    public var startTime: Double

    public init(text: String, timestep: Int, startTime: Double) {
        self.text = text
        self.timestep = timestep
        self.startTime = startTime
    }

    enum CodingKeys: String, CodingKey { case text, timestep, startTime = "start_time" }
}

/// A word as the reference client groups tokens: consecutive non-space tokens, starting at
/// the first token's time and lasting until the time of the space (or last token) that ends
/// it; a negative duration is clamped to 0.
public struct Word: Codable, Sendable, Equatable {
    public var word: String
    public var startTime: Double
    public var duration: Double

    public init(word: String, startTime: Double, duration: Double) {
        self.word = word
        self.startTime = startTime
        self.duration = duration
    }

    enum CodingKeys: String, CodingKey { case word, startTime = "start_time", duration }
}

/// One candidate transcript with its score and timing.
public struct Candidate: Codable, Sendable, Equatable {
    public var text: String
    /// The decoder's raw ln-domain score (acoustic log-probability of the best paths into the
    /// prefix), as Coqui STT and DeepSpeech report it: larger is better, not normalised.
    public var confidence: Double
    public var tokens: [Token]
    public var words: [Word]

    public init(text: String, confidence: Double, tokens: [Token]) {
        self.text = text
        self.confidence = confidence
        self.tokens = tokens
        self.words = Candidate.words(from: tokens)
    }

    static func words(from tokens: [Token]) -> [Word] {
        var words: [Word] = []
        var current = ""
        var start = 0.0
        for (i, token) in tokens.enumerated() {
            if token.text != " " {
                if current.isEmpty { start = token.startTime }
                current += token.text
            }
            if token.text == " " || i == tokens.count - 1 {
                words.append(Word(word: current, startTime: start, duration: roundedSeconds(max(0, token.startTime - start))))
                current = ""
                start = 0
            }
        }
        return words
    }
}

/// Wall-clock seconds spent in each stage of one transcription.
public struct StageTimings: Codable, Sendable, Equatable {
    public var audio: Double = 0
    public var features: Double = 0
    public var acousticModel: Double = 0
    public var decoding: Double = 0
    public var total: Double { audio + features + acousticModel + decoding }

    public init() {}

    /// Adds another run's times, stage by stage.
    public mutating func add(_ other: StageTimings) {
        audio += other.audio
        features += other.features
        acousticModel += other.acousticModel
        decoding += other.decoding
    }

    enum CodingKeys: String, CodingKey { case audio, features, acousticModel = "acoustic_model", decoding }
}

/// The result of transcribing one utterance: candidates best first.
public struct Transcription: Codable, Sendable {
    public var candidates: [Candidate]
    public var audioSeconds: Double
    public var timings: StageTimings

    /// The best transcript ("" when nothing was recognised).
    public var text: String { candidates.first?.text ?? "" }

    enum CodingKeys: String, CodingKey { case candidates = "transcripts", audioSeconds = "audio_seconds", timings }
}
