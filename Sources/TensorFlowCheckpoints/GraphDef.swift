import MappedFiles
import SpeechCheckpoints

// The messages of a TensorFlow `GraphDef` that a weight importer needs, parsed with
// ``ProtobufReader``. Field numbers (graph.proto, node_def.proto, attr_value.proto,
// tensor.proto, versions.proto):
//   GraphDef     node = 1, library = 2 (skipped), version = 3 (deprecated), versions = 4
//   VersionDef   producer = 1, min_consumer = 2, bad_consumers = 3
//   NodeDef      name = 1, op = 2, input = 3, device = 4, attr = 5 (map entries {key = 1, value = 2})
//   AttrValue    list = 1, s = 2, i = 3, f = 4, b = 5, type = 6, shape = 7, tensor = 8,
//                placeholder = 9, func = 10 (a oneof: the last one present wins)
//   ListValue    s = 2, i = 3, f = 4, b = 5, type = 6, shape = 7, tensor = 8, func = 9
//   NameAttrList name = 1, attr = 2
//   TensorProto  dtype = 1, tensor_shape = 2, version_number = 3, tensor_content = 4,
//                float_val = 5, double_val = 6, int_val = 7, string_val = 8, int64_val = 10,
//                bool_val = 11, half_val = 13 (and complex, resource, variant, uint32/64 values)
// Unknown fields are skipped, as protobuf requires, so graphs from newer TensorFlow versions
// (experimental_debug_info, experimental_type, …) still read.

/// One attribute value of a node (`AttrValue`, a oneof). The proto field names are in the
/// case comments.
public enum AttrValue: Sendable {
    /// `list`: lists of every kind (usually only one of them is non-empty).
    case list(AttrList)
    /// `s`: bytes, usually text (a padding mode, a memory region name).
    case bytes([UInt8])
    /// `i`
    case int(Int64)
    /// `f`
    case float(Float)
    /// `b`
    case bool(Bool)
    /// `type`: a DataType.
    case type(TensorFlowDataType)
    /// `shape`
    case shape(TensorShape)
    /// `tensor`: a TensorProto, whose values stay in the file until asked for.
    case tensor(TensorValue)
    /// `func`: a function name with its own attributes.
    case function(NameAttrList)
    /// `placeholder`: the name of a function attribute to substitute.
    case placeholder(String)
    /// An AttrValue with no field set.
    case empty

    /// The `s` value as text, if this is one.
    public var string: String? {
        if case .bytes(let b) = self { return String(decoding: b, as: UTF8.self) }
        return nil
    }
    /// The payload when the value is of that kind, else nil (likewise below).
    public var intValue: Int64? { if case .int(let v) = self { return v }; return nil }
    public var floatValue: Float? { if case .float(let v) = self { return v }; return nil }
    public var boolValue: Bool? { if case .bool(let v) = self { return v }; return nil }
    public var dataType: TensorFlowDataType? { if case .type(let v) = self { return v }; return nil }
    public var shapeValue: TensorShape? { if case .shape(let v) = self { return v }; return nil }
    public var tensorValue: TensorValue? { if case .tensor(let v) = self { return v }; return nil }
}

/// `AttrValue.ListValue`.
public struct AttrList: Sendable {
    /// `s` (bytes, usually text), `i`, `f`, `b`, `type`, `shape`, `tensor` and `func` lists.
    public var bytes: [[UInt8]] = []
    public var ints: [Int64] = []
    public var floats: [Float] = []
    public var bools: [Bool] = []
    public var types: [TensorFlowDataType] = []
    public var shapes: [TensorShape] = []
    public var tensors: [TensorValue] = []
    public var functions: [NameAttrList] = []
    public init() {}
}

/// `NameAttrList`: a function reference with its attributes.
public struct NameAttrList: Sendable {
    /// The function's name.
    public var name: String
    /// The function's attributes (`attr` = 2).
    public var attrs: [String: AttrValue]
}

/// A `TensorProto` as found in a graph: its type and shape, and where its values are in the
/// file. Nothing is decoded or copied until ``TensorFlowGraph/constant(named:)`` asks.
public struct TensorValue: Sendable {
    /// A repeated value field (`float_val`, `int_val`, …) occurrence: its field number, wire
    /// type and the bytes holding it (a packed run, or one unpacked scalar).
    struct ValueField: Sendable {
        let field: Int
        let wireType: ProtobufReader.WireType
        let range: Range<Int>
    }

    /// `dtype`; `.invalid` when absent (the node's `dtype` attribute then says).
    public let dataType: TensorFlowDataType
    /// `tensor_shape`.
    public let shape: TensorShape
    /// `version_number` (0 in every graph written since 2016).
    public let versionNumber: Int
    /// Where `tensor_content` (raw little-endian row-major bytes) is inside the file; nil
    /// when the field is absent or empty (the values are then in the typed lists).
    public let contentRange: Range<Int>?
    /// Where each `string_val` entry is inside the file.
    public let stringRanges: [Range<Int>]
    let valueFields: [ValueField]

    static func parse(_ reader: inout ProtobufReader) throws -> TensorValue {
        var dataType = TensorFlowDataType.invalid, shape = TensorShape(dimensions: []), version = 0
        var content: Range<Int>? = nil
        var strings: [Range<Int>] = [], fields: [ValueField] = []
        while let key = try reader.nextKey() {
            switch key.field {
            case 1:
                try reader.expect(key, .varint, "TensorProto.dtype")
                dataType = TensorFlowDataType(rawValue: Int(try reader.readInt32()))
            case 2:
                try reader.expect(key, .lengthDelimited, "TensorProto.tensor_shape")
                var sub = try reader.readMessage()
                shape = try TensorShape.parse(&sub)
            case 3:
                try reader.expect(key, .varint, "TensorProto.version_number")
                version = Int(try reader.readInt32())
            case 4:
                try reader.expect(key, .lengthDelimited, "TensorProto.tensor_content")
                let r = try reader.readLengthDelimited()
                content = r.isEmpty ? nil : r
            case 8:
                try reader.expect(key, .lengthDelimited, "TensorProto.string_val")
                strings.append(try reader.readLengthDelimited())
            case 5, 6, 7, 10, 11, 13:
                // A packed run keeps only its payload; an unpacked value keeps its own bytes.
                let range: Range<Int>
                if key.wireType == .lengthDelimited {
                    range = try reader.readLengthDelimited()
                } else {
                    let start = reader.position
                    try reader.skip(key)
                    range = start..<reader.position
                }
                fields.append(ValueField(field: key.field, wireType: key.wireType, range: range))
            default:
                try reader.skip(key)
            }
        }
        return TensorValue(dataType: dataType, shape: shape, versionNumber: version, contentRange: content,
                           stringRanges: strings, valueFields: fields)
    }
}

/// One node of the graph.
public struct Node: Sendable {
    /// The node's unique name (also the tensor name of its first output).
    public let name: String
    /// The operation type (`Const`, `MatMul`, …).
    public let op: String
    /// "node", "node:k" (output k) or "^node" (a control dependency).
    public let inputs: [String]
    /// The requested device (empty in frozen graphs as usually exported).
    public let device: String
    /// The attributes by name.
    public let attrs: [String: AttrValue]

    /// A node with the given fields.
    public init(name: String, op: String, inputs: [String], device: String, attrs: [String: AttrValue]) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.device = device
        self.attrs = attrs
    }

    /// Whether the node holds a constant this reader can return (`Const`, or `ImmutableConst`
    /// in a memory-mapped graph).
    public var isConstant: Bool { op == "Const" || op == "ImmutableConst" }
}

/// The parsed contents of a `GraphDef` message.
struct GraphDefContents: Sendable {
    var nodes: [Node] = []
    var producer: Int? = nil
    var minConsumer: Int? = nil

    static func parse(_ reader: inout ProtobufReader) throws -> GraphDefContents {
        var graph = GraphDefContents()
        while let key = try reader.nextKey() {
            switch key.field {
            case 1:
                try reader.expect(key, .lengthDelimited, "GraphDef.node")
                var sub = try reader.readMessage()
                graph.nodes.append(try parseNode(&sub))
            case 4:
                try reader.expect(key, .lengthDelimited, "GraphDef.versions")
                var sub = try reader.readMessage()
                var producer = 0, minConsumer = 0
                while let k = try sub.nextKey() {
                    switch k.field {
                    case 1: try sub.expect(k, .varint, "VersionDef.producer"); producer = Int(try sub.readInt32())
                    case 2: try sub.expect(k, .varint, "VersionDef.min_consumer"); minConsumer = Int(try sub.readInt32())
                    default: try sub.skip(k)
                    }
                }
                graph.producer = producer
                graph.minConsumer = minConsumer
            default:
                // library (2), the deprecated version (3), debug_info (5) and newer fields.
                try reader.skip(key)
            }
        }
        return graph
    }

    static func parseNode(_ reader: inout ProtobufReader) throws -> Node {
        var name = "", op = "", device = ""
        var inputs: [String] = []
        var attrs: [String: AttrValue] = [:]
        while let key = try reader.nextKey() {
            switch key.field {
            case 1: try reader.expect(key, .lengthDelimited, "NodeDef.name"); name = try reader.readString()
            case 2: try reader.expect(key, .lengthDelimited, "NodeDef.op"); op = try reader.readString()
            case 3: try reader.expect(key, .lengthDelimited, "NodeDef.input"); inputs.append(try reader.readString())
            case 4: try reader.expect(key, .lengthDelimited, "NodeDef.device"); device = try reader.readString()
            case 5:
                try reader.expect(key, .lengthDelimited, "NodeDef.attr")
                var entry = try reader.readMessage()
                let (k, v) = try parseAttrEntry(&entry)
                attrs[k] = v
            default: try reader.skip(key)
            }
        }
        return Node(name: name, op: op, inputs: inputs, device: device, attrs: attrs)
    }

    /// A `map<string, AttrValue>` entry: key = 1, value = 2.
    static func parseAttrEntry(_ reader: inout ProtobufReader) throws -> (String, AttrValue) {
        var key = "", value = AttrValue.empty
        while let k = try reader.nextKey() {
            switch k.field {
            case 1: try reader.expect(k, .lengthDelimited, "attr key"); key = try reader.readString()
            case 2:
                try reader.expect(k, .lengthDelimited, "attr value")
                var sub = try reader.readMessage()
                value = try parseAttrValue(&sub)
            default: try reader.skip(k)
            }
        }
        return (key, value)
    }

    static func parseAttrValue(_ reader: inout ProtobufReader) throws -> AttrValue {
        var value = AttrValue.empty
        while let key = try reader.nextKey() {
            switch key.field {
            case 1:
                try reader.expect(key, .lengthDelimited, "AttrValue.list")
                var sub = try reader.readMessage()
                value = .list(try parseList(&sub))
            case 2: try reader.expect(key, .lengthDelimited, "AttrValue.s"); value = .bytes(try reader.readBytes())
            case 3: try reader.expect(key, .varint, "AttrValue.i"); value = .int(try reader.readInt64())
            case 4: try reader.expect(key, .fixed32, "AttrValue.f"); value = .float(try reader.readFloat())
            case 5: try reader.expect(key, .varint, "AttrValue.b"); value = .bool(try reader.readVarint() != 0)
            case 6:
                try reader.expect(key, .varint, "AttrValue.type")
                value = .type(TensorFlowDataType(rawValue: Int(try reader.readInt32())))
            case 7:
                try reader.expect(key, .lengthDelimited, "AttrValue.shape")
                var sub = try reader.readMessage()
                value = .shape(try TensorShape.parse(&sub))
            case 8:
                try reader.expect(key, .lengthDelimited, "AttrValue.tensor")
                var sub = try reader.readMessage()
                value = .tensor(try TensorValue.parse(&sub))
            case 9: try reader.expect(key, .lengthDelimited, "AttrValue.placeholder"); value = .placeholder(try reader.readString())
            case 10:
                try reader.expect(key, .lengthDelimited, "AttrValue.func")
                var sub = try reader.readMessage()
                value = .function(try parseNameAttrList(&sub))
            default: try reader.skip(key)
            }
        }
        return value
    }

    static func parseNameAttrList(_ reader: inout ProtobufReader) throws -> NameAttrList {
        var list = NameAttrList(name: "", attrs: [:])
        while let key = try reader.nextKey() {
            switch key.field {
            case 1: try reader.expect(key, .lengthDelimited, "NameAttrList.name"); list.name = try reader.readString()
            case 2:
                try reader.expect(key, .lengthDelimited, "NameAttrList.attr")
                var entry = try reader.readMessage()
                let (k, v) = try parseAttrEntry(&entry)
                list.attrs[k] = v
            default: try reader.skip(key)
            }
        }
        return list
    }

    static func parseList(_ reader: inout ProtobufReader) throws -> AttrList {
        var list = AttrList()
        var varints: [UInt64] = [], fixed: [UInt32] = []
        while let key = try reader.nextKey() {
            switch key.field {
            case 2: try reader.expect(key, .lengthDelimited, "ListValue.s"); list.bytes.append(try reader.readBytes())
            case 3:
                varints.removeAll(keepingCapacity: true)
                try reader.readRepeatedVarints(key, into: &varints)
                list.ints += varints.map { Int64(bitPattern: $0) }
            case 4:
                fixed.removeAll(keepingCapacity: true)
                try reader.readRepeatedFixed32(key, into: &fixed)
                list.floats += fixed.map { Float(bitPattern: $0) }
            case 5:
                varints.removeAll(keepingCapacity: true)
                try reader.readRepeatedVarints(key, into: &varints)
                list.bools += varints.map { $0 != 0 }
            case 6:
                varints.removeAll(keepingCapacity: true)
                try reader.readRepeatedVarints(key, into: &varints)
                list.types += varints.map { TensorFlowDataType(rawValue: Int(Int32(truncatingIfNeeded: $0))) }
            case 7:
                try reader.expect(key, .lengthDelimited, "ListValue.shape")
                var sub = try reader.readMessage()
                list.shapes.append(try TensorShape.parse(&sub))
            case 8:
                try reader.expect(key, .lengthDelimited, "ListValue.tensor")
                var sub = try reader.readMessage()
                list.tensors.append(try TensorValue.parse(&sub))
            case 9:
                try reader.expect(key, .lengthDelimited, "ListValue.func")
                var sub = try reader.readMessage()
                list.functions.append(try parseNameAttrList(&sub))
            default: try reader.skip(key)
            }
        }
        return list
    }
}
