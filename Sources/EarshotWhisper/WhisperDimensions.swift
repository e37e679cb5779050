import EarshotCheckpoint

/// The shape of a Whisper checkpoint, read from the tensors themselves (CTranslate2's `WhisperSpec`
/// stores no dimension table, so each figure comes from the tensor that implies it).
public struct WhisperDimensions: Sendable, Equatable {
    /// Mel bands the encoder expects (80, or 128 for large-v3): `encoder/conv1/weight` is `[d, mels, 3]`.
    public var melBands: Int
    /// Model width (`d_model`).
    public var width: Int
    /// Encoder positions: 1500 for 30 s (`encoder/position_encodings/encodings` rows).
    public var audioContext: Int
    /// Decoder positions: 448 (`decoder/position_encodings/encodings` rows).
    public var textContext: Int
    /// Vocabulary size (`decoder/embeddings/weight` rows).
    public var vocabularySize: Int
    /// Attention heads in the encoder and decoder (`encoder/num_heads`, `decoder/num_heads`).
    public var encoderHeads: Int
    public var decoderHeads: Int
    /// Layer counts (highest `layer_N` present, plus one).
    public var encoderLayers: Int
    public var decoderLayers: Int
    /// Feed-forward width (`ffn/linear_0/weight` rows).
    public var ffnWidth: Int

    /// Reads the dimensions from a CTranslate2 Whisper checkpoint.
    /// - Throws: `CheckpointError` if a tensor that defines a dimension is missing or malformed.
    public init(checkpoint: CTranslate2Checkpoint) throws(CheckpointError) {
        func shape(_ name: String, rank: Int) throws(CheckpointError) -> [Int] {
            guard let variable = checkpoint.variable(name) else {
                throw CheckpointError(.missingTensor, path: checkpoint.modelPath, tensor: name,
                                      message: "not found; this is not a CTranslate2 Whisper model (spec \(checkpoint.specName))")
            }
            guard variable.shape.count == rank else {
                throw CheckpointError(.shapeMismatch, path: checkpoint.modelPath, tensor: name,
                                      message: "expected rank \(rank), found shape \(variable.shape)")
            }
            return variable.shape
        }
        let conv1 = try shape("encoder/conv1/weight", rank: 3)
        width = conv1[0]
        melBands = conv1[1]
        audioContext = try shape("encoder/position_encodings/encodings", rank: 2)[0]
        textContext = try shape("decoder/position_encodings/encodings", rank: 2)[0]
        vocabularySize = try shape("decoder/embeddings/weight", rank: 2)[0]
        ffnWidth = try shape("encoder/layer_0/ffn/linear_0/weight", rank: 2)[0]
        encoderHeads = try checkpoint.scalar("encoder/num_heads")
        decoderHeads = try checkpoint.scalar("decoder/num_heads")
        func layerCount(_ prefix: String) -> Int {
            var count = 0
            while checkpoint.variable("\(prefix)/layer_\(count)/ffn/linear_0/weight") != nil { count += 1 }
            return count
        }
        encoderLayers = layerCount("encoder")
        decoderLayers = layerCount("decoder")
        guard encoderLayers > 0, decoderLayers > 0, width % encoderHeads == 0, width % decoderHeads == 0 else {
            throw CheckpointError(.invalidConfiguration, path: checkpoint.modelPath,
                                  message: "inconsistent Whisper dimensions: \(encoderLayers) encoder / \(decoderLayers) decoder layers, width \(width), heads \(encoderHeads)/\(decoderHeads)")
        }
    }

    /// Whether the vocabulary has language tokens (multilingual checkpoints have 51865 or more entries;
    /// English-only ones 51864), as openai/whisper `ModelDimensions.is_multilingual` decides.
    public var isMultilingual: Bool { vocabularySize >= 51865 }
}
