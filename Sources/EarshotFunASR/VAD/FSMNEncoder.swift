import EarshotCheckpoint
import EarshotTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shape of FunASR's FSMN encoder (`encoder_conf` in config.yaml; `funasr/models/fsmn_vad_streaming/encoder.py:FSMN`).
public struct FSMNEncoderConfig: Sendable, Equatable {
    /// Input features per frame (400 = 80 mel × LFR 5).
    public var inputDim = 400
    /// Width of `in_linear1` (140).
    public var inputAffineDim = 140
    /// Number of FSMN blocks (4).
    public var fsmnLayers = 4
    /// Width of `in_linear2` and of each block's affine output (250).
    public var linearDim = 250
    /// Width of each block's projection and memory (128).
    public var projDim = 128
    /// Taps of the causal (left) memory filter (20).
    public var lorder = 20
    /// Taps of the look-ahead filter (0: none; other values are rejected).
    public var rorder = 0
    /// Dilation of the left filter (1).
    public var lstride = 1
    /// Dilation of the right filter (0).
    public var rstride = 0
    /// Width of `out_linear1` (140).
    public var outputAffineDim = 140
    /// Output classes (248; class 0 is silence).
    public var outputDim = 248

    /// The published FSMN-VAD shape.
    public init() {}

    /// Frames of history each block keeps: `(lorder − 1) · lstride` (19).
    public var historyFrames: Int { (lorder - 1) * lstride }
}

/// Owns float buffers whose addresses must stay fixed (weights handed to the kernels as pointers).
final class FloatStore: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: values.count) }
    }
    deinit { pointer.deallocate() }
}

/// One dense layer `y = x·Wᵀ + b`.
struct DenseLayer: @unchecked Sendable {
    let weight: WeightMatrix
    let bias: FloatStore?

    init(_ ckpt: PyTorchCheckpoint, _ name: String, outputs: Int, inputs: Int, bias hasBias: Bool) throws(CheckpointError) {
        let w = FloatStore(try ckpt.floats(name + ".weight", shape: [outputs, inputs]))
        weight = WeightMatrix(outputs: outputs, inputs: inputs, storage: .float32(UnsafePointer(w.pointer)), owner: w)
        bias = hasBias ? FloatStore(try ckpt.floats(name + ".bias", shape: [outputs])) : nil
    }

    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        Kernels.linear(x, rows: rows, weight: weight, bias: bias.map { UnsafePointer($0.pointer) }, into: y)
    }
}

/// FunASR's FSMN encoder (0.43 M parameters) for streaming: `in_linear1 → in_linear2 → ReLU →
/// 4 × [linear (no bias) → causal depthwise memory x + Σ_k w_k·x[t−(lorder−1−k)·lstride] → affine → ReLU] →
/// out_linear1 → out_linear2 → softmax`. Each block's memory keeps the last `historyFrames` projected
/// frames, like the `in_cache`/`out_cache` tensors of the ONNX export, so blocks of any size give the same
/// result as one pass over the whole input.
public final class FSMNEncoder: @unchecked Sendable {
    /// The architecture.
    public let config: FSMNEncoderConfig
    private let in1: DenseLayer, in2: DenseLayer, out1: DenseLayer, out2: DenseLayer
    private let projections: [DenseLayer], affines: [DenseLayer]
    /// Per block, filter taps as `[lorder][projDim]` (tap k multiplies the frame `(lorder−1−k)·lstride` back).
    private let memoryTaps: [FloatStore]

    /// Loads the encoder from a FunASR checkpoint (keys `encoder.in_linear1.linear.weight` …).
    /// - Throws: `FunASRError` `.model` naming the file and tensor when one is missing or has the wrong
    ///   shape; `.invalidConfiguration` for a look-ahead filter (`rorder > 0`), which this port does not run.
    public init(checkpoint ckpt: PyTorchCheckpoint, config: FSMNEncoderConfig, prefix: String = "encoder.") throws(FunASRError) {
        guard config.rorder == 0 else {
            throw FunASRError(.invalidConfiguration, "encoder_conf.rorder is \(config.rorder); only causal FSMN (rorder 0), as in FSMN-VAD, is supported")
        }
        guard config.lorder >= 1, config.lstride >= 1, config.fsmnLayers >= 1 else {
            throw FunASRError(.invalidConfiguration, "encoder_conf needs lorder ≥ 1, lstride ≥ 1 and fsmn_layers ≥ 1")
        }
        self.config = config
        let c = config
        do {
            in1 = try DenseLayer(ckpt, prefix + "in_linear1.linear", outputs: c.inputAffineDim, inputs: c.inputDim, bias: true)
            in2 = try DenseLayer(ckpt, prefix + "in_linear2.linear", outputs: c.linearDim, inputs: c.inputAffineDim, bias: true)
            var projections: [DenseLayer] = [], affines: [DenseLayer] = [], taps: [FloatStore] = []
            for i in 0..<c.fsmnLayers {
                let p = prefix + "fsmn.\(i)."
                projections.append(try DenseLayer(ckpt, p + "linear.linear", outputs: c.projDim, inputs: c.linearDim, bias: false))
                let w = try ckpt.floats(p + "fsmn_block.conv_left.weight", shape: [c.projDim, 1, c.lorder, 1])
                var t = [Float](repeating: 0, count: c.lorder * c.projDim)
                for d in 0..<c.projDim { for k in 0..<c.lorder { t[k * c.projDim + d] = w[d * c.lorder + k] } }
                taps.append(FloatStore(t))
                affines.append(try DenseLayer(ckpt, p + "affine.linear", outputs: c.linearDim, inputs: c.projDim, bias: true))
            }
            self.projections = projections
            self.affines = affines
            memoryTaps = taps
            out1 = try DenseLayer(ckpt, prefix + "out_linear1.linear", outputs: c.outputAffineDim, inputs: c.linearDim, bias: true)
            out2 = try DenseLayer(ckpt, prefix + "out_linear2.linear", outputs: c.outputDim, inputs: c.outputAffineDim, bias: true)
        } catch {
            throw FunASRError(error)
        }
    }

    /// Working memory and per-block history for one stream.
    public final class State {
        let maxFrames: Int
        let history: Int
        let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>
        let logits: UnsafeMutablePointer<Float>
        /// Per block: `history + maxFrames` rows of `projDim`; the first `history` rows are the memory.
        let memory: [UnsafeMutablePointer<Float>]
        let projDim: Int

        init(config c: FSMNEncoderConfig, maxFrames: Int) {
            self.maxFrames = maxFrames
            history = c.historyFrames
            projDim = c.projDim
            let wide = max(c.linearDim, c.inputAffineDim, c.outputAffineDim, c.projDim)
            a = .allocate(capacity: maxFrames * wide)
            b = .allocate(capacity: maxFrames * wide)
            logits = .allocate(capacity: maxFrames * c.outputDim)
            memory = (0..<c.fsmnLayers).map { _ in
                let m = UnsafeMutablePointer<Float>.allocate(capacity: (c.historyFrames + maxFrames) * c.projDim)
                m.initialize(repeating: 0, count: (c.historyFrames + maxFrames) * c.projDim)
                return m
            }
        }

        /// Clears the block histories (start of a new stream).
        public func reset() {
            for m in memory { m.update(repeating: 0, count: history * projDim) }
        }

        deinit {
            a.deallocate(); b.deallocate(); logits.deallocate()
            for m in memory { m.deallocate() }
        }
    }

    /// A fresh stream state able to take blocks of up to `maxFrames` frames.
    public func makeState(maxFrames: Int = 256) -> State { State(config: config, maxFrames: maxFrames) }

    /// Runs `frames` feature rows (`inputDim` each) and writes, per frame, the posterior mass of the
    /// classes in `silenceClasses` (FunASR sums `scores[t][sil_pdf_ids]`; FSMN-VAD has just class 0).
    public func silenceProbability(_ features: UnsafePointer<Float>, frames: Int, state: State,
                                   silenceClasses: [Int], into out: UnsafeMutablePointer<Float>) {
        var done = 0
        while done < frames {
            let n = min(state.maxFrames, frames - done)
            forwardBlock(features + done * config.inputDim, frames: n, state: state)
            softmaxSilence(state.logits, frames: n, silenceClasses: silenceClasses, into: out + done)
            done += n
        }
    }

    private func forwardBlock(_ x: UnsafePointer<Float>, frames n: Int, state s: State) {
        let c = config
        in1(x, rows: n, into: s.a)
        in2(s.a, rows: n, into: s.b)
        relu(s.b, count: n * c.linearDim)
        for layer in 0..<c.fsmnLayers {
            let mem = s.memory[layer]
            let current = mem + s.history * c.projDim
            projections[layer](s.b, rows: n, into: current)
            applyMemory(mem, frames: n, taps: UnsafePointer(memoryTaps[layer].pointer), into: s.a)
            // Keep the last `history` projected frames for the next block.
            shiftHistory(mem, frames: n)
            affines[layer](s.a, rows: n, into: s.b)
            relu(s.b, count: n * c.linearDim)
        }
        out1(s.b, rows: n, into: s.a)
        out2(s.a, rows: n, into: s.logits)
    }

    /// `y[t] = x[t] + Σ_k taps[k]·x[t − (lorder−1−k)·lstride]` over `mem` = `[history; current]` rows.
    private func applyMemory(_ mem: UnsafePointer<Float>, frames n: Int, taps: UnsafePointer<Float>,
                             into y: UnsafeMutablePointer<Float>) {
        let d = config.projDim, h = config.historyFrames, order = config.lorder, stride = config.lstride
        for t in 0..<n {
            let dst = y + t * d
            dst.update(from: mem + (h + t) * d, count: d)
            for k in 0..<order {
                addProduct(taps + k * d, mem + (t + k * stride) * d, into: dst, count: d)
            }
        }
    }

    /// `y[j] += a[j]·b[j]`.
    @inline(__always)
    private func addProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for j in 0..<count { y[j] += a[j] * b[j] }
    }

    /// Moves the last `history` rows of `[history; n frames]` to the front (forward copy: source is later).
    private func shiftHistory(_ mem: UnsafeMutablePointer<Float>, frames n: Int) {
        let count = config.historyFrames * config.projDim, offset = n * config.projDim
        for i in 0..<count { mem[i] = mem[i + offset] }
    }

    private func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = max(x[i], 0) }
    }

    private func softmaxSilence(_ logits: UnsafePointer<Float>, frames n: Int, silenceClasses: [Int],
                                into out: UnsafeMutablePointer<Float>) {
        let classes = config.outputDim
        for t in 0..<n {
            let row = logits + t * classes
            var mx = -Float.infinity
            for j in 0..<classes { mx = max(mx, row[j]) }
            var sum: Float = 0
            for j in 0..<classes { sum += expf(row[j] - mx) }
            var sil: Float = 0
            for id in silenceClasses { sil += expf(row[id] - mx) / sum }
            out[t] = sil
        }
    }
}
