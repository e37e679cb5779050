import Foundation
import Testing
import EarshotTensor

/// The vectorised scans greedy decoding runs over each 51 864-entry logit row.
@Suite("logit-row kernels (argmax, sumExp, scalar add) against naive references")
struct LogitRowTests {
    /// Rows of odd lengths (vector tails), with masked (-inf) entries and a repeated maximum: the first
    /// index of the maximum wins, masked entries add nothing, and the sum matches a float64 reference to
    /// the exp approximation's few-ulp error (relative 1e-6).
    @Test(arguments: availableLevels, [1, 7, 33, 1501, 51_864])
    func scans(level: Kernels.InstructionSet, count: Int) {
        var rng = TestRandom(seed: UInt64(count))
        var x = rng.floats(count, scale: 20)
        for i in Swift.stride(from: 3, to: count, by: 5) { x[i] = -.infinity }
        let peak = count / 2
        x[peak] = 25
        if count > 3 { x[count - 1] = 25 }       // a later tie must not win
        let shift = x.max()!
        let (index, sum) = Kernels.withInstructionSet(level) {
            (Kernels.argmax(x, count: count), Kernels.sumExp(x, count: count, shift: shift))
        }
        #expect(index == peak)
        let want = x.reduce(0.0) { $0 + exp(Double($1) - Double(shift)) }
        #expect(abs(sum - want) <= 1e-6 * want, "sum \(sum) vs \(want)")

        var y = x
        Kernels.withInstructionSet(level) { Kernels.add(-1.5, to: &y, count: count) }
        #expect(y == x.map { $0 + -1.5 })
    }

    /// A fully masked row: index 0, and the masked tail of a row never wins over a finite head.
    @Test(arguments: availableLevels)
    func maskedRows(level: Kernels.InstructionSet) {
        let masked = [Float](repeating: -.infinity, count: 37)
        var head = masked
        head[0] = -3
        Kernels.withInstructionSet(level) {
            #expect(Kernels.argmax(masked, count: masked.count) == 0)
            #expect(Kernels.argmax(head, count: head.count) == 0)
            #expect(Kernels.sumExp(head, count: head.count, shift: -3) == 1)
        }
    }
}
