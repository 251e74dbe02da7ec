import SpeechCheckpoints
import SpeechNumerics

/// Binds a DeepSpeech `.tflite` graph's tensors to typed layers by graph position (bias
/// tensors have generated names like `MatMul_1_bias`, so names are not relied on), and reads
/// the metadata constants.
///
/// The exported graph has six distinct FULLY_CONNECTED weight tensors: layer_1, layer_2,
/// layer_3, the LSTM gate kernel (shared by the 16 unrolled steps, shape
/// `[4·nCell][nHidden + nCell]`), layer_5 and layer_6, in that operator order.
struct WeightBinder {
    let file: TFLiteModelFile
    let precision: Precision
    /// `.float32` for all-float models whatever was asked (there is nothing to quantize).
    private(set) var effectivePrecision: Precision

    init(file: TFLiteModelFile, precision: Precision) {
        self.file = file
        self.precision = precision
        let quantized = file.operators.contains { op in
            op.builtinCode == TFLiteModelFile.Builtin.fullyConnected && op.inputs.count > 1 && op.inputs[1] >= 0
                && file.tensors[op.inputs[1]].type == .int8
        }
        effectivePrecision = quantized ? precision : .float32
    }

    func fail(_ problem: String) -> ModelFileError { ModelFileError(path: file.path, problem: problem) }

    func layers() throws -> (DenseLayer, DenseLayer, DenseLayer, DenseLayer, DenseLayer, DenseLayer) {
        var seen = Set<Int>()
        var ops: [TFLiteModelFile.Operator] = []
        for op in file.operators where op.builtinCode == TFLiteModelFile.Builtin.fullyConnected {
            guard op.inputs.count >= 2, op.inputs[1] >= 0 else { throw fail("FULLY_CONNECTED operator \(op.index) has no weights") }
            if seen.insert(op.inputs[1]).inserted { ops.append(op) }
        }
        guard ops.count == 6 else {
            throw fail("expected the 6 weight matrices of a DeepSpeech 0.7+ graph (layer_1, layer_2, layer_3, LSTM, layer_5, layer_6), found \(ops.count) FULLY_CONNECTED weight tensors; this does not look like a DeepSpeech/Coqui STT model")
        }
        let bound = try ops.map(bind)
        let (l1, l2, l3, lstm, l5, l6) = (bound[0], bound[1], bound[2], bound[3], bound[4], bound[5])
        let hidden = l1.units, cell = lstm.units / 4
        func expect(_ layer: DenseLayer, inputs: Int, units: Int) throws {
            guard layer.inputs == inputs && layer.units == units else {
                throw fail("tensor '\(layer.name)' has shape [\(layer.units), \(layer.inputs)], expected [\(units), \(inputs)]")
            }
        }
        try expect(l2, inputs: hidden, units: hidden)
        try expect(l3, inputs: hidden, units: hidden)
        guard lstm.units % 4 == 0 else { throw fail("LSTM kernel '\(lstm.name)' has \(lstm.units) rows, not a multiple of 4 gates") }
        try expect(lstm, inputs: hidden + cell, units: 4 * cell)
        try expect(l5, inputs: cell, units: hidden)
        guard l6.inputs == hidden else { throw fail("tensor '\(l6.name)' has \(l6.inputs) inputs, expected \(hidden)") }
        return (l1, l2, l3, lstm, l5, l6)
    }

    func bind(_ op: TFLiteModelFile.Operator) throws -> DenseLayer {
        let w = file.tensors[op.inputs[1]]
        guard w.shape.count == 2 else { throw fail("weights '\(w.name)' have shape \(w.shape), expected 2 dimensions") }
        let units = w.shape[0], inputs = w.shape[1]
        var bias: [Float] = []
        if op.inputs.count > 2 && op.inputs[2] >= 0 {
            let b = file.tensors[op.inputs[2]]
            bias = try file.floats(b)
            guard bias.count == units else { throw fail("bias '\(b.name)' has \(bias.count) values, expected \(units) for '\(w.name)'") }
        }
        let weights: DenseLayer.Weights
        switch w.type {
        case .int8?:
            guard w.scales.count == 1 else { throw fail("weights '\(w.name)' have \(w.scales.count) scales; only per-tensor quantization is supported") }
            guard w.zeroPoints.allSatisfy({ $0 == 0 }) else { throw fail("weights '\(w.name)' have a non-zero zero point; expected symmetric int8") }
            // Borrowed from the file's mapping, which the storage keeps alive.
            let matrix = HybridInt8Matrix(rows: units, columns: inputs,
                                          storage: WeightStorage(borrowing: try file.int8Buffer(w), owner: file.file), scale: w.scales[0])
            weights = precision == .int8Hybrid ? .hybrid(matrix) : .float(DenseFloatMatrix(rows: units, columns: inputs, values: matrix.dequantized()))
        case .float32?:
            weights = .float(DenseFloatMatrix(rows: units, columns: inputs, values: try file.floats(w)))
        default:
            throw fail("weights '\(w.name)' have unsupported type code \(w.typeCode) (expected int8 or float32)")
        }
        return DenseLayer(name: w.name, weights: weights, bias: bias, inputs: inputs, units: units,
                          storedType: w.type == .int8 ? "int8" : "float32", storedScale: w.type == .int8 ? w.scales[0] : nil)
    }

    func hyperparameters(layer1: DenseLayer, lstm: DenseLayer, layer6: DenseLayer) throws -> DeepSpeechHyperparameters {
        guard let input = file.tensor(named: "input_node"), input.shape.count == 4 else {
            throw fail("no 'input_node' tensor of shape [1, steps, window, features]; not a DeepSpeech graph")
        }
        let steps = input.shape[1], window = input.shape[2], features = input.shape[3]
        guard steps > 0, window % 2 == 1, features > 0, window * features == layer1.inputs else {
            throw fail("'input_node' has shape \(input.shape) but layer_1 takes \(layer1.inputs) inputs")
        }
        let cell = lstm.units / 4
        if let c = file.tensor(named: "previous_state_c"), c.shape.last != cell {
            throw fail("'previous_state_c' has shape \(c.shape), expected [1, \(cell)]")
        }
        return DeepSpeechHyperparameters(nInput: features, nContext: (window - 1) / 2, nHidden: layer1.units, nCell: cell,
                                         nClasses: layer6.units, nSteps: steps, reluClip: try reluClip())
    }

    /// The constant of the MINIMUM ops that clip the dense layers (20 unless exported otherwise).
    func reluClip() throws -> Float {
        for op in file.operators where op.builtinCode == TFLiteModelFile.Builtin.minimum && op.inputs.count == 2 {
            for i in op.inputs where i >= 0 && file.tensors[i].data != nil && file.tensors[i].elementCount == 1 {
                if let v = try? file.floats(file.tensors[i]).first { return v }
            }
        }
        return 20
    }

    /// The constant behind a `metadata_*` output: the RESHAPE's input 0 (`<name>_copy`).
    func metadataTensor(_ name: String) -> TFLiteModelFile.Tensor? {
        if let t = file.tensor(named: name) {
            if t.data != nil { return t }
            if let op = file.producer(of: t.index), let source = op.inputs.first, source >= 0, file.tensors[source].data != nil {
                return file.tensors[source]
            }
        }
        return file.tensor(named: name + "_copy").flatMap { $0.data != nil ? $0 : nil }
    }

    func metadata() throws -> DeepSpeechModelMetadata {
        func int(_ name: String) throws -> Int {
            guard let t = metadataTensor(name) else {
                throw fail("missing '\(name)': not a DeepSpeech/Coqui STT export (models from DeepSpeech 0.7 and later carry it)")
            }
            guard let v = try file.int32s(t).first else { throw fail("'\(name)' is empty") }
            return Int(v)
        }
        guard let alphabet = metadataTensor("metadata_alphabet") else { throw fail("missing 'metadata_alphabet'; pass --alphabet alphabet.txt") }
        let language = try metadataTensor("metadata_language").map { String(decoding: try file.string($0), as: UTF8.self) }
        let m = DeepSpeechModelMetadata(graphVersion: try int("metadata_version"), sampleRate: try int("metadata_sample_rate"),
                                        featureWindowMilliseconds: try int("metadata_feature_win_len"),
                                        featureStepMilliseconds: try int("metadata_feature_win_step"),
                                        beamWidth: try int("metadata_beam_width"), alphabetBytes: try file.string(alphabet),
                                        language: language)
        guard m.sampleRate > 0, m.featureWindowMilliseconds > 0, m.featureStepMilliseconds > 0, m.beamWidth > 0 else {
            throw fail("implausible metadata: sample rate \(m.sampleRate), window \(m.featureWindowMilliseconds) ms, step \(m.featureStepMilliseconds) ms, beam width \(m.beamWidth)")
        }
        return m
    }
}
