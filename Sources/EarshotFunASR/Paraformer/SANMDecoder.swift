import EarshotTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `PositionwiseFeedForwardDecoderSANM`: `w_2(LayerNorm(relu(w_1(x))))`, `w_2` without bias.
struct DecoderFeedForward: @unchecked Sendable {
    let w1: ParaformerLinear
    let norm: ParaformerLayerNorm
    let w2: ParaformerLinear

    init(_ w: ParaformerWeightLoader, _ prefix: String, width d: Int, units: Int) throws(FunASRError) {
        w1 = try w.linear(prefix + "w_1", outputs: units, inputs: d)
        norm = try w.layerNorm(prefix + "norm", width: units)
        w2 = try w.linear(prefix + "w_2", outputs: d, inputs: units, bias: false)
    }

    var byteCount: Int { w1.byteCount + norm.byteCount + w2.byteCount }
    var mappedBytes: Int { w1.mappedBytes + w2.mappedBytes }

    func apply(_ x: UnsafePointer<Float>, rows: Int, hidden: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        w1.apply(x, rows: rows, into: hidden)
        ParaformerOps.relu(hidden, count: rows * w1.outputs)
        norm.apply(hidden, rows: rows, into: hidden)
        w2.apply(hidden, rows: rows, into: y)
    }
}

/// Cross-attention of a decoder block (`MultiHeadedAttentionCrossAtt`).
struct DecoderCrossAttention: @unchecked Sendable {
    let query: ParaformerLinear   // linear_q [d, d]
    let keyValue: ParaformerLinear // linear_k_v [2d, encoder d]
    let out: ParaformerLinear     // linear_out [d, d]

    var byteCount: Int { query.byteCount + keyValue.byteCount + out.byteCount }
    var mappedBytes: Int { query.mappedBytes + keyValue.mappedBytes + out.mappedBytes }
}

/// One `DecoderLayerSANM`. `selfAttention` (FSMN) is absent only in `decoders3`; `crossAttention` is absent in
/// `decoders2` and `decoders3`.
struct SANMDecoderLayer: @unchecked Sendable {
    let norm1: ParaformerLayerNorm
    let feedForward: DecoderFeedForward
    let norm2: ParaformerLayerNorm?
    let fsmn: FSMNMemory?
    let norm3: ParaformerLayerNorm?
    let crossAttention: DecoderCrossAttention?

    init(_ w: ParaformerWeightLoader, _ prefix: String, config c: SANMDecoderConfig, width d: Int, memoryWidth: Int,
         fsmnShift: Int?, cross: Bool) throws(FunASRError) {
        norm1 = try w.layerNorm(prefix + "norm1", width: d)
        feedForward = try DecoderFeedForward(w, prefix + "feed_forward.", width: d, units: c.linearUnits)
        if let shift = fsmnShift {
            norm2 = try w.layerNorm(prefix + "norm2", width: d)
            fsmn = try w.fsmn(prefix + "self_attn.fsmn_block.weight", channels: d, kernel: c.kernelSize, shift: shift)
        } else {
            norm2 = nil
            fsmn = nil
        }
        if cross {
            norm3 = try w.layerNorm(prefix + "norm3", width: d)
            crossAttention = DecoderCrossAttention(
                query: try w.linear(prefix + "src_attn.linear_q", outputs: d, inputs: d),
                keyValue: try w.linear(prefix + "src_attn.linear_k_v", outputs: 2 * d, inputs: memoryWidth),
                out: try w.linear(prefix + "src_attn.linear_out", outputs: d, inputs: d))
        } else {
            norm3 = nil
            crossAttention = nil
        }
    }

    /// Width of the memory the cross-attention reads (the encoder's, or SeACo's hotword embeddings').
    var memoryWidth: Int { crossAttention?.keyValue.weight.inputs ?? 0 }

    var byteCount: Int {
        norm1.byteCount + feedForward.byteCount + (norm2?.byteCount ?? 0) + (fsmn?.byteCount ?? 0)
            + (norm3?.byteCount ?? 0) + (crossAttention?.byteCount ?? 0)
    }
    var mappedBytes: Int { feedForward.mappedBytes + (crossAttention?.mappedBytes ?? 0) }
}

/// FunASR's non-autoregressive `ParaformerSANMDecoder.forward` for one sequence of `N` query rows over `T`
/// memory rows (the encoder output; SeACo's hotword decoder attends to hotword embeddings instead):
/// `att_layer_num` blocks `x = x + FSMN(LN2(FFN(LN1(x))))`, `x = x + CrossAtt(LN3(x), memory)`;
/// `num_blocks − att_layer_num` blocks (if positive) without cross-attention, their FSMN with shift 0;
/// `decoders3`: `x = FFN(LN1(x))` (no residual); `after_norm`; then `output_layer` and `log_softmax` when
/// the decoder has an output layer.
struct SANMDecoder: @unchecked Sendable {
    let config: SANMDecoderConfig
    let width: Int
    let vocabularySize: Int
    let layers: [SANMDecoderLayer]
    let afterNorm: ParaformerLayerNorm
    let outputLayer: ParaformerLinear?

    init(config: SANMDecoderConfig, width: Int, vocabularySize: Int, layers: [SANMDecoderLayer],
         afterNorm: ParaformerLayerNorm, outputLayer: ParaformerLinear?) {
        self.config = config
        self.width = width
        self.vocabularySize = vocabularySize
        self.layers = layers
        self.afterNorm = afterNorm
        self.outputLayer = outputLayer
    }

    init(_ w: ParaformerWeightLoader, prefix: String = "decoder.", config c: SANMDecoderConfig, width d: Int,
         memoryWidth: Int? = nil, vocabularySize v: Int, outputLayer hasOutput: Bool = true) throws(FunASRError) {
        config = c
        width = d
        vocabularySize = v
        let m = memoryWidth ?? d
        var layers: [SANMDecoderLayer] = []
        for i in 0..<c.attentionLayers {
            layers.append(try SANMDecoderLayer(w, prefix + "decoders.\(i).", config: c, width: d, memoryWidth: m,
                                               fsmnShift: c.sanmShift, cross: true))
        }
        for i in 0..<max(0, c.numBlocks - c.attentionLayers) {
            layers.append(try SANMDecoderLayer(w, prefix + "decoders2.\(i).", config: c, width: d, memoryWidth: m,
                                               fsmnShift: 0, cross: false))
        }
        layers.append(try SANMDecoderLayer(w, prefix + "decoders3.0.", config: c, width: d, memoryWidth: m,
                                           fsmnShift: nil, cross: false))
        self.layers = layers
        afterNorm = try w.layerNorm(prefix + "after_norm", width: d)
        outputLayer = hasOutput ? try w.linear(prefix + "output_layer", outputs: v, inputs: d, quantized: false) : nil
    }

    var byteCount: Int { layers.reduce(afterNorm.byteCount + (outputLayer?.byteCount ?? 0)) { $0 + $1.byteCount } }
    var mappedBytes: Int { layers.reduce(outputLayer?.mappedBytes ?? 0) { $0 + $1.mappedBytes } }

    /// Scratch bytes for `tokens` rows over `frames` memory rows (excluding the returned arrays).
    static func scratchBytes(tokens n: Int, frames t: Int, width d: Int, units: Int) -> Int {
        (n * (4 * d + units) + t * 2 * d) * 4
    }

    /// The `after_norm` output `[rows][width]` and, with an output layer, log-probabilities `[rows][vocabularySize]`.
    func forward(_ queries: [Float], rows n: Int, memory: [Float], memoryRows t: Int) -> (hidden: [Float], logProbabilities: [Float]) {
        forward([(queries, n, memory, t)])[0]
    }

    /// Several sequences at once: linear layers on all query rows (and all memory rows) stacked, FSMN and
    /// cross-attention per sequence; each result equals running that sequence alone.
    func forward(_ items: [(queries: [Float], rows: Int, memory: [Float], memoryRows: Int)], skipAfterNorm: Bool = false)
        -> [(hidden: [Float], logProbabilities: [Float])] {
        let d = width
        let qOff = items.reduce(into: [0]) { $0.append($0.last! + $1.rows) }
        let mOff = items.reduce(into: [0]) { $0.append($0.last! + $1.memoryRows) }
        let n = qOff.last!, t = mOff.last!
        guard n > 0 else { return items.map { _ in ([], []) } }
        var x = [Float](repeating: 0, count: n * d)
        var memory = [Float](repeating: 0, count: max(1, t * layers.first!.memoryWidth))
        for (i, item) in items.enumerated() {
            x.replaceSubrange((qOff[i] * d)..<(qOff[i + 1] * d), with: item.queries[0..<(item.rows * d)])
            let m = layers.first!.memoryWidth
            memory.replaceSubrange((mOff[i] * m)..<(mOff[i + 1] * m), with: item.memory[0..<(item.memoryRows * m)])
        }
        var hiddenOut = [Float](repeating: 0, count: n * d)
        let normed = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
        let ffn = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
        let fsmnOut = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
        let attended = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
        let hidden = UnsafeMutablePointer<Float>.allocate(capacity: n * config.linearUnits)
        let keyValue = UnsafeMutablePointer<Float>.allocate(capacity: max(1, t * 2 * d))
        defer { for p in [normed, ffn, fsmnOut, attended, hidden, keyValue] { p.deallocate() } }
        x.withUnsafeMutableBufferPointer { xb in
            memory.withUnsafeBufferPointer { mb in
                let x = xb.baseAddress!, mem = mb.baseAddress!
                for layer in layers {
                    layer.norm1.apply(x, rows: n, into: normed)
                    layer.feedForward.apply(normed, rows: n, hidden: hidden, into: ffn)
                    guard let fsmn = layer.fsmn, let norm2 = layer.norm2 else {
                        x.update(from: ffn, count: n * d)   // decoders3: no residual
                        continue
                    }
                    norm2.apply(ffn, rows: n, into: normed)
                    for i in 0..<items.count where qOff[i + 1] > qOff[i] {
                        fsmn.apply(normed + qOff[i] * d, ldx: d, frames: qOff[i + 1] - qOff[i], into: fsmnOut + qOff[i] * d)
                    }
                    Kernels.add(fsmnOut, into: x, count: n * d)
                    guard let cross = layer.crossAttention, let norm3 = layer.norm3 else { continue }
                    norm3.apply(x, rows: n, into: normed)
                    cross.query.apply(normed, rows: n, into: ffn)
                    cross.keyValue.apply(mem, rows: t, into: keyValue)
                    var problems: [Kernels.AttentionProblem] = []
                    for i in 0..<items.count where qOff[i + 1] > qOff[i] {
                        let kv = keyValue + mOff[i] * 2 * d
                        problems.append(Kernels.AttentionProblem(
                            query: ffn + qOff[i] * d, queryStride: d, key: kv, keyStride: 2 * d, value: kv + d,
                            valueStride: 2 * d, output: attended + qOff[i] * d, outputStride: d,
                            queryCount: qOff[i + 1] - qOff[i], keyCount: mOff[i + 1] - mOff[i], causalOffset: nil))
                    }
                    Kernels.attention(problems, heads: config.attentionHeads, headDim: d / config.attentionHeads)
                    cross.out.apply(attended, rows: n, into: x, accumulate: true)
                }
                hiddenOut.withUnsafeMutableBufferPointer { h in
                    if skipAfterNorm { h.baseAddress!.update(from: x, count: n * d) } else { afterNorm.apply(x, rows: n, into: h.baseAddress!) }
                }
            }
        }
        var logits: [Float] = []
        let v = vocabularySize
        if let outputLayer {
            logits = [Float](repeating: 0, count: n * v)
            hiddenOut.withUnsafeBufferPointer { h in
                logits.withUnsafeMutableBufferPointer { lb in
                    outputLayer.apply(h.baseAddress!, rows: n, into: lb.baseAddress!)
                    ParaformerOps.logSoftmaxRows(lb.baseAddress!, rows: n, columns: v)
                }
            }
        }
        return items.indices.map { i in
            (Array(hiddenOut[(qOff[i] * d)..<(qOff[i + 1] * d)]),
             outputLayer == nil ? [] : Array(logits[(qOff[i] * v)..<(qOff[i + 1] * v)]))
        }
    }

    /// SeACo's attention-score filter input (`forward_asf6` + `get_attn_mat`): runs blocks 0–4 on `queries` over
    /// `memory`, then block 5 up to its cross-attention, and returns the attention weights summed over heads and
    /// query rows, one score per memory row. Needs at least 6 cross-attention blocks.
    func crossAttentionScores(_ queries: [Float], rows n: Int, memory: [Float], memoryRows t: Int) -> [Float] {
        let d = width, heads = config.attentionHeads, dk = d / heads
        guard layers.count > 5, let cross = layers[5].crossAttention, let norm3 = layers[5].norm3,
              let fsmn = layers[5].fsmn, let norm2 = layers[5].norm2, n > 0, t > 0 else { return [] }
        let partial = SANMDecoder(config: config, width: width, vocabularySize: vocabularySize,
                                  layers: Array(layers[0..<5]), afterNorm: afterNorm, outputLayer: nil)
        var x = partial.forward([(queries, n, memory, t)], skipAfterNorm: true)[0].hidden
        var normed = [Float](repeating: 0, count: n * d), ffn = normed, mem = normed
        var hidden = [Float](repeating: 0, count: n * config.linearUnits)
        var q = normed, kv = [Float](repeating: 0, count: t * 2 * d)
        let l = layers[5]
        x.withUnsafeMutableBufferPointer { xb in
            let x = xb.baseAddress!
            normed.withUnsafeMutableBufferPointer { nb in
                let nr = nb.baseAddress!
                l.norm1.apply(x, rows: n, into: nr)
                hidden.withUnsafeMutableBufferPointer { h in
                    ffn.withUnsafeMutableBufferPointer { l.feedForward.apply(nr, rows: n, hidden: h.baseAddress!, into: $0.baseAddress!) }
                }
                ffn.withUnsafeBufferPointer { norm2.apply($0.baseAddress!, rows: n, into: nr) }
                mem.withUnsafeMutableBufferPointer { fsmn.apply(nr, ldx: d, frames: n, into: $0.baseAddress!) }
                mem.withUnsafeBufferPointer { Kernels.add($0.baseAddress!, into: x, count: n * d) }
                norm3.apply(x, rows: n, into: nr)
                q.withUnsafeMutableBufferPointer { cross.query.apply(nr, rows: n, into: $0.baseAddress!) }
            }
        }
        memory.withUnsafeBufferPointer { m in kv.withUnsafeMutableBufferPointer { cross.keyValue.apply(m.baseAddress!, rows: t, into: $0.baseAddress!) } }
        // q·d_k^-½ first, as MultiHeadedAttentionCrossAtt.forward scales q_h before the product.
        let scale = Float(pow(Double(dk), -0.5))
        var scores = [Float](repeating: 0, count: t)
        var row = [Float](repeating: 0, count: t)
        for hd in 0..<heads {
            for r in 0..<n {
                for j in 0..<t {
                    var s: Float = 0
                    for c in 0..<dk { s += (q[r * d + hd * dk + c] * scale) * kv[j * 2 * d + hd * dk + c] }
                    row[j] = s
                }
                let mx = row.max() ?? 0
                var sum: Float = 0
                for j in 0..<t { row[j] = expf(row[j] - mx); sum += row[j] }
                for j in 0..<t { scores[j] += row[j] / sum }
            }
        }
        return scores
    }
}
