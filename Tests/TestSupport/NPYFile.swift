import Foundation

/// Reads NumPy `.npy` files (format 1.0/2.0/3.0, little-endian float32, float64 or int32,
/// C order): the reference tensors that `Fixtures/` scripts record from TensorFlow and LiteRT.
public struct NPYFile: Sendable {
    public let shape: [Int]
    /// The values converted to Float, row-major.
    public let values: [Float]

    public enum Failure: Error, CustomStringConvertible {
        case malformed(String, String)
        public var description: String {
            switch self { case .malformed(let path, let why): return "\(path): not a readable .npy file (\(why))" }
        }
    }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure.malformed(path, "missing") }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, String(decoding: bytes[1..<6], as: UTF8.self) == "NUMPY" else {
            throw Failure.malformed(path, "bad magic")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        } else {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24; headerStart = 12
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard !header.contains("'fortran_order': True") else { throw Failure.malformed(path, "Fortran order") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw Failure.malformed(path, "no shape")
        }
        shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let body = headerStart + headerLength
        func load<T>(_ type: T.Type, _ convert: (T) -> Float) throws -> [Float] {
            let size = MemoryLayout<T>.size
            guard bytes.count >= body + count * size else { throw Failure.malformed(path, "truncated") }
            return bytes[body..<(body + count * size)].withUnsafeBytes { raw in
                (0..<count).map { convert(raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
            }
        }
        if header.contains("'<f4'") { values = try load(Float.self) { $0 } }
        else if header.contains("'<f8'") { values = try load(Double.self) { Float($0) } }
        else if header.contains("'<i4'") { values = try load(Int32.self) { Float($0) } }
        else { throw Failure.malformed(path, "unsupported dtype in \(header)") }
    }
}
