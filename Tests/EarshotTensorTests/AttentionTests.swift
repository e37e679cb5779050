import Foundation
import Testing
import EarshotTensor
import CEarshotKernels

/// Naive float64 attention of one query row of one head (the oracle for the kernels below).
private func referenceRow(q: [Float], qOffset: Int, k: [Float], ks: Int, v: [Float], vs: Int, column: Int,
                          dim: Int, visible: Int) -> [Double] {
    let scale = 1 / Double(dim).squareRoot()
    let scores = (0..<visible).map { j in
        (0..<dim).reduce(0.0) { $0 + Double(q[qOffset + $1]) * Double(k[j * ks + column + $1]) } * scale
    }
    let mx = scores.max()!
    let e = scores.map { exp($0 - mx) }, sum = e.reduce(0, +)
    return (0..<dim).map { d in (0..<visible).reduce(0.0) { $0 + e[$1] / sum * Double(v[$1 * vs + column + d]) } }
}

@Suite("decoding attention: streaming small-M kernel and batched calls")
struct AttentionTests {
    /// Few query rows against many keys (the decoder's cross-attention shape, 1500 keys), head sizes that
    /// are and are not multiples of 16, key counts with a partial 16-key block, with and without a causal
    /// mask. Outputs are convex combinations of values (|v| < 1): absolute 2e-5 as in LayerTests.
    @Test(arguments: availableLevels, [(heads: 6, dim: 64, q: 1, k: 1500, causal: Optional<Int>.none),
                                       (heads: 2, dim: 40, q: 2, k: 37, causal: 35),
                                       (heads: 3, dim: 20, q: 5, k: 16, causal: nil),
                                       (heads: 1, dim: 64, q: 16, k: 100, causal: 84),
                                       (heads: 2, dim: 8, q: 17, k: 50, causal: nil)])
    func fewRows(level: Kernels.InstructionSet, c: (heads: Int, dim: Int, q: Int, k: Int, causal: Int?)) {
        var rng = TestRandom(seed: UInt64(c.q * 131 + c.k))
        let width = c.heads * c.dim
        let qs = width + 3, ks = 2 * width, vs = width + 1, os = width + 2
        let q = rng.floats(c.q * qs, scale: 2), k = rng.floats(c.k * ks), v = rng.floats(c.k * vs)
        var out = [Float](repeating: .nan, count: c.q * os)
        Kernels.withInstructionSet(level) {
            Kernels.attention(query: q, queryStride: qs, key: k, keyStride: ks, value: v, valueStride: vs,
                              output: &out, outputStride: os, heads: c.heads, headDim: c.dim,
                              queryCount: c.q, keyCount: c.k, causalOffset: c.causal)
        }
        var worst = 0.0
        for h in 0..<c.heads {
            for i in 0..<c.q {
                let visible = c.causal.map { min(c.k, $0 + i + 1) } ?? c.k
                let want = referenceRow(q: q, qOffset: i * qs + h * c.dim, k: k, ks: ks, v: v, vs: vs,
                                        column: h * c.dim, dim: c.dim, visible: visible)
                for d in 0..<c.dim { worst = max(worst, abs(Double(out[i * os + h * c.dim + d]) - want[d])) }
            }
        }
        #expect(worst <= 2e-5, "max abs error \(worst)")
        for i in 0..<c.q { for col in width..<os { #expect(out[i * os + col].isNaN) } }
    }

    /// The streaming QKᵀ kernel reduces 16 keys at once but in `_mm512_reduce_add_ps` order, so its scores,
    /// and the whole head, are bit-identical to the small-M GEMM + softmax + GEMM sequence that fp32
    /// decoding ran before (faster-whisper parity depends on it).
    @Test(arguments: availableLevels)
    func bitIdenticalToGemmPath(level: Kernels.InstructionSet) {
        var rng = TestRandom(seed: 7)
        let dim = 64, keys = 1500, width = 2 * dim, rows = 2
        let q = rng.floats(rows * width, scale: 3), k = rng.floats(keys * width), v = rng.floats(keys * width)
        var fused = [Float](repeating: 0, count: rows * dim), plain = fused
        var scores = [Float](repeating: 0, count: rows * keys)
        let scale = 1 / Float(dim).squareRoot(), l = level.rawValue
        ek_attention_head(l, rows, keys, dim, q, width, k, width, v, width, &fused, dim, scale, -1)
        ek_sgemm(l, rows, keys, dim, q, width, k, width, 1, &scores, keys, nil, 0)
        ek_softmax_rows(l, &scores, rows, keys, keys, scale, -1)
        ek_sgemm(l, rows, dim, keys, scores, keys, v, width, 0, &plain, dim, nil, 0)
        #expect(fused == plain)
    }

    /// An encoder head (1500 queries and keys, unmasked): the kernel packs K and V once and walks 256-row
    /// query blocks; the result is bit-identical to packing them again for every block (one GEMM, softmax,
    /// GEMM per block, as before), since the packed data and the blocking are the same.
    @Test(arguments: availableLevels)
    func encoderHeadMatchesPerBlockGemms(level: Kernels.InstructionSet) {
        var rng = TestRandom(seed: 11)
        let dim = 64, n = 1500, width = 3 * dim
        let qkv = rng.floats(n * width, scale: 2)
        var fused = [Float](repeating: 0, count: n * dim), plain = fused
        var scores = [Float](repeating: 0, count: 256 * n)
        let scale = 1 / Float(dim).squareRoot(), l = level.rawValue
        qkv.withUnsafeBufferPointer { p in
            let q = p.baseAddress!, k = q + dim, v = q + 2 * dim
            ek_attention_head(l, n, n, dim, q, width, k, width, v, width, &fused, dim, scale, -1)
            for q0 in Swift.stride(from: 0, to: n, by: 256) {
                let rows = min(256, n - q0)
                ek_sgemm(l, rows, n, dim, q + q0 * width, width, k, width, 1, &scores, n, nil, 0)
                ek_softmax_rows(l, &scores, rows, n, n, scale, -1)
                plain.withUnsafeMutableBufferPointer { o in
                    ek_sgemm(l, rows, dim, n, scores, n, v, width, 0, o.baseAddress! + q0 * dim, dim, nil, 0)
                }
            }
        }
        #expect(fused == plain)
    }

    /// Several sequences in one call (a batched decoder step), each with its own cache length and causal
    /// offset, give exactly what one call per sequence gives — whether or not the call is split over
    /// workers (1500-key sequences pass the parallel threshold, 3-key ones do not).
    @Test(arguments: [3, 1500])
    func batchedEqualsSeparate(keys: Int) {
        var rng = TestRandom(seed: UInt64(keys))
        let heads = 6, dim = 64, width = heads * dim
        let lengths = [keys, max(2, keys - 2), 2]
        let data = lengths.map { n in (q: rng.floats(2 * width, scale: 2), k: rng.floats(n * width), v: rng.floats(n * width)) }
        var separate = [[Float]](repeating: [Float](repeating: 0, count: 2 * width), count: lengths.count)
        for (s, n) in lengths.enumerated() {
            Kernels.attention(query: data[s].q, queryStride: width, key: data[s].k, keyStride: width,
                              value: data[s].v, valueStride: width, output: &separate[s], outputStride: width,
                              heads: heads, headDim: dim, queryCount: 2, keyCount: n, causalOffset: n - 2)
        }
        // The batched call takes raw pointers: copy every sequence into memory that outlives it.
        func copy(_ a: [Float]) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: a.count)
            p.initialize(from: a, count: a.count)
            return p
        }
        let buffers = data.map { (q: copy($0.q), k: copy($0.k), v: copy($0.v)) }
        let out = UnsafeMutablePointer<Float>.allocate(capacity: lengths.count * 2 * width)
        out.initialize(repeating: .nan, count: lengths.count * 2 * width)
        defer {
            for b in buffers { b.q.deallocate(); b.k.deallocate(); b.v.deallocate() }
            out.deallocate()
        }
        let problems = lengths.enumerated().map { s, n in
            Kernels.AttentionProblem(query: buffers[s].q, queryStride: width, key: buffers[s].k, keyStride: width,
                                     value: buffers[s].v, valueStride: width, output: out + s * 2 * width,
                                     outputStride: width, queryCount: 2, keyCount: n, causalOffset: n - 2)
        }
        Kernels.attention(problems, heads: heads, headDim: dim)
        let batched = Array(UnsafeBufferPointer(start: out, count: lengths.count * 2 * width))
        #expect(batched == separate.flatMap { $0 })
    }
}
