@testable import EarshotFunASR
import Foundation
import Testing

extension FunASRSuite {
    /// The FSMN encoder loaded from model.pt against the ONNX export run by onnxruntime (P(silence) per
    /// frame, fixtures from scripts/fixtures/funasr_frontend.py).
    @Suite("FSMN encoder") struct EncoderTests {
        static func silenceProbabilities(_ vad: FSMNVAD, _ samples: [Float], block: Int) throws -> [Float] {
            let stream = try FeatureStream(fbank: try KaldiFbank(options: vad.fbankOptions), lfrM: vad.lfrM, lfrN: vad.lfrN,
                                           cmvn: vad.cmvn, maxBatch: block)
            let state = vad.encoder.makeState(maxFrames: block)
            var out: [Float] = []
            let sink: (FeatureBatch) -> Void = { b in
                var p = [Float](repeating: 0, count: b.count)
                p.withUnsafeMutableBufferPointer {
                    vad.encoder.silenceProbability(b.features, frames: b.count, state: state, silenceClasses: [0], into: $0.baseAddress!)
                }
                out += p
            }
            samples.withUnsafeBufferPointer { stream.push($0, sink: sink) }
            stream.finish(sink: sink)
            return out
        }

        @Test("P(silence) per frame matches onnxruntime within 1e-4, for any block size",
              arguments: [("funasr_frontend_asr_example.json", "audio/zh/asr_example.wav", 256),
                          ("funasr_frontend_asr_example.json", "audio/zh/asr_example.wav", 1),
                          ("funasr_frontend_cards_001.json", "audio/cards/001.wav", 13)])
        func matchesONNX(fixture: String, recording: String, block: Int) throws {
            let ref = try #require(try Assets.json(fixture)["speech_p0"] as? [Double])
            let vad = try FSMNVAD(directory: try Assets.vadModel())
            let ours = try Self.silenceProbabilities(vad, try Assets.audio(recording), block: block)
            try #require(ours.count == ref.count)
            var worst = 0.0
            for (a, b) in zip(ours, ref) { worst = max(worst, abs(Double(a) - b)) }
            #expect(worst <= 1e-4, "max |ΔP(silence)| = \(worst)")
        }
    }
}
