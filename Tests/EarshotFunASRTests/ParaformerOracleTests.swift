@testable import EarshotFunASR
import Foundation
import Testing

/// One model's oracle fixture (Fixtures/paraformer/<model>/, written by scripts/oracle/paraformer_oracle.py
/// with FunASR 1.4.3; format in Fixtures/paraformer/README.md): the model directory, `oracle.json` (runs,
/// results, tensor index) and `oracle.bin` (the tensors).
struct ParaformerOracle {
    let directory: String
    let json: [String: Any]
    let blob: Data

    static func fixtureDirectory(_ name: String) throws -> String {
        let base = try #require(Bundle.module.resourceURL, "test bundle has no resources")
        let dir = base.appendingPathComponent("Fixtures/paraformer/" + name).path
        try #require(FileManager.default.fileExists(atPath: dir + "/oracle.json"), "fixture \(dir)/oracle.json is missing")
        return dir
    }

    init(_ name: String, tensors: String = "oracle.bin") throws {
        try self.init(directory: try Self.fixtureDirectory(name), tensors: tensors)
    }

    /// An oracle directory anywhere (e.g. the FULL-size models `paraformer_oracle.py --full` writes to the cache).
    init(directory: String, tensors: String = "oracle.bin") throws {
        self.directory = directory
        json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/oracle.json"))) as? [String: Any])
        blob = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + tensors))
    }

    /// A tensor's shape and values (int32 blobs widened to Float).
    func tensor(_ name: String) throws -> (shape: [Int], values: [Float]) {
        let index = try #require(json["tensors"] as? [String: Any])
        let entry = try #require(index[name] as? [String: Any], "tensor \(name) not in \(directory)/oracle.json")
        let shape = try #require(entry["shape"] as? [Int]), offset = try #require(entry["offset"] as? Int)
        let count = shape.reduce(1, *)
        let values: [Float] = blob.withUnsafeBytes { raw in
            (0..<count).map { i in
                entry["dtype"] as? String == "int32"
                    ? Float(raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: Int32.self))
                    : raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: Float.self)
            }
        }
        return (shape, values)
    }

    /// The calls of a run (`single`, `batch`, `single_hw`, …).
    func calls(_ run: String) throws -> [[String: Any]] {
        let runs = try #require(json["runs"] as? [String: Any])
        let r = try #require(runs[run] as? [String: Any], "run \(run) not in \(directory)/oracle.json")
        return try #require(r["calls"] as? [[String: Any]])
    }

    /// The clips' audio, by key.
    func clips() throws -> [String: [Float]] {
        let list = try #require(json["clips"] as? [[String: Any]])
        var out: [String: [Float]] = [:]
        for c in list {
            let key = try #require(c["key"] as? String), path = try #require(c["path"] as? String)
            let samples = try Assets.audio(path)
            try #require(samples.count == c["samples"] as? Int, "\(path) has \(samples.count) samples, the oracle read \(c["samples"] ?? "?")")
            out[key] = samples
        }
        return out
    }
}

/// max |a − b| / max |b|.
func paraformerRelativeError(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
    guard a.count == b.count, !b.isEmpty else { return .infinity }
    let scale = b.reduce(Float(0)) { max($0, abs($1)) }
    return zip(a, b).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) } / max(scale, .leastNormalMagnitude)
}

/// Frames whose peak reaches 1 − 1e-4 (the fires `ts_prediction_lfr6_standard` starts from).
func usFirePositions(_ peaks: [Float]) -> [Int] { peaks.indices.filter { peaks[$0] >= Float(1.0 - 1e-4) } }

extension FunASRSuite {
    @Suite("Paraformer against FunASR (oracle fixtures)") struct ParaformerOracleTests {
        static let models = ["paraformer-small", "bicif-small", "seaco-small"]

        /// Compares one item of a call: tensors of batch row `row` (valid rows only) and the JSON results.
        static func compare(_ oracle: ParaformerOracle, call: [String: Any], row: Int, item: [String: Any],
                            result: ParaformerResult, trace: ParaformerTrace, tensorsToo: Bool) throws {
            let key = item["key"] as? String ?? "?"
            let where_ = "\(oracle.directory.split(separator: "/").last!) \(key)"
            if tensorsToo, let names = call["tensors"] as? [String: String] {
                let t = trace.frames
                if let name = names["encoder_out"] {
                    let (shape, v) = try oracle.tensor(name)
                    let d = shape[2], base = row * shape[1] * d
                    let e = paraformerRelativeError(trace.encoderOutput[...], v[base..<(base + t * d)])
                    #expect(e < 1e-4, "\(where_): encoder output relative error \(e)")
                    print("oracle \(where_) encoder relative error \(e)")
                }
                if let name = names["alphas"] {
                    let (shape, v) = try oracle.tensor(name)
                    let base = row * shape[1]
                    let e = paraformerRelativeError(trace.cif.alphas[...], v[base..<(base + t + 1)])
                    #expect(e < 1e-4, "\(where_): CIF alphas relative error \(e)")
                    print("oracle \(where_) alphas relative error \(e)")
                }
                if let name = names["decoder_logprobs"] {
                    let (shape, v) = try oracle.tensor(name)
                    let n = trace.cif.tokenCount, vocab = shape[2], base = row * shape[1] * vocab
                    let e = paraformerRelativeError(trace.logProbabilities[...], v[base..<(base + n * vocab)])
                    #expect(e < 1e-4, "\(where_): decoder log-probabilities relative error \(e)")
                    print("oracle \(where_) logprobs relative error \(e)")
                }
                if let name = names["us_alphas"] {
                    let (shape, v) = try oracle.tensor(name)
                    let base = row * shape[1]
                    let e = paraformerRelativeError(trace.upsampledAlphas[...], v[base..<(base + 3 * t)])
                    #expect(e < 1e-4, "\(where_): upsampled alphas relative error \(e)")
                    print("oracle \(where_) us_alphas relative error \(e)")
                }
            }
            #expect(trace.cif.tokenCount == item["token_num"] as? Int, "\(where_): token_num")
            #expect(trace.cif.firePositions == item["fire_positions"] as? [Int], "\(where_): CIF fire positions")
            #expect(result.tokenIDs == item["token_ids"] as? [Int], "\(where_): token ids")
            #expect(result.tokens == item["tokens"] as? [String], "\(where_): tokens")
            #expect(result.text == item["text"] as? String, "\(where_): text")
            if let us = item["us_fire_positions"] as? [Int] {
                #expect(usFirePositions(trace.upsampledPeaks) == us, "\(where_): upsampled fire positions")
            }
            if let ts = item["timestamp"] as? [[Double]] {
                #expect(result.timestamps == ts.map { $0.map { Int($0) } }, "\(where_): timestamps")
                // With timestamps FunASR's text is its word list joined by spaces.
                #expect(result.words.joined(separator: " ") == item["text"] as? String, "\(where_): words")
            } else {
                #expect(result.timestamps.isEmpty, "\(where_): no timestamps expected")
            }
            if let raw = item["timestamp_raw"] as? [[Double]] {
                #expect(result.tokenTimestamps == raw.map { $0.map { Int($0) } }, "\(where_): per-token timestamps")
            }
        }

        @Test("front end: LFR+CMVN features equal FunASR's within 1e-4", arguments: ["zh", "en"])
        func features(clip: String) throws {
            let inputs = try ParaformerOracle("inputs", tensors: "tensors.bin")
            let oracle = try ParaformerOracle("paraformer-small")
            let model = try ParaformerModel(directory: oracle.directory)
            let samples = try #require(try oracle.clips()[clip])
            let (values, frames) = try model.features(samples)
            let (shape, expected) = try inputs.tensor(clip + "/feats")
            #expect(frames == shape[0])
            let e = paraformerRelativeError(values[...], expected[...])
            #expect(e < 1e-4, "features relative error \(e)")
        }

        @Test("one item at a time: encoder, CIF, decoder, tokens, text and timestamps equal FunASR's", arguments: models)
        func single(model name: String) throws {
            let oracle = try ParaformerOracle(name)
            let model = try ParaformerModel(directory: oracle.directory)
            let clips = try oracle.clips()
            let calls = try oracle.calls("single")
            #expect(calls.count == 2)
            for call in calls {
                let item = try #require((call["items"] as? [[String: Any]])?.first)
                let samples = try #require(clips[item["key"] as? String ?? ""])
                let (result, trace) = try model.run(samples)
                try Self.compare(oracle, call: call, row: 0, item: item, result: result, trace: trace, tensorsToo: true)
            }
        }

        @Test("batched: Earshot's batch equals FunASR one at a time; FunASR's own batch agrees on its longest item",
              arguments: models)
        func batch(model name: String) throws {
            let oracle = try ParaformerOracle(name)
            let model = try ParaformerModel(directory: oracle.directory)
            let clips = try oracle.clips()
            let call = try #require(try oracle.calls("batch").first)
            let keys = try #require(call["batch"] as? [String])
            let items = try #require(call["items"] as? [[String: Any]])
            let singles = try oracle.calls("single")
            let batch = try model.runBatch(keys.map { clips[$0]! }, vadOffsetsMs: nil, hotwords: nil, keepTrace: true)
            for (row, key) in keys.enumerated() {
                // Against FunASR's single run of this clip (FunASR's padded batch shifts the shorter item's last alpha).
                let single = try #require(singles.first { ($0["batch"] as? [String]) == [key] })
                let singleItem = try #require((single["items"] as? [[String: Any]])?.first)
                try Self.compare(oracle, call: single, row: 0, item: singleItem, result: batch[row].result,
                                 trace: batch[row].trace, tensorsToo: true)
            }
            // The longest item is unaffected by padding in FunASR's batch: compare against the batch tensors too.
            let lengths = batch.map(\.trace.frames)
            let longest = try #require(lengths.indices.max { lengths[$0] < lengths[$1] })
            try Self.compare(oracle, call: call, row: longest, item: items[longest], result: batch[longest].result,
                             trace: batch[longest].trace, tensorsToo: true)
        }

        @Test("plain Paraformer with pred_timestamp: FunASR's swapped-argument timestamps, reproduced")
        func paraformerTimestamps() throws {
            let oracle = try ParaformerOracle("paraformer-small")
            let model = try ParaformerModel(directory: oracle.directory, predictTimestamps: true)
            let clips = try oracle.clips()
            for call in try oracle.calls("single_ts") {
                let item = try #require((call["items"] as? [[String: Any]])?.first)
                let (result, trace) = try model.run(try #require(clips[item["key"] as? String ?? ""]))
                try Self.compare(oracle, call: call, row: 0, item: item, result: result, trace: trace, tensorsToo: false)
            }
            // FunASR's batch_ts: the longest item's timestamps are those of its own (full-length) arrays.
            let call = try #require(try oracle.calls("batch_ts").first)
            let keys = try #require(call["batch"] as? [String]), items = try #require(call["items"] as? [[String: Any]])
            let results = try model.runBatch(keys.map { clips[$0]! }, vadOffsetsMs: nil, hotwords: nil, keepTrace: true)
            let longest = try #require(results.indices.max { results[$0].trace.frames < results[$1].trace.frames })
            try Self.compare(oracle, call: call, row: longest, item: items[longest], result: results[longest].result,
                             trace: results[longest].trace, tensorsToo: false)
        }

        @Test("SeACo hotwords: hotword ids and embeddings, merged log-probabilities, tokens, text, timestamps")
        func seacoHotwords() throws {
            let oracle = try ParaformerOracle("seaco-small")
            let model = try ParaformerModel(directory: oracle.directory)
            let hotwordText = try #require(oracle.json["hotwords"] as? String)
            let hotwords = try model.prepareHotwords(hotwordText)
            let clips = try oracle.calls("single_hw")
            let first = try #require(clips.first)
            let names = try #require(first["tensors"] as? [String: String])
            let (idShape, ids) = try oracle.tensor(try #require(names["hotword_ids"]))
            let lengths = try oracle.tensor(try #require(names["hotword_lengths"])).values.map { Int($0) }
            let expectedIDs = (0..<idShape[0]).map { h in (0..<lengths[h]).map { Int(ids[h * idShape[1] + $0]) } }
            #expect(hotwords.tokenIDs == expectedIDs)
            let embeds = try oracle.tensor(try #require(names["hotword_embeds"])).values
            let e = paraformerRelativeError(hotwords.embeddings[...], embeds[...])
            #expect(e < 1e-4, "hotword embeddings relative error \(e)")
            let audio = try oracle.clips()
            for call in clips {
                let item = try #require((call["items"] as? [[String: Any]])?.first)
                let (result, trace) = try model.run(try #require(audio[item["key"] as? String ?? ""]), hotwords: hotwords)
                try Self.compare(oracle, call: call, row: 0, item: item, result: result, trace: trace, tensorsToo: true)
            }
            // batch_hw: the longest item against FunASR's batch; every item equals its single_hw result.
            let call = try #require(try oracle.calls("batch_hw").first)
            let keys = try #require(call["batch"] as? [String]), items = try #require(call["items"] as? [[String: Any]])
            let results = try model.runBatch(keys.map { audio[$0]! }, vadOffsetsMs: nil, hotwords: hotwords, keepTrace: true)
            let longest = try #require(results.indices.max { results[$0].trace.frames < results[$1].trace.frames })
            try Self.compare(oracle, call: call, row: longest, item: items[longest], result: results[longest].result,
                             trace: results[longest].trace, tensorsToo: false)
            for (row, key) in keys.enumerated() {
                #expect(results[row].result == (try model.run(audio[key]!, hotwords: hotwords).result))
            }
        }
    
        @Test("SeACo with more hotwords than nfilter: the attention-score filter picks what FunASR picks")
        func seacoFilter() throws {
            // Fixture: scripts/oracle/paraformer_asf_oracle.py (FunASR AutoModel, 200 hotwords, one clip at a time).
            let fixture = try Assets.json("paraformer_seaco_asf.json")
            let oracle = try ParaformerOracle("seaco-small")
            let model = try ParaformerModel(directory: oracle.directory)
            let hotwords = try model.prepareHotwords(try #require(fixture["hotwords"] as? String))
            #expect(hotwords.tokenIDs.count > SeacoHotwordPath.filterSize)
            let clips = try oracle.clips()
            let items = try #require(fixture["items"] as? [[String: Any]])
            let plainItems = try #require(fixture["items_without_hotwords"] as? [[String: Any]])
            for (item, plain) in zip(items, plainItems) {
                let samples = try #require(clips[item["key"] as? String ?? ""])
                let (biased, trace) = try model.run(samples, hotwords: hotwords)
                let scores = (item["asf_scores"] as? [Double] ?? []).map(Float.init)
                let e = paraformerRelativeError(trace.hotwordScores[...], scores[...])
                #expect(e < 1e-4, "ASF scores relative error \(e)")
                #expect(trace.hotwordsKept == item["asf_keep"] as? [Int], "hotwords kept by the filter")
                #expect(biased.text == item["text"] as? String)
                #expect(biased.timestamps == item["timestamp"] as? [[Int]])
                let unbiased = try model.transcribe([samples])[0]
                #expect(unbiased.text == plain["text"] as? String)
            }
        }
}
}
