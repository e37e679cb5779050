/// What the diarizer needs from a clustering back end: a speaker label per embedding.
///
/// FunASR's `ClusterBackend` port (``SpeakerClustering``, Sources/EarshotSpeaker/Clustering/) conforms and is
/// the default; ``AverageLinkageClustering`` is a simpler alternative.
public protocol SpeakerClusterer: Sendable {
    /// One label per row of `embeddings` (labels are small non-negative integers; their order carries no
    /// meaning). `speakers`, when given, is the number of clusters wanted; otherwise the back end decides.
    /// - Throws: when the embeddings are unusable (ragged rows, non-finite values).
    func cluster(_ embeddings: [[Float]], speakers: Int?) throws -> [Int]
    /// Bytes `cluster` allocates for `count` embeddings of `dimension` values (affinity matrices, copies):
    /// an upper bound the diarizer reserves in the memory ledger before clustering.
    func workingBytes(count: Int, dimension: Int) -> Int
}

extension SpeakerClustering: SpeakerClusterer {
    /// The spectral path's float64 matrices (cosine affinity, Laplacian, eigenvectors and work) over at most
    /// `largeCount − 1` embeddings, plus float64 copies of the embeddings.
    public func workingBytes(count: Int, dimension: Int) -> Int {
        let m = min(count, Self.largeCount - 1)
        return 4 * 8 * m * m + 8 * count * dimension + 64 * count
    }
}

/// A simpler back end (kept for comparison; the diarizer uses FunASR's ``SpeakerClustering``): agglomerative clustering of L2-normalised embeddings
/// with average linkage on cosine similarity, merging the most similar pair of clusters until `speakers`
/// clusters remain or no pair is more similar than `threshold`. O(n²) memory and O(n³) time: fine for the
/// few hundred windows of a short recording, not for hours of audio.
public struct AverageLinkageClustering: SpeakerClusterer {
    /// Clusters whose average pairwise cosine similarity is above this merge when the count is automatic.
    public var threshold: Float

    /// A back end stopping at `threshold` (resemblyzer d-vectors of one speaker average ≈ 0.8 over 1.6-s
    /// windows; different speakers on one telephone line ≈ 0.6–0.75).
    public init(threshold: Float = 0.72) { self.threshold = threshold }

    /// The n × n similarity sums (float64), the normalised copies and the member lists.
    public func workingBytes(count: Int, dimension: Int) -> Int {
        8 * count * count + 4 * count * dimension + 24 * count
    }

    public func cluster(_ embeddings: [[Float]], speakers: Int?) throws -> [Int] {
        let n = embeddings.count
        guard n > 1 else { return [Int](repeating: 0, count: n) }
        let d = embeddings[0].count
        guard embeddings.allSatisfy({ $0.count == d && $0.allSatisfy(\.isFinite) }) else {
            throw SpeakerError(.invalidInput, message: "embeddings must all have \(d) finite values")
        }
        let unit = embeddings.map { v -> [Float] in
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? v.map { $0 / norm } : v
        }
        // Sum of pairwise similarities between clusters; average = sum / (|a|·|b|).
        var sums = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0 ..< n {
            for j in i + 1 ..< n {
                var s: Float = 0
                for k in 0 ..< d { s += unit[i][k] * unit[j][k] }
                sums[i][j] = Double(s); sums[j][i] = Double(s)
            }
        }
        var members: [[Int]] = (0 ..< n).map { [$0] }
        var alive = [Bool](repeating: true, count: n)
        var clusters = n
        let target = speakers.map { max(1, min($0, n)) }
        while clusters > (target ?? 1) {
            var best = -Double.infinity, pair = (0, 0)
            for i in 0 ..< n where alive[i] {
                for j in i + 1 ..< n where alive[j] {
                    let avg = sums[i][j] / Double(members[i].count * members[j].count)
                    if avg > best { best = avg; pair = (i, j) }
                }
            }
            if target == nil && best < Double(threshold) { break }
            let (a, b) = pair
            members[a] += members[b]
            alive[b] = false
            for k in 0 ..< n where alive[k] && k != a {
                sums[a][k] += sums[b][k]; sums[k][a] = sums[a][k]
            }
            clusters -= 1
        }
        var labels = [Int](repeating: 0, count: n)
        for (label, i) in (0 ..< n).filter({ alive[$0] }).enumerated() {
            for m in members[i] { labels[m] = label }
        }
        return labels
    }
}
