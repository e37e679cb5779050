import EarshotCheckpoint
import EarshotTensor

/// A linear layer: weight `[outputs, inputs]` plus a bias.
struct LinearLayer: Sendable {
    let weight: WeightMatrix
    let bias: [Float]

    init(_ checkpoint: CTranslate2Checkpoint, _ prefix: String, outputs: Int, inputs: Int,
         precision: WeightPrecision) throws(CheckpointError) {
        let stored = try checkpoint.weightMatrix("\(prefix)/weight", expectedShape: [outputs, inputs])
        weight = precision.convert(stored)
        // A converted copy no longer needs the mapped original: release its pages now rather than after the
        // whole model is loaded, so load-time peak memory is the copies plus one tensor, not both models.
        if weight.storage.isDistinct(from: stored.storage), let region = stored.storage.mappedRegion(of: stored) {
            checkpoint.file.dropResidentPages(of: region.pointer, byteCount: region.bytes)
        }
        bias = try checkpoint.floats("\(prefix)/bias", expectedCount: outputs)
    }

    /// `y = x·Wᵀ + b` (or `y += …` with `accumulate`).
    func apply(_ x: UnsafePointer<Float>, rows: Int, ldx: Int? = nil, into y: UnsafeMutablePointer<Float>,
               ldy: Int? = nil, accumulate: Bool = false) {
        bias.withPointer { b in
            Kernels.linear(x, rows: rows, ldx: ldx, weight: weight, bias: b, into: y, ldy: ldy, accumulate: accumulate)
        }
    }

    var byteCount: Int { weight.byteCount + bias.count * 4 }
}

/// Layer normalisation parameters (`gamma`, `beta`).
struct LayerNormLayer: Sendable {
    let gamma: [Float]
    let beta: [Float]

    init(_ checkpoint: CTranslate2Checkpoint, _ prefix: String, width: Int) throws(CheckpointError) {
        gamma = try checkpoint.floats("\(prefix)/gamma", expectedCount: width)
        beta = try checkpoint.floats("\(prefix)/beta", expectedCount: width)
    }

    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        gamma.withPointer { g in
            beta.withPointer { b in
                Kernels.layerNorm(x, rows: rows, columns: gamma.count, gamma: g, beta: b, epsilon: 1e-5, into: y)
            }
        }
    }

    var byteCount: Int { (gamma.count + beta.count) * 4 }
}

/// The precision weight matrices are kept in while the model runs. Biases, norms and position tables
/// are always fp32 (they are small).
public enum WeightPrecision: String, Sendable, CaseIterable {
    /// Keep whatever the checkpoint stores (fp16 stays fp16 in memory, int8 stays int8).
    case stored
    /// fp32 arithmetic on the checkpoint's exact weight values. fp32 tensors stay fp32; fp16 tensors stay
    /// memory-mapped as fp16 and are widened inside the kernels (widening is exact, so the values used
    /// are the same as after an fp32 copy, at half the memory and bandwidth); int8 is dequantized at load.
    case float32
    /// fp16 weights with fp32 accumulation: fp16 checkpoints stay memory-mapped; fp32 ones are narrowed.
    case float16
    /// CTranslate2's CPU `int8`: every linear weight and the token embedding table (and so the tied output
    /// projection) become int8 per output row, packed for the int8 kernels; activations are quantized per
    /// row; the two encoder convolutions stay float, as CTranslate2's oneDNN build keeps them
    /// (`Model::set_compute_type`, src/models/model.cc) — fp16 convolution weights stay mapped, int8 ones are
    /// dequantized to fp32 at load.
    case int8

    /// The CLI's names: fp32, fp16, int8, stored.
    public init?(cliName: String) {
        switch cliName {
        case "fp32", "float32": self = .float32
        case "fp16", "float16": self = .float16
        case "int8": self = .int8
        case "stored": self = .stored
        default: return nil
        }
    }

    func convert(_ matrix: WeightMatrix) -> WeightMatrix {
        let count = matrix.outputs * matrix.inputs
        switch (self, matrix.storage) {
        case (.stored, _), (.float32, .float32), (.float16, .float16), (.float32, .float16):
            return matrix
        case (.int8, _):
            return matrix.packedForInt8Kernels()
        case (.float16, .float32(let floats)):
            let owned = HalfBuffer(count: count)
            for i in 0..<count { owned.pointer[i] = Float16(floats[i]).bitPattern }
            return WeightMatrix(outputs: matrix.outputs, inputs: matrix.inputs,
                                storage: .float16(UnsafePointer(owned.pointer)), owner: owned)
        case (.float32, _), (.float16, _):
            // int8 stored: dequantize to fp32 rows (then narrow for fp16).
            let owned = FloatBuffer(count: count)
            for r in 0..<matrix.outputs { WhisperWeights.row(r, of: matrix, into: owned.pointer + r * matrix.inputs) }
            let widened = WeightMatrix(outputs: matrix.outputs, inputs: matrix.inputs,
                                       storage: .float32(UnsafePointer(owned.pointer)), owner: owned)
            return self == .float32 ? widened : convert(widened)
        }
    }
}


/// One encoder block: pre-norm self-attention and feed-forward.
struct EncoderLayerWeights: Sendable {
    let attentionNorm: LayerNormLayer
    let qkv: LinearLayer          // self_attention/linear_0, fused [3d, d]
    let attentionOut: LinearLayer // self_attention/linear_1
    let ffnNorm: LayerNormLayer
    let ffnIn: LinearLayer        // ffn/linear_0 [ffn, d]
    let ffnOut: LinearLayer       // ffn/linear_1 [d, ffn]
}

/// One decoder block: causal self-attention, cross-attention over the encoder output, feed-forward.
struct DecoderLayerWeights: Sendable {
    let selfNorm: LayerNormLayer
    let selfQKV: LinearLayer       // self_attention/linear_0 [3d, d]
    let selfOut: LinearLayer       // self_attention/linear_1
    let crossNorm: LayerNormLayer
    let crossQuery: LinearLayer    // attention/linear_0 [d, d]
    let crossKeyValue: LinearLayer // attention/linear_1 [2d, d], applied to the encoder output
    let crossOut: LinearLayer      // attention/linear_2
    let ffnNorm: LayerNormLayer
    let ffnIn: LinearLayer
    let ffnOut: LinearLayer
}

/// Every tensor of a Whisper model, bound by the names CTranslate2's `WhisperSpec` gives them.
struct WhisperWeights: Sendable {
    let conv1: WeightMatrix          // [d, mels·3]
    let conv1Bias: [Float]
    let conv2: WeightMatrix          // [d, d·3]
    let conv2Bias: [Float]
    let encoderPositions: [Float]    // [audioContext, d]
    let encoderLayers: [EncoderLayerWeights]
    let encoderNorm: LayerNormLayer
    let embeddings: WeightMatrix     // [vocab, d], output projection (tied), in the run precision
    let embeddingTable: WeightMatrix // the rows tokens are looked up in: as stored, or `embeddings` at int8
    let decoderPositions: [Float]    // [textContext, d]
    let decoderLayers: [DecoderLayerWeights]
    let decoderNorm: LayerNormLayer

    init(checkpoint c: CTranslate2Checkpoint, dimensions dims: WhisperDimensions,
         precision: WeightPrecision) throws(CheckpointError) {
        let d = dims.width, f = dims.ffnWidth
        let convPrecision = precision == .int8 ? WeightPrecision.float32 : precision
        conv1 = try convPrecision.convert(c.weightMatrix("encoder/conv1/weight", expectedShape: [d, dims.melBands, 3]))
        conv1Bias = try c.floats("encoder/conv1/bias", expectedCount: d)
        conv2 = try convPrecision.convert(c.weightMatrix("encoder/conv2/weight", expectedShape: [d, d, 3]))
        conv2Bias = try c.floats("encoder/conv2/bias", expectedCount: d)
        encoderPositions = try c.floats("encoder/position_encodings/encodings", expectedCount: dims.audioContext * d)
        var encoderLayers: [EncoderLayerWeights] = []
        for i in 0..<dims.encoderLayers {
            let p = "encoder/layer_\(i)"
            encoderLayers.append(EncoderLayerWeights(
                attentionNorm: try LayerNormLayer(c, "\(p)/self_attention/layer_norm", width: d),
                qkv: try LinearLayer(c, "\(p)/self_attention/linear_0", outputs: 3 * d, inputs: d, precision: precision),
                attentionOut: try LinearLayer(c, "\(p)/self_attention/linear_1", outputs: d, inputs: d, precision: precision),
                ffnNorm: try LayerNormLayer(c, "\(p)/ffn/layer_norm", width: d),
                ffnIn: try LinearLayer(c, "\(p)/ffn/linear_0", outputs: f, inputs: d, precision: precision),
                ffnOut: try LinearLayer(c, "\(p)/ffn/linear_1", outputs: d, inputs: f, precision: precision)))
        }
        self.encoderLayers = encoderLayers
        encoderNorm = try LayerNormLayer(c, "encoder/layer_norm", width: d)
        let embeddingsStored = try c.weightMatrix("decoder/embeddings/weight", expectedShape: [dims.vocabularySize, d])
        embeddings = precision.convert(embeddingsStored)
        // At int8 CTranslate2 looks tokens up in the quantized table (Embeddings, src/layers/common.cc), so the
        // lookup reads the packed rows back; otherwise the stored rows are exact.
        embeddingTable = precision == .int8 ? embeddings : embeddingsStored
        if precision == .int8, embeddings.storage.isDistinct(from: embeddingsStored.storage),
           let region = embeddingsStored.storage.mappedRegion(of: embeddingsStored) {
            c.file.dropResidentPages(of: region.pointer, byteCount: region.bytes)
        }
        decoderPositions = try c.floats("decoder/position_encodings/encodings", expectedCount: dims.textContext * d)
        var decoderLayers: [DecoderLayerWeights] = []
        for i in 0..<dims.decoderLayers {
            let p = "decoder/layer_\(i)"
            decoderLayers.append(DecoderLayerWeights(
                selfNorm: try LayerNormLayer(c, "\(p)/self_attention/layer_norm", width: d),
                selfQKV: try LinearLayer(c, "\(p)/self_attention/linear_0", outputs: 3 * d, inputs: d, precision: precision),
                selfOut: try LinearLayer(c, "\(p)/self_attention/linear_1", outputs: d, inputs: d, precision: precision),
                crossNorm: try LayerNormLayer(c, "\(p)/attention/layer_norm", width: d),
                crossQuery: try LinearLayer(c, "\(p)/attention/linear_0", outputs: d, inputs: d, precision: precision),
                crossKeyValue: try LinearLayer(c, "\(p)/attention/linear_1", outputs: 2 * d, inputs: d, precision: precision),
                crossOut: try LinearLayer(c, "\(p)/attention/linear_2", outputs: d, inputs: d, precision: precision),
                ffnNorm: try LayerNormLayer(c, "\(p)/ffn/layer_norm", width: d),
                ffnIn: try LinearLayer(c, "\(p)/ffn/linear_0", outputs: f, inputs: d, precision: precision),
                ffnOut: try LinearLayer(c, "\(p)/ffn/linear_1", outputs: d, inputs: f, precision: precision)))
        }
        self.decoderLayers = decoderLayers
        decoderNorm = try LayerNormLayer(c, "decoder/layer_norm", width: d)
    }

    /// Writes the fp32 embedding of `token` into `out` (`width` values), whatever the stored precision.
    func embedding(of token: Int, into out: UnsafeMutablePointer<Float>) {
        Self.row(token, of: embeddingTable, into: out)
    }

    /// Reads row `r` of a matrix as fp32 (int8 rows dequantized as `q · (1/scale)`).
    static func row(_ r: Int, of matrix: WeightMatrix, into out: UnsafeMutablePointer<Float>) {
        let d = matrix.inputs
        switch matrix.storage {
        case .float32(let w):
            out.update(from: w + r * d, count: d)
        case .float16(let w):
            Kernels.convertHalfToFloat(w + r * d, into: out, count: d)
        case .int8(let values, let scales):
            let inv = 1 / scales[r]
            for i in 0..<d { out[i] = Float(values[r * d + i]) * inv }
        case .packedInt8(let packed):
            packed.dequantizeRow(r, into: out)
        }
    }

    /// Bytes held by the weights (mapped or owned).
    var byteCount: Int {
        var total = conv1.byteCount + conv2.byteCount + embeddings.byteCount
        if embeddingTable.storage.isDistinct(from: embeddings.storage) { total += embeddingTable.byteCount }
        total += (conv1Bias.count + conv2Bias.count + encoderPositions.count + decoderPositions.count) * 4
        total += encoderNorm.byteCount + decoderNorm.byteCount
        for l in encoderLayers {
            total += l.attentionNorm.byteCount + l.qkv.byteCount + l.attentionOut.byteCount
            total += l.ffnNorm.byteCount + l.ffnIn.byteCount + l.ffnOut.byteCount
        }
        for l in decoderLayers {
            total += l.selfNorm.byteCount + l.selfQKV.byteCount + l.selfOut.byteCount + l.crossNorm.byteCount
            total += l.crossQuery.byteCount + l.crossKeyValue.byteCount + l.crossOut.byteCount
            total += l.ffnNorm.byteCount + l.ffnIn.byteCount + l.ffnOut.byteCount
        }
        return total
    }
}

extension WeightMatrix.Storage {
    /// Where the elements of `matrix` (whose storage this is) lie, for unpacked storages.
    func mappedRegion(of matrix: WeightMatrix) -> (pointer: UnsafeRawPointer, bytes: Int)? {
        let count = matrix.outputs * matrix.inputs
        switch self {
        case .float32(let p): return (UnsafeRawPointer(p), count * 4)
        case .float16(let p): return (UnsafeRawPointer(p), count * 2)
        case .int8(let values, _): return (UnsafeRawPointer(values), count)
        case .packedInt8: return nil
        }
    }

    /// Whether two storages hold different memory (a converted copy rather than the same mapping).
    func isDistinct(from other: WeightMatrix.Storage) -> Bool {
        switch (self, other) {
        case (.float32(let a), .float32(let b)): return a != b
        case (.float16(let a), .float16(let b)): return a != b
        case (.int8(let a, _), .int8(let b, _)): return a != b
        case (.packedInt8(let a), .packedInt8(let b)): return a !== b
        default: return true
        }
    }
}
