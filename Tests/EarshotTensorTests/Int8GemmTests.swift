import Testing
import CEarshotKernels
import EarshotTensor

/// The SIMD int8 GEMMs (AVX2 maddubs, AVX-512 VNNI with its row-block copy, 6×64 tiles, column and row tails,
/// and the M ≤ 2 decoder tiles) reorder only exact int32 products, and share the float epilogue
/// `((acc·(1/sₓ))/s_w + bias) (+C)`, so every level must return the portable kernel's floats bit for bit.
@Suite("int8 GEMM: every level equals the portable kernel bit for bit")
struct Int8GemmTests {
    struct Shape: CustomTestStringConvertible, Sendable {
        let m: Int, n: Int, k: Int
        var testDescription: String { "\(m)×\(n)×\(k)" }
    }

    /// M around the tile heights and path limits (1–8, 13, 16, 17, 97, 203); N not a multiple of 16, 64 or 128
    /// (and above 128 for the decoder's 8-panel tiles); K not a multiple of 4 (zero-padded group).
    static let shapes: [Shape] = [
        .init(m: 1, n: 1, k: 1), .init(m: 1, n: 300, k: 37), .init(m: 2, n: 271, k: 130), .init(m: 3, n: 129, k: 385),
        .init(m: 4, n: 47, k: 64), .init(m: 5, n: 200, k: 9), .init(m: 6, n: 65, k: 131), .init(m: 7, n: 83, k: 20),
        .init(m: 8, n: 190, k: 255), .init(m: 13, n: 161, k: 77), .init(m: 16, n: 130, k: 21),
        .init(m: 17, n: 64, k: 100), .init(m: 97, n: 70, k: 250),
        .init(m: 203, n: 113, k: 1030),
    ]

    /// Random int8 operands with random positive scales, bias and initial C; the packed weights are 64-byte
    /// aligned like `PackedInt8Weights` (the kernels use aligned loads).
    final class Problem {
        let shape: Shape
        let kp: Int
        let packed: UnsafeMutablePointer<Int8>
        var qa: [Int8], comp: [Int32], ascale: [Float], wscale: [Float], bias: [Float], c0: [Float]

        init(_ s: Shape, seed: UInt64) {
            var rng = TestRandom(seed: seed)
            shape = s
            kp = (s.k + 3) / 4 * 4
            qa = [Int8](repeating: 0, count: s.m * kp)
            for i in 0..<s.m { for p in 0..<s.k { qa[i * kp + p] = Int8(truncatingIfNeeded: rng.next()) } }
            let q = (0..<(s.n * s.k)).map { _ in Int8(Int(rng.next() % 255) - 127) }
            packed = UnsafeMutableRawPointer.allocate(byteCount: ek_i8_packed_bytes(s.n, s.k), alignment: 64)
                .bindMemory(to: Int8.self, capacity: ek_i8_packed_bytes(s.n, s.k))
            comp = [Int32](repeating: 0, count: (s.n + 15) / 16 * 16)
            ek_i8_pack(q, s.n, s.k, s.k, packed, &comp)
            ascale = (0..<s.m).map { _ in 127 / (0.01 + 3 * abs(rng.float())) }
            wscale = (0..<s.n).map { _ in 127 / (0.01 + abs(rng.float())) }
            bias = rng.floats(s.n, scale: 2)
            c0 = rng.floats(s.m * s.n, scale: 5)
        }

        deinit { packed.deallocate() }

        /// Columns `n0..<n1` at `level`, starting from `c0`.
        func run(level: Int32, n0: Int, n1: Int, useBias: Bool, accumulate: Bool) -> [Float] {
            var c = c0
            bias.withUnsafeBufferPointer { pb in
                ek_gemm_i8(level, shape.m, n0, n1, shape.k, qa, kp, ascale, packed, comp, wscale, &c, shape.n,
                           useBias ? pb.baseAddress : nil, accumulate ? 1 : 0)
            }
            return c
        }
    }

    @Test(arguments: availableLevels.filter { $0 != .portable }, shapes)
    func equalsPortable(level: Kernels.InstructionSet, shape s: Shape) {
        let problem = Problem(s, seed: UInt64(s.m * 1_000_003 + s.n * 1009 + s.k))
        for (useBias, accumulate) in [(false, false), (true, false), (false, true), (true, true)] {
            // The whole row and, as the thread split does, a column range starting at a multiple of 16.
            for n0 in Set([0, s.n / 2 / 16 * 16]) {
                let want = problem.run(level: 0, n0: n0, n1: s.n, useBias: useBias, accumulate: accumulate)
                let got = problem.run(level: level.rawValue, n0: n0, n1: s.n, useBias: useBias,
                                      accumulate: accumulate)
                let differing = zip(want, got).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "\(level) bias \(useBias) accumulate \(accumulate) n0 \(n0)")
                // Columns before n0 are untouched.
                #expect((0..<s.m).allSatisfy { i in (0..<n0).allSatisfy { got[i * s.n + $0] == problem.c0[i * s.n + $0] } })
            }
        }
    }

    /// End to end through `Kernels.linear` (activation quantization, work split over threads) at each level
    /// selected with `Kernels.withInstructionSet`, against the portable level.
    @Test(arguments: availableLevels.filter { $0 != .portable })
    func linearEqualsPortable(level: Kernels.InstructionSet) {
        for s in [Shape(m: 3, n: 700, k: 99), Shape(m: 150, n: 200, k: 388), Shape(m: 1, n: 1000, k: 64)] {
            var rng = TestRandom(seed: UInt64(s.m + s.n + s.k))
            let x = rng.floats(s.m * s.k, scale: 3), w = rng.floats(s.n * s.k), bias = rng.floats(s.n)
            let start = rng.floats(s.m * s.n)
            var want = start, got = start
            w.withUnsafeBufferPointer { pw in
                let packed = WeightMatrix(outputs: s.n, inputs: s.k, storage: .float32(pw.baseAddress!), owner: nil)
                    .packedForInt8Kernels()
                Kernels.withInstructionSet(.portable) {
                    Kernels.linear(x, rows: s.m, weight: packed, bias: bias, into: &want, accumulate: true)
                }
                Kernels.withInstructionSet(level) {
                    Kernels.linear(x, rows: s.m, weight: packed, bias: bias, into: &got, accumulate: true)
                }
            }
            #expect(zip(want, got).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(s) at \(level)")
        }
    }
}
