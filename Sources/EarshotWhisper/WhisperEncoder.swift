import EarshotTensor

/// The audio encoder: two convolutions, sinusoidal positions, pre-norm transformer blocks.
///
/// Input is a 30-s log-mel window, `[melBands][2·audioContext]` (band-major, as the feature extractor
/// produces it); output is `[audioContext][width]`, time-major.
struct WhisperEncoder: Sendable {
    let weights: WhisperWeights
    let dims: WhisperDimensions

    /// Bytes of scratch memory one `encode` call allocates (activations, excluding the output).
    var scratchBytes: Int {
        let frames = 2 * dims.audioContext, t = dims.audioContext, d = dims.width
        let convScratch = frames * dims.melBands + frames * d + frames * d * 3 // transposed mel, conv1 out, im2col
        let layerScratch = t * d + t * 3 * d + t * d + t * dims.ffnWidth + t * t // norm, qkv, attn out, ffn, scores
        return max(convScratch, layerScratch) * 4
    }

    /// Encodes one window. `mel` holds `melBands × frames` values, band-major, `frames == 2·audioContext`.
    func encode(mel: UnsafePointer<Float>, frames: Int) -> FloatBuffer {
        precondition(frames == 2 * dims.audioContext, "the encoder takes exactly one 30-s window")
        let d = dims.width, t = dims.audioContext, bands = dims.melBands
        let output = FloatBuffer(count: t * d)

        // Convolutions work time-major: transpose [bands][frames] → [frames][bands].
        do {
            let timeMajor = FloatBuffer(count: frames * bands)
            for b in 0..<bands {
                let row = mel + b * frames
                for f in 0..<frames { timeMajor[f * bands + b] = row[f] }
            }
            let conv1Out = FloatBuffer(count: frames * d)
            _ = weights.conv1Bias.withPointer { bias in
                Kernels.conv1d(input: timeMajor.pointer, frames: frames, inChannels: bands, weight: weights.conv1,
                               bias: bias, kernelSize: 3, stride: 1, padding: 1, into: conv1Out.pointer)
            }
            Kernels.gelu(conv1Out.pointer, count: frames * d)
            _ = weights.conv2Bias.withPointer { bias in
                Kernels.conv1d(input: conv1Out.pointer, frames: frames, inChannels: d, weight: weights.conv2,
                               bias: bias, kernelSize: 3, stride: 2, padding: 1, into: output.pointer)
            }
            Kernels.gelu(output.pointer, count: t * d)
            weights.encoderPositions.withPointer { pos in Kernels.add(pos, into: output.pointer, count: t * d) }
        }

        let normed = FloatBuffer(count: t * d)
        let qkv = FloatBuffer(count: t * 3 * d)
        let attended = FloatBuffer(count: t * d)
        let hidden = FloatBuffer(count: t * dims.ffnWidth)
        let x = output.pointer
        for layer in weights.encoderLayers {
            layer.attentionNorm.apply(x, rows: t, into: normed.pointer)
            layer.qkv.apply(normed.pointer, rows: t, into: qkv.pointer)
            Kernels.attention(query: qkv.pointer, queryStride: 3 * d,
                              key: qkv.pointer + d, keyStride: 3 * d,
                              value: qkv.pointer + 2 * d, valueStride: 3 * d,
                              output: attended.pointer, outputStride: d,
                              heads: dims.encoderHeads, headDim: d / dims.encoderHeads,
                              queryCount: t, keyCount: t, causalOffset: nil)
            layer.attentionOut.apply(attended.pointer, rows: t, into: x, accumulate: true)
            layer.ffnNorm.apply(x, rows: t, into: normed.pointer)
            layer.ffnIn.apply(normed.pointer, rows: t, into: hidden.pointer)
            Kernels.gelu(hidden.pointer, count: t * dims.ffnWidth)
            layer.ffnOut.apply(hidden.pointer, rows: t, into: x, accumulate: true)
        }
        weights.encoderNorm.apply(x, rows: t, into: x)
        return output
    }
}
