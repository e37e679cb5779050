import EarshotCheckpoint
import EarshotTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The precision Paraformer's linear-layer weights are kept in while it runs. Biases, layer norms, the
/// depthwise FSMN filters, the CIF convolutions, the timestamp head and the output projection always stay fp32,
/// as in FunASR's int8 ONNX export (`quantize_dynamic` on MatMul nodes except those named "output",
/// reference/funasr.md §3.8).
public enum ParaformerPrecision: String, Sendable, CaseIterable {
    /// fp32 weights, as `model.pt` stores them (memory-mapped, not copied).
    case float32
    /// fp16 weights widened inside the kernels, fp32 accumulation.
    case float16
    /// Symmetric per-output-row int8 weights, activations quantized per row at run time.
    case int8

    /// The CLI's names (as Whisper's `WeightPrecision`): fp32/float32, fp16/float16, int8.
    public init?(cliName: String) {
        switch cliName {
        case "fp32", "float32": self = .float32
        case "fp16", "float16": self = .float16
        case "int8": self = .int8
        default: return nil
        }
    }
}

/// Owns IEEE-half weight copies.
final class HalfStore: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt16>
    init(count: Int) { pointer = .allocate(capacity: max(1, count)) }
    deinit { pointer.deallocate() }
}

/// Reads Paraformer tensors from `model.pt` by FunASR's state-dict names, checking shapes.
struct ParaformerWeightLoader {
    let checkpoint: PyTorchCheckpoint
    let precision: ParaformerPrecision
    /// What the state-dict keys sit under: "" for a bare state dict (ModelScope's model.pt), or the wrappers
    /// FunASR's `load_pretrained_model` strips (`state_dict`, `model_state_dict`, `model`, then `module.`).
    let prefix: String

    init(checkpoint: PyTorchCheckpoint, precision: ParaformerPrecision) {
        self.checkpoint = checkpoint
        self.precision = precision
        let names = Set(checkpoint.tensors.map(\.name))
        let wrappers = ["", "state_dict.", "model_state_dict.", "model."]
        let candidates = wrappers.flatMap { [$0, $0 + "module."] }
        prefix = candidates.first { names.contains($0 + "encoder.after_norm.weight") } ?? ""
    }

    /// The tensor as fp32 values, after checking its shape.
    func floats(_ name: String, _ shape: [Int]) throws(FunASRError) -> [Float] {
        do { return try checkpoint.floats(prefix + name, shape: shape) } catch { throw FunASRError(error) }
    }

    /// The tensor in owned, address-stable storage.
    func store(_ name: String, _ shape: [Int]) throws(FunASRError) -> FloatStore {
        FloatStore(try floats(name, shape))
    }

    /// A `[outputs, inputs]` matrix in fp32: a view into the mapped file when the stored tensor is contiguous
    /// aligned fp32, otherwise a converted copy.
    func float32Matrix(_ name: String, outputs: Int, inputs: Int) throws(FunASRError) -> WeightMatrix {
        let t: PyTorchTensor
        do { t = try checkpoint.tensor(prefix + name) } catch { throw FunASRError(error) }
        guard t.shape == [outputs, inputs] else {
            throw FunASRError(.model, "\(checkpoint.path): tensor '\(prefix + name)' has shape \(t.shape), expected \([outputs, inputs]); the checkpoint does not match config.yaml / tokens.json")
        }
        if t.dtype == .float32, t.isContiguous, let base = t.storage.baseAddress {
            let start = base + t.storageOffset * 4
            if Int(bitPattern: start) % 4 == 0 {
                let p = start.assumingMemoryBound(to: Float.self)
                return WeightMatrix(outputs: outputs, inputs: inputs, storage: .float32(UnsafePointer(p)), owner: checkpoint)
            }
        }
        let owned = FloatStore(t.floats())
        return WeightMatrix(outputs: outputs, inputs: inputs, storage: .float32(UnsafePointer(owned.pointer)), owner: owned)
    }

    /// A linear layer's weight in the run precision (`quantized: false` keeps it fp32 whatever the precision).
    func matrix(_ name: String, outputs: Int, inputs: Int, quantized: Bool = true) throws(FunASRError) -> WeightMatrix {
        let w = try float32Matrix(name, outputs: outputs, inputs: inputs)
        guard quantized, precision != .float32 else { return w }
        let converted: WeightMatrix
        switch precision {
        case .int8, .float32:   // (.float32 returned above)
            converted = w.packedForInt8Kernels()
        case .float16:
            guard case .float32(let p) = w.storage else { return w }
            let owned = HalfStore(count: outputs * inputs)
            Kernels.convertFloatToHalf(p, into: owned.pointer, count: outputs * inputs)
            converted = WeightMatrix(outputs: outputs, inputs: inputs, storage: .float16(UnsafePointer(owned.pointer)), owner: owned)
        }
        // The converted copy no longer needs the mapped original: release its pages now, so load-time peak
        // memory is the copies plus one tensor, not both models (as WhisperWeights does).
        if w.owner is PyTorchCheckpoint, case .float32(let p) = w.storage {
            Self.dropResidentPages(of: UnsafeRawPointer(p), byteCount: outputs * inputs * 4)
        }
        return converted
    }

    /// `madvise(MADV_DONTNEED)` on the whole pages inside `region` of the read-only file mapping: they leave the
    /// resident set and would be read back from the page cache if touched again.
    static func dropResidentPages(of region: UnsafeRawPointer, byteCount: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: region), end = start + byteCount
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(pointer, last - first, MADV_DONTNEED)
    }

    func linear(_ prefix: String, outputs: Int, inputs: Int, bias: Bool = true, quantized: Bool = true) throws(FunASRError) -> ParaformerLinear {
        ParaformerLinear(weight: try matrix(prefix + ".weight", outputs: outputs, inputs: inputs, quantized: quantized),
                         bias: bias ? try store(prefix + ".bias", [outputs]) : nil)
    }

    func layerNorm(_ prefix: String, width: Int) throws(FunASRError) -> ParaformerLayerNorm {
        ParaformerLayerNorm(gamma: try store(prefix + ".weight", [width]), beta: try store(prefix + ".bias", [width]))
    }

    /// A depthwise FSMN filter `[channels, 1, kernel]` (`fsmn_block.weight`).
    func fsmn(_ name: String, channels: Int, kernel: Int, shift: Int) throws(FunASRError) -> FSMNMemory {
        FSMNMemory(taps: try store(name, [channels, 1, kernel]), channels: channels, kernel: kernel,
                   leftPadding: (kernel - 1) / 2 + shift)
    }
}

/// `y = x·Wᵀ + b`.
struct ParaformerLinear: @unchecked Sendable {
    let weight: WeightMatrix
    let bias: FloatStore?

    var outputs: Int { weight.outputs }
    var byteCount: Int { (weight.owner is PyTorchCheckpoint ? 0 : weight.byteCount) + (bias?.count ?? 0) * 4 }
    var mappedBytes: Int { weight.owner is PyTorchCheckpoint ? weight.byteCount : 0 }

    /// Fewest rows that take the kernels' blocked GEMM path (`SMALL_M` + 1 in CEarshotKernels/gemm.c); fewer rows
    /// use a dot-product path whose rounding differs in the last bits.
    static let blockedRows = 17

    /// `y = x·Wᵀ + b` (or `y += …`). With `rowInvariant` (the default) a product of fewer than
    /// ``blockedRows`` rows is padded with zero rows, so every row goes through the same kernel whatever the
    /// number of rows: an item's result does not depend on what it is batched with. Per-step recurrences
    /// (LSTM) pass `false` to keep the fast dot-product path.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
               rowInvariant: Bool = true) {
        let b = bias.map { UnsafePointer($0.pointer) }
        guard rowInvariant, rows > 0, rows < Self.blockedRows else {
            Kernels.linear(x, rows: rows, weight: weight, bias: b, into: y, accumulate: accumulate)
            return
        }
        let padded = Self.blockedRows, n = weight.outputs, k = weight.inputs
        let xs = UnsafeMutablePointer<Float>.allocate(capacity: padded * k)
        let ys = UnsafeMutablePointer<Float>.allocate(capacity: padded * n)
        defer { xs.deallocate(); ys.deallocate() }
        xs.initialize(repeating: 0, count: padded * k)
        xs.update(from: x, count: rows * k)
        ys.initialize(repeating: 0, count: padded * n)
        if accumulate { ys.update(from: y, count: rows * n) }
        Kernels.linear(xs, rows: padded, weight: weight, bias: b, into: ys, accumulate: accumulate)
        y.update(from: ys, count: rows * n)
    }
}

/// LayerNorm with FunASR's epsilon 1e-12 (`funasr/models/transformer/layer_norm.py`).
struct ParaformerLayerNorm: @unchecked Sendable {
    let gamma: FloatStore
    let beta: FloatStore

    var byteCount: Int { (gamma.count + beta.count) * 4 }

    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        Kernels.layerNorm(x, rows: rows, columns: gamma.count, gamma: gamma.pointer, beta: beta.pointer,
                          epsilon: 1e-12, into: y)
    }
}

/// SAN-M's memory block: a depthwise `Conv1d(groups = channels, bias = false)` over time with zero padding
/// (`leftPadding`, `kernel−1−leftPadding`), plus the input (`MultiHeadedAttentionSANM.forward_fsmn`).
struct FSMNMemory: @unchecked Sendable {
    /// `[channels][kernel]`, PyTorch's layout.
    let taps: FloatStore
    let channels: Int
    let kernel: Int
    let leftPadding: Int

    var byteCount: Int { taps.count * 4 }

    /// `y[t] = x[t] + Σ_k w[·,k] ⊙ x[t + k − leftPadding]` for `frames` rows of `channels` (row stride `ldx`).
    func apply(_ x: UnsafePointer<Float>, ldx: Int, frames: Int, into y: UnsafeMutablePointer<Float>) {
        // Tap-major copy so each tap is a contiguous channel vector.
        let c = channels, k = kernel
        let w = UnsafeMutablePointer<Float>.allocate(capacity: c * k)
        defer { w.deallocate() }
        for ch in 0..<c { for j in 0..<k { w[j * c + ch] = taps.pointer[ch * k + j] } }
        fsmnDepthwise(x, ldx: ldx, frames: frames, channels: c, taps: w, kernel: k, leftPadding: leftPadding, into: y)
    }
}

/// The FSMN kernel: conv sum first (in tap order, as PyTorch's depthwise conv accumulates), then `+ x`.
private func fsmnDepthwise(_ x: UnsafePointer<Float>, ldx: Int, frames: Int, channels c: Int,
                           taps w: UnsafePointer<Float>, kernel k: Int, leftPadding: Int,
                           into y: UnsafeMutablePointer<Float>) {
    for t in 0..<frames {
        let dst = y + t * c
        dst.update(repeating: 0, count: c)
        for j in 0..<k {
            let s = t + j - leftPadding
            guard s >= 0 && s < frames else { continue }
            let src = x + s * ldx, tap = w + j * c
            for ch in 0..<c { dst[ch] += tap[ch] * src[ch] }
        }
        let own = x + t * ldx
        for ch in 0..<c { dst[ch] += own[ch] }
    }
}

/// Small element-wise helpers (no SIMD kernels needed at these sizes).
enum ParaformerOps {
    /// `max(x, 0)` in place, written as a select so it vectorises (a conditional store does not, and
    /// mispredicts on activations that are negative half the time).
    static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            x[i] = v > 0 ? v : 0
        }
    }

    static func sigmoid(_ v: Float) -> Float { 1 / (1 + expf(-v)) }

    /// `x[r] = log_softmax(x[r])` for each of `rows` rows.
    static func logSoftmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        for r in 0..<rows {
            let row = x + r * columns
            var mx = -Float.infinity
            for j in 0..<columns { mx = max(mx, row[j]) }
            let lse = mx + Float(log(Kernels.sumExp(row, count: columns, shift: mx)))
            for j in 0..<columns { row[j] -= lse }
        }
    }

    /// Scales a buffer in place.
    static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by s: Float) {
        for i in 0..<count { x[i] *= s }
    }
}
