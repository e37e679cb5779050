import CEarshotKernels
import Foundation

/// Dense math used by the models. Every function works on raw row-major fp32 buffers with explicit
/// row strides (leading dimensions), so callers can address heads or column slices without copying.
///
/// The hot paths call into the C target `CEarshotKernels`, which picks AVX-512, AVX2+FMA or portable
/// code at run time (see `Kernels.instructionSet`).
///
/// NOTE (skeleton): the bodies below are straightforward reference loops; the kernel work replaces them
/// with dispatched C kernels while keeping these signatures.
public enum Kernels {
    /// How `B` is laid out in a matrix product.
    public enum BLayout: Sendable {
        /// `B` is `[n][k]` (row per output column, PyTorch `Linear.weight`); computes `A · Bᵀ`.
        case transposed
        /// `B` is `[k][n]`; computes `A · B`.
        case normal
    }

    /// Worker threads used by the large kernels. Set once at start-up (CLI `--threads`).
    nonisolated(unsafe) public static var threadCount: Int = 2

    /// `C[m×n] = A[m×k] · op(B) (+ bias[n]) (+ C if accumulate)`.
    public static func sgemm(m: Int, n: Int, k: Int,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int, bLayout: BLayout,
                             c: UnsafeMutablePointer<Float>, ldc: Int,
                             bias: UnsafePointer<Float>? = nil, accumulate: Bool = false) {
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<k {
                    let bv = bLayout == .transposed ? b[j * ldb + p] : b[p * ldb + j]
                    s += a[i * lda + p] * bv
                }
                if let bias { s += bias[j] }
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s
            }
        }
    }

    /// `y[m×N] = x[m×K] · Wᵀ (+ bias) (+ y if accumulate)` for a weight matrix in any stored precision.
    public static func linear(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int? = nil,
                              weight: WeightMatrix, bias: UnsafePointer<Float>?,
                              into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, accumulate: Bool = false) {
        let n = weight.outputs, k = weight.inputs
        let ldx = ldx ?? k, ldy = ldy ?? n
        switch weight.storage {
        case .float32(let w):
            sgemm(m: m, n: n, k: k, a: x, lda: ldx, b: w, ldb: k, bLayout: .transposed,
                  c: y, ldc: ldy, bias: bias, accumulate: accumulate)
        case .float16(let w):
            for i in 0..<m {
                for j in 0..<n {
                    var s: Float = 0
                    for p in 0..<k { s += x[i * ldx + p] * Float(Float16(bitPattern: w[j * k + p])) }
                    if let bias { s += bias[j] }
                    y[i * ldy + j] = accumulate ? y[i * ldy + j] + s : s
                }
            }
        case .int8(let values, let scales):
            for i in 0..<m {
                for j in 0..<n {
                    var s: Float = 0
                    for p in 0..<k { s += x[i * ldx + p] * Float(values[j * k + p]) }
                    s /= scales[j]
                    if let bias { s += bias[j] }
                    y[i * ldy + j] = accumulate ? y[i * ldy + j] + s : s
                }
            }
        }
    }

    /// Layer normalisation over each row of `x[rows×columns]`: `(x-mean)/sqrt(var+eps)*gamma+beta`.
    /// `x` and `y` may be the same buffer.
    public static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, columns: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float = 1e-5,
                                 into y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * columns
            var mean: Float = 0
            for c in 0..<columns { mean += row[c] }
            mean /= Float(columns)
            var variance: Float = 0
            for c in 0..<columns { let d = row[c] - mean; variance += d * d }
            variance /= Float(columns)
            let inv = 1 / (variance + epsilon).squareRoot()
            let out = y + r * columns
            for c in 0..<columns { out[c] = (row[c] - mean) * inv * gamma[c] + beta[c] }
        }
    }

    /// Numerically stable softmax of each row, in place (`stride` ≥ `columns` elements between rows).
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int? = nil) {
        let stride = stride ?? columns
        for r in 0..<rows {
            let row = x + r * stride
            var mx = -Float.infinity
            for c in 0..<columns { mx = max(mx, row[c]) }
            var sum: Float = 0
            for c in 0..<columns { let e = expf(row[c] - mx); row[c] = e; sum += e }
            let inv = 1 / sum
            for c in 0..<columns { row[c] *= inv }
        }
    }

    /// Exact GELU, `x · Φ(x) = 0.5 x (1 + erf(x/√2))` (PyTorch `nn.GELU()`, which Whisper uses), in place.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.70710678118654752)) }
    }

    /// `y += x`, element-wise.
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// Widens IEEE half bit patterns to fp32.
    public static func convertHalfToFloat(_ src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = Float(Float16(bitPattern: src[i])) }
    }

    /// 1-D convolution over time. `input` is time-major `[frames][inChannels]`; `weight` has
    /// `outChannels` rows of `inChannels × kernelSize` (PyTorch `Conv1d.weight` `[out][in][k]` flattened);
    /// zero padding of `padding` frames on both sides. Writes `[outFrames][outChannels]` where
    /// `outFrames = (frames + 2·padding − kernelSize) / stride + 1`.
    ///
    /// - Returns: `outFrames`.
    @discardableResult
    public static func conv1d(input: UnsafePointer<Float>, frames: Int, inChannels: Int,
                              weight: WeightMatrix, bias: UnsafePointer<Float>?,
                              kernelSize: Int, stride: Int, padding: Int,
                              into output: UnsafeMutablePointer<Float>) -> Int {
        precondition(weight.inputs == inChannels * kernelSize, "conv1d weight shape disagrees with channels × kernel")
        let outFrames = (frames + 2 * padding - kernelSize) / stride + 1
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: outFrames * inChannels * kernelSize)
        defer { cols.deallocate() }
        for t in 0..<outFrames {
            let row = cols + t * inChannels * kernelSize
            for ci in 0..<inChannels {
                for kk in 0..<kernelSize {
                    let src = t * stride + kk - padding
                    row[ci * kernelSize + kk] = (src >= 0 && src < frames) ? input[src * inChannels + ci] : 0
                }
            }
        }
        linear(cols, rows: outFrames, weight: weight, bias: bias, into: output)
        return outFrames
    }

    /// Multi-head scaled-dot-product attention.
    ///
    /// `query` is `[queryCount][heads·headDim]` (row stride `queryStride`), `key`/`value` are
    /// `[keyCount][heads·headDim]`; head `h` occupies columns `h·headDim ..< (h+1)·headDim`.
    /// With `causalOffset = o`, query `i` sees keys `0 ... o + i` (decoder self-attention with a KV cache
    /// holding `o` earlier positions); `nil` means no mask. Scores are scaled by `1/√headDim`.
    public static func attention(query: UnsafePointer<Float>, queryStride: Int,
                                 key: UnsafePointer<Float>, keyStride: Int,
                                 value: UnsafePointer<Float>, valueStride: Int,
                                 output: UnsafeMutablePointer<Float>, outputStride: Int,
                                 heads: Int, headDim: Int, queryCount: Int, keyCount: Int,
                                 causalOffset: Int?) {
        let scale = 1 / Float(headDim).squareRoot()
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: keyCount)
        defer { scores.deallocate() }
        for h in 0..<heads {
            for i in 0..<queryCount {
                let visible = causalOffset.map { min(keyCount, $0 + i + 1) } ?? keyCount
                let q = query + i * queryStride + h * headDim
                for j in 0..<visible {
                    let kr = key + j * keyStride + h * headDim
                    var s: Float = 0
                    for d in 0..<headDim { s += q[d] * kr[d] }
                    scores[j] = s * scale
                }
                softmaxRows(scores, rows: 1, columns: visible)
                let o = output + i * outputStride + h * headDim
                for d in 0..<headDim { o[d] = 0 }
                for j in 0..<visible {
                    let vr = value + j * valueStride + h * headDim
                    let p = scores[j]
                    for d in 0..<headDim { o[d] += p * vr[d] }
                }
            }
        }
    }
}
