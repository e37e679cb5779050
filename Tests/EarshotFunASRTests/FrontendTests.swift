@testable import EarshotFunASR
import Foundation
import Testing

extension FunASRSuite {
    /// Front end against FunASR's Python reference (funasr-onnx WavFrontend: kaldi_native_fbank + apply_lfr
    /// + apply_cmvn), fixtures from scripts/fixtures/funasr_frontend.py. Tolerance 1e-4 absolute.
    @Suite("FunASR front end") struct FrontendTests {
        static let clips = [("funasr_frontend_asr_example.json", "audio/zh/asr_example.wav"),
                            ("funasr_frontend_cards_001.json", "audio/cards/001.wav")]

        /// All output frames of a stream fed in `chunk`-sample pushes.
        static func features(_ samples: [Float], lfrM: Int, lfrN: Int, cmvn: CMVN?, chunk: Int) throws -> [[Float]] {
            let stream = try FeatureStream(fbank: try KaldiFbank(), lfrM: lfrM, lfrN: lfrN, cmvn: cmvn, maxBatch: 7)
            var rows: [[Float]] = []
            let sink: (FeatureBatch) -> Void = { b in
                #expect(b.firstFrame == rows.count)
                for i in 0..<b.count { rows.append(Array(UnsafeBufferPointer(start: b.features + i * b.dimension, count: b.dimension))) }
            }
            samples.withUnsafeBufferPointer { all in
                var at = 0
                while at < all.count {
                    let end = min(all.count, at + chunk)
                    stream.push(UnsafeBufferPointer(rebasing: all[at..<end]), sink: sink)
                    at = end
                }
            }
            stream.finish(sink: sink)
            return rows
        }

        static func compare(_ ours: [[Float]], _ ref: [String: Any], count: Int, label: String) throws {
            #expect(ours.count == count, "\(label): \(ours.count) frames, FunASR has \(count)")
            var worst: Float = 0
            for (key, value) in ref {
                let i = try #require(Int(key))
                let expected = try #require(value as? [Double]).map(Float.init)
                try #require(i < ours.count)
                #expect(ours[i].count == expected.count)
                for (a, b) in zip(ours[i], expected) { worst = max(worst, abs(a - b)) }
            }
            #expect(worst <= 1e-4, "\(label): max |Δ| = \(worst)")
            print("frontend \(label): max |Δ| = \(worst)")
        }

        @Test("fbank, VAD LFR+CMVN and Paraformer LFR match FunASR", arguments: clips)
        func matchesReference(fixture: String, recording: String) throws {
            let ref = try Assets.json(fixture)
            let samples = try Assets.audio(recording)
            #expect(samples.count == ref["samples"] as? Int)
            let model = try Assets.vadModel()
            let cmvn = try CMVN(path: model + "/am.mvn")
            try Self.compare(try Self.features(samples, lfrM: 1, lfrN: 1, cmvn: nil, chunk: 16_000),
                             try #require(ref["fbank"] as? [String: Any]), count: ref["fbank_frames"] as! Int, label: "fbank")
            try Self.compare(try Self.features(samples, lfrM: 5, lfrN: 1, cmvn: cmvn, chunk: 16_000),
                             try #require(ref["vad_feats"] as? [String: Any]), count: ref["vad_frames"] as! Int, label: "VAD")
            try Self.compare(try Self.features(samples, lfrM: 7, lfrN: 6, cmvn: nil, chunk: 16_000),
                             try #require(ref["para_lfr"] as? [String: Any]), count: ref["para_frames"] as! Int, label: "LFR 7/6")
        }

        @Test("features do not depend on how the samples are chunked", arguments: [1, 160, 399, 401, 4_321])
        func chunkingInvariance(chunk: Int) throws {
            let samples = try Assets.audio("audio/cards/001.wav")
            let cmvn = try CMVN(path: try Assets.vadModel() + "/am.mvn")
            let whole = try Self.features(samples, lfrM: 5, lfrN: 1, cmvn: cmvn, chunk: samples.count)
            let chunked = try Self.features(samples, lfrM: 5, lfrN: 1, cmvn: cmvn, chunk: chunk)
            #expect(whole == chunked)
            let para = try Self.features(samples, lfrM: 7, lfrN: 6, cmvn: nil, chunk: samples.count)
            #expect(para == (try Self.features(samples, lfrM: 7, lfrN: 6, cmvn: nil, chunk: chunk)))
        }

        @Test("less than one frame of audio gives no features")
        func tooShort() throws {
            #expect(try Self.features([Float](repeating: 0.1, count: 399), lfrM: 5, lfrN: 1, cmvn: nil, chunk: 100).isEmpty)
            #expect(try Self.features([], lfrM: 5, lfrN: 1, cmvn: nil, chunk: 100).isEmpty)
            #expect(try Self.features([Float](repeating: 0.1, count: 400), lfrM: 5, lfrN: 1, cmvn: nil, chunk: 100).count == 1)
        }

        @Test("am.mvn parsing: 400 values, shift negative means")
        func cmvnParse() throws {
            let cmvn = try CMVN(path: try Assets.vadModel() + "/am.mvn")
            #expect(cmvn.dimension == 400)
            #expect(cmvn.shift[0] == -8.311879)
            #expect(cmvn.scale.allSatisfy { $0 > 0 })
        }
    }
}
