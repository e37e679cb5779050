import Foundation
import Testing
@testable import EarshotCheckpoint
import EarshotTensor

/// Reads model.bin files produced by CTranslate2's own Python writer (see
/// scripts/fixtures/ct2_make_fixtures.py) and checks the decoded values.
@Suite("CTranslate2 reader: files written by ctranslate2")
struct CTranslate2WriterFixtureTests {
    static let fixtures = [CT2WriterFixtures.int8, CT2WriterFixtures.int16, CT2WriterFixtures.float16,
                           CT2WriterFixtures.int8Float16]

    private func decode(_ m: WeightMatrix) -> [Float] {
        let n = m.outputs * m.inputs
        switch m.storage {
        case .float32(let p): return Array(UnsafeBufferPointer(start: p, count: n))
        case .float16(let p): return (0..<n).map { CT2Convert.halfToFloat(p[$0]) }
        case .int8(let values, let scales): return (0..<n).map { Float(values[$0]) / scales[$0 / m.inputs] }
        default:
            Issue.record("the reader returned an unexpected storage kind")
            return []
        }
    }

    @Test("decodes like CTranslate2", arguments: fixtures)
    func decodes(_ fixture: CT2WriterFixture) throws {
        let dir = TemporaryModelDirectory()
        dir.write(model: Array(Data(base64Encoded: fixture.modelBase64)!))
        let ckpt = try CTranslate2Checkpoint.open(directory: dir.path)
        #expect(ckpt.specName == "ToySpec" && ckpt.specRevision == 3 && ckpt.binaryVersion == 6)
        #expect(ckpt.aliases["projection/weight"] == "embeddings/weight")
        #expect(try ckpt.scalar("num_heads") == 6)
        #expect(try ckpt.scalar("pre_norm") == 1)

        let linear = try ckpt.weightMatrix("layer_0/linear/weight", expectedShape: [5, 4])
        let conv = try ckpt.weightMatrix("layer_1/conv/weight", expectedShape: [3, 2, 3])
        let projection = try ckpt.weightMatrix("projection/weight", expectedShape: [7, 4])
        for (matrix, expected) in [(linear, fixture.layer0Linear), (conv, fixture.layer1Conv), (projection, fixture.projection)] {
            let got = decode(matrix)
            #expect(got.count == expected.count)
            for (g, e) in zip(got, expected) { #expect(abs(g - e) <= 1e-6 * max(1, abs(e)), "\(fixture.quantization): \(g) vs \(e)") }
        }
        switch fixture.quantization {
        case "int8", "int8_float16": #expect(linear.dtype == .int8 && projection.dtype == .int8)
        case "float16": #expect(linear.dtype == .float16)
        default: #expect(linear.dtype == .float32)  // int16 widened
        }
        #expect(try ckpt.floats("layer_0/linear/bias", expectedCount: 5) == fixture.layer0Bias)
    }
}

extension CT2WriterFixture: CustomTestStringConvertible {
    var testDescription: String { quantization }
}
