import SpeechCheckpoints
import SpeechNumerics
import TensorFlowCheckpoints

/// Builds a ``DeepSpeechModel`` from the TensorFlow formats DeepSpeech was trained and shipped
/// in: frozen graphs (`.pb`), memory-mapped graphs (`.pbmm`) and v1 checkpoints
/// (`prefix.index` + `prefix.data-*`).
///
/// The weights are found by name, as DeepSpeech's training code names its variables:
/// ```
/// layer_1/weights [494][nHidden]        layer_1/bias [nHidden]     (layer_2, layer_3 alike)
/// cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/kernel [nHidden + nCell][4·nCell]
///                                               …/bias [4·nCell]   gates i, j, f, o
/// layer_5/weights [nCell][nHidden]      layer_6/weights [nHidden][nClasses]
/// ```
/// TensorFlow stores dense weights `[inputs][units]`; they are transposed once here to the
/// `[units][inputs]` layout the forward pass uses (the `.tflite` layout), so every format runs
/// the same code. These formats hold float32 weights: the model computes in float32.
struct TensorFlowImporter {
    static let lstmScope = "cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell"

    /// Where the weights come from.
    enum Source {
        case graph(TensorFlowGraph)
        case checkpoint(TensorBundle)
    }

    let path: String
    let source: Source
    let format: String

    /// - Parameter kind: what ``ModelFileKind/sniff(path:)`` said the file is.
    init(path: String, kind: ModelFileKind) throws {
        self.path = path
        switch kind {
        case .tensorFlowCheckpoint:
            let bundle = try TensorBundle(indexPath: path)
            source = .checkpoint(bundle)
            format = "TensorFlow checkpoint (tensor bundle)"
        case .tensorFlowGraph, .tensorFlowMemmapped:
            let graph = try TensorFlowGraph(path: path)
            source = .graph(graph)
            format = graph.isMemmapped ? "TensorFlow memory-mapped graph (.pbmm)" : "TensorFlow frozen graph (.pb)"
        case let kind:
            throw ModelFileError(path: path, problem: kind.refusal)
        }
    }

    func fail(_ problem: String) -> ModelFileError { ModelFileError(path: path, problem: problem) }

    /// A tensor by name, or nil when the file has none of that name.
    func tensor(_ name: String) throws -> CheckpointTensor? {
        do {
            switch source {
            case .graph(let graph): return try graph.constant(named: name)
            case .checkpoint(let bundle): return bundle.entry(named: name) == nil ? nil : try bundle.tensor(named: name)
            }
        } catch let error as ModelFileError {
            throw error
        } catch {
            throw fail("\(error)")
        }
    }

    var names: [String] {
        switch source {
        case .graph(let graph): return graph.nodes.map(\.name)
        case .checkpoint(let bundle): return bundle.names
        }
    }

    func required(_ name: String) throws -> CheckpointTensor {
        guard let t = try tensor(name) else { throw fail(missingMessage(name)) }
        return t
    }

    /// Names the tensor and, when the file looks like an older DeepSpeech, the release.
    func missingMessage(_ name: String) -> String {
        let all = names
        if all.contains(where: { $0.hasPrefix("bidirectional_rnn/") || $0.contains("/BiRNN") }) {
            return "missing tensor '\(name)': this is a DeepSpeech 0.1 graph (bidirectional RNN), which is not supported; use a DeepSpeech 0.7–0.9 or Coqui STT model"
        }
        if all.contains(where: { $0 == "h1" || $0 == "b1" || $0.hasPrefix("h1/") }) {
            return "missing tensor '\(name)': this looks like a DeepSpeech 0.1–0.4 graph (weights h1…h6), which is not supported; use a DeepSpeech 0.7–0.9 or Coqui STT model"
        }
        return "missing tensor '\(name)': not a DeepSpeech 0.5–0.9 / Coqui STT export (expected layer_1 … layer_6 and \(Self.lstmScope)/kernel)"
    }

    /// Where the LSTM's kernel and bias are, and the forget bias its cell adds at run time.
    ///
    /// DeepSpeech 0.x names them `cudnn_lstm/…/cudnn_compatible_lstm_cell/{kernel,bias}` and runs
    /// the cell with forget bias 0. SINGA-Auto's TfDeepSpeech (DeepSpeech 0.5-era training code)
    /// leaves `LSTMBlockFusedCell` its default scope, `lstm_fused_cell/{kernel,bias}`, and its
    /// default forget bias of 1.0, which is not stored: it is folded into the bias of the f
    /// gate (the third of the four column blocks i, j, f, o) here.
    func lstmVariables() throws -> (scope: String, forgetBias: Float) {
        if try tensor(Self.lstmScope + "/kernel") != nil { return (Self.lstmScope, 0) }
        let fused = names.filter { $0 == "lstm_fused_cell/kernel" || $0.hasSuffix("/lstm_fused_cell/kernel") }
            .min { $0.count < $1.count }
        if let fused { return (String(fused.dropLast("/kernel".count)), 1) }
        return (Self.lstmScope, 0)   // reported as missing by name
    }

    /// A dense layer from `[inputs][units]` weights (transposed here) and its bias; for an LSTM
    /// kernel, `forgetBias` is added to the f gate's bias block.
    func dense(_ name: String, weights weightName: String, bias biasName: String, forgetBias: Float = 0) throws -> DenseLayer {
        let w = try required(weightName)
        guard w.shape.count == 2 else { throw fail("tensor '\(weightName)' has shape \(w.shape), expected 2 dimensions [inputs, units]") }
        let inputs = w.shape[0], units = w.shape[1]
        let stored = try floats(w)
        var transposed = [Float](repeating: 0, count: stored.count)
        for i in 0..<inputs {
            for u in 0..<units { transposed[u * inputs + i] = stored[i * units + u] }
        }
        var bias = try floats(try required(biasName))
        if forgetBias != 0 && units % 4 == 0 && bias.count == units {
            for u in (2 * units / 4)..<(3 * units / 4) { bias[u] += forgetBias }
        }
        guard bias.count == units else { throw fail("tensor '\(biasName)' has \(bias.count) values, expected \(units) for '\(weightName)' \(w.shape)") }
        return DenseLayer(name: weightName, weights: .float(DenseFloatMatrix(rows: units, columns: inputs, values: transposed)),
                          bias: bias, inputs: inputs, units: units, storedType: "float32", storedScale: nil)
    }

    func floats(_ t: CheckpointTensor) throws -> [Float] {
        do { return try t.floats() } catch { throw fail("\(error)") }
    }

    func load() throws -> DeepSpeechModel.ImportedWeights {
        let l1 = try dense("layer_1", weights: "layer_1/weights", bias: "layer_1/bias")
        let l2 = try dense("layer_2", weights: "layer_2/weights", bias: "layer_2/bias")
        let l3 = try dense("layer_3", weights: "layer_3/weights", bias: "layer_3/bias")
        let (lstmScope, forgetBias) = try lstmVariables()
        let lstm = try dense("lstm", weights: lstmScope + "/kernel", bias: lstmScope + "/bias", forgetBias: forgetBias)
        let l5 = try dense("layer_5", weights: "layer_5/weights", bias: "layer_5/bias")
        let l6 = try dense("layer_6", weights: "layer_6/weights", bias: "layer_6/bias")
        let hidden = l1.units
        guard lstm.units % 4 == 0 else { throw fail("'\(lstm.name)' has \(lstm.units) columns, not 4 gates of equal size") }
        let cell = lstm.units / 4
        func expect(_ layer: DenseLayer, inputs: Int, units: Int) throws {
            guard layer.inputs == inputs && layer.units == units else {
                throw fail("tensor '\(layer.name)' has shape [\(layer.inputs), \(layer.units)], expected [\(inputs), \(units)]")
            }
        }
        try expect(l2, inputs: hidden, units: hidden)
        try expect(l3, inputs: hidden, units: hidden)
        try expect(lstm, inputs: hidden + cell, units: 4 * cell)
        try expect(l5, inputs: cell, units: l5.units)
        guard l6.inputs == l5.units else { throw fail("tensor '\(l6.name)' has \(l6.inputs) inputs, expected \(l5.units)") }

        let metadata = try readMetadata()
        // 26 MFCCs and 9 frames of context on each side, unless the graph's input says otherwise.
        var nInput = 26, nContext = 9, nSteps = 16
        if case .graph(let graph) = source, let input = graph.node(named: "input_node"),
           let shape = input.attrs["shape"]?.shapeValue?.dimensions.map({ Int($0) }), shape.count == 4 {
            if shape[1] > 0 { nSteps = shape[1] }
            if shape[2] > 0 && shape[2] % 2 == 1 { nContext = (shape[2] - 1) / 2 }
            if shape[3] > 0 { nInput = shape[3] }
        }
        guard (2 * nContext + 1) * nInput == l1.inputs else {
            throw fail("layer_1 takes \(l1.inputs) inputs, but \(2 * nContext + 1) frames of \(nInput) features make \((2 * nContext + 1) * nInput)")
        }
        let h = DeepSpeechHyperparameters(nInput: nInput, nContext: nContext, nHidden: hidden, nCell: cell, nClasses: l6.units,
                                          nSteps: nSteps, reluClip: 20)
        return DeepSpeechModel.ImportedWeights(path: path, format: format, metadata: metadata, hyperparameters: h,
                                               layers: (l1, l2, l3, lstm, l5, l6), precision: .float32)
    }

    /// The `metadata_*` constants of a DeepSpeech 0.7+ export; a checkpoint has none and gets
    /// the training defaults (16 kHz, 32 ms windows every 20 ms, beam 500, no alphabet).
    func readMetadata() throws -> DeepSpeechModelMetadata {
        if case .checkpoint = source { return .checkpointDefaults }
        func int(_ name: String) throws -> Int? {
            guard let t = try tensor(name) else { return nil }
            do {
                guard let v = try t.integers().first else { throw fail("'\(name)' is empty") }
                return Int(v)
            } catch let error as ModelFileError { throw error } catch { throw fail("\(error)") }
        }
        guard let version = try int("metadata_version") else {
            throw fail("no 'metadata_version' node: a DeepSpeech 0.5 or older export (or not a DeepSpeech graph). Those graphs computed features differently; use a DeepSpeech 0.7–0.9 or Coqui STT model")
        }
        var m = DeepSpeechModelMetadata.checkpointDefaults
        m.graphVersion = version
        m.sampleRate = try int("metadata_sample_rate") ?? m.sampleRate
        m.featureWindowMilliseconds = try int("metadata_feature_win_len") ?? m.featureWindowMilliseconds
        m.featureStepMilliseconds = try int("metadata_feature_win_step") ?? m.featureStepMilliseconds
        m.beamWidth = try int("metadata_beam_width") ?? m.beamWidth
        if let alphabet = try tensor("metadata_alphabet") { m.alphabetBytes = Array(alphabet.bytes) }
        if let language = try tensor("metadata_language") { m.language = String(decoding: language.bytes, as: UTF8.self) }
        guard m.sampleRate > 0, m.featureWindowMilliseconds > 0, m.featureStepMilliseconds > 0, m.beamWidth > 0 else {
            throw fail("implausible metadata: sample rate \(m.sampleRate), window \(m.featureWindowMilliseconds) ms, step \(m.featureStepMilliseconds) ms, beam width \(m.beamWidth)")
        }
        return m
    }
}

extension DeepSpeechModelMetadata {
    /// What DeepSpeech's training flags default to, for files that store no metadata
    /// (checkpoints): graph version 6, 16 kHz, 32 ms windows, 20 ms steps, beam width 500, and
    /// no alphabet (it must be given with `--alphabet`).
    public static let checkpointDefaults = DeepSpeechModelMetadata(
        graphVersion: 6, sampleRate: 16000, featureWindowMilliseconds: 32, featureStepMilliseconds: 20,
        beamWidth: 500, alphabetBytes: [], language: nil)
}
