import Foundation

/// A weight matrix stored as symmetric int8 with one scale, as TensorFlow Lite's converter
/// writes dynamic-range ("hybrid") quantized FULLY_CONNECTED weights: `w ≈ scale · q`.
public struct HybridInt8Matrix: Sendable {
    /// Output units (rows).
    public let rows: Int
    /// Inputs per unit (columns).
    public let columns: Int
    /// `[rows][columns]`, row-major.
    public let storage: WeightStorage<Int8>
    public let scale: Float
    /// A copy of the values, `[rows][columns]`.
    public var values: [Int8] { Array(storage.buffer) }

    public init(rows: Int, columns: Int, values: [Int8], scale: Float) {
        self.init(rows: rows, columns: columns, storage: WeightStorage(copying: values), scale: scale)
    }

    public init(rows: Int, columns: Int, storage: WeightStorage<Int8>, scale: Float) {
        precondition(storage.count == rows * columns, "expected \(rows)×\(columns) values, got \(storage.count)")
        self.rows = rows
        self.columns = columns
        self.storage = storage
        self.scale = scale
        derived = DerivedWeights()
    }

    /// `Σ_{k ∈ columns} q[u][k]` for every unit, worked out on first use and kept (the
    /// AVX-512 VNNI kernel needs them; see `VNNITiles`).
    public func columnSums(_ columns: Range<Int>) -> [Int32] {
        derived.sums.value(columns) {
            Int8Products.columnSumsOf(weights: storage.buffer.baseAddress! + columns.lowerBound, units: rows,
                                      weightStride: self.columns, depth: columns.count)
        }!
    }
    private let derived: DerivedWeights

    /// The columns `columns` packed for the one-row VNNI kernel (see `PackedInt8Matrix`),
    /// made on first use and kept: a copy of that part of the weights.
    public func packed(_ columns: Range<Int>) -> PackedInt8Matrix {
        derived.packed.value(columns) {
            PackedInt8Matrix(weights: storage.buffer.baseAddress! + columns.lowerBound, units: rows,
                             weightStride: self.columns, depth: columns.count)
        }!
    }

    /// `scale · q` as float, `[rows][columns]`.
    public func dequantized() -> [Float] { storage.buffer.map { Float($0) * scale } }
}

/// Values derived from one matrix's weights on first use (column sums, packed copies), shared
/// by every copy of the matrix and every stream.
private final class DerivedWeights: Sendable {
    let sums = LockedCache<Range<Int>, [Int32]>()
    let packed = LockedCache<Range<Int>, PackedInt8Matrix>()
}

/// TensorFlow Lite's hybrid fully-connected kernel (FULLY_CONNECTED version 3, symmetric
/// inputs), bit for bit:
///
/// ```
/// for each input row b:
///     range = max(|min(x_b)|, |max(x_b)|)
///     range == 0: q = 0, s_in = 1
///     else:       s_in = range / 127,  q_i = clamp(round(x_i · (127 / range)), −127, 127)
///                 (round half away from zero; all in float)
///     y_bu = bias_u + Float(Σ_i W_ui · q_i) · (s_in · scale)    (the sum is exact int32)
/// ```
/// A whole input of zeros skips the product (the output is the bias), as TFLite does.
public enum HybridFullyConnected {
    /// Scratch for one call: the quantized input rows.
    public struct Scratch: Sendable {
        var quantized: [Int8]
        var scales: [Float]
        /// The int32 products, `[rows][units]`; grown on first use.
        var products: [Int32] = []
        public init(maxRows: Int, columns: Int) {
            quantized = [Int8](repeating: 0, count: maxRows * columns)
            scales = [Float](repeating: 0, count: maxRows)
        }
    }

    /// - Parameters:
    ///   - input: `[rows][weights.columns]`
    ///   - bias: `[weights.rows]` or empty
    ///   - output: `[rows][weights.rows]`
    public static func apply(_ weights: HybridInt8Matrix, bias: [Float], input: UnsafePointer<Float>, rows: Int,
                             output: UnsafeMutablePointer<Float>, scratch: inout Scratch,
                             kernel: Int8ProductKernel = .selected) {
        let n = weights.columns, units = weights.rows
        precondition(scratch.scales.count >= rows && scratch.quantized.count >= rows * n)
        for b in 0..<rows {
            for u in 0..<units { output[b * units + u] = bias.isEmpty ? 0 : bias[u] }
        }
        var allZero = true
        for i in 0..<(rows * n) where input[i] != 0 { allZero = false; break }
        if allZero { return }

        scratch.quantized.withUnsafeMutableBufferPointer { q in
            for b in 0..<rows {
                scratch.scales[b] = quantizeRow(input + b * n, count: n, into: q.baseAddress! + b * n) * weights.scale
            }
        }
        if scratch.products.count < rows * units { scratch.products = [Int32](repeating: 0, count: rows * units) }
        scratch.quantized.withUnsafeBufferPointer { q in
        scratch.products.withUnsafeMutableBufferPointer { products in
            integerProducts(weights, columns: 0..<n, quantized: q.baseAddress!, rowStride: n, rows: rows,
                            into: products.baseAddress!, kernel: kernel)
            for b in 0..<rows {
                for u in 0..<units { output[b * units + u] += Float(products[b * units + u]) * scratch.scales[b] }
            }
        }}
    }

    /// `out[r][u] = Σ_{i ∈ columns} W[u][i] · q[r][i]` for `rows` quantized rows (stride
    /// `rowStride`), exact in int32, on `kernel` (every kernel gives the same sums).
    ///
    /// `recurrent`: the same columns are multiplied by one row at a time, over and over (the
    /// LSTM's h half); on the VNNI kernel they are then read from a packed copy made once.
    public static func integerProducts(_ weights: HybridInt8Matrix, columns: Range<Int>, quantized: UnsafePointer<Int8>,
                                       rowStride: Int, rows: Int, into out: UnsafeMutablePointer<Int32>,
                                       kernel: Int8ProductKernel = .selected, recurrent: Bool = false) {
        if recurrent && rows == 1 && kernel == .avx512vnni {
            weights.packed(columns).multiply(quantized, into: out)
            return
        }
        let sums = kernel == .avx512vnni ? weights.columnSums(columns) : []
        sums.withUnsafeBufferPointer { sums in
            Int8Products.multiply(weights: weights.storage.buffer.baseAddress! + columns.lowerBound, units: weights.rows,
                                  weightStride: weights.columns, depth: columns.count, columnSums: sums.baseAddress,
                                  inputs: quantized, rows: rows, inputStride: rowStride, into: out, kernel: kernel)
        }
    }

    /// Quantizes `count` values with a given `range` (TFLite's rounding and clamping).
    @inline(__always)
    public static func quantize(_ x: UnsafePointer<Float>, count: Int, range: Float, into q: UnsafeMutablePointer<Int8>) {
        let inverse: Float = 127 / range
        for i in 0..<count {
            // Clamped first (NaN becomes 127 rather than trapping), then rounded half away
            // from zero without a libm call: v − trunc(v) is exact for |v| ≤ 127.
            let v = max(-127, min(127, x[i] * inverse))
            let t = Int32(v)
            let fraction = v - Float(t)
            q[i] = Int8(t + (fraction >= 0.5 ? 1 : 0) - (fraction <= -0.5 ? 1 : 0))
        }
    }

    /// Symmetric per-row quantization; returns the row's scale (`range / 127`, or 1 for a
    /// zero row).
    @inline(__always)
    static func quantizeRow(_ x: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>) -> Float {
        var low = x[0], high = x[0]
        for i in 1..<count { low = min(low, x[i]); high = max(high, x[i]) }
        let range = max(abs(low), abs(high))
        if range == 0 {
            for i in 0..<count { q[i] = 0 }
            return 1
        }
        quantize(x, count: count, range: range, into: q)
        return range / 127
    }
}

/// Exact int8 dot products with int32 accumulation.
public enum Int8Dot {
    /// `Σ a_i · b_i` for int8 vectors, accumulated exactly in int32 (a sum of 2³¹ / 127² ≈ 133 000
    /// products cannot overflow). Written as a plain loop over 64-element blocks with
    /// independent partial sums so that LLVM vectorises it (pmaddwd-style widening multiply-add).
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, count: Int) -> Int32 {
        var sum: Int32 = 0
        var i = 0
        while i + 64 <= count {
            var block: Int32 = 0
            for k in 0..<64 { block &+= Int32(truncatingIfNeeded: a[i + k]) &* Int32(truncatingIfNeeded: b[i + k]) }
            sum &+= block
            i += 64
        }
        while i < count {
            sum &+= Int32(truncatingIfNeeded: a[i]) &* Int32(truncatingIfNeeded: b[i])
            i += 1
        }
        return sum
    }
}
