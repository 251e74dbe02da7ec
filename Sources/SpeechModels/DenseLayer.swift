import SpeechNumerics

/// How the weights of the quantized layers are computed.
public enum Precision: String, Sendable, Codable, CustomStringConvertible {
    /// TensorFlow Lite's hybrid int8 arithmetic, as the reference engines run released models.
    case int8Hybrid = "int8"
    /// Weights dequantized to float (`scale · q`) and plain float math via BLAS.
    case float32
    public var description: String { rawValue }
}

/// One fully-connected layer, `y = x · Wᵀ + b`, with `W` stored `[units][inputs]`.
struct DenseLayer: Sendable {
    enum Weights: Sendable {
        case hybrid(HybridInt8Matrix)
        case float(DenseFloatMatrix)
    }
    let name: String
    let weights: Weights
    /// `[units]`, or empty when the layer has no bias.
    let bias: [Float]
    let inputs: Int
    let units: Int
    /// How the weights are stored in the file ("int8" or "float32") and the int8 scale.
    let storedType: String
    let storedScale: Float?

    var parameterCount: Int { inputs * units + bias.count }
    /// Bytes of the weights and bias as stored in the file.
    var storedBytes: Int { inputs * units * (storedType == "int8" ? 1 : 4) + bias.count * 4 }

    /// - Parameters: input `[rows][inputs]`, output `[rows][units]`.
    func apply(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>,
               scratch: inout HybridFullyConnected.Scratch) {
        switch weights {
        case .hybrid(let matrix):
            HybridFullyConnected.apply(matrix, bias: bias, input: input, rows: rows, output: output, scratch: &scratch)
        case .float(let matrix):
            matrix.apply(bias: bias, input: input, batch: rows, output: output)
        }
    }
}
