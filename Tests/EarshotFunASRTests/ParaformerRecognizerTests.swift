@testable import EarshotFunASR
import Foundation
import Testing

extension FunASRSuite {
    @Suite("Paraformer as a SpeechRecognizer") struct ParaformerRecognizerTests {
        @Test("windows give FunASR's text, token ids and word times; grouping into batches changes nothing")
        func recognize() throws {
            let oracle = try ParaformerOracle("bicif-small")
            let recognizer = ParaformerRecognizer(model: try ParaformerModel(directory: oracle.directory))
            let clips = try oracle.clips()
            let chunks = [AudioChunk(samples: clips["zh"]!, startSeconds: 12.5, index: 0),
                          AudioChunk(samples: clips["en"]!, startSeconds: 40, index: 1)]
            let together = try recognizer.recognize(chunks, settings: RecognitionSettings(), times: nil)
            for (i, chunk) in chunks.enumerated() {
                #expect(try recognizer.recognize([chunk], settings: RecognitionSettings(), times: nil) == [together[i]])
            }
            for (i, call) in try oracle.calls("single").enumerated() {
                let item = try #require((call["items"] as? [[String: Any]])?.first)
                let segment = try #require(together[i].first)
                #expect(segment.text == item["text"] as? String)
                #expect(segment.tokens == item["token_ids"] as? [Int])
                let stamps = try #require(item["timestamp"] as? [[Double]])
                #expect(segment.words?.map { [$0.start * 1000, $0.end * 1000] }.map { $0.map { Int($0.rounded()) } }
                        == stamps.map { $0.map { Int($0) } })
                #expect(segment.words?.map(\.word).joined(separator: " ") == segment.text)
                #expect(segment.avgLogProb < 0)
            }
            let cost = recognizer.batchCost(nil)
            #expect(cost.bytes(batchSize: 2) > cost.bytes(batchSize: 1) && cost.fixed > 0)
        }

        @Test("settings the model cannot honour are refused")
        func validate() throws {
            let plain = ParaformerRecognizer(model: try ParaformerModel(directory: try ParaformerOracle.fixtureDirectory("paraformer-small")))
            #expect(throws: FunASRError.self) { try plain.validate(RecognitionSettings(translate: true)) }
            #expect(throws: FunASRError.self) { try plain.validate(RecognitionSettings(prompt: "hello")) }
            #expect(throws: FunASRError.self) { try plain.validate(RecognitionSettings(hotwords: "阿里巴巴 20")) }
            #expect(throws: FunASRError.self) { try plain.validate(RecognitionSettings(language: "de")) }
            try plain.validate(RecognitionSettings(language: "zh"))
        }

        @Test("SeACo hotwords in the weighted form bias as FunASR's hotword string does")
        func hotwords() throws {
            let oracle = try ParaformerOracle("seaco-small")
            let model = try ParaformerModel(directory: oracle.directory)
            let recognizer = ParaformerRecognizer(model: model)
            let words = try #require(oracle.json["hotwords"] as? String)
            let weighted = words.split(separator: " ").map { "\($0) 20" }.joined(separator: " ")
            let settings = RecognitionSettings(hotwords: weighted)
            try recognizer.validate(settings)
            let clips = try oracle.clips()
            let segments = try recognizer.recognize([AudioChunk(samples: clips["zh"]!, startSeconds: 0, index: 0)],
                                                    settings: settings, times: nil)
            let expected = try model.transcribe([clips["zh"]!], hotwords: try model.prepareHotwords(words))[0]
            #expect(segments.first?.first?.text == expected.text)
            let item = try #require((try oracle.calls("single_hw").first?["items"] as? [[String: Any]])?.first)
            #expect(expected.text == item["text"] as? String)
        }
    }
}
