import Foundation

/// scikit-learn's `k_means` (1.9.1, `sklearn/cluster/_kmeans.py`) as FunASR calls it: k-means++ seeding
/// with greedy local trials (`_kmeans_plusplus`, 2 + ⌊ln k⌋ candidates per centre, drawn from numpy's
/// `RandomState`), Lloyd iterations (`_kmeans_single_lloyd`: strict convergence when labels stop changing,
/// else the summed squared centre shift ≤ 1e-4 × mean feature variance, at most 300 iterations; empty
/// clusters take the points farthest from their centres), the data centred on its mean first, and the best
/// of `runs` initialisations by inertia unless it is the same partition. Unit sample weights.
/// Arithmetic is double precision (scikit-learn keeps FunASR's float32); label numbers follow the seeding.
struct KMeans {
    var clusters: Int
    var runs: Int = 1
    var maxIterations = 300
    var relativeTolerance = 1e-4

    /// Labels in 0..<clusters for the rows of `data` (n × d, row-major).
    func fit(_ data: [Double], rows n: Int, columns d: Int, random: inout NumpyRandomState) -> [Int] {
        precondition(n >= clusters && clusters >= 1 && data.count == n * d)
        var x = data
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += x[i * d + j] } }
        for j in 0..<d { mean[j] /= Double(n) }
        for i in 0..<n { for j in 0..<d { x[i * d + j] -= mean[j] } }
        var variance = 0.0
        for i in 0..<n { for j in 0..<d { variance += x[i * d + j] * x[i * d + j] } }
        let tolerance = variance / Double(n) / Double(d) * relativeTolerance
        let squaredNorms = (0..<n).map { i in (0..<d).reduce(0.0) { $0 + x[i * d + $1] * x[i * d + $1] } }

        var best: (labels: [Int], inertia: Double)?
        for _ in 0..<runs {
            let centres = seed(x, n: n, d: d, squaredNorms: squaredNorms, random: &random)
            let run = lloyd(x, n: n, d: d, centres: centres, tolerance: tolerance)
            if let b = best {
                if run.inertia < b.inertia && !samePartition(run.labels, b.labels) { best = run }
            } else {
                best = run
            }
        }
        return best!.labels
    }

    private func squaredDistance(_ x: [Double], _ i: Int, _ centre: ArraySlice<Double>, d: Int) -> Double {
        var s = 0.0
        var j = centre.startIndex
        for t in 0..<d { let diff = x[i * d + t] - centre[j]; s += diff * diff; j += 1 }
        return s
    }

    /// `_kmeans_plusplus`.
    private func seed(_ x: [Double], n: Int, d: Int, squaredNorms: [Double], random: inout NumpyRandomState) -> [Double] {
        let trials = 2 + Int(log(Double(clusters)))
        // sample_weight / sample_weight.sum() in float32, then numpy's choice in float64.
        let p = Double(Float(1) / Float(n))
        let first = random.choice(probabilities: [Double](repeating: p, count: n))
        var centres = [Double](repeating: 0, count: clusters * d)
        for t in 0..<d { centres[t] = x[first * d + t] }
        var closest = (0..<n).map { squaredDistance(x, $0, x[(first * d)..<(first * d + d)], d: d) }
        var potential = closest.reduce(0, +)
        for c in 1..<clusters {
            let draws = random.uniform(count: trials).map { $0 * potential }
            var cumulative = [Double](repeating: 0, count: n)
            var acc = 0.0
            for i in 0..<n { acc += closest[i]; cumulative[i] = acc }
            let candidates = draws.map { value -> Int in
                var lo = 0, hi = n
                while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] < value { lo = mid + 1 } else { hi = mid } }
                return min(lo, n - 1)
            }
            var bestPotential = Double.infinity, bestCandidate = 0, bestDistances: [Double] = []
            for candidate in candidates {
                let row = x[(candidate * d)..<(candidate * d + d)]
                var distances = [Double](repeating: 0, count: n)
                var pot = 0.0
                for i in 0..<n {
                    distances[i] = min(closest[i], squaredDistance(x, i, row, d: d))
                    pot += distances[i]
                }
                if pot < bestPotential { bestPotential = pot; bestCandidate = candidate; bestDistances = distances }
            }
            potential = bestPotential
            closest = bestDistances
            for t in 0..<d { centres[c * d + t] = x[bestCandidate * d + t] }
        }
        return centres
    }

    /// Nearest centre by ‖c‖² − 2x·c (the first of equals), as `lloyd_iter_chunked_dense` ranks them.
    private func assign(_ x: [Double], n: Int, d: Int, centres: [Double]) -> [Int] {
        let k = clusters
        let centreNorms = (0..<k).map { c in (0..<d).reduce(0.0) { $0 + centres[c * d + $1] * centres[c * d + $1] } }
        return (0..<n).map { i in
            var bestLabel = 0, bestValue = Double.infinity
            for c in 0..<k {
                var dot = 0.0
                for t in 0..<d { dot += x[i * d + t] * centres[c * d + t] }
                let value = centreNorms[c] - 2 * dot
                if c == 0 || value < bestValue { bestValue = value; bestLabel = c }
            }
            return bestLabel
        }
    }

    private func lloyd(_ x: [Double], n: Int, d: Int, centres initial: [Double], tolerance: Double)
        -> (labels: [Int], inertia: Double) {
        let k = clusters
        var centres = initial
        var labels = [Int](repeating: -1, count: n), previous = labels
        var strict = false
        for _ in 0..<maxIterations {
            labels = assign(x, n: n, d: d, centres: centres)
            var sums = [Double](repeating: 0, count: k * d), counts = [Double](repeating: 0, count: k)
            for i in 0..<n {
                counts[labels[i]] += 1
                for t in 0..<d { sums[labels[i] * d + t] += x[i * d + t] }
            }
            relocateEmpty(x, n: n, d: d, labels: labels, centres: centres, sums: &sums, counts: &counts)
            var shift = 0.0
            var updated = centres
            for c in 0..<k where counts[c] > 0 {
                for t in 0..<d {
                    updated[c * d + t] = sums[c * d + t] / counts[c]
                    let diff = updated[c * d + t] - centres[c * d + t]
                    shift += diff * diff
                }
            }
            centres = updated
            if labels == previous { strict = true; break }
            if shift <= tolerance { break }
            previous = labels
        }
        if !strict { labels = assign(x, n: n, d: d, centres: centres) }
        var inertia = 0.0
        for i in 0..<n { inertia += squaredDistance(x, i, centres[(labels[i] * d)..<(labels[i] * d + d)], d: d) }
        return (labels, inertia)
    }

    /// `_relocate_empty_clusters_dense`: each empty cluster takes one of the points farthest from their
    /// current centre (farthest first).
    private func relocateEmpty(_ x: [Double], n: Int, d: Int, labels: [Int], centres: [Double],
                               sums: inout [Double], counts: inout [Double]) {
        let empty = (0..<clusters).filter { counts[$0] == 0 }
        if empty.isEmpty { return }
        let distances = (0..<n).map { squaredDistance(x, $0, centres[(labels[$0] * d)..<(labels[$0] * d + d)], d: d) }
        let far = (0..<n).sorted { distances[$0] > distances[$1] || (distances[$0] == distances[$1] && $0 < $1) }
        for (idx, cluster) in empty.enumerated() {
            let i = far[idx], old = labels[i]
            for t in 0..<d {
                sums[old * d + t] -= x[i * d + t]
                sums[cluster * d + t] = x[i * d + t]
            }
            counts[cluster] = 1
            counts[old] -= 1
        }
    }

    /// `_is_same_clustering`: the two labelings are the same partition up to renaming.
    private func samePartition(_ a: [Int], _ b: [Int]) -> Bool {
        var mapping = [Int](repeating: -1, count: clusters)
        for i in a.indices {
            if mapping[a[i]] == -1 { mapping[a[i]] = b[i] } else if mapping[a[i]] != b[i] { return false }
        }
        return true
    }
}
