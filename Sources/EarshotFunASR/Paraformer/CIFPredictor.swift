import EarshotTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the CIF predictor gives for one sequence.
public struct CIFOutput: Sendable, Equatable {
    /// Per encoder frame plus the tail frame: the integration weights (`alphas`, after tail handling).
    public var alphas: [Float]
    /// The `cif_peak` array FunASR returns (per frame, the integrator value; fired frames are ≥ threshold).
    public var peaks: [Float]
    /// Frames at which a token fired, ascending.
    public var firePositions: [Int]
    /// Tokens to decode: `floor(Σ alphas)` (FunASR's `token_num`, then rounded, which keeps it).
    public var tokenCount: Int
    /// `[tokenCount][width]` acoustic embeddings (integrated encoder frames; rows past the fires are zero).
    public var embeddings: [Float]
}

/// FunASR's CIF predictors for one unpadded sequence: `CifPredictorV2` (Paraformer,
/// `funasr/models/paraformer/cif_predictor.py`) and `CifPredictorV3` (BiCif / SeACo,
/// `funasr/models/bicif_paraformer/cif_predictor.py`), with `tail_threshold` handling, and V3's upsampled
/// timestamp head (`get_upsample_timestamp`).
struct CIFPredictor: @unchecked Sendable {
    let config: CIFPredictorConfig
    /// `cif_conv1d` `[idim][idim·(l+r+1)]` and its bias.
    let conv: ParaformerLinear
    /// `cif_output` `[1][idim]`.
    let output: ParaformerLinear
    let timestampHead: CIFTimestampHead?

    init(_ w: ParaformerWeightLoader, config c: CIFPredictorConfig) throws(FunASRError) {
        config = c
        let k = c.lOrder + c.rOrder + 1
        let convWeight = try w.store("predictor.cif_conv1d.weight", [c.idim, c.idim, k])
        conv = ParaformerLinear(weight: WeightMatrix(outputs: c.idim, inputs: c.idim * k,
                                                     storage: .float32(UnsafePointer(convWeight.pointer)), owner: convWeight),
                                bias: try w.store("predictor.cif_conv1d.bias", [c.idim]))
        output = try w.linear("predictor.cif_output", outputs: 1, inputs: c.idim, quantized: false)
        timestampHead = c.hasTimestampHead ? try CIFTimestampHead(w, config: c) : nil
    }

    var byteCount: Int { conv.byteCount + conv.weight.byteCount + output.byteCount + (timestampHead?.byteCount ?? 0) }

    /// `relu(Conv1d(pad(h, l, r)))` → `[frames][idim]`.
    func convolve(_ hidden: UnsafePointer<Float>, frames t: Int) -> [Float] {
        let d = config.idim, l = config.lOrder, r = config.rOrder
        var padded = [Float](repeating: 0, count: (t + l + r) * d)
        padded.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: l * d).update(from: hidden, count: t * d) }
        var out = [Float](repeating: 0, count: t * d)
        padded.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                Kernels.conv1d(input: p.baseAddress!, frames: t + l + r, inChannels: d, weight: conv.weight,
                               bias: conv.bias.map { UnsafePointer($0.pointer) }, kernelSize: l + r + 1, stride: 1,
                               padding: 0, into: o.baseAddress!)
                ParaformerOps.relu(o.baseAddress!, count: t * d)
            }
        }
        return out
    }

    /// Alphas of `frames` frames from the convolution output, before tail handling.
    func alphas(convolved: UnsafePointer<Float>, frames t: Int) -> [Float] {
        var a = [Float](repeating: 0, count: t)
        a.withUnsafeMutableBufferPointer { out in output.apply(convolved, rows: t, into: out.baseAddress!) }
        for i in 0..<t {
            a[i] = max(ParaformerOps.sigmoid(a[i]) * config.smoothFactor - config.noiseThreshold, 0)
        }
        return a
    }

    /// Runs the predictor on `[frames][idim]` encoder output.
    func predict(_ hidden: UnsafePointer<Float>, frames t: Int) -> (CIFOutput, convolved: [Float]) {
        let d = config.idim
        let convolved = convolve(hidden, frames: t)
        var alphas: [Float] = convolved.withUnsafeBufferPointer { self.alphas(convolved: $0.baseAddress!, frames: t) }
        // Tail: one more frame of weight tail_threshold whose hidden vector is zero (tail_process_fn).
        if config.tailThreshold > 0 { alphas.append(config.tailThreshold) }
        // token_num = floor(Σ alphas) when there is a tail, else the (unrounded) sum, later rounded.
        let total = Float(alphas.reduce(0.0) { $0 + Double($1) })
        let tokenCount = config.tailThreshold > 0 ? Int(total.rounded(.down)) : Int(total.rounded(.toNearestOrEven))
        let hiddenAt: (Int) -> UnsafePointer<Float>? = { $0 < t ? hidden + $0 * d : nil }
        var result: CIFOutput
        if config.hasTimestampHead {
            result = Self.integrateSequential(alphas: alphas, hidden: hiddenAt, width: d, threshold: config.threshold)
        } else {
            result = Self.integratePrefix(alphas: alphas, hidden: hiddenAt, width: d)
        }
        result.tokenCount = tokenCount
        // cif_v1 / cif allocate round(Σα) rows, then the model keeps token_num = floor(Σα) of them.
        let rows = min(result.firePositions.count, tokenCount)
        var embeddings = [Float](repeating: 0, count: max(0, tokenCount) * d)
        if rows > 0 { embeddings.replaceSubrange(0..<(rows * d), with: result.embeddings[0..<(rows * d)]) }
        result.embeddings = embeddings
        return (result, convolved)
    }

    /// `cif_v1` (CifPredictorV2): fires where `floor` of the fp64 prefix sum (stored fp32) steps up; token `k`'s
    /// embedding is the difference of fp32 prefix sums of `α·h` (accumulated in double, as PyTorch's CPU
    /// cumsum does) corrected by the split weight of the two firing frames.
    static func integratePrefix(alphas: [Float], hidden: (Int) -> UnsafePointer<Float>?, width d: Int) -> CIFOutput {
        let n = alphas.count
        var prefix = [Float](repeating: 0, count: n)
        var acc = 0.0
        for i in 0..<n { acc += Double(alphas[i]); prefix[i] = Float(acc) }
        var peaks = [Float](repeating: 0, count: n)
        var fires: [Int] = []
        for i in 0..<n {
            let floorNow = prefix[i].rounded(.down)
            let floorBefore = i == 0 ? 0 : prefix[i - 1].rounded(.down)
            let fired: Float = floorNow - floorBefore > 0 ? 1 : 0
            if fired > 0 { fires.append(i) }
            peaks[i] = (fired + prefix[i]) - floorNow
        }
        var embeddings = [Float](repeating: 0, count: fires.count * d)
        var sums = [Double](repeating: 0, count: d)
        var previous: (frame: [Float], remainder: [Float])? = nil
        var next = 0
        for i in 0..<n where next < fires.count {
            let h = hidden(i)
            for j in 0..<d { sums[j] += Double(alphas[i] * (h?[j] ?? 0)) }
            guard fires[next] == i else { continue }
            let cumulative = sums.map { Float($0) }
            let remain = peaks[i] - peaks[i].rounded(.down)
            let remainFrame = (0..<d).map { remain * (h?[$0] ?? 0) }
            let base = next * d
            for j in 0..<d {
                var v = cumulative[j]
                if let p = previous { v = (v - p.frame[j]) + p.remainder[j] }
                embeddings[base + j] = v - remainFrame[j]
            }
            previous = (cumulative, remainFrame)
            next += 1
        }
        return CIFOutput(alphas: alphas, peaks: peaks, firePositions: fires, tokenCount: 0, embeddings: embeddings)
    }

    /// The sequential `cif` of `bicif_paraformer/cif_predictor.py` (CifPredictorV3): an fp32 integrator that
    /// fires at `≥ threshold` and subtracts 1, splitting the firing frame's weight between two tokens.
    static func integrateSequential(alphas: [Float], hidden: (Int) -> UnsafePointer<Float>?, width d: Int,
                                    threshold: Float) -> CIFOutput {
        var integrate: Float = 0
        var frame = [Float](repeating: 0, count: d)
        var peaks: [Float] = []
        var fires: [Int] = []
        var embeddings: [Float] = []
        for (t, alpha) in alphas.enumerated() {
            let completion = 1 - integrate
            integrate += alpha
            peaks.append(integrate)
            let fire = integrate >= threshold
            if fire { integrate -= 1 }
            let cur = fire ? completion : alpha
            let remainder = alpha - cur
            let h = hidden(t)
            for j in 0..<d { frame[j] += cur * (h?[j] ?? 0) }
            if fire {
                fires.append(t)
                embeddings.append(contentsOf: frame)
                for j in 0..<d { frame[j] = remainder * (h?[j] ?? 0) }
            }
        }
        return CIFOutput(alphas: alphas, peaks: peaks, firePositions: fires, tokenCount: 0, embeddings: embeddings)
    }

    /// `cif_wo_hidden`: the fp32 integrator's value per frame (subtracting `threshold` on each fire).
    static func peaksWithoutHidden(_ alphas: [Float], threshold: Float) -> [Float] {
        var integrate: Float = 0
        var out = [Float](repeating: 0, count: alphas.count)
        for (t, a) in alphas.enumerated() {
            integrate += a
            out[t] = integrate
            if integrate >= threshold { integrate -= 1 * threshold }
        }
        return out
    }
}
