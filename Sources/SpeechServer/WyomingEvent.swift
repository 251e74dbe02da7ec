import Foundation

/// One event of the Wyoming protocol (Home Assistant's voice services), as the `wyoming`
/// Python package frames it on a TCP stream:
///
///     {"type": "audio-chunk", "data": {...}, "data_length": D, "payload_length": P}\n
///     <D bytes: more JSON merged into data (protocol 1.3+)> <P bytes: binary payload>
///
/// `data` may be in the header line, in the data bytes, or both.
public struct WyomingEvent: Sendable, Equatable {
    public var type: String
    /// The event's JSON data object.
    public var data: [String: WyomingValue]
    public var payload: [UInt8]

    public init(type: String, data: [String: WyomingValue] = [:], payload: [UInt8] = []) {
        self.type = type
        self.data = data
        self.payload = payload
    }

    /// The event as bytes on the wire: header line with `data` inline, then the payload.
    public func encoded(version: String = "1.5.2") -> [UInt8] {
        let header = WyomingHeader(type: type, data: data.isEmpty ? nil : data, data_length: nil,
                                   payload_length: payload.isEmpty ? nil : payload.count, version: version)
        var bytes = (try? WyomingHeader.encoder.encode(header)).map { [UInt8]($0) } ?? []
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: payload)
        return bytes
    }
}

/// The header line of an event.
struct WyomingHeader: Codable {
    var type: String
    var data: [String: WyomingValue]?
    var data_length: Int?
    var payload_length: Int?
    var version: String?

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// A JSON value in a Wyoming event's data.
public indirect enum WyomingValue: Sendable, Equatable, Codable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([WyomingValue])
    case object([String: WyomingValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([WyomingValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: WyomingValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let s): try container.encode(s)
        case .number(let n):
            if n == n.rounded() && abs(n) < 1e15 { try container.encode(Int(n)) } else { try container.encode(n) }
        case .bool(let b): try container.encode(b)
        case .null: try container.encodeNil()
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var int: Int? {
        if case .number(let n) = self, n.isFinite, n == n.rounded(), abs(n) < 1e12 { return Int(n) }
        return nil
    }
}

/// Cuts a byte stream into ``WyomingEvent``s. Bytes arrive in any pieces; `next()` returns an
/// event once all of it is there. Limits keep a hostile peer from making the reader buffer
/// without bound: a header line over 64 KiB, data over 1 MiB or a payload over 16 MiB is an
/// error (a real audio chunk is a few KiB).
public struct WyomingEventReader: Sendable {
    public static let maxHeaderBytes = 64 << 10
    public static let maxDataBytes = 1 << 20
    public static let maxPayloadBytes = 16 << 20

    public struct FramingError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete event, or `nil` until more bytes arrive.
    public mutating func next() throws -> WyomingEvent? {
        guard let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.count - start > Self.maxHeaderBytes { throw FramingError(description: "Wyoming header line longer than \(Self.maxHeaderBytes) bytes") }
            return nil
        }
        if newline - start > Self.maxHeaderBytes { throw FramingError(description: "Wyoming header line longer than \(Self.maxHeaderBytes) bytes") }
        guard let header = try? JSONDecoder().decode(WyomingHeader.self, from: Data(buffer[start..<newline])), !header.type.isEmpty else {
            throw FramingError(description: "Wyoming header is not a JSON object with a \"type\"")
        }
        let dataLength = try Self.length(header.data_length, limit: Self.maxDataBytes, what: "data_length")
        let payloadLength = try Self.length(header.payload_length, limit: Self.maxPayloadBytes, what: "payload_length")
        let bodyStart = newline + 1
        guard buffer.count - bodyStart >= dataLength + payloadLength else { return nil }
        var data = header.data ?? [:]
        if dataLength > 0 {
            guard let extra = try? JSONDecoder().decode([String: WyomingValue].self, from: Data(buffer[bodyStart..<(bodyStart + dataLength)])) else {
                throw FramingError(description: "Wyoming event data is not a JSON object")
            }
            data.merge(extra) { _, new in new }
        }
        let payload = Array(buffer[(bodyStart + dataLength)..<(bodyStart + dataLength + payloadLength)])
        start = bodyStart + dataLength + payloadLength
        return WyomingEvent(type: header.type, data: data, payload: payload)
    }

    static func length(_ value: Int?, limit: Int, what: String) throws -> Int {
        guard let value else { return 0 }
        guard (0...limit).contains(value) else {
            throw FramingError(description: "Wyoming \(what) \(value) is outside 0...\(limit)")
        }
        return value
    }
}
