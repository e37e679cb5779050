import Foundation
import Testing
import EarshotTensor
import CEarshotKernels

@Suite("Element-wise kernels against float64 references at every instruction-set level")
struct ElementwiseTests {
    /// erf on a dense grid over [-6, 6] (beyond ±4 erf is ±1 to fp32) must be within 1e-6 absolute:
    /// A&S 7.1.26 itself is within 1.5e-7, the rest is fp32 rounding of the polynomial and exp.
    @Test(arguments: availableLevels)
    func erfAccuracy(level: Kernels.InstructionSet) {
        let xs = (0...24_001).map { Float(-6 + Double($0) * 0.0005) }
        var ys = [Float](repeating: .nan, count: xs.count)
        ek_erf(level.rawValue, xs, &ys, xs.count)
        let worst = zip(xs, ys).map { abs(Double($1) - erf(Double($0))) }.max()!
        #expect(worst <= 1e-6, "max |erf error| \(worst)")
    }

    /// exp relative error within 4 ulp (Cephes' polynomial is ~2 ulp, plus the scaling step) over the
    /// whole finite range the kernels clamp to; below -87.34 (fp32 underflow) at most FLT_MIN (the SIMD
    /// paths flush to 0, the portable path's expf returns subnormals).
    @Test(arguments: availableLevels)
    func expAccuracy(level: Kernels.InstructionSet) {
        let xs = (0...35_000).map { Float(-87.3 + Double($0) * 0.005) } + [-90, -200, -.infinity]
        var ys = [Float](repeating: .nan, count: xs.count)
        ek_exp(level.rawValue, xs, &ys, xs.count)
        var worst = 0.0
        for (x, y) in zip(xs, ys) where x >= -87.3 {
            worst = max(worst, abs(Double(y) - exp(Double(x))) / exp(Double(x)))
        }
        #expect(worst <= 4 * Double(Float.ulpOfOne), "max relative exp error \(worst)")
        #expect(ys.suffix(3).allSatisfy { $0 >= 0 && $0 <= Float.leastNormalMagnitude })
    }

    /// GELU = 0.5·x·(1+erf(x/√2)); its error is 0.5·|x|·(erf error) plus rounding: ≤ 1e-6·(1+|x|).
    @Test(arguments: availableLevels, [1, 15, 16, 17, 1000])
    func gelu(level: Kernels.InstructionSet, count: Int) {
        var rng = TestRandom(seed: UInt64(count))
        let x = rng.floats(count, scale: 8)
        var y = x
        Kernels.withInstructionSet(level) { Kernels.gelu(&y, count: count) }
        for (a, b) in zip(x, y) {
            let want = 0.5 * Double(a) * (1 + erf(Double(a) / 2.0.squareRoot()))
            #expect(abs(Double(b) - want) <= 1e-6 * (1 + abs(Double(a))), "gelu(\(a)) = \(b), want \(want)")
        }
    }

    /// Rows sum to 1 and match exp(x−max)/Σ within 2e-6 absolute (exp ≤ 4 ulp, sum of ≤ 1000 terms of
    /// which the largest is 1); masked (causal) entries must be exactly 0.
    @Test(arguments: availableLevels, [(3, 1), (2, 17), (5, 33), (4, 1000)])
    func softmax(level: Kernels.InstructionSet, shape: (rows: Int, cols: Int)) {
        var rng = TestRandom(seed: UInt64(shape.cols))
        let stride = shape.cols + 3
        let x = rng.floats(shape.rows * stride, scale: 10)
        for causal in [-1, 0, 2] {
            var y = x
            Kernels.withInstructionSet(level) {
                ek_softmax_rows(level.rawValue, &y, shape.rows, shape.cols, stride, 0.7, causal)
            }
            for r in 0..<shape.rows {
                let valid = causal < 0 ? shape.cols : min(shape.cols, causal + r + 1)
                let row = (0..<valid).map { 0.7 * Double(x[r * stride + $0]) }
                let mx = row.max()!
                let sum = row.reduce(0) { $0 + exp($1 - mx) }
                for c in 0..<shape.cols {
                    let got = Double(y[r * stride + c])
                    if c < valid {
                        #expect(abs(got - exp(row[c] - mx) / sum) <= 2e-6)
                    } else {
                        #expect(got == 0)
                    }
                }
                for c in shape.cols..<stride { #expect(y[r * stride + c] == x[r * stride + c]) }
            }
        }
    }

    /// Public softmaxRows (scale 1, no mask) agrees with the reference too.
    @Test func softmaxRowsPublic() {
        var x: [Float] = [1, 2, 3, 0, 0, 0]
        Kernels.softmaxRows(&x, rows: 2, columns: 3)
        let e = [1.0, 2, 3].map { exp($0 - 3) }, s = e.reduce(0, +)
        for c in 0..<3 { #expect(abs(Double(x[c]) - e[c] / s) <= 2e-6) }
        for c in 3..<6 { #expect(abs(x[c] - 1.0 / 3) <= 1e-6) }
    }

    /// Layer norm: tolerance 1e-5·(|γ·x̂| + |β|) + 1e-6 — mean and variance are fp32 sums over the row
    /// (relative error ~cols·u ≈ 6e-5 worst case, far less in practice with blocked sums).
    @Test(arguments: availableLevels, [1, 7, 16, 33, 384, 1000])
    func layerNorm(level: Kernels.InstructionSet, cols: Int) {
        var rng = TestRandom(seed: UInt64(cols) + 99)
        let rows = 3
        let x = rng.floats(rows * cols, scale: 4).enumerated().map { $1 + Float($0 % 5) }
        let gamma = rng.floats(cols), beta = rng.floats(cols)
        var y = [Float](repeating: .nan, count: rows * cols)
        Kernels.withInstructionSet(level) {
            Kernels.layerNorm(x, rows: rows, columns: cols, gamma: gamma, beta: beta, epsilon: 1e-5, into: &y)
        }
        for r in 0..<rows {
            let row = (0..<cols).map { Double(x[r * cols + $0]) }
            let mean = row.reduce(0, +) / Double(cols)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(cols)
            for c in 0..<cols {
                let xh = (row[c] - mean) / (variance + 1e-5).squareRoot()
                let want = xh * Double(gamma[c]) + Double(beta[c])
                let tol = 1e-5 * (abs(xh * Double(gamma[c])) + abs(Double(beta[c]))) + 1e-6
                #expect(abs(Double(y[r * cols + c]) - want) <= tol)
            }
        }
    }

    /// add is exact; so is half → float, checked on all 65 536 bit patterns.
    @Test(arguments: availableLevels)
    func addAndHalf(level: Kernels.InstructionSet) {
        var rng = TestRandom(seed: 5)
        let x = rng.floats(37), y0 = rng.floats(37)
        var y = y0
        Kernels.withInstructionSet(level) { Kernels.add(x, into: &y, count: 37) }
        #expect(y == zip(x, y0).map { $0 + $1 })
        let bits = (0...0xffff).map { UInt16($0) }
        var out = [Float](repeating: 0, count: bits.count)
        Kernels.withInstructionSet(level) { Kernels.convertHalfToFloat(bits, into: &out, count: bits.count) }
        for (b, f) in zip(bits, out) {
            let want = Float(Float16(bitPattern: b))
            #expect(want.isNaN ? f.isNaN : f.bitPattern == want.bitPattern, "half 0x\(String(b, radix: 16))")
        }
    }
}
