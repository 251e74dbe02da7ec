import Foundation

/// One register tile of an int8 matrix product, generated as machine code for one shape:
/// `units` weight rows (stride `weightStride` bytes) against `rows` input rows (stride
/// `inputStride`), over `depth` columns. It writes per-lane partial sums; `Int8Products`
/// adds the lanes up.
///
/// Called as `tile(weights, inputs, partials)` with the System V ABI: rdi = first weight
/// row, rsi = first input row, rdx = `[units · rows][lanes]` int32 partial sums, tile index
/// `u · rows + r`.
struct Int8TileShape: Hashable, Sendable {
    var units: Int
    var rows: Int
    var depth: Int
    var weightStride: Int
    var inputStride: Int
    /// Bytes the weight pointer moves per block: the block size for row-major weights, or
    /// `units · 64` for weights packed tile by tile (`PackedInt8Matrix`).
    var blockAdvance: Int
}

typealias Int8TileFunction = @convention(c) (UnsafePointer<Int8>, UnsafePointer<Int8>, UnsafeMutablePointer<Int32>) -> Void

/// Generated tiles, made once per (instruction set, shape) for the life of the process.
final class Int8TileCache: Sendable {
    private let tiles = LockedCache<Int8TileShape, ExecutableCode>()
    private let generate: @Sendable (Int8TileShape) -> [UInt8]
    private let name: String

    init(name: String, generate: @escaping @Sendable (Int8TileShape) -> [UInt8]) {
        self.name = name
        self.generate = generate
    }

    /// The tile for `shape`, or nil where executable memory is refused.
    func tile(_ shape: Int8TileShape) -> Int8TileFunction? {
        let code = tiles.value(shape) {
            let bytes = generate(shape)
            guard let code = ExecutableCode(bytes) else { return nil }
            PerfMap.record(code.entry, size: bytes.count,
                           name: "\(name)_\(shape.units)x\(shape.rows)_k\(shape.depth)_ws\(shape.weightStride)_xs\(shape.inputStride)_adv\(shape.blockAdvance)")
            return code
        }
        return code.map { unsafeBitCast($0.entry, to: Int8TileFunction.self) }
    }
}

/// AVX-512 VNNI tiles. `vpdpbusd` multiplies *unsigned* bytes by signed ones, so each signed
/// input byte q is flipped to q + 128 (xor 0x80) and the caller subtracts 128 · Σ_k W[u][k]
/// afterwards. Each 64-byte block of a weight row is loaded once and multiplied into every
/// input row of the tile; the last partial block is read with a byte mask (bytes past the
/// end are neither read nor able to fault) and the weights' masked-off bytes are zero, so
/// they add nothing.
///
/// Registers: zmm0 … zmm(units·rows − 1) accumulators (≤ 24), zmm24 … zmm29 the flipped
/// input blocks (≤ 6 rows), zmm30 a weight block, zmm31 the 0x80 bytes.
enum VNNITiles {
    static let lanes = 16
    static let blockBytes = 64
    static let maxRows = 6
    static let maxAccumulators = 24

    static let cache = Int8TileCache(name: "vnni", generate: code)

    static func code(_ s: Int8TileShape) -> [UInt8] {
        precondition(s.rows >= 1 && s.rows <= maxRows && s.units >= 1 && s.units * s.rows <= maxAccumulators)
        var a = X86Assembler()
        let accumulators = s.units * s.rows
        let input: (Int) -> UInt8 = { UInt8(24 + $0) }
        let weight: UInt8 = 30, flip: UInt8 = 31
        func acc(_ u: Int, _ r: Int) -> UInt8 { UInt8(u * s.rows + r) }
        func weightRow(_ u: Int) -> X86Assembler.Memory { .init(base: .rdi, displacement: Int32(u * s.weightStride)) }
        func inputRow(_ r: Int) -> X86Assembler.Memory { .init(base: .rsi, displacement: Int32(r * s.inputStride)) }

        a.mov32(.rax, 0x8080_8080)
        a.vpbroadcastd(zmm: flip, .rax)
        for i in 0..<accumulators { a.vpxord(zmm: UInt8(i), UInt8(i), .register(UInt8(i))) }

        let blocks = s.depth / blockBytes, tail = s.depth % blockBytes
        if blocks > 0 {
            a.mov32(.rcx, UInt32(blocks))
            let loop = a.here
            for r in 0..<s.rows { a.vpxord(zmm: input(r), flip, .memory(inputRow(r))) }
            for u in 0..<s.units {
                if s.rows == 1 {
                    a.vpdpbusd(zmm: acc(u, 0), input(0), .memory(weightRow(u)))
                } else {
                    a.vmovdqu32(zmm: weight, weightRow(u))
                    for r in 0..<s.rows { a.vpdpbusd(zmm: acc(u, r), input(r), .register(weight)) }
                }
            }
            a.add(.rdi, Int32(s.blockAdvance))
            a.add(.rsi, Int32(blockBytes))
            a.sub(.rcx, 1)
            a.jnz(loop)
        }
        if tail > 0 {
            a.mov64(.rax, (UInt64(1) << UInt64(tail)) - 1)
            a.kmovq(k: 1, .rax)
            for r in 0..<s.rows {
                a.vmovdqu8(zmm: input(r), inputRow(r), mask: 1)
                a.vpxord(zmm: input(r), input(r), .register(flip))
            }
            for u in 0..<s.units {
                a.vmovdqu8(zmm: weight, weightRow(u), mask: 1)
                for r in 0..<s.rows { a.vpdpbusd(zmm: acc(u, r), input(r), .register(weight)) }
            }
        }
        for i in 0..<accumulators {
            a.vmovdqu32(.init(base: .rdx, displacement: Int32(i * lanes * 4)), zmm: UInt8(i))
        }
        a.vzeroupper()
        a.ret()
        return a.bytes
    }

    /// Units and rows per tile for a product over `rows` input rows: one row reads 24 weight
    /// rows per input block; more rows share each weight block among up to 6 of them.
    static func tiling(rows: Int) -> (units: Int, rows: Int) {
        let r = min(rows, maxRows)
        return (maxAccumulators / r, r)
    }
}

/// AVX2 tiles: sixteen int8 at a time sign-extended to int16 (`vpmovsxbw`), multiplied in
/// pairs and summed into int32 (`vpmaddwd`, exact: |product pair| ≤ 2 · 127²), added to the
/// accumulators. The caller adds the `depth % 16` remaining columns in scalar code.
///
/// Registers: ymm0 … ymm(units·rows − 1) accumulators, then `rows` input blocks, one weight
/// block and one product (16 in all).
enum AVX2Tiles {
    static let lanes = 8
    static let blockBytes = 16
    static let registers = 16

    static let cache = Int8TileCache(name: "avx2", generate: code)

    static func code(_ s: Int8TileShape) -> [UInt8] {
        precondition(s.rows >= 1 && s.units >= 1 && s.units * s.rows + s.rows + 2 <= registers)
        var a = X86Assembler()
        let accumulators = s.units * s.rows
        let input: (Int) -> UInt8 = { UInt8(accumulators + $0) }
        let weight = UInt8(accumulators + s.rows), product = UInt8(accumulators + s.rows + 1)
        for i in 0..<accumulators { a.vpxor(ymm: UInt8(i), UInt8(i), UInt8(i)) }
        let blocks = s.depth / blockBytes
        if blocks > 0 {
            a.mov32(.rcx, UInt32(blocks))
            let loop = a.here
            for r in 0..<s.rows { a.vpmovsxbw(ymm: input(r), .init(base: .rsi, displacement: Int32(r * s.inputStride))) }
            for u in 0..<s.units {
                a.vpmovsxbw(ymm: weight, .init(base: .rdi, displacement: Int32(u * s.weightStride)))
                for r in 0..<s.rows {
                    let i = UInt8(u * s.rows + r)
                    a.vpmaddwd(ymm: product, weight, input(r))
                    a.vpaddd(ymm: i, i, product)
                }
            }
            a.add(.rdi, Int32(s.blockAdvance))
            a.add(.rsi, Int32(blockBytes))
            a.sub(.rcx, 1)
            a.jnz(loop)
        }
        for i in 0..<accumulators { a.vmovdqu(.init(base: .rdx, displacement: Int32(i * lanes * 4)), ymm: UInt8(i)) }
        a.vzeroupper()
        a.ret()
        return a.bytes
    }

    /// One row: 13 weight rows per input block; 2–4 rows: as many units as the registers allow.
    static func tiling(rows: Int) -> (units: Int, rows: Int) {
        let r = min(rows, 4)
        return ((registers - 2 - r) / r, r)
    }
}

/// With `DEEPSPEECH_PERF_MAP=1`, every generated kernel is listed in `/tmp/perf-<pid>.map`
/// (the format Linux `perf` reads for JIT code), so profiles name the tiles.
enum PerfMap {
    static let enabled = ProcessInfo.processInfo.environment["DEEPSPEECH_PERF_MAP"] == "1"

    static func record(_ address: UnsafeRawPointer, size: Int, name: String) {
        guard enabled else { return }
        let line = "\(String(UInt(bitPattern: address), radix: 16)) \(String(size, radix: 16)) \(name)\n"
        let path = "/tmp/perf-\(ProcessInfo.processInfo.processIdentifier).map"
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        handle.seekToEndOfFile()
        handle.write(Data(line.utf8))
        try? handle.close()
    }
}
