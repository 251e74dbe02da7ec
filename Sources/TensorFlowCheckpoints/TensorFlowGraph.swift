import MappedFiles
import SpeechCheckpoints

/// A TensorFlow graph file: a frozen `GraphDef` (`.pb`) or a memory-mapped graph (`.pbmm`),
/// with its constant tensors as ``CheckpointTensor``s that point into the file's mapping.
///
/// Which of the two a file is comes from its contents, not its name: a memory-mapped graph
/// ends with the offset of a directory that names the `memmapped_package://.` GraphDef
/// region (see ``MemmappedDirectory``); anything else is parsed as a GraphDef. A file that is
/// neither is refused with both reasons.
///
/// Weights are `Const` nodes whose `value` attribute is a TensorProto. Large ones keep their
/// bytes in `tensor_content` (returned as a slice of the mapping, no copy); small ones use
/// the typed lists (`float_val`, `int_val`, …), where a list shorter than the shape repeats
/// its last value (a Const of zeros is often stored as one `0.0`) and an empty list means
/// zeros. In a memory-mapped graph, constants of at least 10 000 bytes (the converter's
/// default) became `ImmutableConst` nodes (attributes `dtype`, `shape`,
/// `memory_region_name`) whose bytes are a region of the file; smaller ones stay `Const`.
///
/// Every problem throws ``ModelFileError`` naming the file and what is wrong; no input
/// traps.
public struct TensorFlowGraph: Sendable {
    /// Which kind of graph file this is.
    public enum Format: Sendable, Equatable {
        /// A serialized `GraphDef` (`.pb`, as freeze_graph writes).
        case frozenGraph
        /// A memory-mapped graph (`.pbmm`, as convert_graphdef_memmapped_format writes).
        case memmapped(MemmappedDirectory)
    }

    /// The file read.
    public let path: String
    /// The file's bytes, which the returned tensors point into.
    public let file: MappedFile
    /// A frozen or a memory-mapped graph.
    public let format: Format
    /// The GraphDef's nodes, in file order.
    public let nodes: [Node]
    /// `versions.producer` of the GraphDef: the TensorFlow graph version that wrote it (nil
    /// when the graph has no `versions`, as in very old files).
    public let producerVersion: Int?
    /// `versions.min_consumer` (nil when the graph has no `versions`).
    public let minConsumerVersion: Int?
    private let indexByName: [String: Int]

    /// Most bytes a constant stored as a short typed list may expand to (256 MiB): protects
    /// against a damaged shape asking to repeat one value billions of times. Real graphs keep
    /// large constants in `tensor_content`, which is never expanded.
    public static let maximumExpandedConstantBytes = 256 << 20

    /// Maps and parses the graph at `path`.
    public init(path: String) throws {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch let error as MappedFileError {
            throw ModelFileError(path: path, problem: error.problem)
        }
        try self.init(file: file)
    }

    /// Parses graph bytes built in memory (`path` names them in errors and tensors).
    public init(bytes: [UInt8], path: String = "<memory>") throws {
        try self.init(file: MappedFile(copying: bytes, path: path))
    }

    /// Parses the graph held by `file`.
    public init(file: MappedFile) throws {
        self.path = file.path
        self.file = file
        let contents: GraphDefContents
        switch try MemmappedDirectory.read(file) {
        case .success(let directory):
            format = .memmapped(directory)
            var reader = try ProtobufReader(file: file, range: directory.graph.offset..<(directory.graph.offset + directory.graph.length))
            do { contents = try GraphDefContents.parse(&reader) } catch let error as ModelFileError {
                throw ModelFileError(path: file.path, problem: "damaged GraphDef region of the memory-mapped graph: \(error.problem)")
            }
        case .failure(let notMemmapped):
            format = .frozenGraph
            do {
                var reader = try ProtobufReader(file: file)
                contents = try GraphDefContents.parse(&reader)
                if contents.nodes.isEmpty {
                    throw ModelFileError(path: file.path, problem: "it holds no nodes")
                }
            } catch let error as ModelFileError {
                throw ModelFileError(path: file.path, problem: "is neither a frozen TensorFlow GraphDef (\(error.problem)) nor a memory-mapped graph (\(notMemmapped.problem))")
            }
        }
        var index: [String: Int] = [:]
        for (i, node) in contents.nodes.enumerated() {
            guard !node.name.isEmpty else { throw ModelFileError(path: file.path, problem: "node \(i) has no name") }
            guard !node.op.isEmpty else { throw ModelFileError(path: file.path, problem: "node '\(node.name)' has no op") }
            guard index.updateValue(i, forKey: node.name) == nil else {
                throw ModelFileError(path: file.path, problem: "two nodes are named '\(node.name)'")
            }
        }
        nodes = contents.nodes
        producerVersion = contents.producer
        minConsumerVersion = contents.minConsumer
        indexByName = index
    }

    /// The memory-mapped directory, for a `.pbmm` file.
    public var directory: MemmappedDirectory? {
        if case .memmapped(let directory) = format { return directory }
        return nil
    }

    /// The node called `name`, if any.
    public func node(named name: String) -> Node? { indexByName[name].map { nodes[$0] } }

    /// Whether the file is a memory-mapped graph (`.pbmm`).
    public var isMemmapped: Bool { directory != nil }

    /// The `Const` and `ImmutableConst` nodes, in graph order.
    public var constantNodes: [Node] { nodes.filter(\.isConstant) }

    /// The tensors of every constant node, in graph order (see ``constant(named:)``; throws
    /// at the first one that cannot be read).
    public func constants() throws -> [CheckpointTensor] {
        try constantNodes.map { try constant(of: $0) }
    }

    // MARK: - Constants

    private func failure(_ problem: String) -> ModelFileError { ModelFileError(path: path, problem: problem) }

    /// The tensor of the constant node `name`: nil when the graph has no such node; throws
    /// when the node is not a constant or its tensor cannot be read (unsupported dtype,
    /// unknown shape, bytes that do not match the shape, a region outside the file).
    ///
    /// `DT_STRING` constants are returned only when they hold one string (the case of
    /// DeepSpeech's `metadata_alphabet`), as a `.string` tensor whose bytes are that string;
    /// use ``stringConstant(named:)`` for string lists.
    public func constant(named name: String) throws -> CheckpointTensor? {
        guard let node = node(named: name) else { return nil }
        return try constant(of: node)
    }

    /// The tensor of a constant node (see ``constant(named:)``).
    public func constant(of node: Node) throws -> CheckpointTensor {
        switch node.op {
        case "Const":
            guard let value = node.attrs["value"]?.tensorValue else {
                throw failure("Const node '\(node.name)' has no tensor 'value' attribute")
            }
            let declared = node.attrs["dtype"]?.dataType
            if let declared, value.dataType != .invalid, declared.base != value.dataType.base {
                throw failure("Const node '\(node.name)' declares dtype \(declared) but its value is \(value.dataType)")
            }
            return try tensor(from: value, name: node.name, dataType: value.dataType == .invalid ? (declared ?? .invalid) : value.dataType)
        case "ImmutableConst":
            return try immutableConstant(node)
        default:
            throw failure("node '\(node.name)' is a \(node.op) node, not a constant")
        }
    }

    /// Every string of a `DT_STRING` `Const` node (the list repeated to the shape's element
    /// count), nil when there is no node `name`.
    public func stringConstant(named name: String) throws -> [[UInt8]]? {
        guard let node = node(named: name) else { return nil }
        guard node.op == "Const", let value = node.attrs["value"]?.tensorValue else {
            throw failure("node '\(name)' is not a Const node with a tensor value")
        }
        guard value.dataType.base == .string else {
            throw failure("Const node '\(name)' is \(value.dataType), not DT_STRING")
        }
        let count = try elementCount(value.shape, node: name, byteWidth: 1)
        guard value.stringRanges.count <= count else {
            throw failure("Const node '\(name)' holds \(value.stringRanges.count) strings for shape \(value.shape)")
        }
        guard let last = value.stringRanges.last else { return Array(repeating: [], count: count) }
        let storedBytes = value.stringRanges.reduce(0) { $0 + $1.count }
        let (repeated, overflow) = (count - value.stringRanges.count).multipliedReportingOverflow(by: last.count + 16)
        guard !overflow, repeated <= Self.maximumExpandedConstantBytes - storedBytes else {
            throw failure("Const node '\(name)' would expand \(value.stringRanges.count) strings to \(count)")
        }
        return (0..<count).map { [UInt8](file.bytes[$0 < value.stringRanges.count ? value.stringRanges[$0] : last]) }
    }

    private func elementCount(_ shape: TensorShape, node: String, byteWidth: Int) throws -> Int {
        guard let dims = shape.fullyDefined else {
            throw failure("constant '\(node)' has shape \(shape), which is not fully defined")
        }
        guard let sizes = tensorSizes(shape: dims, byteWidth: byteWidth) else {
            throw failure("constant '\(node)' has shape \(shape), whose size overflows")
        }
        return sizes.elements
    }

    private func supported(_ dataType: TensorFlowDataType, node: String) throws -> CheckpointDataType {
        guard let type = dataType.checkpointDataType else {
            throw failure("constant '\(node)' has dtype \(dataType) (DataType \(dataType.rawValue)), which is not supported")
        }
        return type
    }

    /// The tensor held by a TensorProto that belongs to node `name`.
    func tensor(from value: TensorValue, name: String, dataType: TensorFlowDataType) throws -> CheckpointTensor {
        let type = try supported(dataType, node: name)
        guard let shape = value.shape.fullyDefined else {
            throw failure("constant '\(name)' has shape \(value.shape), which is not fully defined")
        }
        if type == .string {
            let count = try elementCount(value.shape, node: name, byteWidth: 1)
            guard value.stringRanges.count <= count else {
                throw failure("constant '\(name)' holds \(value.stringRanges.count) strings for shape \(value.shape)")
            }
            switch count {
            case 0: return CheckpointTensor(name: name, dataType: .string, shape: shape, bytes: [])
            case 1:
                let range = value.stringRanges.last ?? 0..<0
                return CheckpointTensor(name: name, dataType: .string, shape: shape, storage: file, byteRange: range)
            default:
                throw failure("constant '\(name)' holds \(count) strings; only single-string constants are returned as tensors (use stringConstant(named:))")
            }
        }
        let width = type.byteWidth ?? 1
        guard let sizes = tensorSizes(shape: shape, byteWidth: width) else {
            throw failure("constant '\(name)' has shape \(shape), whose byte size overflows")
        }
        if let content = value.contentRange {
            guard content.count == sizes.bytes else {
                throw failure("constant '\(name)' has \(content.count) bytes of tensor_content, but shape \(shape) of \(dataType) needs \(sizes.bytes)")
            }
            return CheckpointTensor(name: name, dataType: type, shape: shape, storage: file, byteRange: content)
        }
        let bytes = try expandValues(value, type: type, name: name, count: sizes.elements, byteCount: sizes.bytes)
        return CheckpointTensor(name: name, dataType: type, shape: shape, bytes: bytes)
    }

    /// Decodes the typed value list that goes with `type` into `count` little-endian elements,
    /// repeating the last value (or zeros for an empty list).
    private func expandValues(_ value: TensorValue, type: CheckpointDataType, name: String, count: Int, byteCount: Int) throws -> [UInt8] {
        let field: Int
        switch type {
        case .float32: field = 5
        case .float64: field = 6
        case .int8, .uint8, .int16, .int32: field = 7
        case .int64: field = 10
        case .bool: field = 11
        case .float16, .bfloat16: field = 13
        case .string: field = 8
        }
        var bits: [UInt64] = []
        for occurrence in value.valueFields where occurrence.field == field {
            var reader = try ProtobufReader(file: file, range: occurrence.range)
            let isFloat = type == .float32, isDouble = type == .float64
            func element() throws -> UInt64 {
                switch occurrence.wireType {
                case .fixed32 where isFloat: return UInt64(try reader.readFixed32())
                case .fixed64 where isDouble: return try reader.readFixed64()
                case .varint where !isFloat && !isDouble: return try reader.readVarint()
                case .lengthDelimited:
                    // A packed run: the element encoding follows from the type.
                    return isFloat ? UInt64(try reader.readFixed32()) : isDouble ? try reader.readFixed64() : try reader.readVarint()
                default:
                    throw failure("constant '\(name)' stores its values with wire type \(occurrence.wireType.rawValue), which does not fit \(type.rawValue)")
                }
            }
            while !reader.isAtEnd {
                guard bits.count < count else {
                    throw failure("constant '\(name)' holds more values than its shape's \(count) elements")
                }
                bits.append(try element())
            }
        }
        guard byteCount <= Self.maximumExpandedConstantBytes else {
            throw failure("constant '\(name)' would expand \(bits.count) stored values to \(byteCount) bytes, more than the \(Self.maximumExpandedConstantBytes) allowed")
        }
        let width = type.byteWidth ?? 1
        guard let last = bits.last else { return [UInt8](repeating: 0, count: byteCount) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        func append(_ value: UInt64) {
            let v = type == .bool ? (value != 0 ? 1 : 0) : value
            for b in 0..<width { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * b))) }
        }
        for v in bits { append(v) }
        // Repeat the last value by doubling the repeated run (a few block copies, not one
        // store per element: a zero-filled Const can have millions of elements).
        if bits.count < count {
            let runStart = bytes.count
            append(last)
            while bytes.count < byteCount {
                let available = bytes.count - runStart
                bytes.append(contentsOf: bytes[runStart..<(runStart + min(available, byteCount - bytes.count))])
            }
        }
        return bytes
    }

    /// The region behind an `ImmutableConst` node of a memory-mapped graph.
    private func immutableConstant(_ node: Node) throws -> CheckpointTensor {
        guard let directory else {
            throw failure("ImmutableConst node '\(node.name)' in a graph that is not memory-mapped")
        }
        guard let dataType = node.attrs["dtype"]?.dataType else {
            throw failure("ImmutableConst node '\(node.name)' has no 'dtype' attribute")
        }
        guard let shapeValue = node.attrs["shape"]?.shapeValue else {
            throw failure("ImmutableConst node '\(node.name)' has no 'shape' attribute")
        }
        guard let regionName = node.attrs["memory_region_name"]?.string else {
            throw failure("ImmutableConst node '\(node.name)' has no 'memory_region_name' attribute")
        }
        let type = try supported(dataType, node: node.name)
        guard let width = type.byteWidth else {
            throw failure("ImmutableConst node '\(node.name)' is \(dataType), which cannot be memory-mapped")
        }
        guard let shape = shapeValue.fullyDefined else {
            throw failure("ImmutableConst node '\(node.name)' has shape \(shapeValue), which is not fully defined")
        }
        guard let sizes = tensorSizes(shape: shape, byteWidth: width) else {
            throw failure("ImmutableConst node '\(node.name)' has shape \(shape), whose byte size overflows")
        }
        guard let region = directory.region(named: regionName) else {
            throw failure("ImmutableConst node '\(node.name)' names memory region '\(regionName)', which the directory does not list")
        }
        guard region.length >= sizes.bytes else {
            throw failure("tensor '\(node.name)' needs \(sizes.bytes) bytes for shape \(shape) of \(dataType) but its region '\(regionName)' holds \(region.length)")
        }
        // MemmappedDirectory.read checked that every region lies inside the file.
        return CheckpointTensor(name: node.name, dataType: type, shape: shape, storage: file,
                                byteRange: region.offset..<(region.offset + sizes.bytes))
    }
}
