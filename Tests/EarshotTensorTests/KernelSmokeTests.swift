import Testing
import EarshotTensor

@Suite struct KernelSmokeTests {
    @Test("sgemm multiplies a 2×2 by a transposed 2×2")
    func tinyGemm() {
        let a: [Float] = [1, 2, 3, 4]
        let b: [Float] = [5, 6, 7, 8]  // rows are outputs
        var c = [Float](repeating: 0, count: 4)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            Kernels.sgemm(m: 2, n: 2, k: 2, a: pa.baseAddress!, lda: 2, b: pb.baseAddress!, ldb: 2,
                          bLayout: .transposed, c: pc.baseAddress!, ldc: 2)
        } } }
        #expect(c == [17, 23, 39, 53])
    }
}
