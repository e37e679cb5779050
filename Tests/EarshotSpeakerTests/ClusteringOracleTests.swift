import Foundation
import Testing
@testable import EarshotSpeaker

/// The committed FunASR clustering fixtures (scripts/oracle/cluster_oracle.py): two pools of int8-quantised
/// 192-d embeddings and, per case, what FunASR's ClusterBackend and postprocess returned.
struct ClusteringFixture {
    struct Case {
        var pool: String, offset: Int, n: Int, speakers: Int?
        var labels: [Int]
        var eigenvalues: [Double]?
        var windows: [(start: Double, end: Double)]?
        var regions: [(start: Double, samples: Int)]?
        var turns: [SpeakerTurn]?
        var degenerate = false
        var name: String { "\(pool)[\(offset)..<\(offset + n)] k=\(speakers.map(String.init) ?? "auto")" }
    }

    var pools: [String: [[Float]]] = [:]
    var cases: [Case] = []

    static func load() throws -> ClusteringFixture {
        let dir = try #require(Bundle.module.url(forResource: "clustering", withExtension: nil, subdirectory: "Fixtures"),
                               "Fixtures/clustering missing: run scripts/oracle/cluster_oracle.py")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("cases.json")))
                                as? [String: Any])
        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("pools.bin")))
        let dim = try #require(json["dim"] as? Int), scale = Float(try #require(json["scale"] as? Double))
        var fixture = ClusteringFixture()
        for (name, range) in try #require(json["pools"] as? [String: [Int]]) {
            fixture.pools[name] = (0..<range[1]).map { r in
                (0..<dim).map { Float(Int8(bitPattern: bytes[(range[0] + r) * dim + $0])) / scale }
            }
        }
        for c in try #require(json["cases"] as? [[String: Any]]) {
            fixture.cases.append(Case(
                pool: c["pool"] as! String, offset: c["offset"] as! Int, n: c["n"] as! Int,
                speakers: c["speakers"] as? Int, labels: c["labels"] as! [Int],
                eigenvalues: c["eigenvalues"] as? [Double],
                windows: (c["windows"] as? [[Double]])?.map { ($0[0], $0[1]) },
                regions: (c["regions"] as? [[Double]])?.map { ($0[0], Int($0[1])) },
                turns: (c["turns"] as? [[Double]])?.map { SpeakerTurn(start: $0[0], end: $0[1], speaker: Int($0[2])) },
                degenerate: c["degenerate"] as? Bool ?? false))
        }
        return fixture
    }

    func embeddings(_ c: Case) -> [[Float]] { Array(pools[c.pool]![c.offset..<(c.offset + c.n)]) }
}

@Suite("Speaker clustering vs FunASR") struct ClusteringOracleTests {
    /// Every case: Earshot's labels are FunASR's ClusterBackend labels, numbers included (N < 20 → all 0;
    /// spectral with and without a count, with merging; K-means with a count at N ≥ 2048). Exception: a
    /// given count that splits a repeated eigenvalue (the oracle marks it `degenerate`: 2 speakers asked of
    /// 6 disconnected ones), where FunASR's labels follow LAPACK's arbitrary eigenspace basis; there only
    /// the number of clusters is compared.
    @Test func labelsMatchFunASR() throws {
        let fixture = try ClusteringFixture.load()
        #expect(fixture.cases.count >= 15)
        #expect(fixture.cases.filter(\.degenerate).count <= 1)
        for c in fixture.cases {
            let labels = try SpeakerClustering().cluster(fixture.embeddings(c), speakers: c.speakers)
            if c.degenerate {
                #expect(Set(labels).count == Set(c.labels).count, "\(c.name)")
            } else {
                #expect(labels == c.labels, "\(c.name): \(Set(labels).count) clusters vs FunASR's \(Set(c.labels).count)")
            }
        }
    }

    /// The spectral path's 16 smallest Laplacian eigenvalues agree with scipy's eigh (float32 in FunASR).
    @Test func laplacianEigenvaluesMatchScipy() throws {
        let fixture = try ClusteringFixture.load()
        var checked = 0
        for c in fixture.cases {
            guard let expected = c.eigenvalues else { continue }
            let got = SpectralClustering().laplacianEigenvalues(fixture.embeddings(c))
            #expect(got.count == expected.count)
            for (g, e) in zip(got, expected) {
                #expect(abs(g - e) <= 1e-4 * max(1, abs(e)), "\(c.name): \(g) vs \(e)")
            }
            checked += 1
        }
        #expect(checked >= 10)
    }

    /// sv_chunk: the windows FunASR cut from each speech region (times within 1e-9 s: Foundation's JSON
    /// reader can be an ulp off Python's float repr).
    @Test func windowsMatchSvChunk() throws {
        let fixture = try ClusteringFixture.load()
        for c in fixture.cases {
            guard let regions = c.regions, let expected = c.windows else { continue }
            let got = regions.flatMap { SpeakerTurns.windows(regionStart: $0.start, sampleCount: $0.samples) }.prefix(c.n)
            #expect(got.count == expected.count)
            for (g, e) in zip(got, expected) {
                #expect(abs(g.start - e.start) < 1e-9 && abs(g.end - e.end) < 1e-9, "\(c.name)")
                #expect(g.samples.count <= SpeakerTurns.windowSamples)
            }
        }
    }

    /// postprocess: turns from FunASR's labels equal FunASR's turns exactly; so do turns from Earshot's labels.
    @Test func turnsMatchPostprocess() throws {
        let fixture = try ClusteringFixture.load()
        var checked = 0
        for c in fixture.cases {
            guard let windows = c.windows, let expected = c.turns else { continue }
            #expect(SpeakerTurns.turns(windows: windows, labels: c.labels) == expected, "\(c.name)")
            if c.degenerate { continue }
            let ours = try SpeakerClustering().cluster(fixture.embeddings(c), speakers: c.speakers)
            #expect(SpeakerTurns.turns(windows: windows, labels: ours) == expected, "\(c.name) (Earshot labels)")
            checked += 1
        }
        #expect(checked >= 10)
    }
}

extension ClusteringOracleTests {
    /// N ≥ 2048 without a count (FunASR: UMAP + HDBSCAN, not reproducible): Earshot's subsampled spectral
    /// path finds the same partition of pool A's 2100 embeddings, up to label names, as FunASR's K-means
    /// given the true count (4) on the first 2048.
    @Test func largeAutomaticPathFindsFunASRsPartition() throws {
        let fixture = try ClusteringFixture.load()
        let reference = try #require(fixture.cases.first { $0.pool == "A" && $0.n == 2048 && $0.speakers == 4 })
        let all = try #require(fixture.pools["A"])
        let labels = try SpeakerClustering().cluster(all, speakers: nil)
        #expect(labels.count == all.count)
        let ours = Array(labels.prefix(2048))
        var mapping: [Int: Int] = [:], reverse: [Int: Int] = [:]
        var consistent = true
        for (a, b) in zip(ours, reference.labels) {
            if mapping[a, default: b] != b || reverse[b, default: a] != a { consistent = false }
            mapping[a] = b; reverse[b] = a
        }
        #expect(consistent && Set(ours).count == 4)
    }
}
