import Foundation
import EarshotTensor

/// What the decoder tells about where the text tokens of one window were spoken: the alignment heads'
/// cross-attention, processed into one `[rows][frames]` matrix, and each text token's probability.
struct AlignmentEvidence {
    /// Mean over the alignment heads of the normalised, median-filtered attention; row 0 is the
    /// `<|notimestamps|>` query, row `1 + t` the query of text token `t` (the last text token's row is the
    /// one before `<|endoftext|>`). `rows = text tokens + 1`.
    var matrix: [Float]
    var rows: Int
    /// Encoder positions attended to (`numFrames / 2`: 20 ms each).
    var frames: Int
    /// P(text token `t` | the tokens before it), the softmax taken over text tokens only.
    var textProbabilities: [Float]
}

/// The forward pass CTranslate2's `Whisper.align` makes (`src/models/whisper.cc` `WhisperReplica::align`):
/// the whole sequence `start sequence + <|notimestamps|> + text + <|endoftext|>` through the decoder at once
/// (causal self-attention, no cache), keeping the pre-softmax cross-attention scores of the model's
/// `alignment_heads`. Per head, as CTranslate2 does: scores limited to the window's content
/// (`numFrames / 2` encoder positions), softmax over those positions, normalisation of every position over
/// all tokens (mean 0, variance 1), then a median filter of width 7 along time; the heads are averaged.
///
/// It has its own forward loop (the generator's decoder works step by step with a KV cache and does not
/// expose attention probabilities); weights are shared with it through ``WhisperWeights``.
struct WhisperAligner: Sendable {
    let weights: WhisperWeights
    let dims: WhisperDimensions
    /// (layer, head) pairs from `config.json`.
    let heads: [(layer: Int, head: Int)]

    /// faster-whisper `find_alignment(median_filter_width=7)`.
    static let medianFilterWidth = 7
    /// Rows of logits computed at a time for the token probabilities.
    static let logitRows = 4
    /// Query rows per cross-attention call.
    static let crossAttentionRows = 64

    /// Longest sequence aligned: a window's text is at most `textContext / 2` generated tokens (the
    /// generators' length cap), plus at most three start tokens, `<|notimestamps|>` and `<|endoftext|>`.
    static func maxSequence(_ dims: WhisperDimensions) -> Int { min(dims.textContext, dims.textContext / 2 + 5) }

    /// Upper bound of the bytes `evidence` and the DTW after it allocate for a sequence of `tokens`
    /// positions over `frames` encoder positions:
    /// - decoder activations: x, norm, attention output, query and one head's scaled queries (5·L·d),
    ///   fused QKV (3·L·d), feed-forward (L·ffn);
    /// - attention: one alignment head's scores and the head-mean matrix (2·L·F), and the attention kernel's
    ///   per-worker score blocks (threads · (min(L, 64) · F + min(L, 256) · L), cross- and self-attention);
    /// - one block of logits (4 · vocabulary) and the token probabilities;
    /// - DTW: two cost columns, the one-byte trace (L+1)(F+1), the path (twice, (L+F) pairs) and the median
    ///   filter's row;
    /// - one layer of cross-attention keys/values widened to fp32 when the memory holds halves (F · 2d).
    static func scratchBytes(_ dims: WhisperDimensions, tokens: Int, frames: Int, threads: Int) -> Int {
        let d = dims.width, l = tokens, f = frames
        let activations = (8 * l * d + l * dims.ffnWidth) * 4
        let attention = (2 * l * f + max(threads, 1) * (min(l, crossAttentionRows) * f + min(l, 256) * l)) * 4
        let logits = (logitRows * dims.vocabularySize + l) * 4
        let dtw = 2 * (l + 1) * 4 + (l + 1) * (f + 1) + 2 * (l + f) * 16 + (f + medianFilterWidth) * 4
        let widened = dims.audioContext * 2 * d * 4
        return activations + attention + logits + dtw + widened
    }

    /// Runs the alignment pass for one window.
    ///
    /// - Parameters:
    ///   - startSequence: `<|startoftranscript|>` and, for multilingual models, language and task.
    ///   - text: the window's text tokens (no timestamps, no special tokens).
    ///   - numFrames: mel frames of the window's content (≤ 3000); attention beyond them is ignored.
    /// - Returns: `nil` when there is nothing to align (no text, no audio, or a sequence longer than
    ///   the decoder's context).
    /// - Parameter probabilities: compute each text token's probability (else they are all 0).
    func evidence(startSequence: [Int], noTimestamps: Int, eot: Int, text: [Int],
                  memory: CrossAttentionMemory, numFrames: Int, probabilities wanted: Bool = true) -> AlignmentEvidence? {
        let sequence = startSequence + [noTimestamps] + text + [eot]
        let length = sequence.count, offset = startSequence.count
        let frames = min(numFrames / 2, memory.positions)
        guard !text.isEmpty, frames > 0, length <= dims.textContext else { return nil }
        let d = dims.width, headCount = dims.decoderHeads, headDim = d / headCount
        let rows = text.count + 1

        let x = FloatBuffer(count: length * d)
        for (i, token) in sequence.enumerated() {
            let row = x.pointer + i * d
            weights.embedding(of: token, into: row)
            weights.decoderPositions.withPointer { pos in Kernels.add(pos + i * d, into: row, count: d) }
        }
        let normed = FloatBuffer(count: length * d)
        let qkv = FloatBuffer(count: length * 3 * d)
        let attended = FloatBuffer(count: length * d)
        let query = FloatBuffer(count: length * d)
        let hidden = FloatBuffer(count: length * dims.ffnWidth)
        let scaledQuery = FloatBuffer(count: length * headDim)
        var scores = [Float](repeating: 0, count: length * frames)
        var matrix = [Float](repeating: 0, count: rows * frames)
        // One layer of the window's keys/values in fp32 when the memory holds halves.
        let widened = FloatBuffer(count: memory.isHalf ? memory.positions * 2 * d : 1)

        for (l, layer) in weights.decoderLayers.enumerated() {
            layer.selfNorm.apply(x.pointer, rows: length, into: normed.pointer)
            layer.selfQKV.apply(normed.pointer, rows: length, into: qkv.pointer)
            Kernels.attention(query: qkv.pointer, queryStride: 3 * d, key: qkv.pointer + d, keyStride: 3 * d,
                              value: qkv.pointer + 2 * d, valueStride: 3 * d,
                              output: attended.pointer, outputStride: d, heads: headCount, headDim: headDim,
                              queryCount: length, keyCount: length, causalOffset: 0)
            layer.selfOut.apply(attended.pointer, rows: length, into: x.pointer, accumulate: true)

            layer.crossNorm.apply(x.pointer, rows: length, into: normed.pointer)
            layer.crossQuery.apply(normed.pointer, rows: length, into: query.pointer)
            let kv = memory.floatLayer(l, scratch: widened)
            // In blocks of query rows, which bounds the kernel's score scratch (rows × 1500 per worker).
            for first in stride(from: 0, to: length, by: Self.crossAttentionRows) {
                let count = min(Self.crossAttentionRows, length - first)
                Kernels.attention(query: query.pointer + first * d, queryStride: d, key: kv, keyStride: 2 * d,
                                  value: kv + d, valueStride: 2 * d, output: attended.pointer + first * d,
                                  outputStride: d, heads: headCount, headDim: headDim, queryCount: count,
                                  keyCount: memory.positions, causalOffset: nil)
            }
            for head in heads where head.layer == l {
                headAttention(query: query.pointer, keyValue: kv, head: head.head, length: length, frames: frames,
                              scaled: scaledQuery, scores: &scores)
                AlignmentSignal.normalizeColumns(&scores, rows: length, columns: frames)
                AlignmentSignal.medianFilterRows(&scores, rows: offset..<(offset + rows), columns: frames,
                                                 width: Self.medianFilterWidth)
                for r in 0..<rows {
                    let source = (offset + r) * frames, target = r * frames
                    for c in 0..<frames { matrix[target + c] += scores[source + c] }
                }
            }
            layer.crossOut.apply(attended.pointer, rows: length, into: x.pointer, accumulate: true)

            layer.ffnNorm.apply(x.pointer, rows: length, into: normed.pointer)
            layer.ffnIn.apply(normed.pointer, rows: length, into: hidden.pointer)
            Kernels.gelu(hidden.pointer, count: length * dims.ffnWidth)
            layer.ffnOut.apply(hidden.pointer, rows: length, into: x.pointer, accumulate: true)
        }
        let scale = 1 / Float(heads.count)
        for i in matrix.indices { matrix[i] *= scale }

        let probabilities: [Float]
        if wanted {
            weights.decoderNorm.apply(x.pointer, rows: length, into: x.pointer)
            probabilities = textProbabilities(hidden: x, firstRow: offset, text: text, eot: eot)
        } else {
            probabilities = [Float](repeating: 0, count: text.count)
        }
        return AlignmentEvidence(matrix: matrix, rows: rows, frames: frames, textProbabilities: probabilities)
    }

    /// Softmax-normalised cross-attention of one head over the first `frames` encoder positions, for every
    /// query row: `softmax((q·s)·kᵀ)` with `s = 1/√headDim` applied to the queries first (CTranslate2's
    /// `dot_product_attention` scales the queries before the product).
    private func headAttention(query: UnsafePointer<Float>, keyValue: UnsafePointer<Float>, head: Int,
                               length: Int, frames: Int, scaled: FloatBuffer, scores: inout [Float]) {
        let d = dims.width, headDim = d / dims.decoderHeads
        let scale = 1 / Float(headDim).squareRoot()
        for r in 0..<length {
            let source = query + r * d + head * headDim, target = scaled.pointer + r * headDim
            for c in 0..<headDim { target[c] = source[c] * scale }
        }
        scores.withUnsafeMutableBufferPointer { out in
            Kernels.sgemm(m: length, n: frames, k: headDim, a: scaled.pointer, lda: headDim,
                          b: keyValue + head * headDim, ldb: 2 * d, bLayout: .transposed,
                          c: out.baseAddress!, ldc: frames)
            Kernels.softmaxRows(out.baseAddress!, rows: length, columns: frames)
        }
    }

    /// P(text token) at every text position, the softmax restricted to the text vocabulary (ids below
    /// `<|endoftext|>`), as CTranslate2's `align` computes `text_token_probs`. Row `firstRow + t` of the
    /// final hidden states predicts text token `t`.
    private func textProbabilities(hidden: FloatBuffer, firstRow: Int, text: [Int], eot: Int) -> [Float] {
        let d = dims.width, vocab = dims.vocabularySize
        var out: [Float] = []
        out.reserveCapacity(text.count)
        var start = 0
        while start < text.count {
            let count = min(Self.logitRows, text.count - start)
            let logits = FloatBuffer(count: count * vocab)
            Kernels.linear(hidden.pointer + (firstRow + start) * d, rows: count, weight: weights.embeddings,
                           bias: nil, into: logits.pointer)
            // Softmax over the text vocabulary only (the first `eot` columns of each row).
            Kernels.softmaxRows(logits.pointer, rows: count, columns: eot, stride: vocab)
            for r in 0..<count {
                let token = text[start + r]
                out.append(token < eot ? logits.pointer[r * vocab + token] : 0)
            }
            start += count
        }
        return out
    }
}
