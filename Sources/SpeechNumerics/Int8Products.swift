import Foundation

/// The instruction set an int8 matrix product runs on. Every kernel gives the same exact
/// int32 sums; they differ only in speed. The library is compiled for baseline x86-64, and
/// the AVX2 and AVX-512 VNNI kernels are generated as machine code when first used, on CPUs
/// that have them (see `X86Assembler`).
public enum Int8ProductKernel: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Plain Swift loops, vectorised by the compiler for the build's baseline (SSE2 on x86-64).
    case portable
    /// 16 bytes per step, `vpmovsxbw` + `vpmaddwd`.
    case avx2
    /// 64 bytes per step, `vpdpbusd`.
    case avx512vnni

    public var description: String { rawValue }

    /// The kernels this CPU and OS can run, slowest first (`portable` always).
    public static let available: [Int8ProductKernel] = {
        var kernels: [Int8ProductKernel] = [.portable]
        #if arch(x86_64)
        let cpu = CPUFeatures.current
        // A trial tile also proves the system hands out executable pages.
        func probe(_ advance: Int) -> Int8TileShape {
            Int8TileShape(units: 1, rows: 1, depth: 64, weightStride: 64, inputStride: 64, blockAdvance: advance)
        }
        if cpu.avx2, AVX2Tiles.cache.tile(probe(AVX2Tiles.blockBytes)) != nil { kernels.append(.avx2) }
        if cpu.avx512vnni, VNNITiles.cache.tile(probe(VNNITiles.blockBytes)) != nil { kernels.append(.avx512vnni) }
        #endif
        return kernels
    }()

    /// The kernel the models use: the fastest available, unless the environment variable
    /// `DEEPSPEECH_INT8_KERNEL` names another available one (for benchmarks and for checking
    /// a slower path on a fast machine).
    public static let selected: Int8ProductKernel = {
        if let name = ProcessInfo.processInfo.environment["DEEPSPEECH_INT8_KERNEL"],
           let kernel = Int8ProductKernel(rawValue: name), available.contains(kernel) {
            return kernel
        }
        return available.last!
    }()
}

/// `out[r][u] = Σ_{k<depth} W[u][k] · X[r][k]` over int8 weights and inputs, exact in int32.
public enum Int8Products {
    /// - Parameters:
    ///   - weights: unit `u`'s row at `weights + u · weightStride`.
    ///   - columnSums: `Σ_k W[u][k]` per unit over the same columns (used by the VNNI kernel
    ///     only; computed on demand when nil).
    ///   - inputs: row `r` at `inputs + r · inputStride`.
    ///   - out: `[rows][units]`.
    public static func multiply(weights: UnsafePointer<Int8>, units: Int, weightStride: Int, depth: Int,
                                columnSums: UnsafePointer<Int32>?,
                                inputs: UnsafePointer<Int8>, rows: Int, inputStride: Int,
                                into out: UnsafeMutablePointer<Int32>, kernel: Int8ProductKernel = .selected) {
        guard units > 0, rows > 0 else { return }
        switch kernel {
        case .portable:
            for u in 0..<units {
                let row = weights + u * weightStride
                for r in 0..<rows { out[r * units + u] = Int8Dot.dot(row, inputs + r * inputStride, count: depth) }
            }
        case .avx2:
            tiled(weights: weights, units: units, weightStride: weightStride, depth: depth, inputs: inputs, rows: rows,
                  inputStride: inputStride, tiling: AVX2Tiles.tiling(rows: rows), cache: AVX2Tiles.cache,
                  lanes: AVX2Tiles.lanes, blockBytes: AVX2Tiles.blockBytes, columnSums: nil, into: out)
            // The columns past the last 16-byte block, in scalar code.
            let done = depth / AVX2Tiles.blockBytes * AVX2Tiles.blockBytes
            if done < depth {
                for u in 0..<units {
                    for r in 0..<rows {
                        out[r * units + u] &+= Int8Dot.dot(weights + u * weightStride + done, inputs + r * inputStride + done,
                                                           count: depth - done)
                    }
                }
            }
        case .avx512vnni:
            let owned = columnSums == nil ? columnSumsOf(weights: weights, units: units, weightStride: weightStride, depth: depth) : []
            owned.withUnsafeBufferPointer { owned in
                tiled(weights: weights, units: units, weightStride: weightStride, depth: depth, inputs: inputs, rows: rows,
                      inputStride: inputStride, tiling: VNNITiles.tiling(rows: rows), cache: VNNITiles.cache,
                      lanes: VNNITiles.lanes, blockBytes: VNNITiles.blockBytes, columnSums: columnSums ?? owned.baseAddress!,
                      into: out)
            }
        }
    }

    /// `Σ_k W[u][k]` for every unit.
    public static func columnSumsOf(weights: UnsafePointer<Int8>, units: Int, weightStride: Int, depth: Int) -> [Int32] {
        (0..<units).map { u in
            let row = weights + u * weightStride
            var s: Int32 = 0
            for k in 0..<depth { s &+= Int32(row[k]) }
            return s
        }
    }

    /// Walks the `units × rows` product in register tiles, generating each tile shape once
    /// (a full tile, and the smaller ones at the unit and row edges), then adds up each
    /// tile's per-lane partial sums, less `128 · columnSums[u]` where given (VNNI's +128
    /// offset on the inputs).
    private static func tiled(weights: UnsafePointer<Int8>, units: Int, weightStride: Int, depth: Int,
                              inputs: UnsafePointer<Int8>, rows: Int, inputStride: Int,
                              tiling: (units: Int, rows: Int), cache: Int8TileCache, lanes: Int, blockBytes: Int,
                              columnSums: UnsafePointer<Int32>?, into out: UnsafeMutablePointer<Int32>) {
        func shape(_ u: Int, _ r: Int) -> Int8TileShape {
            Int8TileShape(units: u, rows: r, depth: depth, weightStride: weightStride, inputStride: inputStride,
                          blockAdvance: blockBytes)
        }
        let uEdge = units % tiling.units, rEdge = rows % tiling.rows
        // Executable memory was available when `Int8ProductKernel.available` was worked out.
        let full = cache.tile(shape(tiling.units, tiling.rows))!
        let unitEdge = uEdge > 0 ? cache.tile(shape(uEdge, tiling.rows))! : full
        let rowEdge = rEdge > 0 ? cache.tile(shape(tiling.units, rEdge))! : full
        let corner = uEdge > 0 && rEdge > 0 ? cache.tile(shape(uEdge, rEdge))! : full
        precondition(lanes == 16 || lanes == 8)
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: tiling.units * tiling.rows * lanes) { partials in
            let p = UnsafeRawPointer(partials.baseAddress!)
            var u0 = 0
            while u0 < units {
                let tu = min(tiling.units, units - u0)
                var r0 = 0
                while r0 < rows {
                    let tr = min(tiling.rows, rows - r0)
                    let tile = tu == tiling.units ? (tr == tiling.rows ? full : rowEdge) : (tr == tiling.rows ? unitEdge : corner)
                    tile(weights + u0 * weightStride, inputs + r0 * inputStride, partials.baseAddress!)
                    for u in 0..<tu {
                        let correction = columnSums.map { 128 &* $0[u0 + u] } ?? 0
                        for r in 0..<tr {
                            let offset = (u * tr + r) * lanes * 4
                            let sum = lanes == 16 ? p.loadUnaligned(fromByteOffset: offset, as: SIMD16<Int32>.self).wrappedSum()
                                                  : p.loadUnaligned(fromByteOffset: offset, as: SIMD8<Int32>.self).wrappedSum()
                            out[(r0 + r) * units + u0 + u] = sum &- correction
                        }
                    }
                    r0 += tr
                }
                u0 += tu
            }
        }
    }
}

/// A weight matrix copied into the order the one-row VNNI kernel reads it: units in tiles of
/// 24, and within a tile the 64-byte blocks of its 24 rows side by side, block after block,
/// so a matrix–vector product reads one sequential stream. Row-major rows with a power-of-two
/// stride (the LSTM's 4096 bytes) instead put the 24 rows' blocks in the same few L1 sets and
/// give the prefetchers 24 streams; packed, the LSTM's recurrent product runs about twice as
/// fast. Units past the end of the last tile and columns past `depth` are zero.
public final class PackedInt8Matrix: @unchecked Sendable {
    // @unchecked: written once in init.
    public let units: Int
    public let depth: Int
    static let tileUnits = VNNITiles.maxAccumulators
    let blocks: Int
    let tiles: Int
    private let storage: UnsafeMutableRawBufferPointer
    /// `Σ_k W[u][k]` per unit.
    let columnSums: [Int32]

    /// Packs `units` rows of `depth` int8 values, row `u` at `weights + u · weightStride`.
    public init(weights: UnsafePointer<Int8>, units: Int, weightStride: Int, depth: Int) {
        self.units = units
        self.depth = depth
        let b = VNNITiles.blockBytes
        blocks = (depth + b - 1) / b
        tiles = (units + Self.tileUnits - 1) / Self.tileUnits
        storage = .allocate(byteCount: max(1, tiles * blocks * Self.tileUnits * b), alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        let packed = storage.baseAddress!.assumingMemoryBound(to: Int8.self)
        for u in 0..<units {
            let tile = u / Self.tileUnits, lane = u % Self.tileUnits
            for block in 0..<blocks {
                let start = block * b, count = min(b, depth - start)
                let destination = packed + ((tile * blocks + block) * Self.tileUnits + lane) * b
                destination.update(from: weights + u * weightStride + start, count: count)
            }
        }
        columnSums = Int8Products.columnSumsOf(weights: weights, units: units, weightStride: weightStride, depth: depth)
    }

    deinit { storage.deallocate() }

    /// `out[u] = Σ_k W[u][k] · x[k]`, exact, on the AVX-512 VNNI kernel (callers check that
    /// `Int8ProductKernel.available` has it).
    public func multiply(_ x: UnsafePointer<Int8>, into out: UnsafeMutablePointer<Int32>) {
        let b = VNNITiles.blockBytes, tu = Self.tileUnits
        // The padded columns are zero in the weights, so the masked tail only has to keep the
        // input's reads inside `depth`.
        let shape = Int8TileShape(units: tu, rows: 1, depth: depth, weightStride: b, inputStride: depth, blockAdvance: tu * b)
        let tile = VNNITiles.cache.tile(shape)!
        let packed = UnsafePointer(storage.baseAddress!.assumingMemoryBound(to: Int8.self))
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: tu * VNNITiles.lanes) { partials in
            let p = UnsafeRawPointer(partials.baseAddress!)
            for t in 0..<tiles {
                tile(packed + t * blocks * tu * b, x, partials.baseAddress!)
                for lane in 0..<min(tu, units - t * tu) {
                    let u = t * tu + lane
                    let sum = p.loadUnaligned(fromByteOffset: lane * VNNITiles.lanes * 4, as: SIMD16<Int32>.self).wrappedSum()
                    out[u] = sum &- 128 &* columnSums[u]
                }
            }
        }
    }
}
