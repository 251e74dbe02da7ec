internal import _CBLAS

/// Float fully-connected layer on BLAS: `y = x · Wᵀ + b` with `W` stored `[units][inputs]`
/// (TFLite's layout), for the dequantized-float option and all-float models.
public struct DenseFloatMatrix: Sendable {
    public let rows: Int
    public let columns: Int
    /// `[rows][columns]`, row-major.
    public let storage: WeightStorage<Float>
    /// A copy of the values, `[rows][columns]`.
    public var values: [Float] { Array(storage.buffer) }

    public init(rows: Int, columns: Int, values: [Float]) {
        self.init(rows: rows, columns: columns, storage: WeightStorage(copying: values))
    }

    public init(rows: Int, columns: Int, storage: WeightStorage<Float>) {
        precondition(storage.count == rows * columns, "expected \(rows)×\(columns) values, got \(storage.count)")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// - Parameters: input `[batch][columns]`, output `[batch][rows]`, bias `[rows]` or empty.
    public func apply(bias: [Float], input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>) {
        for b in 0..<batch {
            for u in 0..<rows { output[b * rows + u] = bias.isEmpty ? 0 : bias[u] }
        }
        if batch == 1 {
            // One row (a recurrent step): GEMV reads the weights once; OpenBLAS's GEMM would
            // first repack the whole matrix, which made recurrent layers 3× slower.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(columns), 1, storage.buffer.baseAddress,
                        Int32(columns), input, 1, 1, output, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(rows), Int32(columns),
                        1, input, Int32(columns), storage.buffer.baseAddress, Int32(columns), 1, output, Int32(rows))
        }
    }
}
