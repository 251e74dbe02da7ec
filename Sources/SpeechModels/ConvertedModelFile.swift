import Foundation
import MappedFiles
import SpeechCheckpoints
import SpeechNumerics

/// swift-deepspeech's own model file (`.dsmodel`): every importer's result in one
/// memory-mappable file that loads with no copies and no parsing beyond a small header.
///
/// ```
/// bytes 0 ..< 8     magic "SDSMODEL"
/// bytes 8 ..< 12    format version, u32 little-endian (1)
/// bytes 12 ..< 16   header length H, u32 little-endian
/// bytes 16 ..< 16+H header: UTF-8 JSON (``ConvertedModelFile/Header``): architecture,
///                   hyperparameters, metadata, alphabet, and for every tensor its name,
///                   element type, shape, byte offset and length (and int8 scale)
/// then              tensor data, each tensor at a 64-byte-aligned offset from the file start,
///                   little-endian, row-major; zero bytes between tensors
/// ```
/// DeepSpeech tensors are stored as the forward pass uses them (`[units][inputs]`, int8 with
/// one scale or float32), under the names `layer_1/weights`, `layer_1/bias`, …, `lstm/weights`;
/// DeepSpeech2 tensors keep deepspeech.pytorch's state_dict names, in float32.
/// The weights are read in place from the mapping (the kernels run on the mapped pages).
public enum ConvertedModelFile {
    public static let magic = Array("SDSMODEL".utf8)
    public static let formatVersion: UInt32 = 1
    static let alignment = 64

    public struct TensorEntry: Codable, Sendable, Equatable {
        public var name: String
        public var dtype: CheckpointDataType
        public var shape: [Int]
        public var offset: Int
        public var length: Int
        public var scale: Float?
    }

    public struct Header: Codable, Sendable {
        public var formatVersion: Int
        /// "deepspeech" or "deepspeech2".
        public var architecture: String
        /// The file the model was converted from, and its format.
        public var source: String
        public var sourceFormat: String
        public var deepSpeech: DeepSpeechHeader?
        public var deepSpeech2: DeepSpeech2Configuration?
        public var tensors: [TensorEntry]

        enum CodingKeys: String, CodingKey {
            case formatVersion = "format_version", architecture, source, sourceFormat = "source_format"
            case deepSpeech = "deepspeech", deepSpeech2 = "deepspeech2", tensors
        }
    }

    public struct DeepSpeechHeader: Codable, Sendable {
        public var hyperparameters: DeepSpeechHyperparameters
        public var metadata: DeepSpeechModelMetadata
    }

    // MARK: - Writing

    /// Writes a network (already loaded from any format) as a converted file.
    /// - Parameter alphabet: the serialized alphabet to store for DeepSpeech networks (their
    ///   metadata's when nil; files such as TensorFlow checkpoints have none of their own).
    public static func write(_ network: AcousticNetwork, alphabet: [UInt8]? = nil, source: String, to path: String) throws {
        var entries: [TensorEntry] = []
        var payloads: [[UInt8]] = []
        var offset = 0   // relative to the data start; fixed up below
        func add(_ name: String, _ dtype: CheckpointDataType, _ shape: [Int], _ bytes: [UInt8], scale: Float? = nil) {
            offset = (offset + alignment - 1) / alignment * alignment
            entries.append(TensorEntry(name: name, dtype: dtype, shape: shape, offset: offset, length: bytes.count, scale: scale))
            payloads.append(bytes)
            offset += bytes.count
        }
        func floatBytes(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: values.count * 4)
            for (i, v) in values.enumerated() {
                let bits = v.bitPattern
                out[4 * i] = UInt8(bits & 0xFF); out[4 * i + 1] = UInt8((bits >> 8) & 0xFF)
                out[4 * i + 2] = UInt8((bits >> 16) & 0xFF); out[4 * i + 3] = UInt8(bits >> 24)
            }
            return out
        }
        var header: Header
        switch network {
        case .deepSpeech(let model):
            for (name, layer) in model.namedLayers {
                switch layer.weights {
                case .hybrid(let m):
                    add(name + "/weights", .int8, [m.rows, m.columns], m.storage.buffer.map { UInt8(bitPattern: $0) }, scale: m.scale)
                case .float(let m):
                    add(name + "/weights", .float32, [m.rows, m.columns], floatBytes(m.storage.buffer))
                }
                if !layer.bias.isEmpty { add(name + "/bias", .float32, [layer.bias.count], layer.bias.withUnsafeBufferPointer(floatBytes)) }
            }
            var metadata = model.metadata
            if let alphabet { metadata.alphabetBytes = alphabet }
            header = Header(formatVersion: Int(formatVersion), architecture: "deepspeech", source: source, sourceFormat: model.format,
                            deepSpeech: DeepSpeechHeader(hyperparameters: model.hyperparameters, metadata: metadata),
                            deepSpeech2: nil, tensors: [])
        case .deepSpeech2(let model):
            for (name, tensor) in model.tensors.sorted(by: { $0.key < $1.key }) {
                guard tensor.dataType != .int64 else { continue }   // num_batches_tracked: training only
                let values = try tensor.floats()
                add(name, .float32, tensor.shape, values.withUnsafeBufferPointer(floatBytes))
            }
            header = Header(formatVersion: Int(formatVersion), architecture: "deepspeech2", source: source,
                            sourceFormat: model.configuration.format, deepSpeech: nil, deepSpeech2: model.configuration, tensors: [])
        }
        // The header's size depends on the offsets it lists: place the data after a header
        // measured with the final offsets (padding absorbs the difference).
        var dataStart = 0
        var encoded: [UInt8] = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for _ in 0..<4 {
            header.tensors = entries.map { var e = $0; e.offset += dataStart; return e }
            encoded = Array(try encoder.encode(header))
            let needed = (16 + encoded.count + alignment - 1) / alignment * alignment
            if needed == dataStart { break }
            dataStart = needed
        }
        var file = magic
        withUnsafeBytes(of: formatVersion.littleEndian) { file += $0 }
        withUnsafeBytes(of: UInt32(encoded.count).littleEndian) { file += $0 }
        file += encoded
        for (entry, payload) in zip(header.tensors, payloads) {
            file += [UInt8](repeating: 0, count: entry.offset - file.count)
            file += payload
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(file)) else {
            throw ModelFileError(path: path, problem: "cannot write the file")
        }
    }

    // MARK: - Reading

    /// Reads the header of a mapped converted file and checks every tensor lies inside it.
    public static func readHeader(_ file: MappedFile) throws -> Header {
        let bytes = file.bytes, path = file.path
        func fail(_ problem: String) -> ModelFileError { ModelFileError(path: path, problem: problem) }
        guard bytes.count >= 16, bytes[0..<8].elementsEqual(magic) else { throw fail("not a swift-deepspeech model file (no SDSMODEL magic)") }
        let version = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
        guard version == formatVersion else {
            throw fail("format version \(version); this build reads version \(formatVersion) (convert the model again with this version)")
        }
        let length = Int(bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self).littleEndian)
        guard length <= bytes.count - 16 else { throw fail("truncated: the header needs \(length) bytes, the file has \(bytes.count - 16) after the preamble") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[16..<(16 + length)]))
        } catch {
            throw fail("damaged header: \(error)")
        }
        for t in header.tensors {
            let (end, overflow) = t.offset.addingReportingOverflow(t.length)
            guard t.offset >= 16 + length, t.length >= 0, !overflow, end <= bytes.count else {
                throw fail("tensor '\(t.name)' lies outside the file (bytes \(t.offset) ..< \(t.offset &+ t.length) of \(bytes.count)); the file is truncated or damaged")
            }
            guard t.offset % alignment == 0 else { throw fail("tensor '\(t.name)' is not \(alignment)-byte aligned") }
            let count = t.shape.reduce(1) { $0.multipliedReportingOverflow(by: max($1, 0)).partialValue }
            guard t.shape.allSatisfy({ $0 >= 0 }), let width = t.dtype.byteWidth, count.multipliedReportingOverflow(by: width) == (t.length, false) else {
                throw fail("tensor '\(t.name)' has \(t.length) bytes, which does not match \(t.dtype.rawValue) \(t.shape)")
            }
        }
        return header
    }

    /// The tensors of a mapped converted file by name, as slices of the mapping.
    static func tensors(_ header: Header, file: MappedFile) -> [String: CheckpointTensor] {
        var out: [String: CheckpointTensor] = [:]
        for t in header.tensors {
            out[t.name] = CheckpointTensor(name: t.name, dataType: t.dtype, shape: t.shape, storage: file, byteRange: t.offset..<(t.offset + t.length))
        }
        return out
    }
}

/// The acoustic network a model file holds, whatever its format.
public enum AcousticNetwork: Sendable {
    /// Mozilla DeepSpeech 0.x / Coqui STT 1.x: MFCC windows, dense layers, one LSTM.
    case deepSpeech(DeepSpeechModel)
    /// DeepSpeech2 as deepspeech.pytorch trains it: spectrogram, convolutions, (bi)RNNs.
    case deepSpeech2(DeepSpeech2Model)

    /// Loads any supported model file, recognised from its bytes (looked at once): `.tflite`,
    /// `.pb`, `.pbmm`, TensorFlow checkpoints, deepspeech.pytorch `.pth`/`.ckpt`, `.dsmodel`.
    /// `precision` applies to int8 weights (`.tflite` and the `.dsmodel`s made from them).
    public static func load(path: String, precision: Precision = .int8Hybrid) throws -> AcousticNetwork {
        switch try ModelFileKind.sniff(path: path) {
        case .zip, .pytorchLegacy:
            return .deepSpeech2(try DeepSpeech2Model(path: path))
        case .converted:
            let file: MappedFile
            do { file = try MappedFile(path: path) } catch { throw ModelFileError(path: path, problem: "\(error)") }
            let header = try ConvertedModelFile.readHeader(file)
            if header.architecture == "deepspeech2" {
                return .deepSpeech2(try DeepSpeech2Model(converted: file, header: header))
            }
            return .deepSpeech(try DeepSpeechModel(converted: file, header: header, precision: precision))
        case let kind:
            return .deepSpeech(try DeepSpeechModel(path: path, kind: kind, precision: precision))
        }
    }
}

extension CheckpointTensor {
    /// float32 values in place when the bytes are float32 and aligned (a converted file, a
    /// zip checkpoint), else converted into storage of their own.
    func floatStorage() throws -> WeightStorage<Float> {
        if dataType == .float32, let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0,
           byteRange.count == elementCount * 4 {
            return WeightStorage(borrowing: UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: elementCount), owner: storage)
        }
        return WeightStorage(copying: try floats())
    }
}

extension DeepSpeechModel {
    /// The six layers with the names a converted file stores them under.
    var namedLayers: [(String, DenseLayer)] {
        [("layer_1", layer1), ("layer_2", layer2), ("layer_3", layer3), ("lstm", lstm), ("layer_5", layer5), ("layer_6", layer6)]
    }

    /// Builds the network of a mapped converted file: the weights stay in the mapping (int8 or float32 as stored).
    /// Asking for `.float32` from an int8 file dequantizes (and so copies) them.
    convenience init(converted file: MappedFile, header: ConvertedModelFile.Header, precision: Precision) throws {
        let path = file.path
        guard header.architecture == "deepspeech", let ds = header.deepSpeech else {
            throw ModelFileError(path: path, problem: "holds a \(header.architecture) network, not DeepSpeech")
        }
        let tensors = ConvertedModelFile.tensors(header, file: file)
        func layer(_ name: String) throws -> DenseLayer {
            guard let w = tensors[name + "/weights"], w.shape.count == 2 else {
                throw ModelFileError(path: path, problem: "missing tensor '\(name)/weights'")
            }
            let units = w.shape[0], inputs = w.shape[1]
            let bias = try tensors[name + "/bias"].map { try $0.floats() } ?? []
            guard bias.isEmpty || bias.count == units else {
                throw ModelFileError(path: path, problem: "tensor '\(name)/bias' has \(bias.count) values, expected \(units)")
            }
            let entry = header.tensors.first { $0.name == name + "/weights" }
            let weights: DenseLayer.Weights
            switch w.dataType {
            case .int8:
                let q = WeightStorage(borrowing: UnsafeBufferPointer(start: w.bytes.baseAddress!.assumingMemoryBound(to: Int8.self), count: units * inputs), owner: file)
                let m = HybridInt8Matrix(rows: units, columns: inputs, storage: q, scale: entry?.scale ?? 1)
                weights = precision == .int8Hybrid ? .hybrid(m) : .float(DenseFloatMatrix(rows: units, columns: inputs, values: m.dequantized()))
            case .float32:
                weights = .float(DenseFloatMatrix(rows: units, columns: inputs, storage: try w.floatStorage()))
            default:
                throw ModelFileError(path: path, problem: "tensor '\(name)/weights' is \(w.dataType.rawValue), expected int8 or float32")
            }
            return DenseLayer(name: name, weights: weights, bias: bias, inputs: inputs, units: units,
                              storedType: w.dataType == .int8 ? "int8" : "float32", storedScale: w.dataType == .int8 ? entry?.scale : nil)
        }
        let layers = (try layer("layer_1"), try layer("layer_2"), try layer("layer_3"), try layer("lstm"), try layer("layer_5"), try layer("layer_6"))
        let h = ds.hyperparameters
        guard layers.0.inputs == h.windowSize, layers.0.units == h.nHidden, layers.3.units == 4 * h.nCell,
              layers.3.inputs == h.nHidden + h.nCell, layers.5.units == h.nClasses else {
            throw ModelFileError(path: path, problem: "the tensors' shapes do not match the header's hyperparameters \(h)")
        }
        let quantized = layers.0.storedType == "int8"
        try self.init(imported: ImportedWeights(path: path, format: "swift-deepspeech model (converted from \(header.sourceFormat))",
                                                metadata: ds.metadata, hyperparameters: h, layers: layers,
                                                precision: quantized ? precision : .float32))
    }
}

extension DeepSpeech2Model {
    /// Builds the network of a mapped converted DeepSpeech2 file; the weight matrices stay in the mapping.
    convenience init(converted file: MappedFile, header: ConvertedModelFile.Header) throws {
        let path = file.path
        guard header.architecture == "deepspeech2", var configuration = header.deepSpeech2 else {
            throw ModelFileError(path: path, problem: "holds a \(header.architecture) network, not DeepSpeech2")
        }
        configuration.format = "swift-deepspeech model (converted from \(configuration.format))"
        try self.init(path: path, configuration: configuration, tensors: ConvertedModelFile.tensors(header, file: file))
    }
}
