import EarshotTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `CifPredictorV3`'s upsampled second CIF (`get_upsample_timestamp`): `ConvTranspose1d(idim, idim, u, stride u)`
/// over the encoder output (or the CIF convolution's, with `use_cif1_cnn`), optionally a bidirectional LSTM,
/// `cif_output2`, `relu(sigmoid(·)·smooth_factor2 − noise_threshold2)`, rescaled so the weights sum to the
/// token count; then `cif_wo_hidden` with threshold `threshold − 1e-4`.
struct CIFTimestampHead: @unchecked Sendable {
    let config: CIFPredictorConfig
    /// Transposed-convolution weights reordered so one product gives the upsampled rows:
    /// row `j·idim + o` holds `W[·, o, j]` (PyTorch stores `[in][out][u]`).
    let upsample: ParaformerLinear
    let lstm: (forward: LSTMDirection, backward: LSTMDirection)?
    let output: ParaformerLinear

    init(_ w: ParaformerWeightLoader, config c: CIFPredictorConfig) throws(FunASRError) {
        config = c
        let d = c.idim, u = c.upsampleTimes
        let raw = try w.floats("predictor.upsample_cnn.weight", [d, d, u])
        let bias = try w.floats("predictor.upsample_cnn.bias", [d])
        var reordered = [Float](repeating: 0, count: u * d * d)
        var repeatedBias = [Float](repeating: 0, count: u * d)
        for j in 0..<u {
            for o in 0..<d {
                repeatedBias[j * d + o] = bias[o]
                for i in 0..<d { reordered[(j * d + o) * d + i] = raw[(i * d + o) * u + j] }
            }
        }
        let store = FloatStore(reordered)
        upsample = ParaformerLinear(weight: WeightMatrix(outputs: u * d, inputs: d, storage: .float32(UnsafePointer(store.pointer)), owner: store),
                                    bias: FloatStore(repeatedBias))
        if c.upsampleType == "cnn_blstm" {
            lstm = (try LSTMDirection(w, "predictor.blstm", suffix: "", input: d, hidden: d),
                    try LSTMDirection(w, "predictor.blstm", suffix: "_reverse", input: d, hidden: d))
            output = try w.linear("predictor.cif_output2", outputs: 1, inputs: 2 * d, quantized: false)
        } else {
            lstm = nil
            output = try w.linear("predictor.cif_output2", outputs: 1, inputs: d, quantized: false)
        }
    }

    var byteCount: Int {
        upsample.byteCount + upsample.weight.byteCount + output.byteCount
            + (lstm.map { $0.forward.byteCount + $0.backward.byteCount } ?? 0)
    }

    /// Upsampled alphas (`u·frames`, rescaled to sum to `tokenCount`) and their `cif_wo_hidden` peaks.
    /// `input` is `[frames][idim]`: the encoder output, or the CIF convolution's output with `use_cif1_cnn`.
    func alphasAndPeaks(_ input: UnsafePointer<Float>, frames t: Int, tokenCount: Int) -> (alphas: [Float], peaks: [Float]) {
        alphasAndPeaks([(input, t, tokenCount)])[0]
    }

    /// The same for several items; the BiLSTM steps all items together (each step's recurrent product covers
    /// the items still running), which gives each item what it gets alone.
    func alphasAndPeaks(_ items: [(input: UnsafePointer<Float>, frames: Int, tokenCount: Int)]) -> [(alphas: [Float], peaks: [Float])] {
        let d = config.idim, u = config.upsampleTimes
        let steps = items.map { $0.frames * u }
        let ups: [[Float]] = items.map { item in
            var up = [Float](repeating: 0, count: item.frames * u * d)
            if item.frames > 0 { up.withUnsafeMutableBufferPointer { upsample.apply(item.input, rows: item.frames, into: $0.baseAddress!) } }
            return up
        }
        var features = ups
        if let lstm {
            var both = steps.map { [Float](repeating: 0, count: $0 * 2 * d) }
            lstm.forward.run(ups, steps: steps, reverse: false, into: &both, column: 0, ldy: 2 * d)
            lstm.backward.run(ups, steps: steps, reverse: true, into: &both, column: d, ldy: 2 * d)
            features = both
        }
        return items.indices.map { i in
            let n = steps[i]
            guard n > 0 else { return ([], []) }
            var logits = [Float](repeating: 0, count: n)
            features[i].withUnsafeBufferPointer { b in logits.withUnsafeMutableBufferPointer { output.apply(b.baseAddress!, rows: n, into: $0.baseAddress!) } }
            var alphas = logits.map { max(ParaformerOps.sigmoid($0) * config.smoothFactor2 - config.noiseThreshold2, 0) }
            let sum = Float(alphas.reduce(0.0) { $0 + Double($1) })
            let factor = Float(items[i].tokenCount) / sum
            for k in 0..<n { alphas[k] *= factor }
            let peaks = CIFPredictor.peaksWithoutHidden(alphas, threshold: Float(Double(config.threshold) - 1e-4))
            return (alphas, peaks)
        }
    }
}

/// One direction of a single-layer PyTorch `nn.LSTM` (gate order i, f, g, o; both biases).
struct LSTMDirection: @unchecked Sendable {
    let inputWeights: ParaformerLinear   // weight_ih [4H, in] + bias_ih
    let hiddenWeights: ParaformerLinear  // weight_hh [4H, H] + bias_hh
    let hidden: Int

    init(_ w: ParaformerWeightLoader, _ prefix: String, layer: Int = 0, suffix: String, input: Int, hidden h: Int) throws(FunASRError) {
        hidden = h
        let l = "l\(layer)\(suffix)"
        inputWeights = ParaformerLinear(weight: try w.matrix("\(prefix).weight_ih_\(l)", outputs: 4 * h, inputs: input, quantized: false),
                                        bias: try w.store("\(prefix).bias_ih_\(l)", [4 * h]))
        hiddenWeights = ParaformerLinear(weight: try w.matrix("\(prefix).weight_hh_\(l)", outputs: 4 * h, inputs: h, quantized: false),
                                         bias: try w.store("\(prefix).bias_hh_\(l)", [4 * h]))
    }

    var byteCount: Int { inputWeights.byteCount + hiddenWeights.byteCount }

    /// Most sequences in one recurrent product: on every instruction-set level the kernels compute up to 4
    /// rows with per-row dot products whose rounding does not depend on the row count.
    static let rowsPerProduct = 4

    /// Runs each sequence `xs[i]` (`[steps[i]][in]`), writing `h_t` to row `t` of `ys[i]` at `column`
    /// (row stride `ldy`). Sequences advance together, one time step per iteration; in reverse each starts at
    /// its own last step.
    func run(_ xs: [[Float]], steps: [Int], reverse: Bool, into ys: inout [[Float]], column: Int, ldy: Int) {
        let h = hidden, count = xs.count
        let pre: [[Float]] = xs.indices.map { i in
            var p = [Float](repeating: 0, count: steps[i] * 4 * h)
            if steps[i] > 0 {
                xs[i].withUnsafeBufferPointer { x in p.withUnsafeMutableBufferPointer { inputWeights.apply(x.baseAddress!, rows: steps[i], into: $0.baseAddress!) } }
            }
            return p
        }
        var state = [Float](repeating: 0, count: count * h), cell = [Float](repeating: 0, count: count * h)
        var active = [Float](repeating: 0, count: count * h), gates = [Float](repeating: 0, count: count * 4 * h)
        for step in 0..<(steps.max() ?? 0) {
            let running = (0..<count).filter { steps[$0] > step }
            for (r, i) in running.enumerated() {
                for k in 0..<h { active[r * h + k] = state[i * h + k] }
            }
            active.withUnsafeBufferPointer { a in
                gates.withUnsafeMutableBufferPointer { g in
                    for r0 in stride(from: 0, to: running.count, by: Self.rowsPerProduct) {
                        let rows = min(Self.rowsPerProduct, running.count - r0)
                        hiddenWeights.apply(a.baseAddress! + r0 * h, rows: rows, into: g.baseAddress! + r0 * 4 * h, rowInvariant: false)
                    }
                }
            }
            for (r, i) in running.enumerated() {
                let t = reverse ? steps[i] - 1 - step : step
                let base = t * 4 * h, gb = r * 4 * h
                for k in 0..<h {
                    let ig = ParaformerOps.sigmoid(pre[i][base + k] + gates[gb + k])
                    let fg = ParaformerOps.sigmoid(pre[i][base + h + k] + gates[gb + h + k])
                    let gg = tanhf(pre[i][base + 2 * h + k] + gates[gb + 2 * h + k])
                    let og = ParaformerOps.sigmoid(pre[i][base + 3 * h + k] + gates[gb + 3 * h + k])
                    let c = fg * cell[i * h + k] + ig * gg
                    cell[i * h + k] = c
                    let hv = og * tanhf(c)
                    state[i * h + k] = hv
                    ys[i][t * ldy + column + k] = hv
                }
            }
        }
    }

    /// One sequence (`[steps][in]`), writing `h_t` to row `t` of `y` (stride `ldy`).
    func run(_ x: UnsafePointer<Float>, steps n: Int, reverse: Bool, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        var ys = [[Float](repeating: 0, count: n * hidden)]
        run([Array(UnsafeBufferPointer(start: x, count: n * inputWeights.weight.inputs))], steps: [n], reverse: reverse,
            into: &ys, column: 0, ldy: hidden)
        ys[0].withUnsafeBufferPointer { b in
            for t in 0..<n { (y + t * ldy).update(from: b.baseAddress! + t * hidden, count: hidden) }
        }
    }
}
