import MappedFiles

/// Element types a checkpoint tensor can have, whatever format it came from.
public enum CheckpointDataType: String, Sendable, Codable, CaseIterable {
    case float16, bfloat16, float32, float64
    case int8, uint8, int16, int32, int64, bool
    /// Variable-length byte strings (TensorFlow `DT_STRING`); not a fixed-width type.
    case string

    /// Bytes per element, or nil for `.string`.
    public var byteWidth: Int? {
        switch self {
        case .int8, .uint8, .bool: return 1
        case .float16, .bfloat16, .int16: return 2
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        case .string: return nil
        }
    }
}

/// One named tensor read from a model file: its element type, shape and little-endian,
/// row-major bytes. The bytes live in `storage` (usually the memory mapping of the file
/// itself, so reading a tensor copies nothing until ``floats()`` is called).
public struct CheckpointTensor: Sendable {
    public let name: String
    public let dataType: CheckpointDataType
    /// Dimensions, outermost first; `[]` for a scalar.
    public let shape: [Int]
    /// Holds the bytes alive (a mapped file, or bytes decoded in memory).
    public let storage: MappedFile
    /// Where the tensor's bytes are inside `storage.bytes`.
    public let byteRange: Range<Int>

    public init(name: String, dataType: CheckpointDataType, shape: [Int], storage: MappedFile, byteRange: Range<Int>) {
        self.name = name
        self.dataType = dataType
        self.shape = shape
        self.storage = storage
        self.byteRange = byteRange
    }

    /// A tensor whose bytes were decoded in memory (packed protobuf values, say).
    public init(name: String, dataType: CheckpointDataType, shape: [Int], bytes: [UInt8]) {
        self.init(name: name, dataType: dataType, shape: shape, storage: MappedFile(copying: bytes, path: name),
                  byteRange: 0..<bytes.count)
    }

    public var elementCount: Int { shape.reduce(1, *) }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage.bytes[byteRange]) }

    /// The values as float32, converted from float16, bfloat16 or float64 when stored so.
    /// Throws (naming the tensor) for integer or string tensors and for a byte count that
    /// does not match the shape.
    public func floats() throws -> [Float] {
        let n = elementCount
        guard let width = dataType.byteWidth, byteRange.count == n * width else {
            throw CheckpointError.malformed(tensor: name, problem: "holds \(byteRange.count) bytes, but shape \(shape) of \(dataType.rawValue) needs \(dataType.byteWidth.map { String(n * $0) } ?? "fixed-width values")")
        }
        let raw = bytes
        switch dataType {
        case .float32:
            return (0..<n).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) }
        case .float64:
            return (0..<n).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian)) }
        case .float16:
            return (0..<n).map { Float(halfBits: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) }
        case .bfloat16:
            return (0..<n).map { Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) << 16) }
        default:
            throw CheckpointError.malformed(tensor: name, problem: "is \(dataType.rawValue), expected floating-point weights")
        }
    }

    /// The values as Int64, for integer tensors (int8 … int64, uint8, bool).
    public func integers() throws -> [Int64] {
        let n = elementCount
        guard let width = dataType.byteWidth, byteRange.count == n * width else {
            throw CheckpointError.malformed(tensor: name, problem: "holds \(byteRange.count) bytes, which does not match shape \(shape)")
        }
        let raw = bytes
        switch dataType {
        case .int8: return (0..<n).map { Int64(raw.load(fromByteOffset: $0, as: Int8.self)) }
        case .uint8, .bool: return (0..<n).map { Int64(raw[$0]) }
        case .int16: return (0..<n).map { Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
        case .int32: return (0..<n).map { Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        case .int64: return (0..<n).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        default: throw CheckpointError.malformed(tensor: name, problem: "is \(dataType.rawValue), expected integers")
        }
    }
}

/// Why a checkpoint's contents cannot be used. The importers wrap these in a
/// ``ModelFileError`` that names the file.
public enum CheckpointError: Error, CustomStringConvertible, Sendable {
    case malformed(tensor: String, problem: String)
    case missingTensor(String)
    case shapeMismatch(tensor: String, found: [Int], expected: [Int])

    public var description: String {
        switch self {
        case .malformed(let tensor, let problem): return "tensor '\(tensor)' \(problem)"
        case .missingTensor(let name): return "missing tensor '\(name)'"
        case .shapeMismatch(let tensor, let found, let expected): return "tensor '\(tensor)' has shape \(found), expected \(expected)"
        }
    }
}

extension Float {
    /// IEEE 754 half precision to single (exact for every half value, NaNs kept as NaN).
    public init(halfBits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa · 2^-24.
            let magnitude = Float(mantissa) * 0x1p-24
            self = sign == 0 ? magnitude : -magnitude
        } else if exponent == 31 {
            self = Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        } else {
            self = Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
        }
    }
}
