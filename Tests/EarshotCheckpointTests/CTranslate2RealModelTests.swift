import Foundation
import Testing
@testable import EarshotCheckpoint
import EarshotTensor

/// The real Whisper models fetched by scripts/fetch-assets.sh.
@Suite("CTranslate2 reader: real Whisper models")
struct CTranslate2RealModelTests {
    struct Expectation: Sendable, CustomTestStringConvertible {
        let model: String
        let layers: Int
        let dModel: Int
        let heads: Int
        let vocabulary: Int
        let vocabularyFile: String
        var testDescription: String { model }
    }

    static let models = [
        Expectation(model: "whisper-tiny.en", layers: 4, dModel: 384, heads: 6, vocabulary: 51864, vocabularyFile: "vocabulary.txt"),
        Expectation(model: "whisper-base", layers: 6, dModel: 512, heads: 8, vocabulary: 51865, vocabularyFile: "vocabulary.json"),
    ]

    @Test("names, shapes, dtypes, scalars, alias", arguments: models)
    func model(_ e: Expectation) throws {
        let (dir, missing) = realModelDirectory(e.model)
        if let missing { Issue.record(Comment(rawValue: missing)); return }
        let ckpt = try CTranslate2Checkpoint.open(directory: dir)
        #expect(ckpt.binaryVersion == 6)
        #expect(ckpt.specName == "WhisperSpec")
        #expect(ckpt.specRevision == 3)
        #expect(ckpt.configJSON != nil)
        #expect(ckpt.vocabularyFile?.path == dir + "/" + e.vocabularyFile)
        #expect(ckpt.tokenizerJSONPath == dir + "/tokenizer.json")
        #expect(ckpt.aliases["decoder/projection/weight"] == "decoder/embeddings/weight")

        let d = e.dModel
        #expect(try ckpt.scalar("encoder/num_heads") == e.heads)
        #expect(try ckpt.scalar("decoder/num_heads") == e.heads)
        for side in ["encoder", "decoder"] {
            let layers = Set(ckpt.variableNames.compactMap { name -> Int? in
                guard name.hasPrefix(side + "/layer_") else { return nil }
                return Int(name.dropFirst(side.count + 7).prefix { $0.isNumber })
            })
            #expect(layers == Set(0..<e.layers), "\(side)")
        }
        let conv1 = try ckpt.weightMatrix("encoder/conv1/weight", expectedShape: [d, 80, 3])
        #expect(conv1.dtype == .float16 && conv1.inputs == 240)
        _ = try ckpt.weightMatrix("encoder/conv2/weight", expectedShape: [d, d, 3])
        let qkv = try ckpt.weightMatrix("encoder/layer_0/self_attention/linear_0/weight", expectedShape: [3 * d, d])
        #expect(qkv.dtype == .float16)
        _ = try ckpt.weightMatrix("decoder/layer_\(e.layers - 1)/attention/linear_1/weight", expectedShape: [2 * d, d])
        _ = try ckpt.weightMatrix("decoder/layer_0/ffn/linear_0/weight", expectedShape: [4 * d, d])
        _ = try ckpt.weightMatrix("decoder/layer_0/ffn/linear_1/weight", expectedShape: [d, 4 * d])
        let embeddings = try ckpt.weightMatrix("decoder/embeddings/weight", expectedShape: [e.vocabulary, d])
        let projection = try ckpt.weightMatrix("decoder/projection/weight", expectedShape: [e.vocabulary, d])
        if case .float16(let a) = embeddings.storage, case .float16(let b) = projection.storage {
            #expect(a == b, "alias must share storage")
            // Zero-copy: the matrix points into the mapping.
            #expect(UnsafeRawPointer(a) == ckpt.variable("decoder/embeddings/weight")!.bytes.baseAddress!)
            #expect(embeddings.owner === ckpt.file)
        } else {
            Issue.record("embeddings not float16")
        }
        let positions = try ckpt.floats("encoder/position_encodings/encodings", expectedCount: 1500 * d)
        #expect(positions.allSatisfy { $0.isFinite })
        #expect(try ckpt.floats("decoder/position_encodings/encodings").count == 448 * d)
        let gamma = try ckpt.floats("encoder/layer_norm/gamma", expectedCount: d)
        #expect(gamma.contains { $0 != 0 })
        #expect(try ckpt.floats("decoder/layer_0/self_attention/linear_0/bias").count == 3 * d)

        // Every stored tensor's payload lies within the file and sums to less than the file size.
        #expect(ckpt.totalTensorBytes < ckpt.file.bytes.count)
        let dtypes = Set(ckpt.variableNames.map { ckpt.variable($0)!.dtype })
        #expect(dtypes.isSubset(of: [.float16, .int8, .int16, .int32, .float32]))
    }
}
