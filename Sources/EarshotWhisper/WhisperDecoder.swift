import EarshotTensor

/// Cross-attention keys and values for one encoded window: per decoder layer, `[audioContext][2·width]`
/// (keys in the first `width` columns, values in the rest). Computed once per window and shared by every
/// hypothesis decoded against it.
final class CrossAttentionMemory: @unchecked Sendable {
    /// fp32 keys/values per layer (empty when the memory is held in half precision).
    let layers: [FloatBuffer]
    /// The same as IEEE halves, per layer (empty when held in fp32). Half the bytes a decoding step streams
    /// and half the memory a chunk holds; used at int8 and fp16 precision.
    let halfLayers: [HalfBuffer]
    let positions: Int

    init(layers: [FloatBuffer], positions: Int) {
        self.layers = layers
        self.halfLayers = []
        self.positions = positions
    }

    init(halfLayers: [HalfBuffer], positions: Int) {
        self.layers = []
        self.halfLayers = halfLayers
        self.positions = positions
    }

    var isHalf: Bool { !halfLayers.isEmpty }

    var byteCount: Int { layers.reduce(0) { $0 + $1.byteCount } + halfLayers.reduce(0) { $0 + $1.byteCount } }

    /// Layer `l`'s keys and values as fp32 `[positions][2·width]`, widened into `scratch` when held as halves.
    func floatLayer(_ l: Int, scratch: FloatBuffer) -> UnsafePointer<Float> {
        guard isHalf else { return UnsafePointer(layers[l].pointer) }
        Kernels.convertHalfToFloat(halfLayers[l].pointer, into: scratch.pointer, count: halfLayers[l].count)
        return UnsafePointer(scratch.pointer)
    }
}


/// The self-attention KV cache of one decoded sequence: per layer, keys and values for every position so
/// far, `[capacity][width]` each, allocated once (the full text context, or what a generation can reach).
final class SelfAttentionCache: @unchecked Sendable {
    private(set) var length = 0
    let keys: [FloatBuffer]
    let values: [FloatBuffer]
    let width: Int
    let capacity: Int

    init(layers: Int, capacity: Int, width: Int) {
        self.width = width
        self.capacity = capacity
        keys = (0..<layers).map { _ in FloatBuffer(count: capacity * width) }
        values = (0..<layers).map { _ in FloatBuffer(count: capacity * width) }
    }

    /// Makes this cache a copy of `other`'s first `other.length` positions (beam reordering).
    func copy(from other: SelfAttentionCache) {
        let n = other.length * width
        for l in 0..<keys.count {
            keys[l].pointer.update(from: other.keys[l].pointer, count: n)
            values[l].pointer.update(from: other.values[l].pointer, count: n)
        }
        length = other.length
    }

    func reset() { length = 0 }
    fileprivate func advance(by count: Int) { length += count }

    var byteCount: Int { 2 * keys.count * capacity * width * 4 }
}

/// One sequence's share of a decoder step: the new tokens, its cache and the window it attends to.
struct DecoderInput {
    var tokens: [Int]
    var cache: SelfAttentionCache
    var memory: CrossAttentionMemory
}

/// The text decoder: token + position embeddings, pre-norm blocks with causal self-attention (KV cache)
/// and cross-attention, final norm, and the output projection tied to the token embeddings.
struct WhisperDecoder: Sendable {
    let weights: WhisperWeights
    let dims: WhisperDimensions

    /// Projects an encoder output (`[audioContext][width]`) into every layer's cross-attention keys/values.
    /// With `half`, the keys/values are rounded to IEEE halves (nearest even) after the projection.
    func crossAttentionMemory(encoderOutput: UnsafePointer<Float>, half: Bool = false) -> CrossAttentionMemory {
        let t = dims.audioContext, d = dims.width
        if half {
            let scratch = FloatBuffer(count: t * 2 * d)
            let layers = weights.decoderLayers.map { layer -> HalfBuffer in
                layer.crossKeyValue.apply(encoderOutput, rows: t, into: scratch.pointer)
                let kv = HalfBuffer(count: t * 2 * d)
                Kernels.convertFloatToHalf(scratch.pointer, into: kv.pointer, count: t * 2 * d)
                return kv
            }
            return CrossAttentionMemory(halfLayers: layers, positions: t)
        }
        let layers = weights.decoderLayers.map { layer -> FloatBuffer in
            let kv = FloatBuffer(count: t * 2 * d)
            layer.crossKeyValue.apply(encoderOutput, rows: t, into: kv.pointer)
            return kv
        }
        return CrossAttentionMemory(layers: layers, positions: t)
    }

    /// A cache for `capacity` positions (the whole text context by default).
    func makeCache(capacity: Int? = nil) -> SelfAttentionCache {
        SelfAttentionCache(layers: dims.decoderLayers, capacity: min(capacity ?? dims.textContext, dims.textContext),
                           width: dims.width)
    }

    /// Runs the new tokens of every sequence through the decoder, appending to their caches.
    ///
    /// - Returns: the final-norm hidden states of every new token, `[Σ tokens][width]`, in input order.
    func forward(_ inputs: [DecoderInput]) -> FloatBuffer {
        let d = dims.width
        let rows = inputs.reduce(0) { $0 + $1.tokens.count }
        var rowStart: [Int] = []
        var offset = 0
        for input in inputs {
            precondition(input.cache.length + input.tokens.count <= input.cache.capacity,
                         "decoder cache of \(input.cache.capacity) positions exceeded")
            rowStart.append(offset)
            offset += input.tokens.count
        }

        let x = FloatBuffer(count: rows * d)
        for (i, input) in inputs.enumerated() {
            for (j, token) in input.tokens.enumerated() {
                let row = x.pointer + (rowStart[i] + j) * d
                weights.embedding(of: token, into: row)
                let position = input.cache.length + j
                weights.decoderPositions.withPointer { pos in Kernels.add(pos + position * d, into: row, count: d) }
            }
        }

        let normed = FloatBuffer(count: rows * d)
        let qkv = FloatBuffer(count: rows * 3 * d)
        let attended = FloatBuffer(count: rows * d)
        let query = FloatBuffer(count: rows * d)
        let hidden = FloatBuffer(count: rows * dims.ffnWidth)
        let heads = dims.decoderHeads, headDim = d / heads

        for (l, layer) in weights.decoderLayers.enumerated() {
            // Causal self-attention with the cache.
            layer.selfNorm.apply(x.pointer, rows: rows, into: normed.pointer)
            layer.selfQKV.apply(normed.pointer, rows: rows, into: qkv.pointer)
            var problems: [Kernels.AttentionProblem] = []
            problems.reserveCapacity(inputs.count)
            for (i, input) in inputs.enumerated() {
                let cache = input.cache, n = input.tokens.count, past = cache.length
                let keys = cache.keys[l].pointer, values = cache.values[l].pointer
                for j in 0..<n {
                    let src = qkv.pointer + (rowStart[i] + j) * 3 * d
                    (keys + (past + j) * d).update(from: src + d, count: d)
                    (values + (past + j) * d).update(from: src + 2 * d, count: d)
                }
                problems.append(Kernels.AttentionProblem(
                    query: qkv.pointer + rowStart[i] * 3 * d, queryStride: 3 * d,
                    key: keys, keyStride: d, value: values, valueStride: d,
                    output: attended.pointer + rowStart[i] * d, outputStride: d,
                    queryCount: n, keyCount: past + n, causalOffset: past))
            }
            Kernels.attention(problems, heads: heads, headDim: headDim)
            layer.selfOut.apply(attended.pointer, rows: rows, into: x.pointer, accumulate: true)

            // Cross-attention over the encoded window.
            layer.crossNorm.apply(x.pointer, rows: rows, into: normed.pointer)
            layer.crossQuery.apply(normed.pointer, rows: rows, into: query.pointer)
            problems.removeAll(keepingCapacity: true)
            for (i, input) in inputs.enumerated() {
                if input.memory.isHalf {
                    let kv = UnsafePointer(input.memory.halfLayers[l].pointer)
                    problems.append(Kernels.AttentionProblem(
                        query: query.pointer + rowStart[i] * d, queryStride: d, halfKeys: kv, halfValues: kv + d,
                        keyValueStride: 2 * d, output: attended.pointer + rowStart[i] * d, outputStride: d,
                        queryCount: input.tokens.count, keyCount: input.memory.positions))
                    continue
                }
                let kv = input.memory.layers[l].pointer
                problems.append(Kernels.AttentionProblem(
                    query: query.pointer + rowStart[i] * d, queryStride: d,
                    key: kv, keyStride: 2 * d, value: kv + d, valueStride: 2 * d,
                    output: attended.pointer + rowStart[i] * d, outputStride: d,
                    queryCount: input.tokens.count, keyCount: input.memory.positions, causalOffset: nil))
            }
            Kernels.attention(problems, heads: heads, headDim: headDim)
            layer.crossOut.apply(attended.pointer, rows: rows, into: x.pointer, accumulate: true)

            // Feed-forward.
            layer.ffnNorm.apply(x.pointer, rows: rows, into: normed.pointer)
            layer.ffnIn.apply(normed.pointer, rows: rows, into: hidden.pointer)
            Kernels.gelu(hidden.pointer, count: rows * dims.ffnWidth)
            layer.ffnOut.apply(hidden.pointer, rows: rows, into: x.pointer, accumulate: true)
        }
        for input in inputs { input.cache.advance(by: input.tokens.count) }
        weights.decoderNorm.apply(x.pointer, rows: rows, into: x.pointer)
        return x
    }

    /// Vocabulary logits for `rows` hidden states: `hidden · embeddingsᵀ`, `[rows][vocabularySize]`.
    func logits(hidden: UnsafePointer<Float>, rows: Int) -> FloatBuffer {
        let out = FloatBuffer(count: rows * dims.vocabularySize)
        logits(hidden: hidden, rows: rows, into: out.pointer)
        return out
    }

    /// As `logits(hidden:rows:)`, into a caller's buffer of at least `rows × vocabularySize` values.
    func logits(hidden: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        Kernels.linear(hidden, rows: rows, weight: weights.embeddings, bias: nil, into: out)
    }
}
