/// CRC-32C (Castagnoli), the checksum of TensorFlow's checkpoint index blocks and tensor
/// data: the reflected CRC with polynomial 0x1EDC6F41 (0x82F63B78 bit-reversed), initial
/// value and final XOR 0xFFFFFFFF. `CRC32C.checksum(of: "123456789")` is 0xE3069283.
///
/// Computed eight bytes at a time with eight 256-entry tables ("slicing by 8"): table 0 is
/// the ordinary byte-at-a-time table, and table k gives the effect of a byte followed by k
/// zero bytes, so eight table look-ups advance the CRC over eight input bytes.
///
/// Stored checksums are *masked* (rotated right by 15 bits, plus 0xA282EAD8) so that a CRC
/// of data that itself contains CRCs stays informative; ``mask(_:)`` and ``unmask(_:)``.
public enum CRC32C {
    static let tables: [[UInt32]] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            tables[0][byte] = crc
        }
        for k in 1..<8 {
            for byte in 0..<256 {
                let previous = tables[k - 1][byte]
                tables[k][byte] = (previous >> 8) ^ tables[0][Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// Continues `crc` (a finished checksum of earlier bytes, 0 for none) over `bytes`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var state = ~crc
        let count = bytes.count
        guard count > 0 else { return crc }
        tables.withUnsafeBufferPointer { all in
            let t0 = all[0], t1 = all[1], t2 = all[2], t3 = all[3], t4 = all[4], t5 = all[5], t6 = all[6], t7 = all[7]
            var i = 0
            while count - i >= 8 {
                let low = state ^ (UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
                let high = UInt32(bytes[i + 4]) | UInt32(bytes[i + 5]) << 8 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 24
                state = t7[Int(low & 0xFF)] ^ t6[Int((low >> 8) & 0xFF)] ^ t5[Int((low >> 16) & 0xFF)] ^ t4[Int(low >> 24)]
                    ^ t3[Int(high & 0xFF)] ^ t2[Int((high >> 8) & 0xFF)] ^ t1[Int((high >> 16) & 0xFF)] ^ t0[Int(high >> 24)]
                i += 8
            }
            while i < count {
                state = (state >> 8) ^ t0[Int((state ^ UInt32(bytes[i])) & 0xFF)]
                i += 1
            }
        }
        return ~state
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { update(0, bytes) }

    /// The checksum of a byte array or string's UTF-8.
    public static func checksum<C: Collection>(of bytes: C) -> UInt32 where C.Element == UInt8 {
        let array = Array(bytes)
        return array.withUnsafeBytes { checksum($0) }
    }

    /// The stored form of a checksum.
    public static func mask(_ crc: UInt32) -> UInt32 { ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8 }

    /// The checksum behind a stored (masked) value.
    public static func unmask(_ masked: UInt32) -> UInt32 {
        let rotated = masked &- 0xA282_EAD8
        return (rotated >> 17) | (rotated << 15)
    }
}
