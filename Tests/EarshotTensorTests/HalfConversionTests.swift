import Testing
import EarshotTensor
import CEarshotKernels

@Suite("fp32 → half rounding and attention over half keys/values")
struct HalfConversionTests {
    /// Every level rounds to nearest even exactly as Swift's `Float16(_:)` does: random bit patterns
    /// (normals, subnormals, overflow), exact ties, and the class boundaries.
    @Test(arguments: availableLevels)
    func roundsToNearestEven(level: Kernels.InstructionSet) {
        var state: UInt64 = 12345
        var values: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e6, .infinity, -.infinity,
                               Float(bitPattern: 0x3880_0000), Float(bitPattern: 0x387F_FFFF), 5.9604645e-8,
                               2.9802322e-8, 2.9802326e-8, 1 + 1.0 / 2048, 1 + 3.0 / 2048]
        for _ in 0..<50_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let bits = UInt32(truncatingIfNeeded: state >> 32)
            let value = Float(bitPattern: bits)
            if value.isFinite { values.append(value) }
            // Values in the half range, including ties (11 significant bits then exactly one half).
            let tie = Float(Int(bits % 4096) - 2048) / 2048 * Float(1 << Int((bits >> 12) % 16))
            values.append(tie)
        }
        var out = [UInt16](repeating: 0, count: values.count)
        ek_float_to_half(level.rawValue, values, &out, values.count)
        for (value, half) in zip(values, out) {
            #expect(half == Float16(value).bitPattern, "\(value) at \(level)")
        }
    }

    /// Attention over half keys/values equals fp32 attention over the same (widened) values, bit for bit, at
    /// every level (AVX-512 widens in registers; lower levels widen into scratch), for decoding rows.
    @Test(arguments: availableLevels)
    func halfKeyValuesEqualWidenedFloat(level: Kernels.InstructionSet) {
        Kernels.withInstructionSet(level) {
            let heads = 2, headDim = 64, keys = 300, rows = 3, width = heads * headDim
            var state: UInt64 = 7
            func random() -> Float {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int(state >> 40) % 2001 - 1000) / 1000
            }
            let q = (0..<rows * width).map { _ in random() }
            let kvFloat = (0..<keys * 2 * width).map { _ in random() }
            var kvHalf = [UInt16](repeating: 0, count: kvFloat.count)
            ek_float_to_half(Kernels.instructionSet.rawValue, kvFloat, &kvHalf, kvFloat.count)
            var widened = [Float](repeating: 0, count: kvFloat.count)
            ek_half_to_float(Kernels.instructionSet.rawValue, kvHalf, &widened, kvHalf.count)
            var fromHalf = [Float](repeating: 0, count: rows * width), fromFloat = fromHalf
            q.withUnsafeBufferPointer { q in
                kvHalf.withUnsafeBufferPointer { kv in
                    fromHalf.withUnsafeMutableBufferPointer { out in
                        Kernels.attention([Kernels.AttentionProblem(
                            query: q.baseAddress!, queryStride: width, halfKeys: kv.baseAddress!,
                            halfValues: kv.baseAddress! + width, keyValueStride: 2 * width, output: out.baseAddress!,
                            outputStride: width, queryCount: rows, keyCount: keys)], heads: heads, headDim: headDim)
                    }
                }
                widened.withUnsafeBufferPointer { kv in
                    fromFloat.withUnsafeMutableBufferPointer { out in
                        Kernels.attention(query: q.baseAddress!, queryStride: width, key: kv.baseAddress!,
                                          keyStride: 2 * width, value: kv.baseAddress! + width, valueStride: 2 * width,
                                          output: out.baseAddress!, outputStride: width, heads: heads, headDim: headDim,
                                          queryCount: rows, keyCount: keys, causalOffset: nil)
                    }
                }
            }
            #expect(fromHalf == fromFloat, "\(level)")
        }
    }
}
