import EarshotTensor

/// Deterministic generator (SplitMix64) so failures reproduce.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) }
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in float() * scale } }
}

/// Every instruction-set level this machine can run, lowest first.
let availableLevels = Kernels.InstructionSet.allCases.filter { $0 <= Kernels.hardwareInstructionSet }

/// Unit roundoff of fp32.
let unitRoundoff = Double(Float.ulpOfOne) / 2

/// Higham's γₙ = n·u / (1 − n·u): any summation order of n products (with or without FMA) is within
/// γₙ·Σ|aᵢbᵢ| of the exact sum (Accuracy and Stability of Numerical Algorithms, §3.1).
func gamma(_ n: Int) -> Double { Double(n) * unitRoundoff / (1 - Double(n) * unitRoundoff) }

/// Naive double-precision `C = A·op(B) (+bias) (+C0)`; also returns Σ|a||b| per element for error bounds.
func referenceGemm(m: Int, n: Int, k: Int, a: [Float], lda: Int, b: [Float], ldb: Int, transposed: Bool,
                   c0: [Float]?, ldc: Int, bias: [Float]?) -> (values: [Double], magnitude: [Double]) {
    var out = [Double](repeating: 0, count: m * n), mag = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0, sa = 0.0
            for p in 0..<k {
                let bv = Double(transposed ? b[j * ldb + p] : b[p * ldb + j])
                s += Double(a[i * lda + p]) * bv
                sa += abs(Double(a[i * lda + p]) * bv)
            }
            if let bias { s += Double(bias[j]); sa += abs(Double(bias[j])) }
            if let c0 { s += Double(c0[i * ldc + j]); sa += abs(Double(c0[i * ldc + j])) }
            out[i * n + j] = s
            mag[i * n + j] = sa
        }
    }
    return (out, mag)
}

/// Largest |got − want| / bound over the m×n block of `got` (row stride `ldc`); ≤ 1 means within bounds.
func worstRatio(got: [Float], ldc: Int, want: [Double], bound: [Double], m: Int, n: Int) -> Double {
    var worst = 0.0
    for i in 0..<m {
        for j in 0..<n {
            let e = abs(Double(got[i * ldc + j]) - want[i * n + j]) / bound[i * n + j]
            if !(e <= worst) { worst = e.isNaN ? .infinity : e }
        }
    }
    return worst
}
