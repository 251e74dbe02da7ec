import Foundation
import MappedFiles
import SpeechCheckpoints
import SpeechNumerics

/// Sizes of a DeepSpeech 0.7–0.9 / Coqui STT 1.x acoustic model, read from the file.
public struct DeepSpeechHyperparameters: Sendable, Codable, Equatable {
    /// MFCC coefficients per frame (26).
    public var nInput: Int
    /// Frames of context on each side of a time step (9, so windows of 19 frames).
    public var nContext: Int
    /// Width of the dense layers (2048 in released models).
    public var nHidden: Int
    /// LSTM cell size (equal to nHidden in released models).
    public var nCell: Int
    /// Output classes: alphabet size + 1 (the CTC blank, last).
    public var nClasses: Int
    /// Time steps per batch the graph was exported with (16).
    public var nSteps: Int
    /// Upper clip of the clipped ReLU layers (20).
    public var reluClip: Float
    /// Values in one time step's input window, `(2·nContext + 1) · nInput`.
    public var windowSize: Int { (2 * nContext + 1) * nInput }
}

/// The `metadata_*` values exported with the model.
public struct DeepSpeechModelMetadata: Sendable, Codable, Equatable {
    public var graphVersion: Int
    public var sampleRate: Int
    public var featureWindowMilliseconds: Int
    public var featureStepMilliseconds: Int
    public var beamWidth: Int
    /// The serialized alphabet (see `Alphabet(serialized:)`).
    public var alphabetBytes: [UInt8]
    /// `metadata_language`, when exported.
    public var language: String?
}

/// A DeepSpeech acoustic model: immutable weights, shareable between threads; every stream
/// keeps its own `DeepSpeechState`.
///
/// The forward pass for a batch of time steps, each a window of 19 MFCC frames:
/// ```
/// x  [steps][494]
/// h1 = min(relu(x  · W1ᵀ + b1), 20)        W1 [2048][494]
/// h2 = min(relu(h1 · W2ᵀ + b2), 20)        W2 [2048][2048]
/// h3 = min(relu(h2 · W3ᵀ + b3), 20)        W3 [2048][2048]
/// per step t (LSTM, forget bias 0, gates i, j, f, o):
///     z = [h3_t ; h] · Wlᵀ + bl            Wl [8192][4096]
///     c = σ(f)·c + σ(i)·tanh(j);  h = σ(o)·tanh(c);  h4_t = h
/// h5 = min(relu(h4 · W5ᵀ + b5), 20)        W5 [2048][2048]
/// p  = softmax(h5 · W6ᵀ + b6)              W6 [classes][2048]
/// ```
/// (sizes for released models; read from the file). Every row is independent except through
/// the LSTM state, so the result does not depend on how steps are batched.
/// One layer of a ``DeepSpeechModel`` as `inspect` shows it. Widths are per time step.
public struct LayerSummary: Sendable, Codable, Equatable {
    public var name: String
    public var kind: String
    /// The weight tensor's name in the model file.
    public var tensor: String
    public var inputWidth: Int
    public var outputWidth: Int
    /// `[units, inputs]` as stored.
    public var weightShape: [Int]
    public var parameters: Int
    /// "int8" (symmetric, per-tensor `scale`) or "float32", as stored in the file.
    public var storedType: String
    public var scale: Float?
    /// Bytes of weights and bias in the file.
    public var bytes: Int
    /// The arithmetic used at run time ("int8" hybrid or "float32").
    public var computedAs: String

    enum CodingKeys: String, CodingKey {
        case name, kind, tensor, inputWidth = "input_width", outputWidth = "output_width", weightShape = "weight_shape"
        case parameters, storedType = "stored_type", scale, bytes, computedAs = "computed_as"
    }
}

public final class DeepSpeechModel: Sendable {
    public let path: String
    /// The file format the weights came from, in words ("TensorFlow Lite", "TensorFlow frozen graph (.pb)", …).
    public let format: String
    public let precision: Precision
    public let hyperparameters: DeepSpeechHyperparameters
    public let metadata: DeepSpeechModelMetadata

    let layer1: DenseLayer   // [nHidden][windowSize]
    let layer2: DenseLayer   // [nHidden][nHidden]
    let layer3: DenseLayer   // [nHidden][nHidden]
    let lstm: DenseLayer     // [4·nCell][nHidden + nCell], gates i, j, f, o
    let layer5: DenseLayer   // [nHidden][nCell]
    let layer6: DenseLayer   // [nClasses][nHidden]

    /// The oldest graph version the reference clients accept.
    public static let minimumGraphVersion = 6

    /// Loads a model file of any supported format: TensorFlow Lite (`.tflite`), a frozen
    /// TensorFlow graph (`.pb`), a memory-mapped graph (`.pbmm`) or a TensorFlow checkpoint
    /// (`prefix.index` + data shards; checkpoints carry no metadata, so the defaults of
    /// ``DeepSpeechModelMetadata/checkpointDefaults`` apply and the alphabet must come from elsewhere).
    public convenience init(path: String, precision: Precision = .int8Hybrid) throws {
        try self.init(path: path, kind: try ModelFileKind.sniff(path: path), precision: precision)
    }

    /// As ``init(path:precision:)`` for a file already sniffed as `kind`.
    convenience init(path: String, kind: ModelFileKind, precision: Precision) throws {
        switch kind {
        case .tflite: try self.init(tfliteAt: path, precision: precision)
        case .converted:
            let file: MappedFile
            do { file = try MappedFile(path: path) } catch { throw ModelFileError(path: path, problem: "\(error)") }
            try self.init(converted: file, header: try ConvertedModelFile.readHeader(file), precision: precision)
        case let kind where [.tensorFlowGraph, .tensorFlowMemmapped, .tensorFlowCheckpoint].contains(kind):
            try self.init(imported: try TensorFlowImporter(path: path, kind: kind).load())
        case let kind: throw ModelFileError(path: path, problem: kind.refusal)
        }
    }

    /// Weights bound by an importer: six dense layers and the sizes they imply.
    struct ImportedWeights {
        var path: String
        var format: String
        var metadata: DeepSpeechModelMetadata
        var hyperparameters: DeepSpeechHyperparameters
        var layers: (DenseLayer, DenseLayer, DenseLayer, DenseLayer, DenseLayer, DenseLayer)
        var precision: Precision
    }

    init(imported w: ImportedWeights) throws {
        let h = w.hyperparameters, m = w.metadata
        // Every importer's result goes through here: sizes that would make the forward pass
        // loop forever or index out of bounds are refused, whatever the file claimed.
        guard h.nInput > 0, h.nContext >= 0, h.nHidden > 0, h.nCell > 0, h.nClasses > 1, h.nSteps > 0,
              h.nSteps <= 4096, h.windowSize == w.layers.0.inputs else {
            throw ModelFileError(path: w.path, problem: "implausible sizes: \(h)")
        }
        guard m.sampleRate > 0, m.sampleRate <= 1_000_000, m.featureWindowMilliseconds > 0, m.featureWindowMilliseconds <= 1000,
              m.featureStepMilliseconds > 0, m.featureStepMilliseconds <= 1000, m.beamWidth > 0 else {
            throw ModelFileError(path: w.path, problem: "implausible metadata: sample rate \(m.sampleRate), window \(m.featureWindowMilliseconds) ms, step \(m.featureStepMilliseconds) ms, beam width \(m.beamWidth)")
        }
        path = w.path
        format = w.format
        metadata = w.metadata
        hyperparameters = w.hyperparameters
        (layer1, layer2, layer3, lstm, layer5, layer6) = w.layers
        precision = w.precision
    }

    init(tfliteAt path: String, precision: Precision) throws {
        format = "TensorFlow Lite"
        let file = try TFLiteModelFile(path: path)
        let binder = WeightBinder(file: file, precision: precision)
        self.path = path
        metadata = try binder.metadata()
        guard metadata.graphVersion >= Self.minimumGraphVersion else {
            throw ModelFileError(path: path, problem: "graph version \(metadata.graphVersion) is older than \(Self.minimumGraphVersion) (DeepSpeech 0.7); export the model again with a newer DeepSpeech/Coqui training release")
        }
        let layers = try binder.layers()
        (layer1, layer2, layer3, lstm, layer5, layer6) = layers
        hyperparameters = try binder.hyperparameters(layer1: layers.0, lstm: layers.3, layer6: layers.5)
        self.precision = binder.effectivePrecision
    }

    public var parameterCount: Int { [layer1, layer2, layer3, lstm, layer5, layer6].reduce(0) { $0 + $1.parameterCount } }

    /// The layers in the order the forward pass runs them, for inspection.
    public var layers: [LayerSummary] {
        let h = hyperparameters
        let clip = String(format: "%g", h.reluClip)
        func summary(_ name: String, _ kind: String, _ layer: DenseLayer, input: Int, output: Int) -> LayerSummary {
            LayerSummary(name: name, kind: kind, tensor: layer.name, inputWidth: input, outputWidth: output,
                         weightShape: [layer.units, layer.inputs], parameters: layer.parameterCount,
                         storedType: layer.storedType, scale: layer.storedScale, bytes: layer.storedBytes,
                         computedAs: precision.rawValue)
        }
        return [
            summary("layer_1", "dense, ReLU clipped at \(clip)", layer1, input: h.windowSize, output: h.nHidden),
            summary("layer_2", "dense, ReLU clipped at \(clip)", layer2, input: h.nHidden, output: h.nHidden),
            summary("layer_3", "dense, ReLU clipped at \(clip)", layer3, input: h.nHidden, output: h.nHidden),
            summary("lstm", "LSTM, gates i, j, f, o from [x, h]; state c, h of \(h.nCell)", lstm, input: h.nHidden, output: h.nCell),
            summary("layer_5", "dense, ReLU clipped at \(clip)", layer5, input: h.nCell, output: h.nHidden),
            summary("layer_6", "dense, then softmax over \(h.nClasses) classes", layer6, input: h.nHidden, output: h.nClasses),
        ]
    }

    /// Fresh per-stream state: zero LSTM state and every scratch buffer, allocated once.
    public func makeState() -> DeepSpeechState { DeepSpeechState(hyperparameters) }

    /// A placeholder state with no storage (to swap a stream's state out without copying).
    public func makeEmptyState() -> DeepSpeechState { DeepSpeechState(empty: ()) }

    /// Runs `steps` time steps (`windows`: `[steps][windowSize]`, frame-major as the native
    /// client lays them out) and writes `[steps][nClasses]` probabilities. Any number of
    /// steps: they are processed in batches of `nSteps`, carrying the LSTM state in `state`.
    /// Receives each layer's output for a batch: the layer name (`layer_1`, `layer_2`,
    /// `layer_3`, `lstm_gates` (pre-activation i, j, f, o, one step at a time), `lstm_c` (one
    /// step at a time), `lstm_h`, `layer_5`, `layer_6` (raw logits), `probabilities`), the
    /// values `[rows][width]` and the row count.
    public typealias ActivationObserver = (_ layer: String, _ values: UnsafeBufferPointer<Float>, _ rows: Int) -> Void

    public func forward(windows: UnsafeBufferPointer<Float>, steps: Int, state: inout DeepSpeechState,
                        probabilities: UnsafeMutableBufferPointer<Float>, observer: ActivationObserver? = nil) {
        let h = hyperparameters
        precondition(windows.count >= steps * h.windowSize && probabilities.count >= steps * h.nClasses)
        var done = 0
        while done < steps {
            let rows = min(h.nSteps, steps - done)
            forwardBatch(windows.baseAddress! + done * h.windowSize, rows: rows, state: &state,
                         probabilities: probabilities.baseAddress! + done * h.nClasses, observer: observer)
            done += rows
        }
    }

    private func forwardBatch(_ x: UnsafePointer<Float>, rows: Int, state s: inout DeepSpeechState,
                              probabilities: UnsafeMutablePointer<Float>, observer: ActivationObserver?) {
        let h = hyperparameters
        let clip = h.reluClip, hidden = h.nHidden, cell = h.nCell
        func observe(_ name: String, _ values: UnsafePointer<Float>, _ count: Int, _ n: Int) {
            observer?(name, UnsafeBufferPointer(start: values, count: count * n), n)
        }
        // The two activation buffers are moved out of the state (no copy) so the LSTM below
        // can take the state inout while they are in use.
        var bufferA: [Float] = [], bufferB: [Float] = []
        swap(&bufferA, &s.a)
        swap(&bufferB, &s.b)
        defer { swap(&bufferA, &s.a); swap(&bufferB, &s.b) }
        bufferA.withUnsafeMutableBufferPointer { a in
        bufferB.withUnsafeMutableBufferPointer { b in
            let a = a.baseAddress!, b = b.baseAddress!
            // Dense layers 1–3: clipped ReLU.
            layer1.apply(x, rows: rows, into: a, scratch: &s.quantization)
            Activations.clippedReLU(a, count: rows * hidden, clip: clip)
            observe("layer_1", a, hidden, rows)
            layer2.apply(a, rows: rows, into: b, scratch: &s.quantization)
            Activations.clippedReLU(b, count: rows * hidden, clip: clip)
            observe("layer_2", b, hidden, rows)
            layer3.apply(b, rows: rows, into: a, scratch: &s.quantization)
            Activations.clippedReLU(a, count: rows * hidden, clip: clip)
            observe("layer_3", a, hidden, rows)

            // LSTM: z = [x_t ; h] · Wᵀ + bias per step, gates i, j, f, o.
            lstmSteps(input: a, rows: rows, output: b, state: &s, observe: observe)
            observe("lstm_h", b, cell, rows)

            // Dense layer 5 (clipped ReLU), output layer 6, softmax.
            layer5.apply(b, rows: rows, into: a, scratch: &s.quantization)
            Activations.clippedReLU(a, count: rows * hidden, clip: clip)
            observe("layer_5", a, hidden, rows)
            layer6.apply(a, rows: rows, into: probabilities, scratch: &s.quantization)
            observe("layer_6", probabilities, h.nClasses, rows)
            for t in 0..<rows { Activations.softmax(probabilities + t * h.nClasses, count: h.nClasses) }
            observe("probabilities", probabilities, h.nClasses, rows)
        }}
    }
}

extension DeepSpeechModel {
    /// The LSTM over `rows` steps: input `[rows][nHidden]`, output h `[rows][nCell]`.
    ///
    /// TFLite quantizes each `[x_t ; h]` row as a whole, so x_t's int8 values depend on h
    /// through the row's range. But |h| ≤ 1 (σ·tanh) while x_t is a clipped ReLU output, so
    /// whenever max(x_t) ≥ 1 the range is max(x_t) alone: then x_t's share of every gate's
    /// integer dot product is known before the recurrence and is computed for the whole batch
    /// at once (each weight row read once for 16 steps), leaving only the h half sequential.
    /// Integer sums split exactly, so this is bit-identical to the one-row kernel, which still
    /// handles the rare steps with max(x_t) < 1.
    func lstmSteps(input a: UnsafeMutablePointer<Float>, rows: Int, output b: UnsafeMutablePointer<Float>,
                   state s: inout DeepSpeechState, observe: (String, UnsafePointer<Float>, Int, Int) -> Void) {
        let hidden = hyperparameters.nHidden, cell = hyperparameters.nCell, gates = 4 * cell
        let split: HybridInt8Matrix?
        if case .hybrid(let w) = lstm.weights { split = w } else { split = nil }
        s.lstmInput.withUnsafeMutableBufferPointer { xh in
        s.gates.withUnsafeMutableBufferPointer { z in
        s.c.withUnsafeMutableBufferPointer { c in
        s.h.withUnsafeMutableBufferPointer { hState in
        s.quantizedInput.withUnsafeMutableBufferPointer { qx in
        s.quantizedState.withUnsafeMutableBufferPointer { qh in
        s.inputProducts.withUnsafeMutableBufferPointer { dx in
        s.stateProducts.withUnsafeMutableBufferPointer { dh in
        s.rowRanges.withUnsafeMutableBufferPointer { ranges in
            // x halves of the dot products for every step whose range x alone decides.
            if let w = split {
                for t in 0..<rows {
                    var m: Float = 0
                    for k in 0..<hidden { m = max(m, a[t * hidden + k]) }
                    ranges[t] = m
                    if m >= 1 { HybridFullyConnected.quantize(a + t * hidden, count: hidden, range: m, into: qx.baseAddress! + t * hidden) }
                }
                HybridFullyConnected.integerProducts(w, columns: 0..<hidden, quantized: qx.baseAddress!, rowStride: hidden,
                                                     rows: rows, into: dx.baseAddress!)
            }
            for t in 0..<rows {
                if let w = split, ranges[t] >= 1 {
                    HybridFullyConnected.quantize(hState.baseAddress!, count: cell, range: ranges[t], into: qh.baseAddress!)
                    HybridFullyConnected.integerProducts(w, columns: hidden..<(hidden + cell), quantized: qh.baseAddress!,
                                                         rowStride: cell, rows: 1, into: dh.baseAddress!, recurrent: true)
                    let scale = (ranges[t] / 127) * w.scale
                    for u in 0..<gates {
                        z[u] = (lstm.bias.isEmpty ? 0 : lstm.bias[u]) + Float(dx[t * gates + u] &+ dh[u]) * scale
                    }
                } else {
                    for k in 0..<hidden { xh[k] = a[t * hidden + k] }
                    for k in 0..<cell { xh[hidden + k] = hState[k] }
                    lstm.apply(xh.baseAddress!, rows: 1, into: z.baseAddress!, scratch: &s.quantization)
                }
                observe("lstm_gates", z.baseAddress!, gates, 1)
                for k in 0..<cell {
                    let i = Activations.sigmoid(z[k])
                    let j = Activations.tanh(z[cell + k])
                    let f = Activations.sigmoid(z[2 * cell + k])
                    let o = Activations.sigmoid(z[3 * cell + k])
                    let forget = f * c[k]
                    let input = i * j
                    c[k] = forget + input
                    hState[k] = o * Activations.tanh(c[k])
                    b[t * cell + k] = hState[k]
                }
                observe("lstm_c", c.baseAddress!, cell, 1)
            }
        }}}}}}}}}
    }
}

/// Per-stream state of a `DeepSpeechModel`: the LSTM's c and h, and scratch buffers sized for
/// one batch, allocated once.
public struct DeepSpeechState: Sendable {
    public internal(set) var c: [Float]
    public internal(set) var h: [Float]
    var a: [Float]
    var b: [Float]
    var lstmInput: [Float]
    var gates: [Float]
    var quantization: HybridFullyConnected.Scratch
    var quantizedInput: [Int8]      // [nSteps][nHidden]
    var quantizedState: [Int8]      // [nCell]
    var inputProducts: [Int32]      // [nSteps][4·nCell]
    var stateProducts: [Int32]      // [4·nCell]
    var rowRanges: [Float]          // [nSteps], max of each LSTM input row

    /// A state with no storage (for streams of networks that keep none).
    public static var empty: DeepSpeechState { DeepSpeechState(empty: ()) }

    init(empty: Void) {
        c = []; h = []; a = []; b = []; lstmInput = []; gates = []
        quantization = HybridFullyConnected.Scratch(maxRows: 0, columns: 0)
        quantizedInput = []; quantizedState = []; inputProducts = []; stateProducts = []; rowRanges = []
    }

    init(_ p: DeepSpeechHyperparameters) {
        c = [Float](repeating: 0, count: p.nCell)
        h = [Float](repeating: 0, count: p.nCell)
        let width = max(p.nHidden, p.nCell, p.nClasses)
        a = [Float](repeating: 0, count: p.nSteps * width)
        b = [Float](repeating: 0, count: p.nSteps * width)
        lstmInput = [Float](repeating: 0, count: p.nHidden + p.nCell)
        gates = [Float](repeating: 0, count: 4 * p.nCell)
        quantization = HybridFullyConnected.Scratch(maxRows: p.nSteps, columns: max(p.windowSize, p.nHidden + p.nCell, p.nHidden))
        quantizedInput = [Int8](repeating: 0, count: p.nSteps * p.nHidden)
        quantizedState = [Int8](repeating: 0, count: p.nCell)
        inputProducts = [Int32](repeating: 0, count: p.nSteps * 4 * p.nCell)
        stateProducts = [Int32](repeating: 0, count: 4 * p.nCell)
        rowRanges = [Float](repeating: 0, count: p.nSteps)
    }
}
