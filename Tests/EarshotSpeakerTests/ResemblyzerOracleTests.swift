import EarshotAudio
import EarshotCheckpoint
import EarshotSpeaker
import Foundation
import Testing

/// `Fixtures/resemblyzer_oracle.json`, written by `scripts/oracle/resemblyzer_oracle.py` (resemblyzer 0.1.4 run
/// by itself, torch 2.13.0+cpu, librosa 0.11.0).
struct ResemblyzerOracle: Decodable {
    struct Window: Decodable { let start: Int; let count: Int; let embedding: [Float]; let mel_sum: Double }
    struct Recording: Decodable {
        let path: String
        let samples: Int
        let voice_flags: String
        let preprocessed_samples: Int
        let partials: Int
        let partial_starts: [Int]
        let utterance: [Float]
        let first_partials: [[Float]]
        let windows: [Window]
    }
    let recordings: [Recording]

    static func load() throws -> ResemblyzerOracle {
        try JSONDecoder().decode(ResemblyzerOracle.self, from: try Assets.fixture("resemblyzer_oracle.json"))
    }
}

extension SpeakerSuite {
    @Suite("resemblyzer d-vector against resemblyzer itself") struct ResemblyzerOracleTests {
        @Test("the legacy pretrained.pt: 16 model tensors, 1.42 M parameters; Adam state read too")
        func legacyCheckpoint() throws {
            let ckpt = try PyTorchCheckpoint(path: try Assets.resemblyzer())
            let model = ckpt.tensors.filter { $0.name.hasPrefix("model_state.") }
            #expect(model.count == 16)
            let params = model.filter { !$0.name.contains("similarity") }.reduce(0) { $0 + $1.count }
            #expect(params == 1_423_616)   // 3 LSTM layers + Linear(256, 256)
            #expect(try ckpt.tensor("model_state.lstm.weight_hh_l2").shape == [1024, 256])
            #expect(try ckpt.tensor("model_state.linear.bias").shape == [256])
            #expect(ckpt.tensors.contains { $0.name.hasPrefix("optimizer_state.state.") })
            if case .dict(let root) = ckpt.root {
                #expect(root.entries.first { $0.key.string == "step" }?.value.int == 1_564_501)
            } else {
                Issue.record("root is not a dict")
            }
        }

        @Test("damaged legacy files throw errors naming the file, never crash")
        func damagedLegacy() throws {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try Assets.resemblyzer())))
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("earshot-legacy-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            // Cut in the magic, the object pickle, the key list, a storage header and a storage's data.
            for cut in [1, 10, 16, 300, 6500, 6660, 6670, 6700, bytes.count - 1] {
                let path = dir.appendingPathComponent("cut-\(cut).pt").path
                try Data(bytes.prefix(cut)).write(to: URL(fileURLWithPath: path))
                let error = #expect(throws: CheckpointError.self) { try PyTorchCheckpoint(path: path) }
                #expect(error?.path == path)
            }
            var wrongMagic = bytes
            wrongMagic[5] ^= 0xFF
            let path = dir.appendingPathComponent("magic.pt").path
            try Data(wrongMagic).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: CheckpointError.self) { try PyTorchCheckpoint(path: path) }
            #expect(error?.code == .notAModel)
            // A checkpoint without the model's tensors is refused with the tensor's name.
            let vad = try Assets.vadModel() + "/model.pt"
            let wrong = #expect(throws: CheckpointError.self) { try ResemblyzerEncoder(path: vad) }
            #expect(wrong?.tensor?.contains("lstm") == true && wrong?.path == vad)
        }

        @Test("partial slicing is compute_partial_slices (rate 1.3, min_coverage 0.75)")
        func partialSlices() throws {
            for r in try ResemblyzerOracle.load().recordings {
                // The oracle lists wav slice starts (samples); partialStarts gives mel frames (160 samples each).
                #expect(ResemblyzerEncoder.partialStarts(samples: r.preprocessed_samples).map { $0 * 160 } == r.partial_starts,
                        "\(r.path)")
            }
        }

        @Test("embed_utterance(preprocess_wav(path)) within 1e-4, webrtcvad's flags given; partials too")
        func utterances() throws {
            let encoder = try ResemblyzerEncoder(path: try Assets.resemblyzer())
            for r in try ResemblyzerOracle.load().recordings {
                let wav = try Assets.audio(r.path)
                #expect(wav.count == r.samples)
                let pre = ResemblyzerEncoder.preprocess(wav, voiceFlags: r.voice_flags.map { $0 == "1" })
                #expect(pre.count == r.preprocessed_samples, "\(r.path)")
                guard pre.count == r.preprocessed_samples else { continue }
                let (embedding, partials) = encoder.embedUtterance(pre)
                #expect(partials.count == r.partials)
                let d = maxAbsDiff(embedding, r.utterance)
                #expect(d <= 1e-4, "\(r.path): max |Δ| \(d)")
                print("resemblyzer utterance \(r.path): max |Δ| \(d)")
                for (p, want) in zip(partials, r.first_partials) {
                    let dp = maxAbsDiff(p, want)
                    #expect(dp <= 1e-4, "\(r.path) partial: max |Δ| \(dp)")
                }
            }
        }

        @Test("SpeakerEmbedder.embed: one partial per window (full, tail, 0.8-s short) within 1e-4; batching-independent")
        func windows() throws {
            let encoder = try ResemblyzerEncoder(path: try Assets.resemblyzer())
            #expect(encoder.dimension == 256 && encoder.windowSamples == 25_600 && encoder.hopSamples == 12_800)
            var all: [[Float]] = [], expected: [[Float]] = []
            for r in try ResemblyzerOracle.load().recordings {
                let wav = try Assets.audio(r.path)
                for w in r.windows {
                    all.append(Array(wav[w.start ..< w.start + w.count]))
                    expected.append(w.embedding)
                }
            }
            let batched = try encoder.embed(all)
            var worst: Float = 0
            defer { print("resemblyzer windows: \(all.count), max |Δ| \(worst)") }
            for (i, (got, want)) in zip(batched, expected).enumerated() {
                let d = maxAbsDiff(got, want)
                #expect(d <= 1e-4, "window \(i): max |Δ| \(d)")
                worst = max(worst, d)
            }
            let single = try encoder.embed([all[5]])
            #expect(maxAbsDiff(single[0], batched[5]) <= 1e-6)
            #expect(try encoder.embed([]).isEmpty)
        }
    }
}
