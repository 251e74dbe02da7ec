/// How to decode the acoustic model's output. The defaults are the reference native client's.
public struct DecodingOptions: Sendable, Codable, Equatable {
    /// Prefix beam width. `nil` (default) uses the width stored in the model
    /// (`metadata_beam_width`, 500 for released models), as the reference engines do.
    public var beamWidth: Int?
    /// How many candidate transcripts to return (best first). Default 1.
    public var candidates: Int
    /// Per frame, only the `cutoffTopN` most probable characters extend prefixes (40 in the
    /// native client). With `cutoffProbability` = 1 this only takes effect when the model has
    /// more than 40 classes.
    public var cutoffTopN: Int
    /// Cumulative-probability pruning per frame (1.0 = off, the native client's value).
    public var cutoffProbability: Double
    /// A language model with its vocabulary (a scorer package), alpha, beta and hot words;
    /// `nil` (default) decodes without one. Not encoded.
    public var scorer: LanguageModelScorer?

    public init(beamWidth: Int? = nil, candidates: Int = 1, cutoffTopN: Int = 40, cutoffProbability: Double = 1.0,
                scorer: LanguageModelScorer? = nil) {
        self.beamWidth = beamWidth
        self.candidates = candidates
        self.cutoffTopN = cutoffTopN
        self.cutoffProbability = cutoffProbability
        self.scorer = scorer
    }

    enum CodingKeys: String, CodingKey { case beamWidth, candidates, cutoffTopN, cutoffProbability }
}
