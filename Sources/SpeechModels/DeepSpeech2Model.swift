import Foundation
import PyTorchCheckpoints
import SpeechCheckpoints
import SpeechNumerics

/// What a DeepSpeech2 checkpoint says about its model and front end.
public struct DeepSpeech2Configuration: Sendable, Codable, Equatable {
    /// "deepspeech.pytorch V3 .ckpt (PyTorch Lightning)" and the like.
    public var format: String
    public var rnnType: String
    public var hiddenSize: Int
    public var hiddenLayers: Int
    public var bidirectional: Bool
    /// Frames of look-ahead of the unidirectional models' lookahead convolution.
    public var lookaheadContext: Int?
    /// Output labels in model order, the blank (`_`) included.
    public var labels: [String]
    public var blankIndex: Int
    public var sampleRate: Int
    public var windowSeconds: Double
    public var stepSeconds: Double
    public var window: String
    public var symmetricWindow: Bool
    /// int16 samples were divided by this when the model was trained (32767 or 32768).
    public var audioScale: Float
    /// Where the checkpoint's own description disagreed with its weights (the weights win).
    public var warnings: [String]
}

/// DeepSpeech2 as deepspeech.pytorch builds it (v2.0 to V3), for inference:
///
/// ```
/// x   [T][161]                       normalised log spectrogram (LogSpectrogram), as [T][1][161]
/// conv 1: 1→32, kernel (41 freq, 11 time), stride (2, 2), pad (20, 5);  BatchNorm;  clamp(0, 20)
/// conv 2: 32→32, kernel (21, 11), stride (2, 1), pad (10, 5);           BatchNorm;  clamp(0, 20)
///      → [T'][32][41] = [T'][1312]   (T' = (T − 1)/2 + 1; channel-major features)
/// rnn 0 … L−1: [BatchNorm (not on rnn 0)] → LSTM/GRU of H, both directions summed if bidirectional
/// lookahead (unidirectional only): out[t] = Σ_k w[·][k]·x[t+k], k < context;  clamp(0, 20)
/// fc:  BatchNorm(H) → linear H→classes (no bias) → softmax      → [T'][classes]
/// ```
/// The whole utterance goes through at once (bidirectional layers need its end); weights are
/// immutable and shared, every call allocates its own activations.
public final class DeepSpeech2Model: Sendable {
    public let path: String
    public let configuration: DeepSpeech2Configuration
    /// The state_dict tensors the network was built from (for conversion and inspection).
    let tensors: [String: CheckpointTensor]

    let conv1: Conv2DLayer, norm1: BatchNorm
    let conv2: Conv2DLayer, norm2: BatchNorm
    /// Per layer: the BatchNorm before it (none for the first), forward and backward cells.
    let rnns: [(norm: BatchNorm?, forward: RecurrentCell, backward: RecurrentCell?)]
    let lookahead: [Float]?        // [H][context]
    let fcNorm: BatchNorm
    let fc: DenseFloatMatrix       // [classes][H]

    public var classCount: Int { fc.rows }

    public convenience init(path: String) throws {
        let checkpoint: DeepSpeech2Checkpoint
        do { checkpoint = try DeepSpeech2Checkpoint(path: path) } catch let error as ModelFileError { throw error } catch {
            throw ModelFileError(path: path, problem: "\(error)")
        }
        let c = checkpoint
        let configuration = DeepSpeech2Configuration(
            format: c.formatName, rnnType: c.rnnType.rawValue, hiddenSize: c.hiddenSize, hiddenLayers: c.hiddenLayers,
            bidirectional: c.bidirectional, lookaheadContext: c.bidirectional ? nil : c.lookaheadContext, labels: c.labels,
            blankIndex: c.labels.firstIndex(of: "_") ?? 0, sampleRate: c.sampleRate, windowSeconds: c.windowSize,
            stepSeconds: c.windowStride, window: c.window, symmetricWindow: c.symmetricWindow, audioScale: Float(c.audioScale),
            warnings: c.warnings)
        try self.init(path: path, configuration: configuration, tensors: c.tensors)
    }

    /// Builds the network from a configuration and deepspeech.pytorch's state_dict names
    /// (from a checkpoint, or from a converted file).
    public init(path: String, configuration c: DeepSpeech2Configuration, tensors: [String: CheckpointTensor]) throws {
        self.path = path
        self.tensors = tensors
        func fail(_ problem: String) -> ModelFileError { ModelFileError(path: path, problem: problem) }
        func tensor(_ name: String) throws -> CheckpointTensor {
            guard let t = tensors[name] else { throw fail("missing tensor '\(name)' (not a deepspeech.pytorch DeepSpeech2 state_dict?)") }
            return t
        }
        func floats(_ name: String, shape: [Int]? = nil) throws -> [Float] {
            let t = try tensor(name)
            if let shape, t.shape != shape { throw fail("tensor '\(name)' has shape \(t.shape), expected \(shape)") }
            do { return try t.floats() } catch { throw fail("\(error)") }
        }
        func matrix(_ name: String, rows: Int, columns: Int) throws -> DenseFloatMatrix {
            let t = try tensor(name)
            guard t.elementCount == rows * columns else { throw fail("tensor '\(name)' has shape \(t.shape), expected \(rows * columns) values [\(rows), \(columns)]") }
            do { return DenseFloatMatrix(rows: rows, columns: columns, storage: try t.floatStorage()) } catch { throw fail("\(error)") }
        }
        func norm(_ prefix: String, channels: Int) throws -> BatchNorm {
            BatchNorm(weight: try floats(prefix + ".weight", shape: [channels]), bias: try floats(prefix + ".bias", shape: [channels]),
                      runningMean: try floats(prefix + ".running_mean", shape: [channels]),
                      runningVar: try floats(prefix + ".running_var", shape: [channels]))
        }
        func conv(_ prefix: String, stride: (Int, Int), padding: (Int, Int)) throws -> Conv2DLayer {
            let w = try tensor(prefix + ".weight")
            guard w.shape.count == 4 else { throw fail("tensor '\(prefix).weight' has shape \(w.shape), expected [out, in, kh, kw]") }
            let (out, inC, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
            return Conv2DLayer(weights: try matrix(prefix + ".weight", rows: out, columns: inC * kh * kw),
                               bias: try floats(prefix + ".bias", shape: [out]), inChannels: inC, outChannels: out,
                               kernel: (kh, kw), stride: stride, padding: padding)
        }

        conv1 = try conv("conv.seq_module.0", stride: (2, 2), padding: (20, 5))
        norm1 = try norm("conv.seq_module.1", channels: conv1.outChannels)
        conv2 = try conv("conv.seq_module.3", stride: (2, 1), padding: (10, 5))
        norm2 = try norm("conv.seq_module.4", channels: conv2.outChannels)
        guard conv1.inChannels == 1, conv2.inChannels == conv1.outChannels else {
            throw fail("the convolutions take \(conv1.inChannels) and \(conv2.inChannels) channels, expected 1 and \(conv1.outChannels)")
        }
        guard c.sampleRate > 0, c.sampleRate <= 1_000_000, c.windowSeconds > 0, c.stepSeconds > 0, c.windowSeconds < 1, c.stepSeconds < 1 else {
            throw fail("implausible spectrogram settings: sample rate \(c.sampleRate), window \(c.windowSeconds) s, step \(c.stepSeconds) s")
        }
        guard c.hiddenSize > 0, c.hiddenSize <= 1 << 20, c.hiddenLayers > 0, c.hiddenLayers <= 1024, c.blankIndex >= 0, c.blankIndex < c.labels.count else {
            throw fail("implausible model settings: hidden size \(c.hiddenSize), \(c.hiddenLayers) layers, blank index \(c.blankIndex) of \(c.labels.count) labels")
        }
        let bins = Int(Double(c.sampleRate) * c.windowSeconds) / 2 + 1
        let f1 = conv1.outputSize(frequencies: bins, frames: 1).frequencies
        let f2 = conv2.outputSize(frequencies: f1, frames: 1).frequencies
        var width = conv2.outChannels * f2

        guard let kind = RecurrentCell.Kind(rawValue: c.rnnType.lowercased()) else {
            throw fail("unsupported RNN type '\(c.rnnType)' (expected lstm, gru or rnn)")
        }
        let gates = RecurrentCell.gates(kind), h = c.hiddenSize
        var layers: [(norm: BatchNorm?, forward: RecurrentCell, backward: RecurrentCell?)] = []
        for i in 0..<c.hiddenLayers {
            let prefix = "rnns.\(i)"
            func cell(_ suffix: String) throws -> RecurrentCell {
                let wi = try tensor("\(prefix).rnn.weight_ih_l0\(suffix)")
                guard wi.shape == [gates * h, width] else {
                    throw fail("tensor '\(prefix).rnn.weight_ih_l0\(suffix)' has shape \(wi.shape), expected [\(gates * h), \(width)] (\(kind.rawValue.uppercased()), hidden \(h), input \(width))")
                }
                return RecurrentCell(kind: kind,
                                     inputWeights: try matrix("\(prefix).rnn.weight_ih_l0\(suffix)", rows: gates * h, columns: width),
                                     inputBias: try floats("\(prefix).rnn.bias_ih_l0\(suffix)", shape: [gates * h]),
                                     hiddenWeights: try matrix("\(prefix).rnn.weight_hh_l0\(suffix)", rows: gates * h, columns: h),
                                     hiddenBias: try floats("\(prefix).rnn.bias_hh_l0\(suffix)", shape: [gates * h]), hidden: h)
            }
            let n = i == 0 ? nil : try norm("\(prefix).batch_norm.module", channels: width)
            layers.append((n, try cell(""), c.bidirectional ? try cell("_reverse") : nil))
            width = h
        }
        rnns = layers
        if !c.bidirectional, let context = c.lookaheadContext {
            lookahead = try floats("lookahead.0.conv.weight", shape: [h, 1, context])
        } else {
            lookahead = nil
        }
        fcNorm = try norm("fc.0.module.0", channels: h)
        let w = try tensor("fc.0.module.1.weight")
        guard w.shape.count == 2, w.shape[1] == h else { throw fail("tensor 'fc.0.module.1.weight' has shape \(w.shape), expected [classes, \(h)]") }
        fc = try matrix("fc.0.module.1.weight", rows: w.shape[0], columns: h)
        guard c.labels.count == fc.rows else {
            throw fail("the checkpoint has \(c.labels.count) labels but the output layer has \(fc.rows) classes")
        }
        var resolved = c
        resolved.rnnType = kind.rawValue
        resolved.lookaheadContext = lookahead == nil ? nil : c.lookaheadContext
        configuration = resolved
    }

    /// Receives each stage's output: name, values (row-major) and shape.
    public typealias ActivationObserver = (_ stage: String, _ values: [Float], _ shape: [Int]) -> Void

    /// Output probabilities `[T'][classes]` for a time-major spectrogram `[frames][bins]`.
    public func probabilities(spectrogram x: [Float], frames: Int, observer: ActivationObserver? = nil) -> [Float] {
        guard frames > 0 else { return [] }
        let bins = x.count / frames
        var (a, f, t) = conv1.apply(x, frequencies: bins, frames: frames)
        norm1.apply(&a, inner: f)
        Self.clamp(&a)
        observer?("conv_1", a, [t, conv1.outChannels, f])
        var (b, f2, t2) = conv2.apply(a, frequencies: f, frames: t)
        norm2.apply(&b, inner: f2)
        Self.clamp(&b)
        observer?("conv_2", b, [t2, conv2.outChannels, f2])
        var x = b, width = conv2.outChannels * f2
        for (i, layer) in rnns.enumerated() {
            if let n = layer.norm { n.apply(&x, inner: 1) }
            var out = [Float](repeating: 0, count: t2 * layer.forward.hidden)
            layer.forward.run(x, frames: t2, reversed: false, addingInto: &out)
            layer.backward?.run(x, frames: t2, reversed: true, addingInto: &out)
            x = out
            width = layer.forward.hidden
            observer?("rnn_\(i)", x, [t2, width])
        }
        if let w = lookahead {
            let context = w.count / width
            var out = [Float](repeating: 0, count: x.count)
            for step in 0..<t2 {
                for k in 0..<context where step + k < t2 {
                    for c in 0..<width { out[step * width + c] += w[c * context + k] * x[(step + k) * width + c] }
                }
            }
            Self.clamp(&out)
            x = out
            observer?("lookahead", x, [t2, width])
        }
        fcNorm.apply(&x, inner: 1)
        var p = [Float](repeating: 0, count: t2 * fc.rows)
        x.withUnsafeBufferPointer { xp in
            p.withUnsafeMutableBufferPointer { pp in fc.apply(bias: [], input: xp.baseAddress!, batch: t2, output: pp.baseAddress!) }
        }
        observer?("logits", p, [t2, fc.rows])
        p.withUnsafeMutableBufferPointer { pp in
            for s in 0..<t2 { Activations.softmax(pp.baseAddress! + s * fc.rows, count: fc.rows) }
        }
        observer?("probabilities", p, [t2, fc.rows])
        return p
    }

    /// Hardtanh(0, 20), deepspeech.pytorch's activation: the clipped ReLU the DeepSpeech layers use.
    static func clamp(_ x: inout [Float]) {
        guard !x.isEmpty else { return }
        x.withUnsafeMutableBufferPointer { Activations.clippedReLU($0.baseAddress!, count: $0.count, clip: 20) }
    }

    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameters } }
}

extension DeepSpeech2Model {
    /// The layers in the order the forward pass runs them, for inspection (widths per frame).
    public var layers: [LayerSummary] {
        func summary(_ name: String, _ kind: String, tensor: String, input: Int, output: Int, shape: [Int], parameters: Int) -> LayerSummary {
            LayerSummary(name: name, kind: kind, tensor: tensor, inputWidth: input, outputWidth: output, weightShape: shape,
                         parameters: parameters, storedType: "float32", scale: nil, bytes: parameters * 4, computedAs: "float32")
        }
        let c = configuration
        let bins = Int(Double(c.sampleRate) * c.windowSeconds) / 2 + 1
        let f1 = conv1.outputSize(frequencies: bins, frames: 1).frequencies
        let f2 = conv2.outputSize(frequencies: f1, frames: 1).frequencies
        func convKind(_ l: Conv2DLayer) -> String {
            "conv \(l.kernel.frequency)x\(l.kernel.time) stride \(l.stride.frequency),\(l.stride.time), BatchNorm, clamp(0, 20)"
        }
        var out = [
            summary("conv_1", convKind(conv1), tensor: "conv.seq_module.0.weight", input: bins, output: conv1.outChannels * f1,
                    shape: [conv1.outChannels, conv1.inChannels, conv1.kernel.frequency, conv1.kernel.time],
                    parameters: conv1.weights.storage.count + conv1.bias.count + 4 * norm1.channels),
            summary("conv_2", convKind(conv2), tensor: "conv.seq_module.3.weight", input: conv1.outChannels * f1, output: conv2.outChannels * f2,
                    shape: [conv2.outChannels, conv2.inChannels, conv2.kernel.frequency, conv2.kernel.time],
                    parameters: conv2.weights.storage.count + conv2.bias.count + 4 * norm2.channels),
        ]
        for (i, layer) in rnns.enumerated() {
            let cells = [layer.forward] + (layer.backward.map { [$0] } ?? [])
            let parameters = cells.reduce(4 * (layer.norm?.channels ?? 0)) {
                $0 + $1.inputWeights.storage.count + $1.hiddenWeights.storage.count + $1.inputBias.count + $1.hiddenBias.count
            }
            let kind = (layer.norm == nil ? "" : "BatchNorm, ") + "\(c.rnnType.uppercased())" + (layer.backward == nil ? "" : ", bidirectional (summed)")
            out.append(summary("rnn_\(i)", kind, tensor: "rnns.\(i).rnn.weight_ih_l0", input: layer.forward.inputWeights.columns,
                               output: layer.forward.hidden, shape: [layer.forward.inputWeights.rows, layer.forward.inputWeights.columns],
                               parameters: parameters))
        }
        if let w = lookahead {
            let h = c.hiddenSize
            out.append(summary("lookahead", "depthwise conv over \(w.count / h) future frames, clamp(0, 20)", tensor: "lookahead.0.conv.weight",
                               input: h, output: h, shape: [h, 1, w.count / h], parameters: w.count))
        }
        out.append(summary("fc", "BatchNorm, linear (no bias), softmax over \(classCount) classes", tensor: "fc.0.module.1.weight",
                           input: fc.columns, output: fc.rows, shape: [fc.rows, fc.columns], parameters: fc.storage.count + 4 * fcNorm.channels))
        return out
    }
}
