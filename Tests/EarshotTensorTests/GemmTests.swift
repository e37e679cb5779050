import Testing
import EarshotTensor

/// A GEMM case: sizes, and extra padding on every leading dimension (to catch ld/stride mix-ups).
struct GemmShape: CustomTestStringConvertible, Sendable {
    let m: Int, n: Int, k: Int, pad: Int
    var testDescription: String { "m\(m) n\(n) k\(k) pad\(pad)" }
}

// Odd sizes hit every edge path: partial micro-tiles (m % 12, m % 6, n % 32, n % 16), masked k tails,
// the small-M kernels (m ≤ 16), several KC blocks (k > 256), several MC blocks (m > 144) and the
// threaded split (m·n·k ≥ 2²¹: rows for m ≥ 128, columns below).
let gemmShapes: [GemmShape] = [
    .init(m: 1, n: 1, k: 1, pad: 0), .init(m: 1, n: 5, k: 7, pad: 3), .init(m: 3, n: 33, k: 385, pad: 1),
    .init(m: 17, n: 5, k: 7, pad: 0), .init(m: 17, n: 33, k: 385, pad: 2), .init(m: 1, n: 384, k: 384, pad: 0),
    .init(m: 8, n: 61, k: 64, pad: 5), .init(m: 16, n: 9, k: 17, pad: 0), .init(m: 37, n: 70, k: 520, pad: 4),
    .init(m: 150, n: 130, k: 200, pad: 0), .init(m: 8, n: 600, k: 500, pad: 1), .init(m: 290, n: 47, k: 33, pad: 0),
]

@Suite("SGEMM against a float64 reference at every instruction-set level")
struct GemmTests {
    @Test(arguments: availableLevels, gemmShapes)
    func sgemm(level: Kernels.InstructionSet, shape: GemmShape) {
        for transposed in [true, false] {
            for (useBias, accumulate) in [(false, false), (true, true)] {
                check(level: level, shape: shape, transposed: transposed, useBias: useBias, accumulate: accumulate)
            }
        }
    }

    func check(level: Kernels.InstructionSet, shape s: GemmShape, transposed: Bool, useBias: Bool, accumulate: Bool) {
        var rng = TestRandom(seed: UInt64(s.m * 1_000_003 + s.n * 1009 + s.k))
        let lda = s.k + s.pad, ldb = (transposed ? s.k : s.n) + s.pad, ldc = s.n + s.pad
        let a = rng.floats(s.m * lda), b = rng.floats((transposed ? s.n : s.k) * ldb)
        let bias = useBias ? rng.floats(s.n) : nil
        let c0 = rng.floats(s.m * ldc)
        var c = c0
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            let biasPointer = bias.map { b in b.withUnsafeBufferPointer { $0.baseAddress! } }
            Kernels.withInstructionSet(level) {
                Kernels.sgemm(m: s.m, n: s.n, k: s.k, a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                              bLayout: transposed ? .transposed : .normal, c: pc.baseAddress!, ldc: ldc,
                              bias: biasPointer, accumulate: accumulate)
            }
        } } }
        let ref = referenceGemm(m: s.m, n: s.n, k: s.k, a: a, lda: lda, b: b, ldb: ldb, transposed: transposed,
                                c0: accumulate ? c0 : nil, ldc: ldc, bias: bias)
        // Error bound: γ_{k+2}·Σ|terms| (k products plus bias and old C), plus a denormal-level floor.
        let bound = ref.magnitude.map { gamma(s.k + 2) * $0 + 1e-30 }
        let worst = worstRatio(got: c, ldc: ldc, want: ref.values, bound: bound, m: s.m, n: s.n)
        #expect(worst <= 1, "\(level) transposed=\(transposed) bias=\(useBias) acc=\(accumulate): error \(worst)× bound")
        // Padding columns beyond n must be untouched.
        for i in 0..<s.m { for j in s.n..<ldc where c[i * ldc + j] != c0[i * ldc + j] {
            Issue.record("wrote padding at (\(i),\(j))"); return
        } }
    }

    @Test("fp16 weights match the fp32 product of the widened weights", arguments: availableLevels, gemmShapes)
    func float16Linear(level: Kernels.InstructionSet, shape s: GemmShape) {
        var rng = TestRandom(seed: UInt64(s.m * 7 + s.n * 13 + s.k * 17))
        let x = rng.floats(s.m * s.k)
        let halves = rng.floats(s.n * s.k).map { Float16($0).bitPattern }
        let widened = halves.map { Float(Float16(bitPattern: $0)) }
        let bias = rng.floats(s.n)
        var y = [Float](repeating: .nan, count: s.m * s.n)
        x.withUnsafeBufferPointer { px in halves.withUnsafeBufferPointer { pw in bias.withUnsafeBufferPointer { pb in
            y.withUnsafeMutableBufferPointer { py in
                let w = WeightMatrix(outputs: s.n, inputs: s.k, storage: .float16(pw.baseAddress!), owner: nil)
                Kernels.withInstructionSet(level) {
                    Kernels.linear(px.baseAddress!, rows: s.m, weight: w, bias: pb.baseAddress!, into: py.baseAddress!)
                }
            }
        } } }
        let ref = referenceGemm(m: s.m, n: s.n, k: s.k, a: x, lda: s.k, b: widened, ldb: s.k, transposed: true,
                                c0: nil, ldc: s.n, bias: bias)
        let bound = ref.magnitude.map { gamma(s.k + 1) * $0 + 1e-30 }
        let worst = worstRatio(got: y, ldc: s.n, want: ref.values, bound: bound, m: s.m, n: s.n)
        #expect(worst <= 1, "\(level): error \(worst)× bound")
    }

    @Test("k = 0 leaves bias (+ old C)")
    func emptyInner() {
        var c: [Float] = [1, 2, 3, 4]
        let bias: [Float] = [10, 20]
        let a: [Float] = [0], b: [Float] = [0]
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in bias.withUnsafeBufferPointer { pbias in
            c.withUnsafeMutableBufferPointer { pc in
                Kernels.sgemm(m: 2, n: 2, k: 0, a: pa.baseAddress!, lda: 1, b: pb.baseAddress!, ldb: 1,
                              bLayout: .transposed, c: pc.baseAddress!, ldc: 2, bias: pbias.baseAddress!, accumulate: true)
            }
        } } }
        #expect(c == [11, 22, 13, 24])
    }
}
