import Foundation
import SpeechNumerics

/// The layers DeepSpeech2 is built from, in float32 on BLAS. Activations are **time-major**
/// throughout: `[time][channels][frequency]` for the convolutions and `[time][features]` after.

/// `Conv2d` over (frequency, time) with zero padding, computed one output time step at a time:
/// the receptive fields of that step's `F'` output positions become the rows of a patch matrix
/// `[F'][in·kh·kw]`, multiplied by the weights `[out][in·kh·kw]` in one GEMM.
struct Conv2DLayer: Sendable {
    let weights: DenseFloatMatrix      // [out][in · kh · kw], PyTorch's [out][in][kh][kw] flattened
    let bias: [Float]                  // [out]
    let inChannels: Int, outChannels: Int
    let kernel: (frequency: Int, time: Int)
    let stride: (frequency: Int, time: Int)
    let padding: (frequency: Int, time: Int)

    func outputSize(frequencies: Int, frames: Int) -> (frequencies: Int, frames: Int) {
        ((frequencies + 2 * padding.frequency - kernel.frequency) / stride.frequency + 1,
         (frames + 2 * padding.time - kernel.time) / stride.time + 1)
    }

    /// - Parameters: input `[frames][inChannels][frequencies]`; returns `[frames'][outChannels][frequencies']`.
    func apply(_ x: [Float], frequencies: Int, frames: Int) -> (values: [Float], frequencies: Int, frames: Int) {
        let (outF, outT) = outputSize(frequencies: frequencies, frames: frames)
        guard outF > 0, outT > 0 else { return ([], max(0, outF), max(0, outT)) }
        let patchWidth = inChannels * kernel.frequency * kernel.time
        var patches = [Float](repeating: 0, count: outF * patchWidth)
        var block = [Float](repeating: 0, count: outF * outChannels)
        var output = [Float](repeating: 0, count: outT * outChannels * outF)
        for t in 0..<outT {
            for f in 0..<outF {
                let row = f * patchWidth
                for c in 0..<inChannels {
                    for i in 0..<kernel.frequency {
                        let inF = f * stride.frequency - padding.frequency + i
                        for j in 0..<kernel.time {
                            let inT = t * stride.time - padding.time + j
                            let inside = inF >= 0 && inF < frequencies && inT >= 0 && inT < frames
                            patches[row + (c * kernel.frequency + i) * kernel.time + j] =
                                inside ? x[(inT * inChannels + c) * frequencies + inF] : 0
                        }
                    }
                }
            }
            patches.withUnsafeBufferPointer { p in
                block.withUnsafeMutableBufferPointer { b in
                    weights.apply(bias: bias, input: p.baseAddress!, batch: outF, output: b.baseAddress!)
                }
            }
            // [F'][out] → [out][F'] at time t.
            for f in 0..<outF {
                for o in 0..<outChannels { output[(t * outChannels + o) * outF + f] = block[f * outChannels + o] }
            }
        }
        return (output, outF, outT)
    }
}

/// Batch normalisation with running statistics (inference): `y = (x − mean) / √(var + ε) · γ + β`,
/// per channel, folded into one scale and shift.
struct BatchNorm: Sendable {
    let scale: [Float]
    let shift: [Float]

    init(weight: [Float], bias: [Float], runningMean: [Float], runningVar: [Float], epsilon: Float = 1e-5) {
        scale = (0..<weight.count).map { weight[$0] / (runningVar[$0] + epsilon).squareRoot() }
        shift = (0..<weight.count).map { bias[$0] - runningMean[$0] * weight[$0] / (runningVar[$0] + epsilon).squareRoot() }
    }

    var channels: Int { scale.count }

    /// `x` is `[rows][channels][inner]`: channel c of every row gets the same scale.
    func apply(_ x: inout [Float], inner: Int) {
        let c = channels, rows = x.count / (c * inner)
        for r in 0..<rows {
            for ch in 0..<c {
                let base = (r * c + ch) * inner
                for i in 0..<inner { x[base + i] = x[base + i] * scale[ch] + shift[ch] }
            }
        }
    }
}

/// One direction of a PyTorch recurrent layer.
///
/// ```
/// LSTM  gates i, f, g, o:  z = W_ih·x + b_ih + W_hh·h + b_hh
///       c = σ(f)·c + σ(i)·tanh(g);  h = σ(o)·tanh(c)
/// GRU   gates r, z, n:     r = σ(W_ir·x + b_ir + W_hr·h + b_hr);  z likewise
///       n = tanh(W_in·x + b_in + r·(W_hn·h + b_hn));  h = (1 − z)·n + z·h
/// RNN   h = tanh(W_ih·x + b_ih + W_hh·h + b_hh)
/// ```
/// The input half of every step is one GEMM over the whole sequence; only `W_hh·h` is sequential.
struct RecurrentCell: Sendable {
    enum Kind: String, Sendable, Codable { case lstm, gru, rnn }
    let kind: Kind
    let inputWeights: DenseFloatMatrix     // [gates·H][inputs]
    let inputBias: [Float]                 // [gates·H]
    let hiddenWeights: DenseFloatMatrix    // [gates·H][H]
    let hiddenBias: [Float]                // [gates·H]
    let hidden: Int

    static func gates(_ kind: Kind) -> Int { kind == .lstm ? 4 : kind == .gru ? 3 : 1 }

    /// Runs the sequence `x` `[frames][inputs]` forwards (or backwards) and adds each step's
    /// h to `output` `[frames][H]` (so the two directions of a bidirectional layer sum).
    func run(_ x: [Float], frames: Int, reversed: Bool, addingInto output: inout [Float]) {
        let h = hidden, g = Self.gates(kind) * h
        var projected = [Float](repeating: 0, count: frames * g)
        x.withUnsafeBufferPointer { xp in
            projected.withUnsafeMutableBufferPointer { p in
                inputWeights.apply(bias: inputBias, input: xp.baseAddress!, batch: frames, output: p.baseAddress!)
            }
        }
        var state = [Float](repeating: 0, count: h), cell = [Float](repeating: 0, count: h)
        var recurrent = [Float](repeating: 0, count: g)
        for step in 0..<frames {
            let t = reversed ? frames - 1 - step : step
            state.withUnsafeBufferPointer { s in
                recurrent.withUnsafeMutableBufferPointer { r in
                    hiddenWeights.apply(bias: hiddenBias, input: s.baseAddress!, batch: 1, output: r.baseAddress!)
                }
            }
            let z = t * g
            switch kind {
            case .lstm:
                for k in 0..<h {
                    let i = sigmoid(projected[z + k] + recurrent[k])
                    let f = sigmoid(projected[z + h + k] + recurrent[h + k])
                    let c = tanhf(projected[z + 2 * h + k] + recurrent[2 * h + k])
                    let o = sigmoid(projected[z + 3 * h + k] + recurrent[3 * h + k])
                    cell[k] = f * cell[k] + i * c
                    state[k] = o * tanhf(cell[k])
                }
            case .gru:
                for k in 0..<h {
                    let r = sigmoid(projected[z + k] + recurrent[k])
                    let u = sigmoid(projected[z + h + k] + recurrent[h + k])
                    let n = tanhf(projected[z + 2 * h + k] + r * recurrent[2 * h + k])
                    state[k] = (1 - u) * n + u * state[k]
                }
            case .rnn:
                for k in 0..<h { state[k] = tanhf(projected[z + k] + recurrent[k]) }
            }
            for k in 0..<h { output[t * h + k] += state[k] }
        }
    }

    @inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
}
