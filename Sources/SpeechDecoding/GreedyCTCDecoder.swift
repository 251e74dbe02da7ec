import Foundation

/// Best-path CTC decoding: the most probable class per frame, repeats collapsed, blanks
/// (the last class) dropped.
///
/// Each label's timestep is the first frame of its run. The confidence is the sum over frames
/// of `ln(max probability)`, the log-probability of that single path. Ties between classes go
/// to the lower class index.
public enum GreedyCTCDecoder {
    public static func decode(probabilities: UnsafeBufferPointer<Float>, frames: Int, classCount: Int,
                              frameOffset: Int = 0) -> CandidateTranscript {
        precondition(probabilities.count >= frames * classCount)
        let blank = classCount - 1
        var labels: [Int] = [], timesteps: [Int] = []
        var previous = blank
        var score = 0.0
        for t in 0..<frames {
            var best = 0
            var bestValue = probabilities[t * classCount]
            for c in 1..<classCount where probabilities[t * classCount + c] > bestValue {
                best = c
                bestValue = probabilities[t * classCount + c]
            }
            score += log(Double(bestValue) + Double(Float.leastNormalMagnitude))
            if best != blank && best != previous {
                labels.append(best)
                timesteps.append(frameOffset + t)
            }
            previous = best
        }
        return CandidateTranscript(labels: labels, timesteps: timesteps, confidence: score)
    }
}
