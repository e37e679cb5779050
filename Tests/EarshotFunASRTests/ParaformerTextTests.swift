@testable import EarshotFunASR
import Foundation
import Testing

extension FunASRSuite {
    @Suite("Paraformer text post-processing against FunASR") struct ParaformerTextTests {
        @Test("sentence_postprocess: text, per-word timestamps and words equal FunASR's on every case")
        func postprocessMatchesFunASR() throws {
            // Fixture: scripts/oracle/paraformer_text_oracle.py runs FunASR's postprocess_utils.py.
            let fixture = try Assets.json("paraformer_text_postprocess.json")
            let cases = try #require(fixture["cases"] as? [[String: Any]])
            #expect(cases.count >= 30)
            for c in cases {
                let tokens = try #require(c["tokens"] as? [String])
                let stamps = (c["timestamps"] as? [[Double]])
                let got = ParaformerTextPostprocess.sentence(tokens, timestamps: stamps)
                #expect(got.text == c["text"] as? String, "tokens \(tokens) timestamps \(stamps != nil)")
                #expect(got.words == c["words"] as? [String], "tokens \(tokens)")
                if stamps != nil {
                    let expected = try #require(c["out_timestamps"] as? [[Double]])
                    #expect(got.timestamps == expected, "tokens \(tokens)")
                }
            }
        }
    
        @Test("tokenize equals FunASR's CharTokenizer.encode, with seg_dict and without",
              arguments: ["seaco-small", "paraformer-small"])
        func tokenizeMatchesFunASR(model name: String) throws {
            // Fixture: scripts/oracle/paraformer_tokenizer_oracle.py.
            let fixture = try Assets.json("paraformer_tokenize.json")
            let cases = try #require(fixture[name] as? [[String: Any]])
            let model = try ParaformerModel(directory: try ParaformerOracle.fixtureDirectory(name))
            for c in cases {
                let text = try #require(c["text"] as? String)
                #expect(try model.tokenize(text) == c["ids"] as? [Int], "'\(text)'")
            }
            #expect(ParaformerModel.hotwordWords(weighted: "阿里巴巴 20 达摩院 1.5") == "阿里巴巴 达摩院")
        }
}
}
