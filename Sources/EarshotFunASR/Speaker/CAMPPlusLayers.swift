import EarshotTensor

/// A BatchNorm in inference form: y = x·scale + shift per channel (`running_var` + 1e-5).
struct ChannelAffine: Sendable {
    var scale: [Float]
    var shift: [Float]

    init(weight: [Float]?, bias: [Float]?, mean: [Float], variance: [Float], epsilon: Float = 1e-5) {
        let scale = variance.indices.map { (weight?[$0] ?? 1) / (variance[$0] + epsilon).squareRoot() }
        self.scale = scale
        shift = mean.indices.map { (bias?[$0] ?? 0) - mean[$0] * scale[$0] }
    }

    /// `relu(bn(x))` on the first `channels` columns of a [rows × stride] matrix, into [rows × channels].
    func appliedWithReLU(_ x: [Float], rows: Int, stride: Int, channels: Int, relu: Bool = true) -> [Float] {
        var y = [Float](repeating: 0, count: rows * channels)
        for r in 0..<rows {
            for c in 0..<channels {
                let v = x[r * stride + c] * scale[c] + shift[c]
                y[r * channels + c] = relu ? max(v, 0) : v
            }
        }
        return y
    }
}

/// A convolution over time (Conv1d) on time-major activations [frames × channels], as an im2col GEMM.
/// Weights are stored [out × (kernel·in)] (tap-major), with any following BatchNorm folded in.
struct TimeConvolution: Sendable {
    var inputs: Int, outputs: Int, kernel: Int, stride: Int, dilation: Int, padding: Int
    var weight: [Float]
    var bias: [Float]?

    /// From PyTorch's [out, in, kernel] weight; `fold` scales each output row and becomes the bias.
    init(torchWeight w: [Float], outputs: Int, inputs: Int, kernel: Int, stride: Int = 1, dilation: Int = 1,
         padding: Int = 0, bias: [Float]? = nil, fold: ChannelAffine? = nil) {
        self.inputs = inputs; self.outputs = outputs; self.kernel = kernel
        self.stride = stride; self.dilation = dilation; self.padding = padding
        var r = [Float](repeating: 0, count: outputs * kernel * inputs)
        for o in 0..<outputs {
            let s = fold?.scale[o] ?? 1
            for i in 0..<inputs { for k in 0..<kernel { r[o * kernel * inputs + k * inputs + i] = w[(o * inputs + i) * kernel + k] * s } }
        }
        weight = r
        if let fold {
            self.bias = (0..<outputs).map { (bias?[$0] ?? 0) * fold.scale[$0] + fold.shift[$0] }
        } else {
            self.bias = bias
        }
    }

    func outputFrames(_ frames: Int) -> Int { (frames + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1 }

    /// y[frames' × outputs] from the first `inputs` columns of x[frames × stride `ldx`].
    func apply(_ x: [Float], frames: Int, ldx: Int? = nil) -> [Float] {
        let ldx = ldx ?? inputs
        let tOut = outputFrames(frames)
        var y = [Float](repeating: 0, count: tOut * outputs)
        let k = kernel * inputs
        if kernel == 1 && self.stride == 1 {
            multiply(x, rows: tOut, lda: ldx, into: &y)
            return y
        }
        var columns = [Float](repeating: 0, count: tOut * k)
        for t in 0..<tOut {
            for tap in 0..<kernel {
                let src = t * self.stride - padding + tap * dilation
                guard src >= 0 && src < frames else { continue }
                for i in 0..<inputs { columns[t * k + tap * inputs + i] = x[src * ldx + i] }
            }
        }
        multiply(columns, rows: tOut, lda: k, into: &y)
        return y
    }

    private func multiply(_ a: [Float], rows: Int, lda: Int, into y: inout [Float]) {
        let n = outputs, k = kernel * inputs
        a.withUnsafeBufferPointer { ap in
            weight.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    if let bias {
                        bias.withUnsafeBufferPointer { bp in
                            Kernels.sgemm(m: rows, n: n, k: k, a: ap.baseAddress!, lda: lda, b: wp.baseAddress!, ldb: k,
                                          bLayout: .transposed, c: yp.baseAddress!, ldc: n, bias: bp.baseAddress!)
                        }
                    } else {
                        Kernels.sgemm(m: rows, n: n, k: k, a: ap.baseAddress!, lda: lda, b: wp.baseAddress!, ldb: k,
                                      bLayout: .transposed, c: yp.baseAddress!, ldc: n)
                    }
                }
            }
        }
    }
}

/// A 2-D convolution over (frequency, time) with kernel 3×3 (padding 1) or 1×1, frequency stride s and
/// time stride 1, BatchNorm folded. Activations are [frequency × time × channels].
struct PlaneConvolution: Sendable {
    var inputs: Int, outputs: Int, size: Int, frequencyStride: Int
    var weight: [Float]
    var bias: [Float]

    init(torchWeight w: [Float], outputs: Int, inputs: Int, size: Int, frequencyStride: Int, fold: ChannelAffine) {
        self.inputs = inputs; self.outputs = outputs; self.size = size; self.frequencyStride = frequencyStride
        let taps = size * size
        var r = [Float](repeating: 0, count: outputs * taps * inputs)
        for o in 0..<outputs {
            for i in 0..<inputs { for tap in 0..<taps {
                r[o * taps * inputs + tap * inputs + i] = w[(o * inputs + i) * taps + tap] * fold.scale[o]
            } }
        }
        weight = r
        bias = fold.shift
    }

    func outputBands(_ bands: Int) -> Int {
        let pad = size / 2
        return (bands + 2 * pad - size) / frequencyStride + 1
    }

    /// y[bands' × frames × outputs].
    func apply(_ x: [Float], bands: Int, frames: Int) -> [Float] {
        let pad = size / 2, fOut = outputBands(bands), k = size * size * inputs
        var columns = [Float](repeating: 0, count: fOut * frames * k)
        for f in 0..<fOut {
            for t in 0..<frames {
                let row = (f * frames + t) * k
                for kf in 0..<size {
                    let fi = f * frequencyStride - pad + kf
                    guard fi >= 0 && fi < bands else { continue }
                    for kt in 0..<size {
                        let ti = t - pad + kt
                        guard ti >= 0 && ti < frames else { continue }
                        let dst = row + (kf * size + kt) * inputs, src = (fi * frames + ti) * inputs
                        for i in 0..<inputs { columns[dst + i] = x[src + i] }
                    }
                }
            }
        }
        var y = [Float](repeating: 0, count: fOut * frames * outputs)
        let rows = fOut * frames, n = outputs
        columns.withUnsafeBufferPointer { ap in
            weight.withUnsafeBufferPointer { wp in
                bias.withUnsafeBufferPointer { bp in
                    y.withUnsafeMutableBufferPointer { yp in
                        Kernels.sgemm(m: rows, n: n, k: k, a: ap.baseAddress!, lda: k, b: wp.baseAddress!, ldb: k,
                                      bLayout: .transposed, c: yp.baseAddress!, ldc: n, bias: bp.baseAddress!)
                    }
                }
            }
        }
        return y
    }

    /// Floats the im2col buffer and output take for an input of `bands` × `frames`.
    func workingFloats(bands: Int, frames: Int) -> Int {
        outputBands(bands) * frames * (size * size * inputs + outputs)
    }
}
