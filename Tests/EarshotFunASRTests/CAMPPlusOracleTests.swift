@testable import EarshotFunASR
import EarshotMemory
import Foundation
import Testing

/// CAM++ against FunASR (scripts/oracle/campplus_oracle.py): FunASR's CAMPPlus with seeded random weights,
/// saved as ModelScope ships CAM++, and FunASR's own speaker path (sv_chunk windows, extract_feature,
/// CAMPPlus.forward through AutoModel.inference) on real recordings.
struct CAMPPlusOracle {
    struct Case {
        var recording: String, startSample: Int, sampleCount: Int
        var embeddings: [[Float]]
        var firstFeatures: [[Float]]
    }
    var parameters: Int
    var cases: [Case]

    static func load(_ path: String) throws -> CAMPPlusOracle {
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let cases = try #require(doc["cases"] as? [[String: Any]]).map { c in
            Case(recording: c["recording"] as! String, startSample: c["startSample"] as! Int, sampleCount: c["sampleCount"] as! Int,
                 embeddings: (c["embeddings"] as! [[Double]]).map { $0.map(Float.init) },
                 firstFeatures: (c["firstWindowFeatures"] as! [[Double]]).map { $0.map(Float.init) })
        }
        return CAMPPlusOracle(parameters: doc["parameters"] as? Int ?? 0, cases: cases)
    }

    /// The windows FunASR embedded: sv_chunk over the region (the port in EarshotSpeaker is tested there;
    /// the geometry is repeated here because EarshotFunASR does not depend on EarshotSpeaker).
    static func windows(_ c: Case) throws -> [[Float]] {
        let audio = try Assets.audio(c.recording)
        try #require(c.startSample + c.sampleCount <= audio.count, "\(c.recording) has \(audio.count) samples")
        let region = Array(audio[c.startSample..<(c.startSample + c.sampleCount)])
        var out: [[Float]] = [], lastEnd = 0, start = 0
        while start < region.count {
            let end = min(start + 24_000, region.count)
            if end <= lastEnd { break }
            lastEnd = end
            out.append(Array(region[max(0, end - 24_000)..<end]))
            start += 12_000
        }
        return out
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for i in a.indices { ab += Double(a[i] * b[i]); aa += Double(a[i] * a[i]); bb += Double(b[i] * b[i]) }
        return ab / (aa * bb).squareRoot()
    }
}

extension FunASRSuite {
    @Suite("CAM++ vs FunASR") struct CAMPPlusOracleTests {
        static var smallDirectory: String {
            Bundle.module.url(forResource: "campplus/small", withExtension: nil, subdirectory: "Fixtures")?.path ?? "missing"
        }

        func check(directory: String, oracle: CAMPPlusOracle) throws -> Double {
            let model = try CAMPPlusEmbedder(directory: directory)
            #expect(model.weights.parameterCount >= oracle.parameters)
            var worst = 1.0
            for c in oracle.cases {
                let windows = try CAMPPlusOracle.windows(c)
                #expect(windows.count == c.embeddings.count, "\(c.recording)")
                // Features of the first window (first 20 frames) as extract_feature computed them.
                let f = model.features(windows[0])
                var featureError: Float = 0
                for (t, row) in c.firstFeatures.enumerated() { for (b, v) in row.enumerated() { featureError = max(featureError, abs(f[t * 80 + b] - v)) } }
                #expect(featureError < 2e-3, "\(c.recording): fbank max error \(featureError)")
                let batched = try model.embed(windows)
                for (i, w) in windows.enumerated() {
                    let single = try model.embed([w])[0]
                    #expect(single == batched[i], "batched = one at a time")
                    let cos = CAMPPlusOracle.cosine(batched[i], c.embeddings[i])
                    worst = min(worst, cos)
                    #expect(cos >= 0.9999, "\(c.recording) window \(i): cosine \(cos)")
                }
            }
            return worst
        }

        /// SMALL (committed): every window's embedding has cosine ≥ 0.9999 with FunASR's.
        @Test func smallModelMatchesFunASR() throws {
            let oracle = try CAMPPlusOracle.load(Self.smallDirectory + "/oracle.json")
            let worst = try check(directory: Self.smallDirectory, oracle: oracle)
            print("CAM++ small: worst cosine \(worst)")
        }

        static let fullDirectory = Assets.cache + "/models/campplus-random"
        static let fullModelBuilt = FileManager.default.fileExists(atPath: fullDirectory + "/oracle.json")

        /// FULL size (7 M parameters), built into the cache by `campplus_oracle.py --full` in the oracle venv
        /// (torch; CI does not install it, so CI runs the SMALL model's test above).
        @Test(.enabled(if: fullModelBuilt, "written to the cache by campplus_oracle.py --full (needs the torch oracle venv)"))
        func fullModelMatchesFunASR() throws {
            let dir = Self.fullDirectory
            let oracle = try CAMPPlusOracle.load(dir + "/oracle.json")
            #expect(oracle.parameters > 6_000_000)
            let worst = try check(directory: dir, oracle: oracle)
            print("CAM++ full: worst cosine \(worst)")
            let model = try CAMPPlusEmbedder(directory: dir)
            #expect(model.dimension == 192 && model.windowSamples == 24_000 && model.hopSamples == 12_000)
        }

        /// batchBytes is an upper bound: the peak RSS growth while embedding 8 windows with the full model
        /// (heap trimmed and blocks ≥ 1 MB mmapped, so fresh buffers show in RSS) stays below it. The process's
        /// RSS is shared with suites running beside this one, so the smallest growth of three tries is taken.
        @Test(.enabled(if: fullModelBuilt, "written to the cache by campplus_oracle.py --full (needs the torch oracle venv)"),
              .disabled(if: EarshotMemory.ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates"))
        func batchBytesBoundsTheMeasuredPeak() throws {
            let dir = Self.fullDirectory
            let model = try CAMPPlusEmbedder(directory: dir)
            let audio = try Assets.audio("audio/pyannote/sample.wav")
            let windows = (0..<8).map { Array(audio[($0 * 12_000)..<($0 * 12_000 + 24_000)]) }
            EarshotMemory.ProcessMemory.configureAllocator()
            var growth = Int.max
            for _ in 0..<3 {
                EarshotMemory.ProcessMemory.trimHeap()
                let base = try #require(EarshotMemory.ProcessMemory.currentRSS())
                try #require(EarshotMemory.ProcessMemory.resetPeak(), "needs /proc/self/clear_refs")
                let out = try model.embed(windows)
                let peak = try #require(EarshotMemory.ProcessMemory.peakRSS())
                #expect(out.count == 8)
                growth = min(growth, (peak - base).bytes)
            }
            let bound = model.batchBytes(windows: windows.count)
            print("CAM++ full: peak RSS growth \(growth) bytes (least of 3), batchBytes \(bound)")
            #expect(growth <= bound)
            #expect(bound < 64 << 20)
        }

        /// A window with NaN is refused with an error naming it.
        @Test func nonFiniteAudioIsRefused() throws {
            let model = try CAMPPlusEmbedder(directory: Self.smallDirectory)
            #expect { try model.embed([[Float](repeating: 0, count: 100), [.nan]]) } throws: { "\($0)".contains("window 1") }
            #expect(try model.embed([]).isEmpty)
        }

        /// A directory without config.yaml, a config naming another model, and weights of the wrong size.
        @Test func badModelsNameTheProblem() throws {
            let tmp = NSTemporaryDirectory() + "earshot-campp-bad-\(getpid())"
            try? FileManager.default.removeItem(atPath: tmp)
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: tmp) }
            #expect { try CAMPPlusEmbedder(directory: tmp) } throws: { "\($0)".contains("config.yaml") }
            try "model: Paraformer\n".write(toFile: tmp + "/config.yaml", atomically: true, encoding: .utf8)
            #expect { try CAMPPlusEmbedder(directory: tmp) } throws: { "\($0)".contains("not CAMPPlus") }
            let small = try String(contentsOfFile: Self.smallDirectory + "/config.yaml", encoding: .utf8)
            try small.replacingOccurrences(of: "growth_rate: 4", with: "growth_rate: 8").write(toFile: tmp + "/config.yaml", atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(atPath: Self.smallDirectory + "/campplus_cn_common.bin", toPath: tmp + "/campplus_cn_common.bin")
            #expect { try CAMPPlusEmbedder(directory: tmp) } throws: { "\($0)".contains("campplus_cn_common.bin") && "\($0)".contains("shape") }
        }
    }
}
