import SpeechCheckpoints

/// TensorFlow's `DataType` enum (`types.proto`), kept as its raw number so that values this
/// reader does not know survive parsing and can be named in errors.
///
/// Values above 100 are the `_REF` variants of variables in old graphs (`DT_FLOAT_REF` = 101);
/// ``base`` strips that.
public struct TensorFlowDataType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The `types.proto` number.
    public let rawValue: Int
    /// The type with that number (any number is kept, known or not).
    public init(rawValue: Int) { self.rawValue = rawValue }

    // The numbers of types.proto.
    public static let invalid = TensorFlowDataType(rawValue: 0)
    public static let float = TensorFlowDataType(rawValue: 1)
    public static let double = TensorFlowDataType(rawValue: 2)
    public static let int32 = TensorFlowDataType(rawValue: 3)
    public static let uint8 = TensorFlowDataType(rawValue: 4)
    public static let int16 = TensorFlowDataType(rawValue: 5)
    public static let int8 = TensorFlowDataType(rawValue: 6)
    public static let string = TensorFlowDataType(rawValue: 7)
    public static let complex64 = TensorFlowDataType(rawValue: 8)
    public static let int64 = TensorFlowDataType(rawValue: 9)
    public static let bool = TensorFlowDataType(rawValue: 10)
    public static let qint8 = TensorFlowDataType(rawValue: 11)
    public static let quint8 = TensorFlowDataType(rawValue: 12)
    public static let qint32 = TensorFlowDataType(rawValue: 13)
    public static let bfloat16 = TensorFlowDataType(rawValue: 14)
    public static let qint16 = TensorFlowDataType(rawValue: 15)
    public static let quint16 = TensorFlowDataType(rawValue: 16)
    public static let uint16 = TensorFlowDataType(rawValue: 17)
    public static let complex128 = TensorFlowDataType(rawValue: 18)
    public static let half = TensorFlowDataType(rawValue: 19)
    public static let resource = TensorFlowDataType(rawValue: 20)
    public static let variant = TensorFlowDataType(rawValue: 21)
    public static let uint32 = TensorFlowDataType(rawValue: 22)
    public static let uint64 = TensorFlowDataType(rawValue: 23)

    private static let names = [
        "DT_INVALID", "DT_FLOAT", "DT_DOUBLE", "DT_INT32", "DT_UINT8", "DT_INT16", "DT_INT8", "DT_STRING",
        "DT_COMPLEX64", "DT_INT64", "DT_BOOL", "DT_QINT8", "DT_QUINT8", "DT_QINT32", "DT_BFLOAT16", "DT_QINT16",
        "DT_QUINT16", "DT_UINT16", "DT_COMPLEX128", "DT_HALF", "DT_RESOURCE", "DT_VARIANT", "DT_UINT32", "DT_UINT64",
    ]

    /// Whether this is a `_REF` type (a reference to a variable, in pre-2.0 graphs).
    public var isReference: Bool { rawValue > 100 }

    /// The type without its `_REF` marker.
    public var base: TensorFlowDataType { isReference ? TensorFlowDataType(rawValue: rawValue - 100) : self }

    /// "DT_FLOAT", "DT_INT64_REF", or "DataType 77" for a number TensorFlow does not define.
    public var description: String {
        let b = base.rawValue
        guard b >= 0, b < Self.names.count else { return "DataType \(rawValue)" }
        return Self.names[b] + (isReference ? "_REF" : "")
    }

    /// The element type this reader produces for the type, or nil when it has none: complex
    /// numbers, the quantized `QINT*` types (their meaning depends on scales held elsewhere),
    /// unsigned 16/32/64-bit integers, resources and variants.
    public var checkpointDataType: CheckpointDataType? {
        switch base {
        case .float: return .float32
        case .double: return .float64
        case .half: return .float16
        case .bfloat16: return .bfloat16
        case .int8: return .int8
        case .uint8: return .uint8
        case .int16: return .int16
        case .int32: return .int32
        case .int64: return .int64
        case .bool: return .bool
        case .string: return .string
        default: return nil
        }
    }
}

/// A `TensorShapeProto`: dimension sizes outermost first, −1 for a size not known until run
/// time; `unknownRank` when even the number of dimensions is unknown.
public struct TensorShape: Sendable, Equatable, CustomStringConvertible {
    /// Sizes, outermost first (−1: unknown).
    public var dimensions: [Int64]
    /// Dimension names (empty strings when unnamed, which is almost always).
    public var dimensionNames: [String]
    /// Set when not even the number of dimensions is known.
    public var unknownRank: Bool

    /// A shape with the given sizes.
    public init(dimensions: [Int64], dimensionNames: [String]? = nil, unknownRank: Bool = false) {
        self.dimensions = dimensions
        self.dimensionNames = dimensionNames ?? Array(repeating: "", count: dimensions.count)
        self.unknownRank = unknownRank
    }

    /// The sizes when every one is known and non-negative, else nil.
    public var fullyDefined: [Int]? {
        guard !unknownRank else { return nil }
        var sizes: [Int] = []
        sizes.reserveCapacity(dimensions.count)
        for d in dimensions {
            guard d >= 0, d <= Int64(Int.max) else { return nil }
            sizes.append(Int(d))
        }
        return sizes
    }

    public var description: String {
        unknownRank ? "<unknown rank>" : "[" + dimensions.map { $0 < 0 ? "?" : String($0) }.joined(separator: ", ") + "]"
    }

    /// Parses a `TensorShapeProto` (`dim` = 2 {size = 1, name = 2}, `unknown_rank` = 3).
    static func parse(_ reader: inout ProtobufReader) throws -> TensorShape {
        var dims: [Int64] = [], names: [String] = []
        var unknownRank = false
        while let key = try reader.nextKey() {
            switch key.field {
            case 2:
                try reader.expect(key, .lengthDelimited, "TensorShapeProto.dim")
                var dim = try reader.readMessage()
                var size: Int64 = 0, name = ""
                while let k = try dim.nextKey() {
                    switch k.field {
                    case 1: try dim.expect(k, .varint, "Dim.size"); size = try dim.readInt64()
                    case 2: try dim.expect(k, .lengthDelimited, "Dim.name"); name = try dim.readString()
                    default: try dim.skip(k)
                    }
                }
                dims.append(size)
                names.append(name)
            case 3:
                try reader.expect(key, .varint, "TensorShapeProto.unknown_rank")
                unknownRank = try reader.readVarint() != 0
            default:
                try reader.skip(key)
            }
        }
        return TensorShape(dimensions: dims, dimensionNames: names, unknownRank: unknownRank)
    }
}

/// Element count and byte count of a tensor, with every multiplication checked: a shape
/// read from a damaged file must not trap on overflow. Returns nil when either overflows.
func tensorSizes(shape: [Int], byteWidth: Int) -> (elements: Int, bytes: Int)? {
    var count = 1
    for d in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        count = product
    }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: byteWidth)
    return overflow ? nil : (count, bytes)
}
