import Foundation

/// The smallest eigenvalues and eigenvectors of a dense real symmetric matrix, which is what spectral
/// clustering needs of a graph Laplacian (FunASR calls `scipy.linalg.eigh` and keeps the first 16 values
/// and the first k vectors). Method: Householder reduction to tridiagonal form (as LAPACK `dsytrd` does),
/// the wanted eigenvalues of the tridiagonal matrix by Sturm-sequence bisection (`dstebz`), their vectors
/// by inverse iteration with re-orthogonalisation inside clusters of close eigenvalues (`dstein`), and the
/// Householder reflectors applied back. Cost: about n³ multiply-adds for the reduction and O(n·k) after it,
/// in double precision; n² doubles of memory.
enum SymmetricEigen {
    /// Result: `values` ascending (count `valueCount`), `vectors[j]` the unit eigenvector of `values[j]` for
    /// j < `vectorCount`.
    struct Result: Sendable {
        var values: [Double]
        var vectors: [[Double]]
    }

    /// `matrix` is n×n row-major and symmetric (only its lower triangle is read).
    static func smallest(_ matrix: [Double], n: Int, valueCount: Int, vectorCount: Int) -> Result {
        smallest(matrix, n: n, valueCount: valueCount) { _ in vectorCount }
    }

    /// As above, with the number of vectors decided from the eigenvalues (one reduction for both).
    static func smallest(_ matrix: [Double], n: Int, valueCount: Int, vectorCount: ([Double]) -> Int) -> Result {
        precondition(matrix.count == n * n && valueCount <= n)
        if n == 0 { return Result(values: [], vectors: []) }
        var a = matrix
        var diagonal = [Double](repeating: 0, count: n), offDiagonal = [Double](repeating: 0, count: max(n - 1, 0))
        var taus = [Double](repeating: 0, count: max(n - 2, 0))
        tridiagonalize(&a, n: n, diagonal: &diagonal, offDiagonal: &offDiagonal, taus: &taus)

        var norm = 0.0
        for i in 0..<n {
            let left = i > 0 ? abs(offDiagonal[i - 1]) : 0, right = i < n - 1 ? abs(offDiagonal[i]) : 0
            norm = max(norm, abs(diagonal[i]) + left + right)
        }
        let values = (0..<valueCount).map { bisect(index: $0, diagonal: diagonal, offDiagonal: offDiagonal, norm: norm) }

        let vectorCount = vectorCount(values)
        precondition(vectorCount <= valueCount)
        var vectors: [[Double]] = []
        var clusterStart = 0
        var generator: UInt64 = 0x9E37_79B9_7F4A_7C15
        let clusterTolerance = 1e-3 * max(norm, .leastNormalMagnitude)
        for j in 0..<vectorCount {
            if j > 0 && values[j] - values[j - 1] > clusterTolerance { clusterStart = j }
            // Shift: the eigenvalue, nudged apart from an equal predecessor as dstein does.
            var shift = values[j]
            if j > clusterStart && shift - values[j - 1] < 10 * Double.ulpOfOne * max(norm, 1) {
                shift = values[j - 1] + 10 * Double.ulpOfOne * max(norm, 1)
            }
            var x = (0..<n).map { _ -> Double in
                generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Double(generator >> 11) / Double(1 << 53) - 0.5
            }
            let factors = TridiagonalLU(diagonal: diagonal, offDiagonal: offDiagonal, shift: shift, norm: norm)
            for _ in 0..<6 {
                orthogonalize(&x, against: vectors[clusterStart..<j])
                normalize(&x)
                factors.solve(&x)
            }
            orthogonalize(&x, against: vectors[clusterStart..<j])
            normalize(&x)
            vectors.append(x)
        }
        for j in vectors.indices { applyReflectors(a, n: n, taus: taus, to: &vectors[j]) }
        return Result(values: values, vectors: vectors)
    }

    /// Householder reduction A = Q T Qᵀ. Reflector k (for column k) is stored below the subdiagonal of
    /// column k: v = (1, a[k+2][k], …, a[n-1][k]) acting on rows k+1…n-1, H = I − τ v vᵀ.
    private static func tridiagonalize(_ a: inout [Double], n: Int, diagonal: inout [Double],
                                       offDiagonal: inout [Double], taus: inout [Double]) {
        var v = [Double](repeating: 0, count: n), w = [Double](repeating: 0, count: n)
        for k in 0..<max(n - 2, 0) {
            let m = n - k - 1
            var sigma = 0.0
            for i in (k + 2)..<n { sigma += a[i * n + k] * a[i * n + k] }
            let x0 = a[(k + 1) * n + k]
            diagonal[k] = a[k * n + k]
            if sigma == 0 {
                offDiagonal[k] = x0; taus[k] = 0; continue
            }
            let xNorm = (x0 * x0 + sigma).squareRoot()
            let alpha = x0 >= 0 ? -xNorm : xNorm
            let v0 = x0 - alpha
            // Scaled so v[0] = 1: τ = 2 / (vᵀv) with v = (x − αe₁)/v0.
            v[0] = 1
            for i in 1..<m { v[i] = a[(k + 1 + i) * n + k] / v0 }
            var vv = 1.0
            for i in 1..<m { vv += v[i] * v[i] }
            let tau = 2 / vv
            taus[k] = tau
            offDiagonal[k] = alpha
            for i in 1..<m { a[(k + 1 + i) * n + k] = v[i] }
            a.withUnsafeMutableBufferPointer { ap in
                v.withUnsafeMutableBufferPointer { vp in
                    w.withUnsafeMutableBufferPointer { wp in
                        symmetricRank2Update(ap.baseAddress! + (k + 1) * n + (k + 1), stride: n, m: m, tau: tau,
                                             v: vp.baseAddress!, w: wp.baseAddress!)
                    }
                }
            }
        }
        if n >= 2 {
            diagonal[n - 2] = a[(n - 2) * n + (n - 2)]
            offDiagonal[n - 2] = a[(n - 1) * n + (n - 2)]
        }
        diagonal[n - 1] = a[(n - 1) * n + (n - 1)]
    }

    /// B ← H B H for the trailing m×m block B (full storage, row stride `stride`), H = I − τ v vᵀ:
    /// p = τBv, w = p − (τ/2)(pᵀv)v, B ← B − v wᵀ − w vᵀ.
    private static func symmetricRank2Update(_ b: UnsafeMutablePointer<Double>, stride: Int, m: Int, tau: Double,
                                             v: UnsafeMutablePointer<Double>, w: UnsafeMutablePointer<Double>) {
        for i in 0..<m {
            let row = b + i * stride
            var s = 0.0
            for j in 0..<m { s += row[j] * v[j] }
            w[i] = tau * s
        }
        var pv = 0.0
        for i in 0..<m { pv += w[i] * v[i] }
        let half = 0.5 * tau * pv
        for i in 0..<m { w[i] -= half * v[i] }
        for i in 0..<m {
            let row = b + i * stride
            let vi = v[i], wi = w[i]
            for j in 0..<m { row[j] -= vi * w[j] + wi * v[j] }
        }
    }

    /// y ← Q y = H₀ H₁ … y, the reflectors applied last to first.
    private static func applyReflectors(_ a: [Double], n: Int, taus: [Double], to y: inout [Double]) {
        for k in stride(from: n - 3, through: 0, by: -1) where taus[k] != 0 {
            var s = y[k + 1]
            for i in (k + 2)..<n { s += a[i * n + k] * y[i] }
            s *= taus[k]
            y[k + 1] -= s
            for i in (k + 2)..<n { y[i] -= s * a[i * n + k] }
        }
    }

    /// Number of eigenvalues of T below x (Sturm sequence; a zero pivot is replaced by a tiny one).
    private static func countBelow(_ x: Double, diagonal: [Double], offDiagonal: [Double], pivotMin: Double) -> Int {
        var count = 0
        var q = diagonal[0] - x
        if abs(q) < pivotMin { q = -pivotMin }
        if q < 0 { count += 1 }
        for i in 1..<diagonal.count {
            q = diagonal[i] - x - offDiagonal[i - 1] * offDiagonal[i - 1] / q
            if abs(q) < pivotMin { q = -pivotMin }
            if q < 0 { count += 1 }
        }
        return count
    }

    /// The eigenvalue with 0-based rank `index`, to about 2ε‖T‖.
    private static func bisect(index: Int, diagonal: [Double], offDiagonal: [Double], norm: Double) -> Double {
        let scale = max(norm, .leastNormalMagnitude)
        let pivotMin = Double.leastNormalMagnitude * max(1, scale * scale)
        var lo = -scale - 1e-12, hi = scale + 1e-12
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if mid == lo || mid == hi || hi - lo <= 2 * Double.ulpOfOne * scale { break }
            if countBelow(mid, diagonal: diagonal, offDiagonal: offDiagonal, pivotMin: pivotMin) > index {
                hi = mid
            } else {
                lo = mid
            }
        }
        return 0.5 * (lo + hi)
    }

    private static func orthogonalize(_ x: inout [Double], against basis: ArraySlice<[Double]>) {
        for b in basis {
            var d = 0.0
            for i in x.indices { d += x[i] * b[i] }
            for i in x.indices { x[i] -= d * b[i] }
        }
    }

    private static func normalize(_ x: inout [Double]) {
        var s = 0.0
        for v in x { s += v * v }
        let inv = s > 0 ? 1 / s.squareRoot() : 0
        for i in x.indices { x[i] *= inv }
    }
}

/// LU factors with partial pivoting of a shifted tridiagonal matrix T − σI (LAPACK `dgttrf`/`dgttrs`),
/// tiny pivots replaced by ε‖T‖ so that shifting by an exact eigenvalue still solves (inverse iteration).
private struct TridiagonalLU {
    var lower: [Double], diag: [Double], upper1: [Double], upper2: [Double], swapped: [Bool]

    init(diagonal: [Double], offDiagonal: [Double], shift: Double, norm: Double) {
        let n = diagonal.count
        lower = offDiagonal
        diag = diagonal.map { $0 - shift }
        upper1 = offDiagonal
        upper2 = [Double](repeating: 0, count: max(n - 2, 0))
        swapped = [Bool](repeating: false, count: max(n - 1, 0))
        let tiny = Double.ulpOfOne * max(norm, .leastNormalMagnitude)
        for i in 0..<max(n - 1, 0) {
            if abs(diag[i]) >= abs(lower[i]) {
                if abs(diag[i]) < tiny { diag[i] = diag[i] < 0 ? -tiny : tiny }
                let f = lower[i] / diag[i]
                lower[i] = f
                diag[i + 1] -= f * upper1[i]
            } else {
                let f = diag[i] / lower[i]
                diag[i] = lower[i]
                lower[i] = f
                let t = upper1[i]
                upper1[i] = diag[i + 1]
                diag[i + 1] = t - f * diag[i + 1]
                if i < n - 2 {
                    upper2[i] = upper1[i + 1]
                    upper1[i + 1] = -f * upper1[i + 1]
                }
                swapped[i] = true
            }
        }
        if abs(diag[n - 1]) < tiny { diag[n - 1] = diag[n - 1] < 0 ? -tiny : tiny }
    }

    func solve(_ b: inout [Double]) {
        let n = diag.count
        for i in 0..<max(n - 1, 0) {
            if swapped[i] {
                let t = b[i]
                b[i] = b[i + 1]
                b[i + 1] = t - lower[i] * b[i]
            } else {
                b[i + 1] -= lower[i] * b[i]
            }
        }
        b[n - 1] /= diag[n - 1]
        if n >= 2 { b[n - 2] = (b[n - 2] - upper1[n - 2] * b[n - 1]) / diag[n - 2] }
        if n >= 3 {
            for i in stride(from: n - 3, through: 0, by: -1) {
                b[i] = (b[i] - upper1[i] * b[i + 1] - upper2[i] * b[i + 2]) / diag[i]
            }
        }
        // Keep magnitudes finite: inverse iteration at an exact eigenvalue grows by ~1/ε per solve.
        var m = 0.0
        for v in b { m = max(m, abs(v)) }
        if m > 0 && m.isFinite { for i in b.indices { b[i] /= m } }
    }
}
