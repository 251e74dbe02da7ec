/// DeepSpeech's overlapping context windows: time step t sees frames t − C … t + C
/// (C = `context`, 9 for released models), zeros outside the utterance, flattened
/// frame-major (`[t][k][feature]`, k = 0 is the oldest frame).
///
/// This equals both the training graph's identity-filter convolution with SAME padding and the
/// native client's streaming buffers (9 zero frames before the first frame, 9 after the last).
public enum ContextWindows {
    /// - Returns: `[frameCount][2·context + 1][featureCount]`.
    public static func make(frames: [Float], featureCount: Int, context: Int) -> [Float] {
        let frameCount = frames.count / featureCount
        let width = 2 * context + 1
        var out = [Float](repeating: 0, count: frameCount * width * featureCount)
        for t in 0..<frameCount {
            for k in 0..<width {
                let source = t - context + k
                guard source >= 0 && source < frameCount else { continue }
                let dst = (t * width + k) * featureCount
                let src = source * featureCount
                for f in 0..<featureCount { out[dst + f] = frames[src + f] }
            }
        }
        return out
    }
}
