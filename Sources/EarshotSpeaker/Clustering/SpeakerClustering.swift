import Foundation

/// FunASR's speaker clustering back end (`ClusterBackend` in funasr/models/campplus/cluster_backend.py,
/// funasr 1.4.3): one label per speaker embedding, labels numbered from 0.
///
/// What it does, by the number of embeddings N:
/// - N < 20: every embedding is speaker 0 (a given speaker count is ignored, as in FunASR).
/// - 20 ≤ N < 2048: spectral clustering (``SpectralClustering``: cosine affinity, p-pruning, Laplacian,
///   eigengap over 1…15 speakers unless `speakers` is given, k-means on the eigenvectors).
/// - N ≥ 2048 with `speakers` given: k-means (10 k-means++ starts, numpy seed 0) on the L2-normalised
///   embeddings, FunASR's `KMeansCluster`.
/// - N ≥ 2048 without a count: FunASR runs UMAP (random, 60 dimensions) + HDBSCAN, which cannot be
///   reproduced. Earshot instead runs the spectral path on ≤ 2047 evenly spaced embeddings and gives
///   every embedding the label of the nearest cluster centroid (cosine). See docs/speaker-models.md.
/// - When the count is automatic, clusters whose centroids have cosine ≥ `mergeThreshold` (0.78) are then
///   merged, most similar pair first (`merge_by_cos`).
///
/// The k-means draws come from numpy's MT19937 generator seeded with `seed`; FunASR's `AutoModel` seeds
/// numpy's global generator with 0 when it builds a model, so with the default seed the labels (numbers
/// included) are FunASR's for the first clustering after the model is built.
public struct SpeakerClustering: Sendable {
    /// Centroid cosine at or above which two automatically found speakers are merged (FunASR `merge_thr`).
    public var mergeThreshold: Double
    /// Smallest and largest speaker count the eigengap may choose (FunASR: 1 and 15).
    public var minSpeakers: Int
    public var maxSpeakers: Int
    /// numpy seed for the k-means++ draws (FunASR's `set_all_random_seed(0)`).
    public var seed: UInt32

    /// Below this many embeddings everything is one speaker; from `largeCount` on, the large-N path.
    public static let minimumCount = 20
    public static let largeCount = 2048

    public init(mergeThreshold: Double = 0.78, minSpeakers: Int = 1, maxSpeakers: Int = 15, seed: UInt32 = 0) {
        self.mergeThreshold = mergeThreshold
        self.minSpeakers = minSpeakers
        self.maxSpeakers = maxSpeakers
        self.seed = seed
    }

    /// One speaker label per embedding, in input order. `speakers`: the number of speakers if known
    /// (FunASR's `preset_spk_num`), else nil. Throws ``SpeakerClusteringError`` on ragged, empty-width or
    /// non-finite vectors and on an impossible speaker count.
    public func cluster(_ embeddings: [[Float]], speakers: Int? = nil) throws -> [Int] {
        try validate(embeddings, speakers: speakers)
        let n = embeddings.count
        if n < Self.minimumCount { return [Int](repeating: 0, count: n) }
        var labels: [Int]
        var random = NumpyRandomState(seed: seed)
        if n < Self.largeCount {
            labels = spectral.cluster(embeddings, speakers: speakers, random: &random)
        } else if let speakers {
            labels = kMeansOnUnitVectors(embeddings, speakers: speakers)
        } else {
            labels = subsampledSpectral(embeddings, random: &random)
        }
        if speakers == nil { labels = mergeByCosine(labels, embeddings) }
        return labels
    }

    private var spectral: SpectralClustering {
        SpectralClustering(minSpeakers: minSpeakers, maxSpeakers: maxSpeakers)
    }

    private func validate(_ embeddings: [[Float]], speakers: Int?) throws {
        guard let width = embeddings.first?.count else { return }
        guard width > 0 else { throw SpeakerClusteringError.emptyVectors }
        for (i, e) in embeddings.enumerated() {
            guard e.count == width else { throw SpeakerClusteringError.raggedVectors(index: i, count: e.count, expected: width) }
            guard e.allSatisfy(\.isFinite) else { throw SpeakerClusteringError.nonFinite(index: i) }
        }
        guard minSpeakers >= 1 && maxSpeakers >= minSpeakers else {
            throw SpeakerClusteringError.badSpeakerRange(min: minSpeakers, max: maxSpeakers)
        }
        if let speakers, embeddings.count >= Self.minimumCount {
            guard speakers >= 1 && speakers <= embeddings.count else {
                throw SpeakerClusteringError.badSpeakerCount(speakers, embeddings: embeddings.count)
            }
        }
    }

    /// FunASR's `KMeansCluster`: `k_means(normalize(X), k, random_state=0, n_init=10)`.
    private func kMeansOnUnitVectors(_ embeddings: [[Float]], speakers: Int) -> [Int] {
        let d = embeddings[0].count
        var rows = [Double]()
        rows.reserveCapacity(embeddings.count * d)
        for e in embeddings { rows += SpeakerVectors.unitVector(e) }
        var random = NumpyRandomState(seed: 0)
        return KMeans(clusters: speakers, runs: 10).fit(rows, rows: embeddings.count, columns: d, random: &random)
    }

    /// Earshot's stand-in for UMAP + HDBSCAN: spectral clustering of an evenly spaced subsample, then the
    /// nearest centroid (cosine) for every embedding.
    private func subsampledSpectral(_ embeddings: [[Float]], random: inout NumpyRandomState) -> [Int] {
        let n = embeddings.count, m = Self.largeCount - 1
        let picks = (0..<m).map { $0 * n / m }
        let sample = picks.map { embeddings[$0] }
        let sampleLabels = spectral.cluster(sample, speakers: nil, random: &random)
        let k = (sampleLabels.max() ?? 0) + 1
        let d = embeddings[0].count
        var centroids = [[Double]](repeating: [Double](repeating: 0, count: d), count: k)
        for (i, label) in sampleLabels.enumerated() {
            for t in 0..<d { centroids[label][t] += Double(sample[i][t]) }
        }
        let unitCentroids = centroids.map { c -> [Double] in
            let norm = SpeakerVectors.dot(c, c).squareRoot()
            return norm > 0 ? c.map { $0 / norm } : c
        }
        return embeddings.map { e in
            let u = SpeakerVectors.unitVector(e)
            var best = 0, bestScore = -Double.infinity
            for c in 0..<k {
                let s = SpeakerVectors.dot(u, unitCentroids[c])
                if s > bestScore { bestScore = s; best = c }
            }
            return best
        }
    }

    /// `merge_by_cos`: while two clusters' mean embeddings have cosine ≥ the threshold, merge the most
    /// similar pair (the first in row-major order among equals) into the lower label and close the gap.
    /// An empty label (possible when k-means leaves a cluster empty) has an undefined centroid; FunASR's
    /// argmax then takes the first NaN pair and merges it, and so does this.
    func mergeByCosine(_ input: [Int], _ embeddings: [[Float]]) -> [Int] {
        var labels = input
        let d = embeddings[0].count
        while true {
            let count = (labels.max() ?? 0) + 1
            if count == 1 { break }
            var sums = [[Double]](repeating: [Double](repeating: 0, count: d), count: count)
            var sizes = [Int](repeating: 0, count: count)
            for (i, label) in labels.enumerated() {
                sizes[label] += 1
                for t in 0..<d { sums[label][t] += Double(embeddings[i][t]) }
            }
            let units: [[Double]?] = (0..<count).map { c in
                guard sizes[c] > 0 else { return nil }
                let norm = SpeakerVectors.dot(sums[c], sums[c]).squareRoot()
                return sums[c].map { $0 / norm }
            }
            var pair: (Int, Int)?, best = -Double.infinity
            search: for i in 0..<count {
                for j in (i + 1)..<count {
                    guard let a = units[i], let b = units[j] else { pair = (i, j); best = .infinity; break search }
                    let s = SpeakerVectors.dot(a, b)
                    if s > best { best = s; pair = (i, j) }
                }
            }
            guard let (keep, drop) = pair, best >= mergeThreshold else { break }
            for i in labels.indices {
                if labels[i] == drop { labels[i] = keep } else if labels[i] > drop { labels[i] -= 1 }
            }
        }
        return labels
    }
}

/// Why ``SpeakerClustering/cluster(_:speakers:)`` refused its input.
public enum SpeakerClusteringError: Error, Equatable, CustomStringConvertible {
    case emptyVectors
    case raggedVectors(index: Int, count: Int, expected: Int)
    case nonFinite(index: Int)
    case badSpeakerCount(Int, embeddings: Int)
    case badSpeakerRange(min: Int, max: Int)

    public var description: String {
        switch self {
        case .emptyVectors: return "speaker embeddings have no components"
        case let .raggedVectors(i, count, expected):
            return "speaker embedding \(i) has \(count) components, the first has \(expected)"
        case let .nonFinite(i): return "speaker embedding \(i) contains NaN or infinity"
        case let .badSpeakerCount(k, n): return "speaker count \(k) is impossible for \(n) embeddings (1…\(n))"
        case let .badSpeakerRange(lo, hi): return "speaker range \(lo)…\(hi) is empty or below 1"
        }
    }
}
