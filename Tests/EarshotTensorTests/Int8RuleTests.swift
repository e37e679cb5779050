import Testing
import CEarshotKernels
import EarshotTensor

/// The int8 kernels follow CTranslate2 4.8's CPU rules bit for bit (sources cited in int8.c): every level must
/// give exactly the values these scalar references give.
@Suite("int8 kernels follow CTranslate2's rounding rules exactly")
struct Int8RuleTests {
    /// Rows of random values plus values whose `x·s + 128` lands within a few ulps of a half-integer, where
    /// rounding `x·s` before the shift, or rounding `x·s` to fp32 before adding 128, gives another integer.
    static func rows(k: Int, seed: UInt64) -> [Float] {
        var rng = TestRandom(seed: seed)
        var x = rng.floats(3 * k, scale: 4)
        for r in 0..<3 {
            x[r * k] = r == 1 ? -4.25 : 4.25  // the row maximum, kept (only odd columns are replaced)
            let s: Float = 127 / 4.25
            for c in stride(from: 1, to: k, by: 2) {
                let half = Float(Int(rng.next() % 200) - 100) + 0.5
                let nudge = Float(Int(rng.next() % 9) - 4)
                x[r * k + c] = (half / s) * (1 + nudge * Float.ulpOfOne)
            }
        }
        return x
    }

    static func scale(_ row: ArraySlice<Float>) -> Float {
        let amax = row.map(abs).max()!
        return amax > 0 ? 127 / amax : 1
    }

    /// u = round_half_even(fma(x, s, 128)), stored as u − 128.
    static func activation(_ x: Float, _ s: Float) -> Int8 {
        Int8(Int((128 as Float).addingProduct(x, s).rounded(.toNearestOrEven)) - 128)
    }

    @Test(arguments: availableLevels)
    func activationRule(level: Kernels.InstructionSet) {
        let k = 70, x = Self.rows(k: k, seed: 5)
        var q = [Int8](repeating: 99, count: 3 * 72)
        var scales = [Float](repeating: 0, count: 3)
        ek_i8_quantize_rows(level.rawValue, x, 3, k, k, &q, 72, &scales)
        var beforeShift = 0, unfused = 0
        for r in 0..<3 {
            let s = Self.scale(x[(r * k)..<((r + 1) * k)])
            #expect(scales[r] == s)
            for c in 0..<k {
                let v = x[r * k + c]
                #expect(q[r * 72 + c] == Self.activation(v, s), "row \(r) col \(c) at \(level)")
                if Int((v * s).rounded(.toNearestOrEven)) != Int(Self.activation(v, s)) { beforeShift += 1 }
                if Int((v * s + 128).rounded(.toNearestOrEven)) != Int(Self.activation(v, s)) + 128 { unfused += 1 }
            }
            #expect(q[r * 72 + 70] == 0 && q[r * 72 + 71] == 0, "padding is zero-filled")
        }
        // The data would catch either wrong rule.
        #expect(beforeShift > 0 && unfused > 0, "\(beforeShift) / \(unfused)")
    }

    @Test(arguments: availableLevels)
    func weightRule(level: Kernels.InstructionSet) {
        let k = 70, x = Self.rows(k: k, seed: 6)
        var q = [Int8](repeating: 0, count: 3 * k)
        var scales = [Float](repeating: 0, count: 3)
        ek_i8_quantize_weight_rows(level.rawValue, x, 3, k, k, &q, k, &scales)
        for r in 0..<3 {
            let s = Self.scale(x[(r * k)..<((r + 1) * k)])
            #expect(scales[r] == s)
            for c in 0..<k { #expect(q[r * k + c] == Int8((x[r * k + c] * s).rounded(.toNearestOrEven))) }
        }
    }

    /// y = (acc · (1/sₓ)) / s_w + bias, then + the old y (residual), bit for bit, with the embedding-style row
    /// read-back `q · (1/s)` of the same packed weights.
    @Test(arguments: availableLevels, [(1, 40, 70), (2, 300, 130), (5, 33, 384)])
    func epilogueAndRowReadBack(level: Kernels.InstructionSet, shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var rng = TestRandom(seed: UInt64(m * n + k))
        let x = rng.floats(m * k, scale: 2)
        let values = (0..<(n * k)).map { _ in Int8(Int(rng.next() % 255) - 127) }
        let wscale = (0..<n).map { _ in 20 + rng.float() * 10 }
        let bias = rng.floats(n)
        let residual = rng.floats(m * n)
        var y = residual
        let packed = values.withUnsafeBufferPointer { v in
            wscale.withUnsafeBufferPointer { PackedInt8Weights(int8Rows: v.baseAddress!, scales: $0.baseAddress!, outputs: n, inputs: k) }
        }
        Kernels.withInstructionSet(level) {
            Kernels.linear(x, rows: m, weight: WeightMatrix(packed: packed), bias: bias, into: &y, accumulate: true)
        }
        for i in 0..<m {
            let row = x[(i * k)..<((i + 1) * k)]
            let sx = Self.scale(row)
            let q = row.map { Int(Self.activation($0, sx)) }
            for j in 0..<n {
                var acc = 0
                for p in 0..<k { acc += q[p] * Int(values[j * k + p]) }
                let want = residual[i * n + j] + ((Float(acc) * (1 / sx)) / wscale[j] + bias[j])
                #expect(y[i * n + j] == want, "(\(i),\(j)) at \(level): \(y[i * n + j]) vs \(want)")
            }
        }
        var out = [Float](repeating: 0, count: k)
        for r in [0, n / 2, n - 1] {
            packed.dequantizeRow(r, into: &out)
            #expect((0..<k).allSatisfy { out[$0] == Float(values[r * k + $0]) * (1 / wscale[r]) })
        }
    }
}
