import Foundation

/// FunASR's `SpectralCluster` (funasr/models/campplus/cluster_backend.py, adapted there from SpeechBrain):
/// cosine affinity, row-wise p-pruning (keep the largest ⌈pval·N⌉-ish entries of each row, pval 0.022 or
/// 6/N when 0.022·N < 6), symmetrisation ½(A + Aᵀ), unnormalised Laplacian D − A with a zero diagonal,
/// the number of speakers from the largest gap among the 16 smallest eigenvalues (between `minSpeakers`
/// and `maxSpeakers`) unless given, and k-means on the rows of the first k eigenvectors.
struct SpectralClustering {
    var minSpeakers = 1
    var maxSpeakers = 15
    var pValue = 0.022

    /// The spectral embedding's eigenvalues (ascending, up to `maxSpeakers + 1` of them), for tests.
    func laplacianEigenvalues(_ embeddings: [[Float]]) -> [Double] {
        let n = embeddings.count
        let l = laplacian(embeddings)
        return SymmetricEigen.smallest(l, n: n, valueCount: min(n, maxSpeakers + 1), vectorCount: 0).values
    }

    /// Labels for `embeddings` (N ≥ 2); `speakers` fixes k, otherwise the eigengap picks it.
    func cluster(_ embeddings: [[Float]], speakers: Int?, random: inout NumpyRandomState) -> [Int] {
        let n = embeddings.count
        let l = laplacian(embeddings)
        let valueCount = min(n, max(maxSpeakers + 1, speakers ?? 0))
        let eigen = SymmetricEigen.smallest(l, n: n, valueCount: valueCount) { values in
            speakers ?? eigengapSpeakers(values)
        }
        let k = eigen.vectors.count
        var rows = [Double](repeating: 0, count: n * k)
        for j in 0..<k { for i in 0..<n { rows[i * k + j] = eigen.vectors[j][i] } }
        return KMeans(clusters: k).fit(rows, rows: n, columns: k, random: &random)
    }

    /// `getEigenGaps` + argmax over values[minSpeakers-1 ... maxSpeakers] (the first of equal gaps).
    func eigengapSpeakers(_ values: [Double]) -> Int {
        let window = Array(values[(minSpeakers - 1)..<min(values.count, maxSpeakers + 1)])
        var bestGap = -Double.infinity, best = 0
        for i in 0..<(window.count - 1) where window[i + 1] - window[i] > bestGap {
            bestGap = window[i + 1] - window[i]; best = i
        }
        return best + minSpeakers
    }

    /// The pruned, symmetrised affinity's Laplacian, n×n row-major.
    func laplacian(_ embeddings: [[Float]]) -> [Double] {
        let n = embeddings.count
        var a = SpeakerVectors.cosineMatrix(embeddings)
        // p_pruning: zero the n_elems smallest entries of each row (np.argsort order).
        let pval = Double(n) * pValue < 6 ? 6.0 / Double(n) : pValue
        let dropped = Int((1 - pval) * Double(n))
        var order = [Int](repeating: 0, count: n)
        for i in 0..<n {
            for j in 0..<n { order[j] = j }
            order.sort { a[i * n + $0] < a[i * n + $1] || (a[i * n + $0] == a[i * n + $1] && $0 < $1) }
            for j in order.prefix(dropped) { a[i * n + j] = 0 }
        }
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            var degree = 0.0
            for j in 0..<n where j != i {
                let s = 0.5 * (a[i * n + j] + a[j * n + i])
                l[i * n + j] = -s
                degree += abs(s)
            }
            l[i * n + i] = degree
        }
        return l
    }
}

/// Small vector helpers shared by the clustering code.
enum SpeakerVectors {
    /// sklearn's `cosine_similarity(X, X)`: rows scaled to unit length (zero rows stay zero), then dot products.
    static func cosineMatrix(_ x: [[Float]]) -> [Double] {
        let n = x.count
        let unit = x.map(unitVector)
        var m = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in i..<n {
                let s = dot(unit[i], unit[j])
                m[i * n + j] = s
                m[j * n + i] = s
            }
        }
        return m
    }

    static func unitVector(_ v: [Float]) -> [Double] {
        let d = v.map(Double.init)
        let norm = dot(d, d).squareRoot()
        return norm > 0 ? d.map { $0 / norm } : d
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in a.indices { s += a[i] * b[i] }
        return s
    }
}
