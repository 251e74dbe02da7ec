import Foundation
import MappedFiles

/// The parts of a TensorFlow Lite model file (`schema.fbs`, FlatBuffers, identifier "TFL3")
/// that inference needs: subgraph 0's tensors with their constant data and quantization, its
/// operators, and the operator codes.
public struct TFLiteModelFile: Sendable {
    public enum TensorType: Int, Sendable {
        case float32 = 0, float16 = 1, int32 = 2, uint8 = 3, int64 = 4, string = 5, bool = 6, int16 = 7, int8 = 9, float64 = 10
    }

    public struct Tensor: Sendable {
        public let index: Int
        public let name: String
        public let shape: [Int]
        /// Raw TensorType value (see `type`).
        public let typeCode: Int
        public var type: TensorType? { TensorType(rawValue: typeCode) }
        /// Byte range of the constant data in the file, or nil for activations and inputs.
        public let data: Range<Int>?
        public let scales: [Float]
        public let zeroPoints: [Int64]
        public var elementCount: Int { shape.reduce(1, *) }
    }

    public struct Operator: Sendable {
        public let index: Int
        /// Effective builtin code (max of the deprecated byte and the int32 field).
        public let builtinCode: Int
        public let customCode: String?
        public let version: Int
        /// Tensor indices, −1 for an omitted optional input.
        public let inputs: [Int]
        public let outputs: [Int]
        /// FullyConnectedOptions.fused_activation_function (0 none, 1 RELU, …) where present.
        public let fusedActivation: Int
    }

    public enum Builtin {
        public static let concatenation = 2, fullyConnected = 9, logistic = 14, mul = 18, reshape = 22
        public static let softmax = 25, tanh = 28, custom = 32, split = 49, minimum = 57, add = 0
    }

    public let path: String
    /// The file's mapping; the tensors' constant data lies in it.
    public let file: MappedFile
    public var bytes: UnsafeRawBufferPointer { file.bytes }
    public let schemaVersion: Int
    public let tensors: [Tensor]
    public let operators: [Operator]
    public let inputs: [Int]
    public let outputs: [Int]

    /// Reads and validates a `.tflite` file. Anything else (a scorer, a `.pb`, audio, a
    /// truncated download) is refused with a message that says what the file is.
    public init(path: String) throws {
        // Mapped, not read: the int8 weights are used in place from the mapping
        // (`int8Buffer`), so loading copies none of them.
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
            guard exists, !isDirectory.boolValue, size == 0 else {
                throw ModelFileError(path: path, problem: !exists ? "no such file" : isDirectory.boolValue ? "it is a directory, not a model file" : "cannot read the file")
            }
            file = MappedFile(copying: [], path: path)     // empty: refused below, as what it is
        }
        var kind = ModelFileKind.sniff(file.bytes.prefix(64), fileSize: file.bytes.count)
        if kind == .unknown && path.lowercased().hasSuffix(".pbmm") { kind = .tensorFlowMemmapped }
        guard kind == .tflite else { throw ModelFileError(path: path, problem: kind.refusal) }
        do {
            try self.init(path: path, file: file)
        } catch let error as FlatBufferError {
            throw ModelFileError(path: path, problem: "damaged or truncated TensorFlow Lite file: \(error)")
        }
    }

    init(path: String, bytes: [UInt8]) throws {
        try self.init(path: path, file: MappedFile(copying: bytes, path: path))
    }

    init(path: String, file: MappedFile) throws {
        self.path = path
        self.file = file
        let reader = FlatBufferReader(file: file)
        let bytes = file.bytes
        let model = try reader.root()
        schemaVersion = Int(try model.u32(0))
        let codes = try model.tables(1).map { code -> (Int, String?, Int) in
            let deprecated = Int(try code.u8(0))
            let builtin = Int(try code.i32(3))
            return (max(deprecated, builtin), try code.string(1), Int(try code.i32(2, default: 1)))
        }
        let buffers = try model.tables(4)
        guard let subgraph = try model.tables(2).first else {
            throw FlatBufferError(offset: model.position, expected: "at least one subgraph", fileSize: bytes.count)
        }
        var tensors: [Tensor] = []
        for (i, t) in try subgraph.tables(0).enumerated() {
            let shape = try t.int32s(0).map(Int.init)
            let bufferIndex = Int(try t.u32(2))
            var range: Range<Int>? = nil
            if bufferIndex > 0 {
                guard bufferIndex < buffers.count else {
                    throw FlatBufferError(offset: t.position, expected: "buffer index < \(buffers.count) (got \(bufferIndex))", fileSize: bytes.count)
                }
                let buffer = buffers[bufferIndex]
                if let r = try buffer.vector(0, elementSize: 1), !r.isEmpty {
                    range = r
                } else {
                    // Models over 2 GB keep data after the FlatBuffer: offset (u64) and size (u64).
                    let offset = Int(clamping: try buffer.u64(1)), size = Int(clamping: try buffer.u64(2))
                    if offset > 1 && size > 0 {
                        try reader.check(offset, size, "tensor data of \(size) bytes")
                        range = offset..<(offset + size)
                    }
                }
            }
            let quantization = try t.table(4)
            tensors.append(Tensor(index: i, name: try t.string(3) ?? "", shape: shape, typeCode: Int(try t.u8(1)),
                                  data: range, scales: try quantization?.floats(2) ?? [],
                                  zeroPoints: try quantization?.int64s(3) ?? []))
        }
        var operators: [Operator] = []
        for (i, op) in try subgraph.tables(3).enumerated() {
            let codeIndex = Int(try op.u32(0))
            guard codeIndex < codes.count else {
                throw FlatBufferError(offset: op.position, expected: "operator code index < \(codes.count) (got \(codeIndex))", fileSize: bytes.count)
            }
            let inputs = try op.int32s(1).map(Int.init), outputs = try op.int32s(2).map(Int.init)
            for t in inputs + outputs where t >= tensors.count {
                throw FlatBufferError(offset: op.position, expected: "tensor index < \(tensors.count) (got \(t))", fileSize: bytes.count)
            }
            var activation = 0
            if codes[codeIndex].0 == Builtin.fullyConnected, try op.u8(3) == 8, let options = try op.table(4) {
                activation = Int(try options.u8(0))
            }
            operators.append(Operator(index: i, builtinCode: codes[codeIndex].0, customCode: codes[codeIndex].1,
                                      version: codes[codeIndex].2, inputs: inputs, outputs: outputs, fusedActivation: activation))
        }
        self.tensors = tensors
        self.operators = operators
        inputs = try subgraph.int32s(1).map(Int.init)
        outputs = try subgraph.int32s(2).map(Int.init)
    }

    public func tensor(named name: String) -> Tensor? { tensors.first { $0.name == name } }

    /// The operator that writes tensor `index`, if any.
    public func producer(of index: Int) -> Operator? { operators.first { $0.outputs.contains(index) } }

    /// Constant data of a tensor as raw bytes, in the mapping.
    public func rawData(_ tensor: Tensor) -> UnsafeRawBufferPointer {
        guard let range = tensor.data else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    /// Constant FLOAT32 data, checked against the shape.
    public func floats(_ tensor: Tensor) throws -> [Float] {
        try requireType(tensor, .float32, elementSize: 4)
        let raw = rawData(tensor)
        return (0..<tensor.elementCount).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
    }

    /// Constant INT8 data, checked against the shape (a copy).
    public func int8s(_ tensor: Tensor) throws -> [Int8] {
        Array(try int8Buffer(tensor))
    }

    /// Constant INT8 data in place in the mapping, checked against the shape: valid while
    /// `file` is alive (keep it as the owner of anything that holds on to the pointer).
    public func int8Buffer(_ tensor: Tensor) throws -> UnsafeBufferPointer<Int8> {
        try requireType(tensor, .int8, elementSize: 1)
        let raw = rawData(tensor)
        return UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: Int8.self), count: raw.count)
    }

    /// Constant INT32 data, checked against the shape.
    public func int32s(_ tensor: Tensor) throws -> [Int32] {
        try requireType(tensor, .int32, elementSize: 4)
        let raw = rawData(tensor)
        return (0..<tensor.elementCount).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
    }

    /// The first string of a STRING tensor (TFLite's layout: `i32 count`, `i32 offsets[count+1]`,
    /// then the bytes).
    public func string(_ tensor: Tensor) throws -> [UInt8] {
        guard tensor.type == .string else {
            throw ModelFileError(path: path, problem: "tensor '\(tensor.name)' should hold a string but has type code \(tensor.typeCode)")
        }
        let raw = Array(rawData(tensor))
        let reader = FlatBufferReader(bytes: raw)
        do {
            let count = Int(try reader.i32(0))
            guard count >= 1 else { return [] }
            let start = Int(try reader.i32(4)), end = Int(try reader.i32(8))
            try reader.check(start, end - start, "string bytes")
            return Array(raw[start..<end])
        } catch {
            throw ModelFileError(path: path, problem: "string tensor '\(tensor.name)' is malformed: \(error)")
        }
    }

    func requireType(_ tensor: Tensor, _ type: TensorType, elementSize: Int) throws {
        guard tensor.type == type else {
            throw ModelFileError(path: path, problem: "tensor '\(tensor.name)' has type code \(tensor.typeCode), expected \(type)")
        }
        guard let data = tensor.data, data.count == tensor.elementCount * elementSize else {
            throw ModelFileError(path: path, problem: "tensor '\(tensor.name)' of shape \(tensor.shape) has \(tensor.data?.count ?? 0) bytes of data, expected \(tensor.elementCount * elementSize)")
        }
    }
}
