import Foundation

/// Element-wise activations as TensorFlow Lite's float kernels compute them.
///
/// The reference engine does not use libm here: Coqui STT 1.4 runs LOGISTIC through XNNPACK's
/// AVX-512 kernel and TANH through TFLite's builtin kernel (Eigen's rational approximation,
/// built with FMA). Both differ from `expf`/`tanhf` in the last bits, and in the LSTM such a
/// difference can flip one value of the int8-quantized recurrent input, after which the state
/// drifts by ~1e-3. Reproducing the two approximations step for step keeps the LSTM on the
/// reference's trajectory: at beam width 1, 11 of 12 fixture clips then give Coqui's exact
/// confidence (to 1e-7) instead of 8 of 12 with libm.
public enum Activations {

    /// Eigen's `pmadd` with FMA: `a·b + c`, rounded once.
    @inline(__always)
    static func madd(_ a: Float, _ b: Float, _ c: Float) -> Float { c.addingProduct(a, b) }

    /// ReLU fused into the dense layer, then MINIMUM with the clip (20 in DeepSpeech).
    @inline(__always)
    public static func clippedReLU(_ x: UnsafeMutablePointer<Float>, count: Int, clip: Float) {
        for i in 0..<count { x[i] = min(max(x[i], 0), clip) }
    }

    /// σ(x) as Coqui STT 1.4 computes it (its XNNPACK delegate runs LOGISTIC).
    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float { xnnpackSigmoid(x) }

    /// 2^(k/32), k = 0…31, rounded to float.
    static let exp2Table: [Float] = (0..<32).map { Float(exp2(Double($0) / 32)) }

    /// XNNPACK's AVX-512 sigmoid (`rr2_lut32_p2`, division variant), which Coqui STT 1.4's
    /// XNNPACK delegate runs for LOGISTIC: with z = −|x|, eᶻ = 2ⁿ·2^(k/32)·p(t) where n·32 + k =
    /// round(32·z·log₂e), t is the two-step (hi/lo ln 2) remainder and p a degree-2 polynomial;
    /// σ(−|x|) = eᶻ / (eᶻ + 1), reflected as 1 − σ for x ≥ 0. Every step is a fused
    /// multiply-add where the kernel has one.
    @inline(__always)
    public static func xnnpackSigmoid(_ x: Float) -> Float {
        let magicBias: Float = 0x1.800000p18
        let z = Float(bitPattern: x.bitPattern | 0x8000_0000)
        // Below the kernel's denormal cutoff it flushes eᶻ to 0 (and NaN stays NaN): also what
        // keeps the exponent arithmetic below finite for any input, ±∞ included.
        guard z >= -0x1.5D589Ep6 else { return z.isNaN ? z : (x.bitPattern & 0x8000_0000 == 0 ? 1 : 0) }
        var n = magicBias.addingProduct(z, 0x1.715476p0)
        let l = exp2Table[Int(n.bitPattern & 31)]
        n = n - magicBias
        var t = z.addingProduct(n, -0x1.62E430p-1)
        t = t.addingProduct(n, 0x1.05C61p-29)
        var p = Float(0x1.0000F6p-0).addingProduct(t, 0x1.000000p-1)
        t = t * l
        p = l.addingProduct(t, p)
        // e = p · 2^⌊n⌋. −126 ≤ n ≤ 0 above the cutoff, so ⌊n⌋ is truncation less one for a
        // fraction, 2^⌊n⌋ a normal float built from its bits, and the product the correctly
        // rounded value (as `Float(sign:exponent:significand:)` gives, without its generic code).
        let truncated = Int32(n)
        let exponent = truncated - (Float(truncated) != n ? 1 : 0)
        let e = p * Float(bitPattern: UInt32(exponent + 127) << 23)
        let f = e / (e + 1)
        return x.bitPattern & 0x8000_0000 == 0 ? 1 - f : f
    }

    /// Eigen's `generic_fast_tanh_float`: a 13/6-degree rational interpolant, input clamped
    /// to where it reaches ±1, and tanh(x) = x for |x| < 0.0004.
    @inline(__always)
    public static func tanh(_ input: Float) -> Float {
        let clamp: Float = 7.99881172180175781
        let x = max(min(input, clamp), -clamp)
        if abs(input) < 0.0004 { return x }
        let x2 = x * x
        var p = madd(x2, -2.76076847742355e-16, 2.00018790482477e-13)
        p = madd(x2, p, -8.60467152213735e-11)
        p = madd(x2, p, 5.12229709037114e-08)
        p = madd(x2, p, 1.48572235717979e-05)
        p = madd(x2, p, 6.37261928875436e-04)
        p = madd(x2, p, 4.89352455891786e-03)
        p = x * p
        var q = madd(x2, 1.19825839466702e-06, 1.18534705686654e-04)
        q = madd(x2, q, 2.26843463243900e-03)
        q = madd(x2, q, 4.89352518554385e-03)
        return p / q
    }

    /// Softmax over one row: subtract the maximum, exponentiate, multiply by 1/sum.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var m = x[0]
        for i in 1..<count { m = max(m, x[i]) }
        var sum: Float = 0
        for i in 0..<count { x[i] = expf(x[i] - m); sum += x[i] }
        let inverse = 1 / sum
        for i in 0..<count { x[i] *= inverse }
    }
}
