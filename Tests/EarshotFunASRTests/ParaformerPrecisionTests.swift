@testable import EarshotFunASR
import Foundation
import Testing

extension FunASRSuite {
    @Suite("Paraformer fp16 and int8 weights") struct ParaformerPrecisionTests {
        /// max |a − b| / max |b|.
        static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
            precondition(a.count == b.count)
            let scale = b.reduce(Float(0)) { max($0, abs($1)) }
            return zip(a, b).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) } / max(scale, .leastNormalMagnitude)
        }

        @Test("encoder output and decoder log-probabilities stay close to fp32", arguments: [ParaformerPrecision.float16, .int8])
        func closeToFloat32(precision: ParaformerPrecision) throws {
            var tiny = TinyParaformer()
            tiny.d = 32; tiny.ffn = 64; tiny.heads = 4; tiny.melBins = 16
            let dir = try tiny.write()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let reference = try ParaformerModel(directory: dir, precision: .float32)
            let reduced = try ParaformerModel(directory: dir, precision: precision)
            #expect(reduced.batchCost.weightBytes > 0)
            let audio = try Assets.audio("audio/zh/asr_example.wav")
            let (_, a) = try reference.run(Array(audio.prefix(48_000)))
            let (_, b) = try reduced.run(Array(audio.prefix(48_000)))
            let encoderError = Self.relativeError(b.encoderOutput, a.encoderOutput)
            // fp16 rounding is 2^-11 relative per weight; int8 is 1/254 of each row's range.
            print("precision \(precision): encoder relative error \(encoderError)")
            let bound: Float = precision == .float16 ? 2e-3 : 5e-2
            #expect(encoderError < bound, "encoder relative error \(encoderError) at \(precision)")
            #expect(encoderError > 0, "\(precision) weights must actually be used")
            if a.cif.tokenCount == b.cif.tokenCount && a.cif.tokenCount > 0 {
                let decoderError = Self.relativeError(b.logProbabilities, a.logProbabilities)
                #expect(decoderError < bound * 2, "decoder relative error \(decoderError) at \(precision)")
            }
        }
    }
}
