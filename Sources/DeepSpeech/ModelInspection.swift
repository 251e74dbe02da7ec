import Foundation

/// What a model file holds, for `deepspeech inspect`: format, metadata, feature parameters, a
/// layer table with sizes and quantization, and optionally every stored tensor with a CRC-32
/// of its bytes (the same value as Python's `zlib.crc32` on the tensor's buffer).
public struct ModelInspection: Sendable, Codable {
    public struct Features: Sendable, Codable {
        public var kind = "MFCC"
        public var coefficients: Int
        public var melChannels: Int
        public var lowerHz: Double
        public var upperHz: Double
        public var fftLength: Int
        public var windowSamples: Int
        public var stepSamples: Int
        public var contextFrames: Int
        public var inputsPerStep: Int
        public var stepsPerBatch: Int
        enum CodingKeys: String, CodingKey {
            case kind, coefficients, melChannels = "mel_channels", lowerHz = "lower_hz", upperHz = "upper_hz", fftLength = "fft_length"
            case windowSamples = "window_samples", stepSamples = "step_samples", contextFrames = "context_frames"
            case inputsPerStep = "inputs_per_step", stepsPerBatch = "steps_per_batch"
        }
    }

    public struct StoredTensor: Sendable, Codable {
        public var index: Int
        public var name: String
        public var shape: [Int]
        public var type: String
        public var scale: Float?
        /// Bytes of constant data in the file (0 for activations and inputs).
        public var bytes: Int
        /// CRC-32 (IEEE, as zlib) of the constant data, hex; nil for activations and inputs.
        public var crc32: String?
    }

    public var path: String
    public var fileBytes: Int
    public var format: String
    public var graphVersion: Int
    public var sampleRate: Int
    public var windowMilliseconds: Int
    public var stepMilliseconds: Int
    public var beamWidth: Int
    public var language: String?
    public var alphabet: [String]
    public var features: Features
    public var layers: [LayerSummary]
    public var totalParameters: Int
    public var totalWeightBytes: Int
    /// Bytes the loaded weights take in memory with the chosen precision.
    public var loadedWeightBytes: Int
    public var tensors: [StoredTensor]?

    enum CodingKeys: String, CodingKey {
        case path, fileBytes = "file_bytes", format, graphVersion = "graph_version", sampleRate = "sample_rate"
        case windowMilliseconds = "window_ms", stepMilliseconds = "step_ms", beamWidth = "beam_width", language, alphabet
        case features, layers, totalParameters = "total_parameters", totalWeightBytes = "total_weight_bytes"
        case loadedWeightBytes = "loaded_weight_bytes", tensors
    }

    /// - Parameter includeTensors: also list every tensor of the file (reads it again).
    public init(model: SpeechModel, includeTensors: Bool = false) throws {
        path = model.path
        fileBytes = ((try? FileManager.default.attributesOfItem(atPath: model.path)[.size]) as? NSNumber)?.intValue ?? 0
        format = model.format
        alphabet = model.alphabet.labels
        switch model.network {
        case .deepSpeech(let acoustic):
            let m = acoustic.metadata, h = acoustic.hyperparameters, f = model.features!
            graphVersion = m.graphVersion
            sampleRate = m.sampleRate
            windowMilliseconds = m.featureWindowMilliseconds
            stepMilliseconds = m.featureStepMilliseconds
            beamWidth = m.beamWidth
            language = m.language
            let bank = f.mfcc.filterbank
            features = Features(coefficients: f.coefficientCount, melChannels: bank.channelCount,
                                lowerHz: FeatureExtractor.deepSpeechLowerFrequency, upperHz: Double(m.sampleRate) / 2,
                                fftLength: f.spectrum.fftLength, windowSamples: f.windowLength, stepSamples: f.stepLength,
                                contextFrames: h.nContext, inputsPerStep: h.windowSize, stepsPerBatch: h.nSteps)
            layers = acoustic.layers
        case .deepSpeech2(let network):
            let c = network.configuration, s = model.spectrogram!
            graphVersion = 0
            sampleRate = c.sampleRate
            windowMilliseconds = Int((c.windowSeconds * 1000).rounded())
            stepMilliseconds = Int((c.stepSeconds * 1000).rounded())
            beamWidth = model.defaultBeamWidth
            language = nil
            features = Features(kind: "log spectrogram (\(c.window)\(c.symmetricWindow ? ", symmetric" : ""), normalised)", coefficients: s.binCount,
                                melChannels: 0, lowerHz: 0, upperHz: Double(c.sampleRate) / 2, fftLength: s.fftLength,
                                windowSamples: s.fftLength, stepSamples: s.stepLength, contextFrames: 0, inputsPerStep: s.binCount,
                                stepsPerBatch: 0)
            layers = network.layers
        }
        totalParameters = layers.reduce(0) { $0 + $1.parameters }
        totalWeightBytes = layers.reduce(0) { $0 + $1.bytes }
        loadedWeightBytes = layers.reduce(0) { total, layer in
            let weights = layer.weightShape.reduce(1, *) * (layer.computedAs == "int8" ? 1 : 4)
            return total + weights + (layer.parameters - layer.weightShape.reduce(1, *)) * 4
        }
        if includeTensors {
            tensors = try StoredTensorListing.list(path: model.path).map { t in
                StoredTensor(index: t.index, name: t.name, shape: t.shape, type: t.type, scale: t.scale, bytes: t.bytes.count,
                             crc32: t.bytes.isEmpty && !t.isConstant ? nil : String(format: "%08x", CRC32.checksum(t.bytes[...])))
            }
        }
    }

    /// A report for people: one block per section, a table of layers (and tensors).
    public var text: String {
        func n(_ value: Int) -> String {
            let digits = Array(String(value))
            var out = ""
            for (i, d) in digits.enumerated() {
                if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
                out.append(d)
            }
            return out
        }
        func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
        func padLeft(_ s: String, _ width: Int) -> String { s.count >= width ? s : String(repeating: " ", count: width - s.count) + s }
        var lines: [String] = []
        lines.append("model: \(path) (\(n(fileBytes)) bytes)")
        lines.append(graphVersion > 0 ? "format: \(format), DeepSpeech graph version \(graphVersion)" : "format: \(format)")
        // Some released models store the exporter's placeholder text as the language.
        let shownLanguage = language.map { $0.count > 40 ? String($0.prefix(40)) + "… (as stored)" : $0 }
        lines.append("metadata: sample rate \(sampleRate) Hz, window \(windowMilliseconds) ms, step \(stepMilliseconds) ms, beam width \(beamWidth)" + (shownLanguage.map { ", language \($0)" } ?? ""))
        lines.append("alphabet: \(alphabet.count) labels + blank: " + alphabet.map { "\"\($0)\"" }.joined(separator: " "))
        let fe = features
        if fe.melChannels > 0 {
            lines.append("features: \(fe.kind), \(fe.coefficients) coefficients from \(fe.melChannels) mel channels (\(Int(fe.lowerHz))-\(Int(fe.upperHz)) Hz), FFT \(fe.fftLength), window \(fe.windowSamples) samples, step \(fe.stepSamples)")
            lines.append("input: \(fe.contextFrames) frames of context each side -> \(2 * fe.contextFrames + 1) x \(fe.coefficients) = \(fe.inputsPerStep) values per time step, \(fe.stepsPerBatch) steps per batch")
        } else {
            lines.append("features: \(fe.kind), \(fe.coefficients) bins, FFT \(fe.fftLength), window \(fe.windowSamples) samples, step \(fe.stepSamples); the whole utterance at once")
        }
        lines.append("")
        let header = [pad("layer", 8), pad("kind", 58), padLeft("input -> output", 16), padLeft("parameters", 12), pad("  weights", 26), padLeft("bytes", 12)]
        lines.append(header.joined(separator: " "))
        for l in layers {
            let weights = l.storedType == "int8" ? "int8, scale \(String(format: "%.4g", l.scale ?? 0))" : l.storedType
            lines.append([pad(l.name, 8), pad(l.kind, 58), padLeft("\(l.inputWidth) -> \(l.outputWidth)", 16), padLeft(n(l.parameters), 12),
                          pad("  " + weights, 26), padLeft(n(l.bytes), 12)].joined(separator: " "))
        }
        lines.append("total: \(n(totalParameters)) parameters, \(n(totalWeightBytes)) bytes of weights in the file, \(n(loadedWeightBytes)) bytes loaded (computed as \(layers.first?.computedAs ?? "?"))")
        if let tensors {
            lines.append("")
            lines.append([padLeft("#", 4), pad("name", 44), pad("shape", 20), pad("type", 8), padLeft("bytes", 11), "  crc32"].joined(separator: " "))
            for t in tensors {
                lines.append([padLeft(String(t.index), 4), pad(t.name, 44), pad("[" + t.shape.map(String.init).joined(separator: ", ") + "]", 20),
                              pad(t.type, 8), padLeft(n(t.bytes), 11), "  " + (t.crc32 ?? "-")].joined(separator: " "))
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// CRC-32 (IEEE 802.3 polynomial, reflected; the value zlib and Python's `zlib.crc32` give).
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
