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
    }
}
