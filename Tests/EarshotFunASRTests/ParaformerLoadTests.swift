@testable import EarshotFunASR
import EarshotTensor
import Foundation
import Testing

extension FunASRSuite {
    @Suite("Paraformer model directories and batching") struct ParaformerLoadTests {
        private func loadError(_ dir: String) -> FunASRError? {
            do {
                _ = try ParaformerModel(directory: dir)
                return nil
            } catch {
                return error
            }
        }

        @Test("a missing tokens.json names the file")
        func missingTokens() throws {
            let dir = try TinyParaformer().write(omit: ["tokens.json"])
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let error = try #require(loadError(dir))
            #expect(error.code == .model)
            #expect(error.message.contains(dir + "/tokens.json"))
            #expect(error.message.contains("missing"))
        }

        @Test("an unknown model class names config.yaml and the class")
        func unknownClass() throws {
            var tiny = TinyParaformer()
            tiny.modelClass = "SenseVoiceSmall"
            let dir = try tiny.write()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let error = try #require(loadError(dir))
            #expect(error.code == .model)
            #expect(error.message.contains(dir + "/config.yaml"))
            #expect(error.message.contains("SenseVoiceSmall"))
            #expect(throws: FunASRError.self) { try ParaformerModel.modelClass(directory: dir) }
            #expect(ParaformerModel.isModelDirectory(dir))
            tiny.modelClass = "BiCifParaformer"
            let good = try tiny.write(omit: ["model.pt"])
            defer { try? FileManager.default.removeItem(atPath: good) }
            #expect(try ParaformerModel.modelClass(directory: good) == .biCifParaformer)
            #expect(!ParaformerModel.isModelDirectory(good))
        }

        @Test("a tensor of the wrong shape names model.pt, the tensor and both shapes")
        func shapeMismatch() throws {
            var tiny = TinyParaformer()
            tiny.shapeOverrides["decoder.decoders.1.src_attn.linear_k_v.weight"] = [2 * tiny.d, tiny.d + 1]
            let dir = try tiny.write()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let error = try #require(loadError(dir))
            #expect(error.code == .model)
            #expect(error.message.contains(dir + "/model.pt"))
            #expect(error.message.contains("decoder.decoders.1.src_attn.linear_k_v.weight"))
            #expect(error.message.contains("[16, 9]") && error.message.contains("[16, 8]"))
        }

        @Test("tokens.json longer than the output layer is a shape mismatch on decoder.output_layer")
        func vocabularyMismatch() throws {
            var tiny = TinyParaformer()
            let dir = try tiny.write()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            tiny.tokens.append("extra")
            try JSONSerialization.data(withJSONObject: tiny.tokens).write(to: URL(fileURLWithPath: dir + "/tokens.json"))
            let error = try #require(loadError(dir))
            #expect(error.message.contains("decoder.output_layer.weight"))
        }

        @Test("a duplicated token is refused, as FunASR's tokenizer refuses it")
        func duplicatedToken() throws {
            var tiny = TinyParaformer()
            tiny.tokens[5] = "a"
            let dir = try tiny.write()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let error = try #require(loadError(dir))
            #expect(error.message.contains("tokens.json") && error.message.contains("\"a\" appears twice"))
        }

        @Test("a missing tensor names the tensor", arguments: ["CifPredictorV2", "CifPredictorV3"])
        func missingTensor(predictor: String) throws {
            var tiny = TinyParaformer()
            tiny.predictorClass = predictor
            tiny.modelClass = predictor == "CifPredictorV3" ? "BiCifParaformer" : "Paraformer"
            let dir = try tiny.write()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            // Rewrite the config to need a third encoder layer the checkpoint lacks.
            let yaml = tiny.configYAML.replacingOccurrences(of: "num_blocks: \(tiny.encoderBlocks)", with: "num_blocks: 3")
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: dir + "/config.yaml"))
            let error = try #require(loadError(dir))
            #expect(error.message.contains("encoder.encoders.1.norm1.weight"))
        }

        @Test("batched equals one at a time, bit for bit, at every instruction-set level",
              arguments: ["Paraformer", "BiCifParaformer"], Kernels.InstructionSet.allCases)
        func batchedEqualsSingle(modelClass: String, level: Kernels.InstructionSet) throws {
            guard level <= Kernels.hardwareInstructionSet else { return }   // this CPU cannot run that level
            var tiny = TinyParaformer()
            tiny.d = 40; tiny.ffn = 72; tiny.heads = 4; tiny.melBins = 16   // widths past one SIMD vector, with tails
            tiny.cifScale = 0.3   // alpha logits near 0 at this width, so CIF fires every few frames
            tiny.modelClass = modelClass
            tiny.predictorClass = modelClass == "Paraformer" ? "CifPredictorV2" : "CifPredictorV3"
            let dir = try tiny.write()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let model = try ParaformerModel(directory: dir)
            let audio = try Assets.audio("audio/zh/asr_example.wav")
            // 17, 33 and 8 LFR frames: one item below the blocked-GEMM row count, items of unequal length.
            let items = [Array(audio[0..<16_000]), Array(audio[8_000..<40_000]), Array(audio[1_000..<9_000]),
                         Array(audio[30_000..<50_000]), Array(audio[50_000..<62_000])]
            try Kernels.withInstructionSet(level) {
                let batched = try model.runBatch(items, vadOffsetsMs: [0, 500, 1_000, 1_500, 2_000], hotwords: nil, keepTrace: true)
                let reversed = try model.transcribe(items.reversed(), vadOffsetsMs: [2_000, 1_500, 1_000, 500, 0])
                #expect(batched.filter { $0.trace.cif.tokenCount > 0 }.count >= 3, "random weights should still fire tokens")
                for (i, item) in items.enumerated() {
                    let alone = try model.run(item, vadOffsetMs: i * 500)
                    #expect(batched[i].result == alone.result)
                    #expect(reversed[items.count - 1 - i] == alone.result)
                    // Tensors too, bit for bit: stacked rows through the linear layers give each item what it gets
                    // alone (a row is computed the same way whatever the other rows; short products are padded).
                    let b = batched[i].trace, a = alone.trace
                    #expect(b.encoderOutput == a.encoderOutput && b.logProbabilities == a.logProbabilities)
                    #expect(b.cif == a.cif && b.upsampledAlphas == a.upsampledAlphas && b.upsampledPeaks == a.upsampledPeaks)
                    if model.givesTimestamps {
                        #expect(alone.result.timestamps.count == alone.result.text.split(separator: " ").count)
                    }
                }
            }
        }

        @Test("SeACo without hotwords equals its BiCif part; with hotwords it runs, batched equals one at a time")
        func seaco() throws {
            var tiny = TinyParaformer()
            tiny.modelClass = "SeacoParaformer"
            tiny.predictorClass = "CifPredictorV3"
            let dir = try tiny.write()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let model = try ParaformerModel(directory: dir)
            let audio = try Assets.audio("audio/zh/asr_example.wav")
            let items = [Array(audio[0..<24_000]), Array(audio[8_000..<40_000])]
            let plain = try model.transcribe(items)
            // The same weights read as BiCifParaformer (which ignores the hotword tensors).
            let yaml = tiny.configYAML.replacingOccurrences(of: "model: SeacoParaformer", with: "model: BiCifParaformer")
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: dir + "/config.yaml"))
            let bicif = try ParaformerModel(directory: dir)
            #expect(try bicif.transcribe(items) == plain)
            #expect(throws: FunASRError.self) { try bicif.prepareHotwords("你好") }
            let hotwords = try model.prepareHotwords("你好 abc 好")
            #expect(hotwords.tokenIDs == [[8], [8], [7], [1]])   // no seg_dict: whole words ("好" is a token), unknown → <unk> (8); then [sos]
            let biased = try model.transcribe(items, hotwords: hotwords)
            for (i, item) in items.enumerated() {
                #expect(try model.transcribe([item], hotwords: hotwords)[0] == biased[i])
            }
            // 50 words + [sos] pass FunASR's nfilter 50: the attention-score filter keeps 50 entries per item.
            let many = try model.prepareHotwords((0..<50).map { ["你", "好", "a", "c", "d"][$0 % 5] }.joined(separator: " "))
            #expect(many.tokenIDs.count == 51)
            let filtered = try model.transcribe(items, hotwords: many)
            for (i, item) in items.enumerated() { #expect(try model.transcribe([item], hotwords: many)[0] == filtered[i]) }
        }

        @Test("wrapped checkpoints (state_dict / model_state_dict / model, module.) load as FunASR unwraps them",
              arguments: ["state_dict.", "model.module.", "module."])
        func wrappedCheckpoint(prefix: String) throws {
            let plainDir = try TinyParaformer().write()
            var wrapped = TinyParaformer()
            wrapped.keyPrefix = prefix
            let wrappedDir = try wrapped.write()
            defer { for d in [plainDir, wrappedDir] { try? FileManager.default.removeItem(atPath: d) } }
            let audio = Array(try Assets.audio("audio/zh/asr_example.wav").prefix(32_000))
            let a = try ParaformerModel(directory: plainDir).run(audio)
            let b = try ParaformerModel(directory: wrappedDir).run(audio)
            #expect(a.result == b.result && a.trace.logProbabilities == b.trace.logProbabilities)
        }

        @Test("empty and sub-frame items give empty results next to normal ones")
        func emptyItems() throws {
            var tiny = TinyParaformer()
            tiny.modelClass = "BiCifParaformer"
            tiny.predictorClass = "CifPredictorV3"
            let dir = try tiny.write()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let model = try ParaformerModel(directory: dir)
            let audio = try Assets.audio("audio/zh/asr_example.wav")
            let normal = Array(audio.prefix(24_000))
            let results = try model.transcribe([[], Array(audio.prefix(399)), normal, []])
            #expect(results[0] == .empty && results[1] == .empty && results[3] == .empty)
            #expect(results[2] == (try model.transcribe([normal])[0]))
            #expect(throws: FunASRError.self) { try model.transcribe([normal], vadOffsetsMs: [0, 1]) }
        }

        @Test("the batch cost grows with the longest item and the count")
        func batchCost() throws {
            let dir = try TinyParaformer().write()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let cost = try ParaformerModel(directory: dir).batchCost
            #expect(cost.frames(samples: 16_000) == 17)          // 98 fbank frames → ceil(98/6)
            #expect(cost.bytes(batchCount: 1, longestSamples: 32_000) > cost.bytes(batchCount: 1, longestSamples: 16_000))
            #expect(cost.bytes(batchCount: 4, longestSamples: 16_000) > cost.bytes(batchCount: 1, longestSamples: 16_000))
            #expect(cost.weightBytes > 0)
        }
    }
}
