import Foundation

/// Best-path (greedy) CTC decoding: take the most probable class of every frame, merge runs of
/// the same class, and drop blanks.
///
/// This is not what Coqui STT's native client does (it always runs the prefix beam search,
/// even with beam width 1, which sums the blank and non-blank paths of each prefix); it is a
/// fast, dependency-free approximation that usually gives the same text on confident frames.
public enum GreedyCTCDecoder {
    /// Decodes row-major probabilities `[frames][classCount]`; the blank is the last class,
    /// `classCount - 1`.
    ///
    /// - Argmax ties go to the smallest class id; NaN values never win.
    /// - A label is emitted at the first frame of every run of equal non-blank argmaxes, so
    ///   `a a - a b` gives `a a b` (a blank separates repeated letters) and `a a b` gives `a b`.
    /// - `timesteps[i]` is `firstFrame` plus the index of the frame that starts the run.
    /// - `confidence` is the sum, over all frames (blank frames included), of `ln(max p)`
    ///   computed in `Double`; it is `-infinity` if some frame's maximum is 0.
    ///
    /// - Precondition: `classCount >= 1` and `probabilities.count >= frames * classCount`.
    public static func decode(
        probabilities: UnsafeBufferPointer<Float>, frames: Int, classCount: Int, firstFrame: Int = 0
    ) -> CandidateTranscript {
        precondition(classCount >= 1, "classCount must be at least 1 (the blank)")
        precondition(frames >= 0 && probabilities.count >= frames * classCount,
                     "probabilities hold \(probabilities.count) values, \(frames) frames of \(classCount) classes need \(frames * classCount)")
        let blank = classCount - 1
        var labels: [Int] = []
        var timesteps: [Int] = []
        var confidence = 0.0
        var previous = blank
        for frame in 0 ..< frames {
            let row = frame * classCount
            var best = 0
            var bestValue = -Float.infinity
            var found = false
            for c in 0 ..< classCount {
                let p = probabilities[row + c]
                if !p.isNaN, !found || p > bestValue {
                    best = c
                    bestValue = p
                    found = true
                }
            }
            confidence += Foundation.log(Double(found ? bestValue : 0))
            if best != blank, best != previous {
                labels.append(best)
                timesteps.append(firstFrame + frame)
            }
            previous = best
        }
        return CandidateTranscript(labels: labels, timesteps: timesteps, confidence: confidence)
    }

    /// Decodes row-major probabilities `[frames][classCount]` held in an array; the number of
    /// frames is `probabilities.count / classCount` (a trailing partial row is ignored).
    public static func decode(probabilities: [Float], classCount: Int, firstFrame: Int = 0) -> CandidateTranscript {
        precondition(classCount >= 1, "classCount must be at least 1 (the blank)")
        return probabilities.withUnsafeBufferPointer {
            decode(probabilities: $0, frames: $0.count / classCount, classCount: classCount, firstFrame: firstFrame)
        }
    }
}
