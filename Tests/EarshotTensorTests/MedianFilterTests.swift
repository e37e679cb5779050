import Testing
import EarshotTensor
import CEarshotKernels

@Suite("Width-7 median filter against a sorting reference at every instruction-set level")
struct MedianFilterTests {
    /// The median of the 7 reflected neighbours, found by sorting (reflect: index -1 reads 1, n reads n-2).
    static func reference(_ x: [Float]) -> [Float] {
        let n = x.count
        return (0..<n).map { c in
            let window = (-3...3).map { k -> Float in
                var i = c + k
                if i < 0 { i = -i }
                if i >= n { i = 2 * n - i - 2 }
                return x[i]
            }
            return window.sorted()[3]
        }
    }

    @Test(arguments: availableLevels)
    func equalsSortingReference(level: Kernels.InstructionSet) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            // Few distinct values, so ties are common.
            return Float(Int(state >> 59)) * 0.25 - 2
        }
        for n in [4, 5, 6, 7, 8, 13, 16, 17, 64, 750, 1500] {
            let x = (0..<n).map { _ in next() }
            var y = [Float](repeating: .nan, count: n)
            ek_median7_row(level.rawValue, x, &y, n)
            #expect(y == Self.reference(x), "n = \(n) at \(level)")
        }
    }
}
