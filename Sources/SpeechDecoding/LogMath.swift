#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Single-precision log-domain arithmetic exactly as Coqui STT's decoder does it.
///
/// The reference keeps every path score in `float`, uses `-FLT_MAX` (not `-inf`) as "minus
/// infinity", and calls the C library's `expf`/`logf`. Results are bit-identical to the reference
/// when both use the same libm (glibc on Linux); another libm may differ in the last ulp.
enum LogMath {
    /// The reference's `-NUM_FLT_INF`: the score of an impossible path.
    static let minusInfinity: Float = -Float.greatestFiniteMagnitude

    /// `FLT_MIN`, added to every probability before taking its logarithm.
    static let floatMin: Float = Float.leastNormalMagnitude

    /// `log_sum_exp<float>(x, y)`: `ln(e^x + e^y)` with the reference's short cuts. If `x` is
    /// minus infinity the result is `y` (even if `y` is too), else if `y` is, the result is `x`.
    @inline(__always)
    static func logSumExp(_ x: Float, _ y: Float) -> Float {
        if x <= minusInfinity { return y }
        if y <= minusInfinity { return x }
        let m = x < y ? y : x
        return logf(expf(x - m) + expf(y - m)) + m
    }

    /// `logf(p + FLT_MIN)`: the log-probability of a class, in float.
    @inline(__always)
    static func logProbability(_ p: Float) -> Float {
        logf(p + floatMin)
    }

    /// The double-precision natural logarithm (`log` of the C library).
    @inline(__always)
    static func logDouble(_ x: Double) -> Double {
        log(x)
    }
}
