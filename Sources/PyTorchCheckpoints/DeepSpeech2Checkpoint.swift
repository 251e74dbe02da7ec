import SpeechCheckpoints

/// A deepspeech.pytorch (DeepSpeech2) checkpoint: what the file says about the model (its
/// labels, RNN type and size, direction, lookahead and spectrogram settings), checked against
/// the weights it holds, and the weights themselves.
///
/// Three layouts are recognised:
/// * **v2.0 `.pth`** (2019, usually the legacy torch.save format): a plain dict with
///   `version` '0.0.1', `labels` as one string, `audio_conf` a plain dict, `rnn_type` a
///   string, `hidden_size`, `hidden_layers`, `bidirectional`. Its spectrogram used the
///   *symmetric* window (scipy's `hamming(N)`), and audio was int16 / 32767.
/// * **V2.1 `.pth`** (zip format): the same keys without `version`, `labels` a list, and
///   `audio_conf` an OmegaConf DictConfig record (or a plain dict). Audio was int16 / 32767.
/// * **V3 Lightning `.ckpt`**: `hyper_parameters` with `labels`, `model_cfg` (a DictConfig
///   whose object type, `BiDirectionalConfig` or `UniDirectionalConfig`, says the
///   direction; `rnn_type` may be the class `torch.nn.LSTM`/`GRU` as a global, an enum
///   record or a string) and `spect_cfg` (`window` an enum record such as
///   `SpectrogramWindow('hamming')`, or a string). Audio was torchaudio's int16 / 32768.
///
/// OmegaConf objects are read from their pickled state (`_content`, and each node's `_val`);
/// nothing of OmegaConf is needed or run.
///
/// The weights decide: the direction comes from the presence of `*_reverse` tensors, the RNN
/// type from the gate multiple of `weight_hh` (4H LSTM, 3H GRU, H plain RNN), the hidden size
/// and layer count from the shapes, the lookahead context from `lookahead.0.conv.weight`.
/// Where the file's metadata is missing or disagrees, the weights win and ``warnings`` says
/// so. A missing required tensor, or one whose shape does not fit the others, is an error
/// naming it (with both shapes).
public struct DeepSpeech2Checkpoint: Sendable {
    public enum Layout: String, Sendable {
        case v2_0 = "v2.0"
        case v2_1 = "V2.1"
        case v3 = "V3"
    }

    public enum RNNType: String, Sendable, CaseIterable {
        case lstm, gru, rnn

        /// Rows of `weight_ih`/`weight_hh` per hidden unit (the gates, stacked).
        public var gateMultiple: Int {
            switch self {
            case .lstm: return 4
            case .gru: return 3
            case .rnn: return 1
            }
        }
    }

    public let path: String
    public let layout: Layout
    /// The torch.save format the file used.
    public let format: TorchCheckpoint.Format
    /// E.g. "deepspeech.pytorch v2.0 .pth (legacy torch.save)".
    public let formatName: String
    /// Output labels in class order; index 0 is normally `_`, the CTC blank.
    public let labels: [String]
    public let rnnType: RNNType
    public let hiddenSize: Int
    public let hiddenLayers: Int
    public let bidirectional: Bool
    /// Frames of lookahead (unidirectional models only; nil for bidirectional ones).
    public let lookaheadContext: Int?
    /// Features per frame going into the first RNN layer (32 channels × frequency rows).
    public let rnnInputSize: Int
    public let sampleRate: Int
    /// Seconds.
    public let windowSize: Double
    /// Seconds.
    public let windowStride: Double
    /// Window name: hamming, hann, blackman or bartlett.
    public let window: String
    /// True for v2.0 files, whose window function was the symmetric variant (denominator
    /// N−1); later versions use the periodic one.
    public let symmetricWindow: Bool
    /// What int16 samples were divided by in training: 32767 (v2.0, V2.1) or 32768 (V3).
    public let audioScale: Float
    /// The state_dict (float32 or float16 weights; `num_batches_tracked` int64).
    public let tensors: [String: CheckpointTensor]
    /// state_dict names in file order.
    public let tensorNames: [String]
    /// Where metadata was missing or disagreed with the weights (the weights were used).
    public let warnings: [String]

    public init(path: String) throws {
        try self.init(checkpoint: try TorchCheckpoint(path: path))
    }

    public init(checkpoint: TorchCheckpoint) throws {
        let path = checkpoint.path
        func refuse(_ problem: String) -> ModelFileError { ModelFileError(path: path, problem: problem) }
        self.path = path
        format = checkpoint.format
        guard let top = checkpoint.root.dictValue else {
            throw refuse("not a deepspeech.pytorch checkpoint: the file holds \(checkpoint.root), not a dict")
        }
        var warnings: [String] = []

        // MARK: What the file says about itself
        let model: PickleDict      // hidden_size, hidden_layers, rnn_type[, lookahead_context]
        let spect: PickleDict?     // sample_rate, window_size, window_stride, window
        var labelsValue: PickleValue?
        var saysBidirectional: Bool?
        if let hyper = top["hyper_parameters"] {
            layout = .v3
            guard let hp = OmegaConfValue.plain(hyper).dictValue else {
                throw refuse("hyper_parameters is \(hyper), not a dict")
            }
            labelsValue = hp["labels"]
            // The raw record (not its plain content): its metadata names the config class.
            let modelConfig = OmegaConfValue.entry(hyper, "model_cfg")
            model = modelConfig.map(OmegaConfValue.plain)?.dictValue ?? PickleDict(entries: [])
            spect = hp["spect_cfg"].map(OmegaConfValue.plain)?.dictValue
            if let type = modelConfig.flatMap(OmegaConfValue.objectType) {
                if type.name == "BiDirectionalConfig" { saysBidirectional = true }
                if type.name == "UniDirectionalConfig" { saysBidirectional = false }
            }
            if saysBidirectional == nil, let b = model["bidirectional"]?.boolValue { saysBidirectional = b }
        } else if top["version"] != nil || top["labels"]?.stringValue != nil {
            layout = .v2_0
            labelsValue = top["labels"]
            model = top
            spect = top["audio_conf"].map(OmegaConfValue.plain)?.dictValue
            saysBidirectional = top["bidirectional"]?.boolValue
        } else if top["labels"] != nil || top["audio_conf"] != nil {
            layout = .v2_1
            labelsValue = top["labels"]
            model = top
            spect = top["audio_conf"].map(OmegaConfValue.plain)?.dictValue
            saysBidirectional = top["bidirectional"]?.boolValue
        } else {
            let keys = top.stringKeys.prefix(12).map { "'\($0)'" }.joined(separator: ", ")
            throw refuse("not a deepspeech.pytorch checkpoint: no labels, audio_conf or hyper_parameters (top-level keys: \(keys))")
        }
        let formatWord = checkpoint.format == .zip ? "zip" : "legacy"
        switch layout {
        case .v2_0: formatName = "deepspeech.pytorch v2.0 .pth (\(formatWord) torch.save)"
        case .v2_1: formatName = "deepspeech.pytorch V2.1 .pth (\(formatWord) torch.save)"
        case .v3: formatName = "deepspeech.pytorch V3 Lightning .ckpt (\(formatWord) torch.save)"
        }
        symmetricWindow = layout == .v2_0
        audioScale = layout == .v3 ? 32768 : 32767

        // Labels: one string (v2.0; one label per code point, as Python iterates a str) or a
        // list of strings.
        guard let labelsValue else { throw refuse("the checkpoint has no labels") }
        switch OmegaConfValue.plain(labelsValue) {
        case .string(let s): labels = s.unicodeScalars.map { String($0) }
        case .list(let items), .tuple(let items):
            labels = try items.map {
                guard let s = $0.stringValue else { throw refuse("labels hold \($0), not strings") }
                return s
            }
        default: throw refuse("labels are \(labelsValue), not a string or a list of strings")
        }
        guard !labels.isEmpty else { throw refuse("the checkpoint's label list is empty") }

        // Spectrogram settings.
        func setting<T>(_ key: String, _ read: (PickleValue) -> T?, default value: T, unit: String = "") -> T {
            if let raw = spect?[key], let v = read(OmegaConfValue.plain(raw)) { return v }
            warnings.append("the checkpoint does not give the spectrogram's \(key); assuming \(value)\(unit)")
            return value
        }
        sampleRate = setting("sample_rate", { $0.intValue.flatMap { Int(exactly: $0) } }, default: 16000, unit: " Hz")
        windowSize = setting("window_size", { $0.doubleValue }, default: 0.02, unit: " s")
        windowStride = setting("window_stride", { $0.doubleValue }, default: 0.01, unit: " s")
        window = setting("window", { OmegaConfValue.symbolName($0)?.lowercased() }, default: "hamming")
        guard (1...1_000_000).contains(sampleRate) else { throw refuse("the spectrogram's sample_rate \(sampleRate) is not a usable rate") }
        for (key, seconds) in [("window_size", windowSize), ("window_stride", windowStride)] where !(seconds > 0 && seconds <= 10) {
            throw refuse("the spectrogram's \(key) \(seconds) is not a usable duration in seconds")
        }

        // MARK: What the weights say
        let stateDict: [(name: String, tensor: CheckpointTensor)]
        stateDict = try checkpoint.stateDict()
        var tensors: [String: CheckpointTensor] = [:]
        for (name, tensor) in stateDict { tensors[name] = tensor }
        self.tensors = tensors
        tensorNames = stateDict.map(\.name)
        func required(_ name: String) throws -> CheckpointTensor {
            guard let t = tensors[name] else { throw refuse(CheckpointError.missingTensor(name).description) }
            return t
        }

        let hh0 = try required("rnns.0.rnn.weight_hh_l0")
        guard hh0.shape.count == 2, hh0.shape[1] > 0, hh0.shape[0] % hh0.shape[1] == 0,
              let weightType = RNNType.allCases.first(where: { $0.gateMultiple == hh0.shape[0] / hh0.shape[1] }) else {
            throw refuse("tensor 'rnns.0.rnn.weight_hh_l0' has shape \(hh0.shape): not [4H, H] (LSTM), [3H, H] (GRU) or [H, H] (RNN)")
        }
        let weightHidden = hh0.shape[1]
        var weightLayers = 0
        while tensors["rnns.\(weightLayers).rnn.weight_ih_l0"] != nil { weightLayers += 1 }
        let weightBidirectional = tensors["rnns.0.rnn.weight_ih_l0_reverse"] != nil
        let ih0 = try required("rnns.0.rnn.weight_ih_l0")
        guard ih0.shape.count == 2 else {
            throw refuse(CheckpointError.shapeMismatch(tensor: "rnns.0.rnn.weight_ih_l0", found: ih0.shape, expected: [hh0.shape[0], -1]).description)
        }
        rnnInputSize = ih0.shape[1]

        // Compare with the metadata; the weights win.
        func compare<T: Equatable>(_ what: String, said: T?, weights: T) {
            if let said {
                if said != weights { warnings.append("the checkpoint says \(what) \(said), but the weights have \(weights); using \(weights)") }
            } else {
                warnings.append("the checkpoint does not say its \(what); using \(weights) from the weights")
            }
        }
        let saidType = model["rnn_type"].map(OmegaConfValue.plain).flatMap(OmegaConfValue.symbolName)
            .flatMap { RNNType(rawValue: $0.lowercased()) }
        compare("rnn_type", said: saidType?.rawValue, weights: weightType.rawValue)
        compare("hidden_size", said: model["hidden_size"].map(OmegaConfValue.plain)?.intValue.map { Int($0) }, weights: weightHidden)
        compare("hidden_layers", said: model["hidden_layers"].map(OmegaConfValue.plain)?.intValue.map { Int($0) }, weights: weightLayers)
        compare("bidirectional", said: saysBidirectional, weights: weightBidirectional)
        rnnType = weightType
        hiddenSize = weightHidden
        hiddenLayers = weightLayers
        bidirectional = weightBidirectional

        if weightBidirectional {
            lookaheadContext = nil
        } else {
            let lookahead = try required("lookahead.0.conv.weight")
            guard lookahead.shape.count == 3, lookahead.shape[0] == weightHidden, lookahead.shape[1] == 1, lookahead.shape[2] > 0 else {
                throw refuse(CheckpointError.shapeMismatch(tensor: "lookahead.0.conv.weight", found: lookahead.shape,
                                                          expected: [weightHidden, 1, lookahead.shape.last ?? 1]).description)
            }
            let context = lookahead.shape[2]
            let said = model["lookahead_context"].map(OmegaConfValue.plain)?.intValue.map { Int($0) }
            if let said, said != context {
                warnings.append("the checkpoint says lookahead_context \(said), but lookahead.0.conv.weight has \(context) taps; using \(context)")
            } else if said == nil && layout == .v3 {
                warnings.append("the checkpoint does not say its lookahead_context; using \(context) from the weights")
            }
            lookaheadContext = context
        }

        // Does the spectrogram give as many RNN inputs as the weights take?
        let bins = Int((Double(sampleRate) * windowSize / 2).rounded(.down)) + 1
        let afterConv1 = (bins + 2 * 20 - 41) / 2 + 1
        let afterConv2 = (afterConv1 + 2 * 10 - 21) / 2 + 1
        if bins > 0, afterConv2 > 0, afterConv2 * 32 != rnnInputSize {
            warnings.append("a \(sampleRate) Hz, \(windowSize) s window gives \(afterConv2 * 32) RNN inputs, but rnns.0.rnn.weight_ih_l0 takes \(rnnInputSize)")
        }

        // MARK: Every weight, shape-checked
        let g = weightType.gateMultiple * weightHidden, h = weightHidden
        var expected: [(String, [Int])] = [
            ("conv.seq_module.0.weight", [32, 1, 41, 11]), ("conv.seq_module.0.bias", [32]),
            ("conv.seq_module.3.weight", [32, 32, 21, 11]), ("conv.seq_module.3.bias", [32]),
        ]
        for module in [1, 4] {
            for p in ["weight", "bias", "running_mean", "running_var"] { expected.append(("conv.seq_module.\(module).\(p)", [32])) }
        }
        for layer in 0..<weightLayers {
            if layer > 0 {
                for p in ["weight", "bias", "running_mean", "running_var"] { expected.append(("rnns.\(layer).batch_norm.module.\(p)", [h])) }
            }
            for suffix in weightBidirectional ? ["", "_reverse"] : [""] {
                expected.append(("rnns.\(layer).rnn.weight_ih_l0\(suffix)", [g, layer == 0 ? rnnInputSize : h]))
                expected.append(("rnns.\(layer).rnn.weight_hh_l0\(suffix)", [g, h]))
                expected.append(("rnns.\(layer).rnn.bias_ih_l0\(suffix)", [g]))
                expected.append(("rnns.\(layer).rnn.bias_hh_l0\(suffix)", [g]))
            }
        }
        for p in ["weight", "bias", "running_mean", "running_var"] { expected.append(("fc.0.module.0.\(p)", [h])) }
        expected.append(("fc.0.module.1.weight", [labels.count, h]))
        for (name, shape) in expected {
            let t = try required(name)
            guard t.shape == shape else {
                throw refuse(CheckpointError.shapeMismatch(tensor: name, found: t.shape, expected: shape).description
                             + (name == "fc.0.module.1.weight" ? " (one row per label; the checkpoint has \(labels.count) labels)" : ""))
            }
            switch t.dataType {
            case .float32, .float16, .bfloat16, .float64: break
            default: throw refuse("tensor '\(name)' is \(t.dataType.rawValue), expected floating-point weights")
            }
        }
        self.warnings = warnings
    }
}

/// Reading OmegaConf containers (DictConfig, ListConfig and their value nodes) and enum
/// records from their pickled state, without OmegaConf.
enum OmegaConfValue {
    /// The plain value behind an OmegaConf container or node: a DictConfig's `_content` as a
    /// dict, a ListConfig's as a list, a node's `_val`; dict subclasses (Lightning's
    /// `AttributeDict`) as dicts. Other values are returned as they are (containers walked).
    static func plain(_ value: PickleValue) -> PickleValue { plain(value, depth: 0) }

    private static func plain(_ value: PickleValue, depth: Int) -> PickleValue {
        guard depth < 64 else { return value }
        switch value {
        case .object(let object):
            if let type = object.typeName, type.module.hasPrefix("omegaconf") {
                if type.name == "DictConfig" || type.name == "ListConfig" {
                    guard let content = object.attribute("_content") else { return .none }
                    return plain(content, depth: depth + 1)
                }
                if let inner = object.attribute("_val") { return plain(inner, depth: depth + 1) }
                return value
            }
            if object.listItems.isEmpty, !object.dictItems.isEmpty {
                return plain(.dict(PickleDict(entries: object.dictItems)), depth: depth + 1)
            }
            return value
        case .dict(let dict):
            return .dict(PickleDict(entries: dict.entries.map { PickleDict.Entry(key: $0.key, value: plain($0.value, depth: depth + 1)) },
                                    ordered: dict.ordered, attributes: dict.attributes))
        case .list(let items): return .list(items.map { plain($0, depth: depth + 1) })
        case .tuple(let items): return .tuple(items.map { plain($0, depth: depth + 1) })
        default: return value
        }
    }

    /// The value under `key`, unconverted: in a dict, a dict subclass record, or a
    /// DictConfig's `_content`.
    static func entry(_ container: PickleValue, _ key: String) -> PickleValue? {
        switch container {
        case .dict(let dict): return dict[key]
        case .object(let object):
            if let type = object.typeName, type.module.hasPrefix("omegaconf"), let content = object.attribute("_content") {
                return entry(content, key)
            }
            return PickleDict(entries: object.dictItems)[key]
        default: return nil
        }
    }

    /// The `object_type` in a DictConfig's `_metadata` (the structured config's class).
    static func objectType(_ value: PickleValue) -> (module: String, name: String)? {
        guard case .object(let config) = value, let metadata = config.attribute("_metadata"),
              case .object(let meta) = metadata, case .global(let module, let name)? = meta.attribute("object_type") else { return nil }
        return (module, name)
    }

    /// A name for an enum-like value: a string itself, a global's name (`torch.nn.LSTM` →
    /// "LSTM"), or for an enum record `Enum(value)` the name of its value.
    static func symbolName(_ value: PickleValue) -> String? { symbolName(value, depth: 0) }

    private static func symbolName(_ value: PickleValue, depth: Int) -> String? {
        guard depth < 8 else { return nil }
        switch plain(value) {
        case .string(let s): return s
        case .global(_, let name): return name
        case .object(let object):
            if let first = object.args.arrayValue?.first { return symbolName(first, depth: depth + 1) }
            if let name = object.attribute("_name_") ?? object.attribute("_value_") { return symbolName(name, depth: depth + 1) }
            return nil
        default: return nil
        }
    }
}
