import Foundation

/// Element-wise activations as TensorFlow Lite's float kernels compute them.
public enum Activations {
    /// ReLU fused into the dense layer, then MINIMUM with the clip (20 in DeepSpeech).
    @inline(__always)
    public static func clippedReLU(_ x: UnsafeMutablePointer<Float>, count: Int, clip: Float) {
        for i in 0..<count { x[i] = min(max(x[i], 0), clip) }
    }

    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    @inline(__always)
    public static func tanh(_ x: Float) -> Float { tanhf(x) }

    /// Softmax over one row: subtract the maximum, exponentiate, divide by the sum.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var m = x[0]
        for i in 1..<count { m = max(m, x[i]) }
        var sum: Float = 0
        for i in 0..<count { x[i] = expf(x[i] - m); sum += x[i] }
        let inverse = 1 / sum
        for i in 0..<count { x[i] *= inverse }
    }
}
