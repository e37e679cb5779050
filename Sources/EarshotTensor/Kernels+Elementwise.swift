import CEarshotKernels

extension Kernels {
    /// Layer normalisation over each row of `x[rows×columns]`: `(x-mean)/sqrt(var+eps)*gamma+beta`.
    /// `x` and `y` may be the same buffer.
    public static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, columns: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float = 1e-5,
                                 into y: UnsafeMutablePointer<Float>) {
        ek_layernorm(ek_level(), x, rows, columns, gamma, beta, epsilon, y)
    }

    /// Numerically stable softmax of each row, in place (`stride` ≥ `columns` elements between rows).
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int? = nil) {
        ek_softmax_rows(ek_level(), x, rows, columns, stride ?? columns, 1, -1)
    }

    /// Width-7 median filter along a row, reflecting at both ends (PyTorch `F.pad(mode="reflect")` then a
    /// sliding median, as openai-whisper's `median_filter`). `input` and `output` must not overlap; needs
    /// `count ≥ 4`.
    public static func medianFilter7(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count >= 4, "a width-7 reflected median filter needs at least 4 values")
        ek_median7_row(ek_level(), input, output, count)
    }

    /// Exact GELU, `x · Φ(x) = 0.5 x (1 + erf(x/√2))` (PyTorch `nn.GELU()`, which Whisper uses), in place.
    /// erf is evaluated with Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7) on the SIMD paths.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let level = ek_level()
        let x = Shared(x)
        let chunk = 1 << 16
        let parts = count >= 4 * chunk && threadCount > 1 ? threadCount : 1
        let step = (count + parts - 1) / parts
        runParallel(parts) { i in
            let start = i * step
            ek_gelu(level, x.p + start, min(step, count - start))
        }
    }

    /// `y[i] = exp(x[i])` (`x` and `y` may be the same buffer). SIMD paths use Cephes' expf reduction and
    /// polynomial (|relative error| ≈ 2 ulp); inputs below −87.3 give 0, above 88.7 the largest float's order.
    public static func exp(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        ek_exp(ek_level(), x, y, count)
    }

    /// `y += x`, element-wise.
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        ek_add(ek_level(), x, y, count)
    }

    /// The first index of the largest of `count` values (0 for an empty or all -inf row). No NaNs.
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        ek_argmax(ek_level(), x, count)
    }

    /// `Σ exp(x[i] − shift)`, accumulated in double; -inf entries add 0. `shift` must be finite (the row's
    /// maximum, so that `shift + log(sum)` is its log-sum-exp).
    public static func sumExp(_ x: UnsafePointer<Float>, count: Int, shift: Float) -> Double {
        ek_sum_exp(ek_level(), x, count, shift)
    }

    /// `x[i] += c`, element-wise.
    public static func add(_ c: Float, to x: UnsafeMutablePointer<Float>, count: Int) {
        ek_add_scalar(ek_level(), x, count, c)
    }

    /// Narrows fp32 to IEEE half bit patterns, rounding to nearest even (F16C `vcvtps2ph`, numpy `float16`).
    public static func convertFloatToHalf(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<UInt16>, count: Int) {
        ek_float_to_half(ek_level(), src, dst, count)
    }

    /// IEEE half bit patterns to fp32 (exact).
    public static func convertHalfToFloat(_ src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        ek_half_to_float(ek_level(), src, dst, count)
    }

    /// 1-D convolution over time. `input` is time-major `[frames][inChannels]`; `weight` has
    /// `outChannels` rows of `inChannels × kernelSize` (PyTorch `Conv1d.weight` `[out][in][k]` flattened);
    /// zero padding of `padding` frames on both sides. Writes `[outFrames][outChannels]` where
    /// `outFrames = (frames + 2·padding − kernelSize) / stride + 1`. Runs as im2col + ``linear``.
    ///
    /// - Returns: `outFrames`.
    @discardableResult
    public static func conv1d(input: UnsafePointer<Float>, frames: Int, inChannels: Int,
                              weight: WeightMatrix, bias: UnsafePointer<Float>?,
                              kernelSize: Int, stride: Int, padding: Int,
                              into output: UnsafeMutablePointer<Float>) -> Int {
        precondition(weight.inputs == inChannels * kernelSize, "conv1d weight shape disagrees with channels × kernel")
        let outFrames = (frames + 2 * padding - kernelSize) / stride + 1
        guard outFrames > 0 else { return 0 }
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: outFrames * inChannels * kernelSize)
        defer { cols.deallocate() }
        ek_im2col_1d(input, frames, inChannels, kernelSize, stride, padding, outFrames, cols)
        linear(cols, rows: outFrames, weight: weight, bias: bias, into: output)
        return outFrames
    }
}
