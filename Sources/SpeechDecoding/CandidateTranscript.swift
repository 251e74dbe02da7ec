/// One decoding hypothesis: a label sequence with the frame at which each label was emitted.
///
/// The fields mirror Coqui STT's `Output` (and the native client's `CandidateTranscript`
/// metadata): `labels[i]` is a class id of the ``Alphabet`` (never the blank) and
/// `timesteps[i]` is the absolute acoustic-model frame index (20 ms per frame for the released
/// models) at which the best path into that label emitted it. Both arrays always have the
/// same length.
public struct CandidateTranscript: Sendable, Codable, Equatable {
    /// Class ids of the transcript, in order.
    public var labels: [Int]
    /// For each label, the absolute frame index (counted from the first frame ever fed to the
    /// decoder, including leading frames that were skipped) at which it was emitted.
    public var timesteps: [Int]
    /// The score of the hypothesis as the reference reports it: the natural-log probability of
    /// the prefix summed over all CTC paths that spell it (accumulated in `Float`, then widened),
    /// plus any language-model terms. It is not normalised; higher is better.
    public var confidence: Double

    /// Creates a transcript.
    /// - Precondition: `labels.count == timesteps.count`.
    public init(labels: [Int], timesteps: [Int], confidence: Double) {
        precondition(labels.count == timesteps.count, "every label needs exactly one timestep")
        self.labels = labels
        self.timesteps = timesteps
        self.confidence = confidence
    }

    /// The transcript's text in `alphabet`.
    public func text(in alphabet: Alphabet) -> String {
        alphabet.decode(labels)
    }
}
