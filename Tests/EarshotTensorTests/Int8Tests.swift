import Testing
import EarshotTensor

@Suite("int8 linear (packed weights, dynamic activation quantization)")
struct Int8Tests {
    static let shapes: [GemmShape] = gemmShapes.filter { $0.pad == 0 || $0.m < 20 } + [.init(m: 2, n: 300, k: 130, pad: 0)]

    /// Integer-valued data with a ±127 entry in every row quantizes with scale 1 exactly, so the int32
    /// product is exact and so is its fp32 result (|sum| ≤ 127²·k < 2²⁴ for k ≤ 1040): tolerance 0.
    @Test(arguments: availableLevels, shapes)
    func exactOnIntegers(level: Kernels.InstructionSet, shape s: GemmShape) {
        guard s.k <= 1040 else { return }
        var rng = TestRandom(seed: UInt64(s.m + s.n + s.k))
        func intRow(_ n: Int) -> [Float] {
            var r = (0..<n).map { _ in Float(Int(rng.next() % 255) - 127) }
            r[Int(rng.next() % UInt64(n))] = rng.next() % 2 == 0 ? 127 : -127
            return r
        }
        let x = (0..<s.m).flatMap { _ in intRow(s.k) }
        let w = (0..<s.n).flatMap { _ in intRow(s.k) }
        let bias = (0..<s.n).map { Float($0 % 7) }
        var y = [Float](repeating: 1, count: s.m * s.n)
        w.withUnsafeBufferPointer { pw in
            let packed = WeightMatrix(outputs: s.n, inputs: s.k, storage: .float32(pw.baseAddress!), owner: nil)
                .packedForInt8Kernels()
            #expect(packed.dtype == .int8)
            Kernels.withInstructionSet(level) {
                Kernels.linear(x, rows: s.m, weight: packed, bias: bias, into: &y, accumulate: true)
            }
        }
        for i in 0..<s.m {
            for j in 0..<s.n {
                var sum = 0
                for p in 0..<s.k { sum += Int(x[i * s.k + p]) * Int(w[j * s.k + p]) }
                #expect(y[i * s.n + j] == Float(sum) + bias[j] + 1, "(\(i),\(j)) at \(level)")
            }
        }
    }

    /// Random data: the error is bounded by quantization, |x̂−x| ≤ 0.5/sₓ and |ŵ−w| ≤ 0.5/s_w per element,
    /// so |ŷ−y| ≤ Σ(|x|·0.5/s_w + |w|·0.5/sₓ + 0.25/(sₓs_w)) plus fp32 rounding of the final scaling.
    /// The legacy unpacked `.int8` storage (values + scales quantized here in float64, so a value may differ
    /// by one step from the kernel's fp32 quantization) must meet the same bound.
    @Test(arguments: availableLevels, shapes)
    func boundedByQuantization(level: Kernels.InstructionSet, shape s: GemmShape) {
        var rng = TestRandom(seed: UInt64(s.m * 3 + s.n * 5 + s.k * 7))
        let x = rng.floats(s.m * s.k, scale: 3), w = rng.floats(s.n * s.k)
        let sx = (0..<s.m).map { i in 127 / Double((0..<s.k).map { abs(x[i * s.k + $0]) }.max()!) }
        let sw = (0..<s.n).map { j in 127 / Double((0..<s.k).map { abs(w[j * s.k + $0]) }.max()!) }
        var y = [Float](repeating: .nan, count: s.m * s.n)
        var legacy = y
        let values = (0..<(s.n * s.k)).map { Int8((Double(w[$0]) * sw[$0 / s.k]).rounded(.toNearestOrEven)) }
        let scales = sw.map { Float($0) }
        w.withUnsafeBufferPointer { pw in values.withUnsafeBufferPointer { pv in scales.withUnsafeBufferPointer { ps in
            let packed = WeightMatrix(outputs: s.n, inputs: s.k, storage: .float32(pw.baseAddress!), owner: nil)
                .packedForInt8Kernels()
            let unpacked = WeightMatrix(outputs: s.n, inputs: s.k,
                                        storage: .int8(values: pv.baseAddress!, scales: ps.baseAddress!), owner: nil)
            Kernels.withInstructionSet(level) {
                Kernels.linear(x, rows: s.m, weight: packed, bias: nil, into: &y)
                Kernels.linear(x, rows: s.m, weight: unpacked, bias: nil, into: &legacy)
            }
        } } }
        for i in 0..<s.m {
            for j in 0..<s.n {
                var want = 0.0, bound = 0.0
                for p in 0..<s.k {
                    let a = Double(x[i * s.k + p]), b = Double(w[j * s.k + p])
                    want += a * b
                    bound += abs(a) * 0.5 / sw[j] + abs(b) * 0.5 / sx[i] + 0.25 / (sx[i] * sw[j])
                }
                let got = Double(y[i * s.n + j])
                #expect(abs(got - want) <= bound * 1.0001 + 1e-6 * abs(want), "(\(i),\(j)) \(got) vs \(want)")
                #expect(abs(Double(legacy[i * s.n + j]) - want) <= bound * 1.0001 + 1e-6 * abs(want))
            }
        }
    }

    /// fp16 rows quantize like their widened fp32 values; byteCount counts values, compensation and scales.
    @Test func float16RowsAndSize() {
        var rng = TestRandom(seed: 11)
        let w = rng.floats(20 * 9)
        let halves = w.map { Float16($0).bitPattern }
        let widened = halves.map { Float(Float16(bitPattern: $0)) }
        let a = widened.withUnsafeBufferPointer { PackedInt8Weights(float32Rows: $0.baseAddress!, outputs: 20, inputs: 9) }
        let b = halves.withUnsafeBufferPointer { PackedInt8Weights(float16Rows: $0.baseAddress!, outputs: 20, inputs: 9) }
        #expect((0..<20).allSatisfy { a.scales[$0] == b.scales[$0] })
        #expect((0..<(32 * 12)).allSatisfy { a.data[$0] == b.data[$0] })
        #expect(a.byteCount == 32 * 12 + 32 * 4 + 20 * 4)
    }
}
