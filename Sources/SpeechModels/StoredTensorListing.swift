import PyTorchCheckpoints
import SpeechCheckpoints
import TensorFlowCheckpoints

/// One tensor as a model file stores it, for `inspect --tensors`.
public struct StoredTensorInfo: Sendable {
    public var index: Int
    public var name: String
    public var shape: [Int]
    public var type: String
    /// The int8 scale of a quantized `.tflite` tensor.
    public var scale: Float?
    /// The stored bytes (empty for activations and inputs).
    public var bytes: [UInt8]
    /// Whether the tensor holds data (weights, constants) rather than being computed.
    public var isConstant: Bool
}

/// Lists every stored tensor of a model file, whatever its format, in file order.
public enum StoredTensorListing {
    public static func list(path: String) throws -> [StoredTensorInfo] {
        func info(_ i: Int, _ t: CheckpointTensor) -> StoredTensorInfo {
            StoredTensorInfo(index: i, name: t.name, shape: t.shape, type: t.dataType.rawValue, scale: nil,
                             bytes: Array(t.bytes), isConstant: true)
        }
        switch try ModelFileKind.sniff(path: path) {
        case .tflite:
            let file = try TFLiteModelFile(path: path)
            return file.tensors.map { t in
                StoredTensorInfo(index: t.index, name: t.name, shape: t.shape, type: t.type.map { "\($0)" } ?? "type \(t.typeCode)",
                                 scale: t.scales.count == 1 ? t.scales[0] : nil,
                                 bytes: t.data.map { Array(file.bytes[$0]) } ?? [], isConstant: t.data != nil)
            }
        case .tensorFlowGraph, .tensorFlowMemmapped:
            // A constant this reader cannot return as a tensor (a list of strings, say) is
            // listed without data rather than stopping the listing.
            let graph = try TensorFlowGraph(path: path)
            return graph.constantNodes.enumerated().map { i, node in
                (try? graph.constant(of: node)).map { info(i, $0) }
                    ?? StoredTensorInfo(index: i, name: node.name, shape: [], type: "unreadable", scale: nil, bytes: [], isConstant: false)
            }
        case .tensorFlowCheckpoint:
            let bundle = try TensorBundle(indexPath: path)
            return bundle.names.enumerated().map { i, name in
                (try? bundle.tensor(named: name)).map { info(i, $0) }
                    ?? StoredTensorInfo(index: i, name: name, shape: bundle.entry(named: name)?.shape.dimensions.map { Int($0) } ?? [],
                                        type: "unreadable", scale: nil, bytes: [], isConstant: false)
            }
        case .zip, .pytorchLegacy:
            let checkpoint = try TorchCheckpoint(path: path)
            return try checkpoint.stateDict().enumerated().map { info($0.offset, $0.element.tensor) }
        case let kind:
            throw ModelFileError(path: path, problem: kind.refusal)
        }
    }
}
