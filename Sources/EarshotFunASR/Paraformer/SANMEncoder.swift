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
/// `x·√d + PE` (sin/cos concatenated, positions from 1), `encoders0` (input width → d; a residual around
/// attention only when the widths are equal), `num_blocks−1` layers, `after_norm`. Each layer: `a = MHA(q,k,v) + (FSMN(v) + v)`,
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
        encode([(features, t)])[0]
    }

    /// Encodes several sequences at once: the linear layers run on all their rows stacked (the weights are
    /// streamed once per batch), the FSMN memory and the attention per sequence. A row's result does not
    /// depend on the other rows, so each output equals encoding that sequence alone.
    func encode(_ items: [(features: UnsafePointer<Float>, frames: Int)]) -> [[Float]] {
        let c = config, d = c.outputSize
        let offsets = items.reduce(into: [0]) { $0.append($0.last! + $1.frames) }
        let rows = offsets.last!
        guard rows > 0 else { return items.map { _ in [] } }
        var input = [Float](repeating: 0, count: rows * c.inputSize)
        var output = [Float](repeating: 0, count: rows * d)
        let s = EncoderScratch(frames: rows, config: c)
        let scale = Float(Double(d).squareRoot())
        input.withUnsafeMutableBufferPointer { inp in
            let x0 = inp.baseAddress!
            for (i, item) in items.enumerated() where item.frames > 0 {
                let dst = x0 + offsets[i] * c.inputSize
                dst.update(from: item.features, count: item.frames * c.inputSize)
                ParaformerOps.scale(dst, count: item.frames * c.inputSize, by: scale)
                Self.addPositions(dst, frames: item.frames, depth: c.inputSize)
            }
            output.withUnsafeMutableBufferPointer { out in
                let x = out.baseAddress!
                // encoders0 adds its input back only when it keeps the width (`EncoderLayerSANM`: in_size ==
                // size, as in CT-Transformer's 256 → 256); Paraformer's 560 → 512 layer has no residual.
                let sameWidth = c.inputSize == d
                if sameWidth { x.update(from: x0, count: rows * d) }
                for (i, layer) in layers.enumerated() {
                    run(layer, input: i == 0 && !sameWidth ? UnsafePointer(x0) : UnsafePointer(x), offsets: offsets, scratch: s, into: x)
                }
                afterNorm.apply(x, rows: rows, into: x)
            }
        }
        return items.indices.map { Array(output[(offsets[$0] * d)..<(offsets[$0 + 1] * d)]) }
    }

    /// One layer over stacked sequences (`offsets` are their first rows, plus the total); `input` may equal
    /// `x` except for the first layer (whose input is wider).
    private func run(_ l: SANMEncoderLayer, input: UnsafePointer<Float>, offsets: [Int], scratch s: EncoderScratch,
                     into x: UnsafeMutablePointer<Float>) {
        let c = config, d = c.outputSize, rows = offsets.last!
        l.norm1.apply(input, rows: rows, into: s.normed)
        l.qkv.apply(s.normed, rows: rows, into: s.qkv)
        var problems: [Kernels.AttentionProblem] = []
        for i in 0..<(offsets.count - 1) where offsets[i + 1] > offsets[i] {
            let r = offsets[i], t = offsets[i + 1] - r
            let qkv = s.qkv + r * 3 * d
            // FSMN memory on V (columns 2d..<3d of the fused projection), within the sequence.
            l.fsmn.apply(qkv + 2 * d, ldx: 3 * d, frames: t, into: s.memory + r * d)
            problems.append(Kernels.AttentionProblem(query: qkv, queryStride: 3 * d, key: qkv + d, keyStride: 3 * d,
                                                     value: qkv + 2 * d, valueStride: 3 * d, output: s.attended + r * d,
                                                     outputStride: d, queryCount: t, keyCount: t, causalOffset: nil))
        }
        Kernels.attention(problems, heads: c.attentionHeads, headDim: d / c.attentionHeads)
        if l.inputSize == d {
            // x = residual + (att + fsmn)
            l.attentionOut.apply(s.attended, rows: rows, into: s.normed)
            Kernels.add(s.memory, into: s.normed, count: rows * d)
            Kernels.add(s.normed, into: x, count: rows * d)
        } else {
            l.attentionOut.apply(s.attended, rows: rows, into: x)
            Kernels.add(s.memory, into: x, count: rows * d)
        }
        l.norm2.apply(x, rows: rows, into: s.normed)
        l.ffnIn.apply(s.normed, rows: rows, into: s.hidden)
        ParaformerOps.relu(s.hidden, count: rows * c.linearUnits)
        l.ffnOut.apply(s.hidden, rows: rows, into: x, accumulate: true)
    }
}
