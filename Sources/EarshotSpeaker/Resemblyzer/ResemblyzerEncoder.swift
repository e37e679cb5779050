import EarshotAudio
import EarshotCheckpoint
import EarshotSpeech
import EarshotTensor
import Foundation

/// resemblyzer 0.1.4's GE2E speaker encoder (`VoiceEncoder`): a 3-layer LSTM (40 → 256) over a 40-band power
/// mel spectrogram, the last layer's final hidden state through `Linear(256, 256)`, ReLU and L2 normalisation,
/// giving a 256-d d-vector. Weights are the `model_state` of the wheel's `pretrained.pt` (a legacy torch pickle,
/// read by `PyTorchCheckpoint`).
///
/// As a ``SpeakerEmbedder`` a window is one resemblyzer partial (1.6 s = 160 mel frames): each window is
/// normalised to −30 dBFS (increase only, `audio.normalize_volume`), zero-padded to 25,600 samples if shorter,
/// turned into its mel spectrogram (librosa, centred) and its first 160 frames go through the network. The
/// utterance-level embedding (`embed_utterance`) is ``embedUtterance(_:rate:minCoverage:)``.
/// Output matches resemblyzer's own within 1e-4 (tests: `ResemblyzerOracleTests`).
public final class ResemblyzerEncoder: SpeakerEmbedder {
    /// hparams.py: `mel_n_channels`, `model_hidden_size`, `model_embedding_size`, `model_num_layers`,
    /// `partials_n_frames`, `audio_norm_target_dBFS`.
    public static let melBands = 40, hiddenSize = 256, embeddingSize = 256, layers = 3
    public static let partialFrames = 160
    public static let partialSamples = partialFrames * PowerMelSpectrogram.hopLength   // 25,600
    public static let targetDBFS = -30.0

    public let name: String
    public var dimension: Int { Self.embeddingSize }
    public let weightBytes: Int
    /// One partial (1.6 s) per window.
    public var windowSamples: Int { Self.partialSamples }
    /// Half a window: resemblyzer's partials overlap by 50 % in its own diarization demo.
    public var hopSamples: Int { Self.partialSamples / 2 }

    private let lstm: [LSTMLayer]
    private let linearWeight: [Float]   // [256, 256], PyTorch (out, in) layout
    private let linearBias: [Float]
    private let mel = PowerMelSpectrogram(bands: ResemblyzerEncoder.melBands)

    /// One LSTM layer in PyTorch's layout: gates stacked as (input, forget, cell, output), each `hidden` rows.
    struct LSTMLayer: Sendable {
        let inputs: Int
        let weightIH: [Float]   // [4H, inputs]
        let weightHH: [Float]   // [4H, H]
        let bias: [Float]       // b_ih + b_hh, [4H]
    }

    /// Loads `path`: resemblyzer's `pretrained.pt`, or a directory holding it.
    /// - Throws: `CheckpointError` naming the file and the tensor when the file is missing, not a torch
    ///   checkpoint, or its `model_state` lacks a tensor or has one of the wrong shape.
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? (path as NSString).appendingPathComponent("pretrained.pt") : path
        let checkpoint = try PyTorchCheckpoint(path: file)
        let h = Self.hiddenSize
        func load(_ key: String, _ shape: [Int]) throws(CheckpointError) -> [Float] {
            try checkpoint.floats("model_state." + key, shape: shape)
        }
        var layers: [LSTMLayer] = []
        for l in 0 ..< Self.layers {
            let inputs = l == 0 ? Self.melBands : h
            let bih = try load("lstm.bias_ih_l\(l)", [4 * h]), bhh = try load("lstm.bias_hh_l\(l)", [4 * h])
            layers.append(LSTMLayer(inputs: inputs, weightIH: try load("lstm.weight_ih_l\(l)", [4 * h, inputs]),
                                    weightHH: try load("lstm.weight_hh_l\(l)", [4 * h, h]),
                                    bias: zip(bih, bhh).map { $0 + $1 }))
        }
        lstm = layers
        linearWeight = try load("linear.weight", [Self.embeddingSize, h])
        linearBias = try load("linear.bias", [Self.embeddingSize])
        weightBytes = 4 * (layers.reduce(0) { $0 + $1.weightIH.count + $1.weightHH.count + $1.bias.count }
                           + linearWeight.count + linearBias.count)
        name = URL(fileURLWithPath: file).deletingLastPathComponent().lastPathComponent + "/pretrained.pt"
    }

    /// Per window: the samples (padded), the mel (160 × 40), two LSTM activations (160 × 1024 gate
    /// pre-activations and 160 × 256 outputs) and the state; all float32.
    public func batchBytes(windows: Int) -> Int {
        let h = Self.hiddenSize, t = Self.partialFrames
        return windows * 4 * (Self.partialSamples + t * Self.melBands + t * 4 * h + t * h + 4 * h + Self.embeddingSize)
    }

    /// One L2-normalised d-vector per window (see the type's description for what a window goes through).
    public func embed(_ windows: [[Float]]) throws -> [[Float]] {
        guard !windows.isEmpty else { return [] }
        let t = Self.partialFrames, bands = Self.melBands
        var mels = [Float](repeating: 0, count: windows.count * t * bands)
        for (b, window) in windows.enumerated() {
            var samples = Self.normalizeVolume(window)
            if samples.count < Self.partialSamples {
                samples.append(contentsOf: repeatElement(0, count: Self.partialSamples - samples.count))
            }
            let m = mel.compute(samples, frames: t)
            mels.replaceSubrange(b * t * bands ..< b * t * bands + m.count, with: m)
        }
        return forward(mels: mels, batch: windows.count)
    }

    /// resemblyzer `audio.normalize_volume(wav, -30, increase_only=True)`: scales so the RMS (of the
    /// int16-scaled signal) is −30 dBFS, unless that would make it quieter. Silence is returned unchanged.
    public static func normalizeVolume(_ wav: [Float]) -> [Float] {
        guard !wav.isEmpty else { return wav }
        let int16Max = 32767.0   // audio.py int16_max
        var sum = 0.0
        for x in wav { let v = Double(x) * int16Max; sum += v * v }
        let rms = (sum / Double(wav.count)).squareRoot()
        guard rms > 0 else { return wav }
        let change = targetDBFS - 20 * log10(rms / int16Max)
        if change < 0 { return wav }
        let gain = Float(pow(10, change / 20))
        return wav.map { $0 * gain }
    }

    /// The network on `batch` mel spectrograms of 160 frames each (frame-major, 40 bands): the final hidden
    /// state of the top LSTM layer, `Linear`, ReLU, L2 normalisation (an all-zero vector stays zero).
    func forward(mels: [Float], batch: Int) -> [[Float]] {
        let h = Self.hiddenSize, t = mels.count / (batch * Self.melBands)
        var input = mels
        var state = [Float](repeating: 0, count: batch * h)
        for layer in lstm {
            input = run(layer, input: input, batch: batch, frames: t, finalHidden: &state)
        }
        var out = [Float](repeating: 0, count: batch * Self.embeddingSize)
        state.withUnsafeBufferPointer { x in
            linearWeight.withUnsafeBufferPointer { w in
                linearBias.withUnsafeBufferPointer { bias in
                    out.withUnsafeMutableBufferPointer { y in
                        Kernels.sgemm(m: batch, n: Self.embeddingSize, k: h, a: x.baseAddress!, lda: h,
                                      b: w.baseAddress!, ldb: h, bLayout: .transposed, c: y.baseAddress!,
                                      ldc: Self.embeddingSize, bias: bias.baseAddress!)
                    }
                }
            }
        }
        return (0 ..< batch).map { b in
            var v = out[b * Self.embeddingSize ..< (b + 1) * Self.embeddingSize].map { max($0, 0) }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { for i in v.indices { v[i] /= norm } }
            return v
        }
    }

    /// One layer over all frames: input projections for every frame in one product, then the recurrence
    /// (`h·W_hhᵀ` added in place per frame). Returns the layer's outputs (`batch × frames × H`).
    private func run(_ layer: LSTMLayer, input: [Float], batch: Int, frames t: Int,
                     finalHidden: inout [Float]) -> [Float] {
        let h = Self.hiddenSize, g = 4 * h
        var gates = [Float](repeating: 0, count: batch * t * g)
        var output = [Float](repeating: 0, count: batch * t * h)
        var hidden = [Float](repeating: 0, count: batch * h), cell = [Float](repeating: 0, count: batch * h)
        input.withUnsafeBufferPointer { x in
            layer.weightIH.withUnsafeBufferPointer { w in
                layer.bias.withUnsafeBufferPointer { bias in
                    gates.withUnsafeMutableBufferPointer { y in
                        Kernels.sgemm(m: batch * t, n: g, k: layer.inputs, a: x.baseAddress!, lda: layer.inputs,
                                      b: w.baseAddress!, ldb: layer.inputs, bLayout: .transposed,
                                      c: y.baseAddress!, ldc: g, bias: bias.baseAddress!)
                    }
                }
            }
        }
        for step in 0 ..< t {
            hidden.withUnsafeBufferPointer { x in
                layer.weightHH.withUnsafeBufferPointer { w in
                    gates.withUnsafeMutableBufferPointer { y in
                        Kernels.sgemm(m: batch, n: g, k: h, a: x.baseAddress!, lda: h, b: w.baseAddress!, ldb: h,
                                      bLayout: .transposed, c: y.baseAddress! + step * g, ldc: t * g,
                                      accumulate: true)
                    }
                }
            }
            Self.cellUpdate(gates: &gates, offset: step * g, stride: t * g, batch: batch, hidden: &hidden,
                            cell: &cell, output: &output, outputOffset: step * h, outputStride: t * h)
        }
        finalHidden = hidden
        return output
    }

    /// `c = σ(f)·c + σ(i)·tanh(g)`, `h = σ(o)·tanh(c)` for every sequence of the batch at one frame, with
    /// vectorised exp: `σ(x) = 1/(1 + e^(−x))`, `tanh(x) = 1 − 2/(1 + e^(2x))` (absolute error ≈ 1e-7).
    private static func cellUpdate(gates: inout [Float], offset: Int, stride: Int, batch: Int,
                                   hidden: inout [Float], cell: inout [Float], output: inout [Float],
                                   outputOffset: Int, outputStride: Int) {
        let h = hiddenSize
        var scratch = [Float](repeating: 0, count: 5 * h)
        gates.withUnsafeMutableBufferPointer { g in
            scratch.withUnsafeMutableBufferPointer { e in
                cell.withUnsafeMutableBufferPointer { c in
                    hidden.withUnsafeMutableBufferPointer { hid in
                        output.withUnsafeMutableBufferPointer { out in
                            for b in 0 ..< batch {
                                lstmCell(gates: g.baseAddress! + b * stride + offset, scratch: e.baseAddress!,
                                         cell: c.baseAddress! + b * h, hidden: hid.baseAddress! + b * h,
                                         output: out.baseAddress! + b * outputStride + outputOffset, hidden: h)
                            }
                        }
                    }
                }
            }
        }
    }

    /// One LSTM cell step over `h` units (PyTorch gate order i, f, g, o in `gates`); `scratch` holds 5h floats.
    private static func lstmCell(gates: UnsafeMutablePointer<Float>, scratch e: UnsafeMutablePointer<Float>,
                                 cell: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>,
                                 output: UnsafeMutablePointer<Float>, hidden h: Int) {
        for j in 0 ..< h {
            e[j] = -gates[j]; e[h + j] = -gates[h + j]
            e[2 * h + j] = 2 * gates[2 * h + j]; e[3 * h + j] = -gates[3 * h + j]
        }
        Kernels.exp(e, into: e, count: 4 * h)
        for j in 0 ..< h {
            let i = 1 / (1 + e[j]), f = 1 / (1 + e[h + j]), g = 1 - 2 / (1 + e[2 * h + j])
            let next = f * cell[j] + i * g
            cell[j] = next
            e[4 * h + j] = 2 * next
        }
        Kernels.exp(e + 4 * h, into: e + 4 * h, count: h)
        for j in 0 ..< h {
            let o = 1 / (1 + e[3 * h + j])
            let value = o * (1 - 2 / (1 + e[4 * h + j]))
            hidden[j] = value
            output[j] = value
        }
    }

}
