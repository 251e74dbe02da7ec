/// One decoded hypothesis, in class indices.
public struct CandidateTranscript: Sendable, Codable, Equatable {
    /// Output classes (labels), blanks and repeats removed.
    public var labels: [Int]
    /// For each label, the absolute frame index at which the best path into it emitted it.
    public var timesteps: [Int]
    /// The raw ln-domain score, as the reference engines report it: for the beam search the
    /// log of the summed probability of all CTC paths of the prefix (not normalised); for the
    /// greedy decoder the log-probability of the single best path.
    public var confidence: Double

    public init(labels: [Int], timesteps: [Int], confidence: Double) {
        self.labels = labels
        self.timesteps = timesteps
        self.confidence = confidence
    }
}
