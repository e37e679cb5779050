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
        let d = config.idim, n = t * config.upsampleTimes
        guard t > 0 else { return ([], []) }
        var up = [Float](repeating: 0, count: n * d)
        up.withUnsafeMutableBufferPointer { upsample.apply(input, rows: t, into: $0.baseAddress!) }
        var logits = [Float](repeating: 0, count: n)
        if let lstm {
            var both = [Float](repeating: 0, count: n * 2 * d)
            up.withUnsafeBufferPointer { x in
                both.withUnsafeMutableBufferPointer { y in
                    lstm.forward.run(x.baseAddress!, steps: n, reverse: false, into: y.baseAddress!, ldy: 2 * d)
                    lstm.backward.run(x.baseAddress!, steps: n, reverse: true, into: y.baseAddress! + d, ldy: 2 * d)
                }
            }
            both.withUnsafeBufferPointer { b in logits.withUnsafeMutableBufferPointer { output.apply(b.baseAddress!, rows: n, into: $0.baseAddress!) } }
        } else {
            up.withUnsafeBufferPointer { b in logits.withUnsafeMutableBufferPointer { output.apply(b.baseAddress!, rows: n, into: $0.baseAddress!) } }
        }
        var alphas = logits.map { max(ParaformerOps.sigmoid($0) * config.smoothFactor2 - config.noiseThreshold2, 0) }
        let sum = Float(alphas.reduce(0.0) { $0 + Double($1) })
        let factor = Float(tokenCount) / sum
        for i in 0..<n { alphas[i] *= factor }
        let peaks = CIFPredictor.peaksWithoutHidden(alphas, threshold: Float(Double(config.threshold) - 1e-4))
        return (alphas, peaks)
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

    /// Runs `steps` inputs (`[steps][in]`), writing `h_t` to row `t` of `y` (stride `ldy`).
    func run(_ x: UnsafePointer<Float>, steps n: Int, reverse: Bool, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        let h = hidden
        var pre = [Float](repeating: 0, count: n * 4 * h)
        var gates = [Float](repeating: 0, count: 4 * h)
        var state = [Float](repeating: 0, count: h), cell = [Float](repeating: 0, count: h)
        pre.withUnsafeMutableBufferPointer { inputWeights.apply(x, rows: n, into: $0.baseAddress!) }
        for step in 0..<n {
            let t = reverse ? n - 1 - step : step
            state.withUnsafeBufferPointer { s in
                gates.withUnsafeMutableBufferPointer { g in hiddenWeights.apply(s.baseAddress!, rows: 1, into: g.baseAddress!, rowInvariant: false) }
            }
            let base = t * 4 * h
            for k in 0..<h {
                let i = ParaformerOps.sigmoid(pre[base + k] + gates[k])
                let f = ParaformerOps.sigmoid(pre[base + h + k] + gates[h + k])
                let g = tanhf(pre[base + 2 * h + k] + gates[2 * h + k])
                let o = ParaformerOps.sigmoid(pre[base + 3 * h + k] + gates[3 * h + k])
                cell[k] = f * cell[k] + i * g
                state[k] = o * tanhf(cell[k])
                y[t * ldy + k] = state[k]
            }
        }
    }
}
