import Foundation
import TensorFlowCheckpoints

/// Writes protocol-buffers wire format, so the tests can build small GraphDefs, directories
/// and index entries by hand.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func key(_ field: Int, _ wireType: UInt8) { varint(UInt64(field) << 3 | UInt64(wireType)) }
    mutating func int(_ field: Int, _ value: Int64) { key(field, 0); varint(UInt64(bitPattern: value)) }
    mutating func fixed32(_ field: Int, _ value: UInt32) { key(field, 5); append32(value) }
    mutating func float(_ field: Int, _ value: Float) { fixed32(field, value.bitPattern) }
    mutating func append32(_ value: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) } }
    mutating func append64(_ value: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) } }
    mutating func data(_ field: Int, _ payload: [UInt8]) { key(field, 2); varint(UInt64(payload.count)); bytes += payload }
    mutating func string(_ field: Int, _ text: String) { data(field, Array(text.utf8)) }
    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        data(field, inner.bytes)
    }
    mutating func packedFloats(_ field: Int, _ values: [Float]) {
        var inner = ProtoWriter()
        for v in values { inner.append32(v.bitPattern) }
        data(field, inner.bytes)
    }
    mutating func packedVarints(_ field: Int, _ values: [Int64]) {
        var inner = ProtoWriter()
        for v in values { inner.varint(UInt64(bitPattern: v)) }
        data(field, inner.bytes)
    }
}

/// GraphDef building blocks.
enum GraphBuilder {
    static func shape(_ w: inout ProtoWriter, field: Int, _ dims: [Int64]) {
        w.message(field) { s in for d in dims { s.message(2) { $0.int(1, d) } } }
    }

    /// An attr map entry.
    static func attr(_ w: inout ProtoWriter, _ name: String, _ value: (inout ProtoWriter) -> Void) {
        w.message(5) { entry in
            entry.string(1, name)
            entry.message(2, value)
        }
    }

    /// A NodeDef (GraphDef field 1).
    static func node(_ w: inout ProtoWriter, name: String, op: String, inputs: [String] = [],
                     attrs: (inout ProtoWriter) -> Void = { _ in }) {
        w.message(1) { n in
            n.string(1, name)
            n.string(2, op)
            for i in inputs { n.string(3, i) }
            attrs(&n)
        }
    }

    /// A Const node of `dtype` and `shape` whose TensorProto body `tensor` writes.
    static func const(_ w: inout ProtoWriter, name: String, dtype: Int, shape dims: [Int64],
                      tensor: @escaping (inout ProtoWriter) -> Void) {
        node(&w, name: name, op: "Const") { n in
            attr(&n, "dtype") { $0.int(6, Int64(dtype)) }
            attr(&n, "value") { v in
                v.message(8) { t in
                    t.int(1, Int64(dtype))
                    shape(&t, field: 2, dims)
                    tensor(&t)
                }
            }
        }
    }

    static func versions(_ w: inout ProtoWriter, producer: Int64) {
        w.message(4) { $0.int(1, producer) }
    }

    static func floatBytes(_ values: [Float]) -> [UInt8] {
        var w = ProtoWriter()
        for v in values { w.append32(v.bitPattern) }
        return w.bytes
    }

    /// A memory-mapped graph: each tensor region aligned to `alignment`, the GraphDef after
    /// them, then the directory (with or without lengths) and its offset.
    static func memmapped(regions: [(name: String, bytes: [UInt8])], graph: [UInt8], alignment: Int,
                          storeLengths: Bool) -> [UInt8] {
        var file: [UInt8] = []
        var elements: [(offset: Int, name: String, length: Int)] = []
        for region in regions {
            while file.count % alignment != 0 { file.append(0) }
            elements.append((file.count, "memmapped_package://" + region.name, region.bytes.count))
            file += region.bytes
        }
        elements.append((file.count, "memmapped_package://.", graph.count))
        file += graph
        let directoryOffset = file.count
        var d = ProtoWriter()
        for e in elements {
            d.message(1) { el in
                el.int(1, Int64(e.offset))
                el.string(2, e.name)
                if storeLengths { el.int(3, Int64(e.length)) }
            }
        }
        file += d.bytes
        var trailer = ProtoWriter()
        trailer.append64(UInt64(directoryOffset))
        return file + trailer.bytes
    }
}

/// A small greedy Snappy encoder (literals and 2-byte-offset copies), for round trips.
enum SnappyEncoder {
    static func literal(_ bytes: ArraySlice<UInt8>, into out: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        let n = bytes.count - 1
        if n < 60 { out.append(UInt8(n << 2)) }
        else if n < 256 { out += [60 << 2, UInt8(n)] }
        else { out += [61 << 2, UInt8(n & 0xFF), UInt8(n >> 8)] }
        out += bytes
    }

    static func compress(_ input: [UInt8]) -> [UInt8] {
        var out = ProtoWriter()
        out.varint(UInt64(input.count))
        var result = out.bytes
        var i = 0, literalStart = 0
        while i < input.count {
            var bestLength = 0, bestOffset = 0
            let windowStart = max(0, i - 65535)
            var j = windowStart
            while j < i {
                var l = 0
                while i + l < input.count && l < 64 && input[j + l] == input[i + l] { l += 1 }
                if l > bestLength { bestLength = l; bestOffset = i - j }
                j += 1
            }
            if bestLength >= 4 {
                literal(input[literalStart..<i], into: &result)
                result += [UInt8((bestLength - 1) << 2 | 2), UInt8(bestOffset & 0xFF), UInt8(bestOffset >> 8)]
                i += bestLength
                literalStart = i
            } else {
                i += 1
            }
        }
        literal(input[literalStart..<input.count], into: &result)
        return result
    }
}

/// Writes a checkpoint index (a LevelDB-style table) as TensorFlow's BundleWriter does, with
/// prefix-compressed keys, restart points, optional Snappy blocks and masked CRCs.
struct IndexWriter {
    var blockEntryLimit = 3
    var restartInterval = 2
    var snappy = false

    private func block(_ entries: [([UInt8], [UInt8])], restartInterval: Int) -> [UInt8] {
        var out = ProtoWriter()
        var restarts: [UInt32] = []
        var previous: [UInt8] = []
        for (i, (key, value)) in entries.enumerated() {
            var shared = 0
            if i % restartInterval == 0 {
                restarts.append(UInt32(out.bytes.count))
            } else {
                while shared < min(previous.count, key.count) && previous[shared] == key[shared] { shared += 1 }
            }
            out.varint(UInt64(shared))
            out.varint(UInt64(key.count - shared))
            out.varint(UInt64(value.count))
            out.bytes += key[shared...]
            out.bytes += value
            previous = key
        }
        if restarts.isEmpty { restarts = [0] }
        for r in restarts { out.append32(r) }
        out.append32(UInt32(restarts.count))
        return out.bytes
    }

    private func append(_ contents: [UInt8], to file: inout [UInt8], compress: Bool) -> (Int, Int) {
        let stored = compress ? SnappyEncoder.compress(contents) : contents
        let type: UInt8 = compress ? 1 : 0
        let offset = file.count
        file += stored
        let crc = CRC32C.checksum(of: stored + [type])
        var t = ProtoWriter()
        t.append32(CRC32C.mask(crc))
        file.append(type)
        file += t.bytes
        return (offset, stored.count)
    }

    /// The index bytes for sorted `entries` (the header entry with key "" first).
    func write(_ entries: [([UInt8], [UInt8])]) -> [UInt8] {
        var file: [UInt8] = []
        var indexEntries: [([UInt8], [UInt8])] = []
        var start = 0
        while start < entries.count {
            let chunk = Array(entries[start..<min(entries.count, start + blockEntryLimit)])
            let (offset, size) = append(block(chunk, restartInterval: restartInterval), to: &file, compress: snappy)
            var handle = ProtoWriter()
            handle.varint(UInt64(offset))
            handle.varint(UInt64(size))
            indexEntries.append((chunk.last!.0, handle.bytes))
            start += blockEntryLimit
        }
        let meta = append(block([], restartInterval: 1), to: &file, compress: false)
        let index = append(block(indexEntries, restartInterval: 1), to: &file, compress: false)
        var footer = ProtoWriter()
        footer.varint(UInt64(meta.0)); footer.varint(UInt64(meta.1))
        footer.varint(UInt64(index.0)); footer.varint(UInt64(index.1))
        while footer.bytes.count < 40 { footer.bytes.append(0) }
        footer.append32(0x8B80_FB57)
        footer.append32(0xDB47_7524)
        return file + footer.bytes
    }

    static func header(shards: Int = 1, bigEndian: Bool = false) -> [UInt8] {
        var w = ProtoWriter()
        w.int(1, Int64(shards))
        if bigEndian { w.int(2, 1) }
        w.message(3) { $0.int(1, 1) }
        return w.bytes
    }

    static func entry(dtype: Int, shape: [Int64], shard: Int = 0, offset: Int, size: Int, data: [UInt8]?, slices: Int = 0) -> [UInt8] {
        var w = ProtoWriter()
        w.int(1, Int64(dtype))
        GraphBuilder.shape(&w, field: 2, shape)
        if shard != 0 { w.int(3, Int64(shard)) }
        if offset != 0 { w.int(4, Int64(offset)) }
        w.int(5, Int64(size))
        if let data { w.fixed32(6, CRC32C.mask(CRC32C.checksum(of: data))) }
        for _ in 0..<slices { w.message(7) { $0.message(1) { $0.int(1, 0) } } }
        return w.bytes
    }
}

/// A fresh temporary directory, removed by the caller.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tfckpt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
