import EarshotTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One SAN-M encoder layer (`EncoderLayerSANM` with `MultiHeadedAttentionSANM`, pre-norm, no concat).
struct SANMEncoderLayer: @unchecked Sendable {
    let norm1: ParaformerLayerNorm
    let qkv: ParaformerLinear          // self_attn.linear_q_k_v [3d, in]
    let fsmn: FSMNMemory               // self_attn.fsmn_block [d, 1, k]
    let attentionOut: ParaformerLinear // self_attn.linear_out [d, d]
    let norm2: ParaformerLayerNorm
    let ffnIn: ParaformerLinear        // feed_forward.w_1 [ffn, d]
    let ffnOut: ParaformerLinear       // feed_forward.w_2 [d, ffn]
    let inputSize: Int

    init(_ w: ParaformerWeightLoader, _ prefix: String, inputSize: Int, config c: SANMEncoderConfig) throws(FunASRError) {
        let d = c.outputSize
        self.inputSize = inputSize
        norm1 = try w.layerNorm(prefix + "norm1", width: inputSize)
        qkv = try w.linear(prefix + "self_attn.linear_q_k_v", outputs: 3 * d, inputs: inputSize)
        fsmn = try w.fsmn(prefix + "self_attn.fsmn_block.weight", channels: d, kernel: c.kernelSize, shift: c.sanmShift)
        attentionOut = try w.linear(prefix + "self_attn.linear_out", outputs: d, inputs: d)
        norm2 = try w.layerNorm(prefix + "norm2", width: d)
        ffnIn = try w.linear(prefix + "feed_forward.w_1", outputs: c.linearUnits, inputs: d)
        ffnOut = try w.linear(prefix + "feed_forward.w_2", outputs: d, inputs: c.linearUnits)
    }

    var byteCount: Int {
        norm1.byteCount + qkv.byteCount + fsmn.byteCount + attentionOut.byteCount + norm2.byteCount
            + ffnIn.byteCount + ffnOut.byteCount
    }
    var mappedBytes: Int { qkv.mappedBytes + attentionOut.mappedBytes + ffnIn.mappedBytes + ffnOut.mappedBytes }
}

/// Scratch buffers of one encoder pass over `frames` frames.
final class EncoderScratch {
    let normed, qkv, attended, memory, hidden: UnsafeMutablePointer<Float>
    init(frames t: Int, config c: SANMEncoderConfig) {
        let wide = max(c.inputSize, c.outputSize)
        normed = .allocate(capacity: max(1, t * wide))
        qkv = .allocate(capacity: max(1, t * 3 * c.outputSize))
        attended = .allocate(capacity: max(1, t * c.outputSize))
        memory = .allocate(capacity: max(1, t * c.outputSize))
        hidden = .allocate(capacity: max(1, t * c.linearUnits))
    }
    deinit { for p in [normed, qkv, attended, memory, hidden] { p.deallocate() } }

    /// Bytes for `frames` frames (what `init` allocates).
    static func bytes(frames t: Int, config c: SANMEncoderConfig) -> Int {
        t * (max(c.inputSize, c.outputSize) + 3 * c.outputSize + 2 * c.outputSize + c.linearUnits) * 4
    }
}

/// FunASR's SAN-M encoder (`funasr/models/sanm/encoder.py:SANMEncoder.forward`) for one unpadded sequence:
/// `x·√d + PE` (sin/cos concatenated, positions from 1), `encoders0` (input width → d, no residual around
/// attention), `num_blocks−1` layers, `after_norm`. Each layer: `a = MHA(q,k,v) + (FSMN(v) + v)`,
/// `x = x + a`, `x = x + FFN(LN2(x))` with ReLU. A sequence alone gives what FunASR gives its valid frames in a
/// padded batch: attention masks padded keys and the FSMN input is masked, so padding never reaches them.
struct SANMEncoder: @unchecked Sendable {
    let config: SANMEncoderConfig
    let layers: [SANMEncoderLayer]
    let afterNorm: ParaformerLayerNorm

    init(_ w: ParaformerWeightLoader, config c: SANMEncoderConfig) throws(FunASRError) {
        config = c
        var layers = [try SANMEncoderLayer(w, "encoder.encoders0.0.", inputSize: c.inputSize, config: c)]
        for i in 0..<(c.numBlocks - 1) {
            layers.append(try SANMEncoderLayer(w, "encoder.encoders.\(i).", inputSize: c.outputSize, config: c))
        }
        self.layers = layers
        afterNorm = try w.layerNorm("encoder.after_norm", width: c.outputSize)
    }

    var byteCount: Int { layers.reduce(afterNorm.byteCount) { $0 + $1.byteCount } }
    var mappedBytes: Int { layers.reduce(0) { $0 + $1.mappedBytes } }

    /// Sinusoidal position encoding of `SinusoidalPositionEncoder.encode` in fp32, added to `x[frames][depth]`.
    static func addPositions(_ x: UnsafeMutablePointer<Float>, frames: Int, depth: Int) {
        let half = depth / 2
        let increment = logf(10_000) / (Float(depth) / 2 - 1)
        var inv = [Float](repeating: 0, count: half)
        for k in 0..<half { inv[k] = expf(Float(k) * -increment) }
        for t in 0..<frames {
            let row = x + t * depth, pos = Float(t + 1)
            for k in 0..<half {
                let s = pos * inv[k]
                row[k] += sinf(s)
                row[half + k] += cosf(s)
            }
        }
    }

    /// Encodes `frames` feature rows (`inputSize` wide) into `[frames][outputSize]`.
    func encode(_ features: UnsafePointer<Float>, frames t: Int) -> [Float] {
        let c = config, d = c.outputSize
        guard t > 0 else { return [] }
        var input = [Float](repeating: 0, count: t * c.inputSize)
        var output = [Float](repeating: 0, count: t * d)
        let s = EncoderScratch(frames: t, config: c)
        input.withUnsafeMutableBufferPointer { inp in
            let x0 = inp.baseAddress!
            x0.update(from: features, count: t * c.inputSize)
            ParaformerOps.scale(x0, count: t * c.inputSize, by: Float(Double(d).squareRoot()))
            Self.addPositions(x0, frames: t, depth: c.inputSize)
            output.withUnsafeMutableBufferPointer { out in
                let x = out.baseAddress!
                for (i, layer) in layers.enumerated() {
                    run(layer, input: i == 0 ? UnsafePointer(x0) : UnsafePointer(x), frames: t, scratch: s, into: x)
                }
                afterNorm.apply(x, rows: t, into: x)
            }
        }
        return output
    }

    /// One layer; `input` may equal `x` except for the first layer (whose input is wider).
    private func run(_ l: SANMEncoderLayer, input: UnsafePointer<Float>, frames t: Int, scratch s: EncoderScratch,
                     into x: UnsafeMutablePointer<Float>) {
        let c = config, d = c.outputSize
        l.norm1.apply(input, rows: t, into: s.normed)
        l.qkv.apply(s.normed, rows: t, into: s.qkv)
        // FSMN memory on V (columns 2d..<3d of the fused projection).
        l.fsmn.apply(s.qkv + 2 * d, ldx: 3 * d, frames: t, into: s.memory)
        Kernels.attention(query: s.qkv, queryStride: 3 * d, key: s.qkv + d, keyStride: 3 * d,
                          value: s.qkv + 2 * d, valueStride: 3 * d, output: s.attended, outputStride: d,
                          heads: c.attentionHeads, headDim: d / c.attentionHeads, queryCount: t, keyCount: t,
                          causalOffset: nil)
        if l.inputSize == d {
            // x = residual + (att + fsmn)
            l.attentionOut.apply(s.attended, rows: t, into: s.normed)
            Kernels.add(s.memory, into: s.normed, count: t * d)
            Kernels.add(s.normed, into: x, count: t * d)
        } else {
            l.attentionOut.apply(s.attended, rows: t, into: x)
            Kernels.add(s.memory, into: x, count: t * d)
        }
        l.norm2.apply(x, rows: t, into: s.normed)
        l.ffnIn.apply(s.normed, rows: t, into: s.hidden)
        ParaformerOps.relu(s.hidden, count: t * c.linearUnits)
        l.ffnOut.apply(s.hidden, rows: t, into: x, accumulate: true)
    }
}
