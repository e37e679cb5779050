import Foundation
import Testing
@testable import EarshotSpeaker

@Suite("Speaker clustering parts") struct ClusteringUnitTests {
    /// numpy's legacy generator: `np.random.seed(0); random_sample()` then `uniform(size=2)` printed
    /// 0.5488135039273248, 0.71518937, 0.60276338 in the oracle venv (numpy 1.26.4).
    @Test func numpyRandomStateSequence() {
        var r = NumpyRandomState(seed: 0)
        #expect(r.randomSample() == 0.5488135039273248)
        let u = r.uniform(count: 2)
        #expect(abs(u[0] - 0.71518937) < 1e-8 && abs(u[1] - 0.60276338) < 1e-8)
        var s = NumpyRandomState(seed: 0)
        // np.random.seed(0); np.random.choice(7, p=float32 1/7s) == 3 (checked in the venv).
        #expect(s.choice(probabilities: [Double](repeating: Double(Float(1) / 7), count: 7)) == 3)
    }

    /// Eigenpairs of a random symmetric matrix and of a block-diagonal Laplacian (a 3-fold zero eigenvalue):
    /// residuals ‖Av − λv‖ and orthonormality at double-precision level.
    @Test(arguments: [false, true]) func eigenpairsAreAccurate(blockDiagonal: Bool) {
        let n = 60
        var g: UInt64 = 12345
        func rnd() -> Double { g = g &* 6364136223846793005 &+ 1442695040888963407; return Double(g >> 11) / Double(1 << 53) - 0.5 }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0...i {
            var v = rnd()
            if blockDiagonal { v = (i / 20 == j / 20 && i != j) ? abs(v) : 0 }
            a[i * n + j] = v; a[j * n + i] = v
        } }
        if blockDiagonal {
            for i in 0..<n {
                var s = 0.0
                for j in 0..<n where j != i { s += a[i * n + j]; a[i * n + j] = -a[i * n + j] }
                a[i * n + i] = s
            }
        }
        let r = SymmetricEigen.smallest(a, n: n, valueCount: 8, vectorCount: 6)
        for k in 1..<r.values.count { #expect(r.values[k] >= r.values[k - 1]) }
        if blockDiagonal { for k in 0..<3 { #expect(abs(r.values[k]) < 1e-12) }; #expect(r.values[3] > 1e-3) }
        for (j, v) in r.vectors.enumerated() {
            var residual = 0.0
            for i in 0..<n {
                var s = 0.0
                for t in 0..<n { s += a[i * n + t] * v[t] }
                residual = max(residual, abs(s - r.values[j] * v[i]))
            }
            #expect(residual < 1e-10, "vector \(j) residual \(residual)")
            for (k, w) in r.vectors.enumerated() {
                let d = SpeakerVectors.dot(v, w)
                #expect(abs(d - (j == k ? 1 : 0)) < 1e-10)
            }
        }
    }

    @Test func badInputIsRejected() {
        let c = SpeakerClustering()
        #expect(throws: SpeakerClusteringError.raggedVectors(index: 1, count: 2, expected: 3)) {
            try c.cluster([[1, 2, 3], [1, 2]])
        }
        #expect(throws: SpeakerClusteringError.nonFinite(index: 0)) { try c.cluster([[.nan, 1]]) }
        let many = (0..<30).map { i in [Float(i % 3), 1, Float(i % 2)] }
        #expect(throws: SpeakerClusteringError.badSpeakerCount(0, embeddings: 30)) { try c.cluster(many, speakers: 0) }
        #expect(throws: SpeakerClusteringError.badSpeakerCount(31, embeddings: 30)) { try c.cluster(many, speakers: 31) }
        #expect((try? c.cluster([])) == [])
    }

    /// FunASR's smooth: a 0.5-s turn between two others takes the nearer neighbour's speaker, and a turn
    /// that starts after the previous one ends stays separate (FunASR's postprocess printed
    /// [[0, 2.25, 0], [3.0, 3.5, 2], [3.6, 5.1, 2]] for these windows); Python's rounding to 10 ms.
    @Test func smoothingRelabelsShortTurns() {
        let turns = SpeakerTurns.turns(windows: [(0, 1.5), (0.75, 2.25), (3.0, 3.5), (3.6, 5.1)], labels: [7, 7, 3, 5])
        #expect(turns == [SpeakerTurn(start: 0, end: 2.25, speaker: 0), SpeakerTurn(start: 3.0, end: 3.5, speaker: 2),
                          SpeakerTurn(start: 3.6, end: 5.1, speaker: 2)])
        #expect(SpeakerTurns.pythonRound2(2.675) == 2.67)  // 2.675 is 2.67499999… in binary
    }
}
