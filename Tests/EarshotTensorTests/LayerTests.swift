import Foundation
import Testing
import EarshotTensor

@Suite("conv1d and attention against naive float64 references")
struct LayerTests {
    /// Whisper-like convolutions (kernel 3, pad 1, stride 1 and 2) on odd sizes. Tolerance γ_{K+1}·Σ|terms|
    /// as for GEMM (the convolution is one GEMM over im2col rows).
    @Test(arguments: availableLevels, [(frames: 7, cin: 5, cout: 3, stride: 1), (frames: 30, cin: 16, cout: 33, stride: 2),
                                       (frames: 300, cin: 80, cout: 40, stride: 1)])
    func conv1d(level: Kernels.InstructionSet, c: (frames: Int, cin: Int, cout: Int, stride: Int)) {
        var rng = TestRandom(seed: UInt64(c.frames))
        let ks = 3, pad = 1
        let x = rng.floats(c.frames * c.cin), w = rng.floats(c.cout * c.cin * ks), bias = rng.floats(c.cout)
        let outFrames = (c.frames + 2 * pad - ks) / c.stride + 1
        var y = [Float](repeating: .nan, count: outFrames * c.cout)
        let got = w.withUnsafeBufferPointer { pw in
            let weight = WeightMatrix(outputs: c.cout, inputs: c.cin * ks, storage: .float32(pw.baseAddress!), owner: nil)
            return Kernels.withInstructionSet(level) {
                Kernels.conv1d(input: x, frames: c.frames, inChannels: c.cin, weight: weight, bias: bias,
                               kernelSize: ks, stride: c.stride, padding: pad, into: &y)
            }
        }
        #expect(got == outFrames)
        for t in 0..<outFrames {
            for o in 0..<c.cout {
                var s = Double(bias[o]), mag = abs(Double(bias[o]))
                for ci in 0..<c.cin {
                    for kk in 0..<ks {
                        let src = t * c.stride + kk - pad
                        guard src >= 0 && src < c.frames else { continue }
                        let term = Double(x[src * c.cin + ci]) * Double(w[(o * c.cin + ci) * ks + kk])
                        s += term; mag += abs(term)
                    }
                }
                #expect(abs(Double(y[t * c.cout + o]) - s) <= gamma(c.cin * ks + 1) * mag + 1e-30)
            }
        }
    }

    /// Multi-head attention with and without a causal offset, including more queries than one work block
    /// (256). Outputs are convex combinations of value rows (|v| < 1), so an absolute 2e-5 covers the
    /// score error (headDim·u·Σ|q||k|, |scores| ≲ 4) amplified through exp, plus the PV sums.
    @Test(arguments: availableLevels, [(heads: 1, dim: 8, q: 1, k: 1, causal: Optional<Int>.none),
                                       (heads: 2, dim: 16, q: 3, k: 9, causal: 6),
                                       (heads: 3, dim: 64, q: 5, k: 40, causal: nil),
                                       (heads: 2, dim: 24, q: 300, k: 300, causal: 0),
                                       (heads: 6, dim: 64, q: 260, k: 270, causal: nil)])
    func attention(level: Kernels.InstructionSet, c: (heads: Int, dim: Int, q: Int, k: Int, causal: Int?)) {
        var rng = TestRandom(seed: UInt64(c.q * 31 + c.k))
        let width = c.heads * c.dim
        let qs = width + 5, ks = 2 * width, vs = width + 1, os = width + 2
        let q = rng.floats(c.q * qs), k = rng.floats(c.k * ks), v = rng.floats(c.k * vs)
        var out = [Float](repeating: .nan, count: c.q * os)
        Kernels.withInstructionSet(level) {
            Kernels.attention(query: q, queryStride: qs, key: k, keyStride: ks, value: v, valueStride: vs,
                              output: &out, outputStride: os, heads: c.heads, headDim: c.dim,
                              queryCount: c.q, keyCount: c.k, causalOffset: c.causal)
        }
        let scale = 1 / Double(c.dim).squareRoot()
        var worst = 0.0
        for h in 0..<c.heads {
            for i in 0..<c.q {
                let visible = c.causal.map { min(c.k, $0 + i + 1) } ?? c.k
                let scores = (0..<visible).map { j in
                    (0..<c.dim).reduce(0.0) { $0 + Double(q[i * qs + h * c.dim + $1]) * Double(k[j * ks + h * c.dim + $1]) } * scale
                }
                let mx = scores.max()!
                let e = scores.map { exp($0 - mx) }, sum = e.reduce(0, +)
                for d in 0..<c.dim {
                    let want = (0..<visible).reduce(0.0) { $0 + e[$1] / sum * Double(v[$1 * vs + h * c.dim + d]) }
                    worst = max(worst, abs(Double(out[i * os + h * c.dim + d]) - want))
                }
            }
        }
        #expect(worst <= 2e-5, "max abs error \(worst)")
        // Columns between rows (stride padding) stay untouched.
        for i in 0..<c.q { for col in width..<os { #expect(out[i * os + col].isNaN) } }
    }
}
