import EarshotCheckpoint
import EarshotSpeech
import Foundation

/// FunASR's CAM++ speaker model (`spk_model="cam++"`, ModelScope iic/speech_campplus_sv_zh-cn_16k-common)
/// as a ``SpeakerEmbedder``: each window is zero-padded to 1.5 s as FunASR's `sv_chunk` pads it, turned
/// into an 80-bin Kaldi fbank (torchaudio `kaldi.fbank` defaults: 25/10 ms, povey window, pre-emphasis
/// 0.97, DC removal, dither 0, on the unscaled [-1, 1] samples), mean-subtracted over the window
/// (`extract_feature`), and run through `CAMPPlus.forward` (FCM head, TDNN, three CAM-Dense-TDNN blocks with
/// transit layers, statistics pooling, dense + BatchNorm). Windows are embedded one at a time, so results
/// do not depend on batching (FunASR pads features in a batch, which equals this for equal-length windows).
public final class CAMPPlusEmbedder: SpeakerEmbedder, @unchecked Sendable {
    public let name: String
    public let config: CAMPPlusConfig
    public var dimension: Int { config.embeddingSize }
    public let weightBytes: Int
    public let windowSamples = 24_000
    public let hopSamples = 12_000
    let weights: CAMPPlusWeights
    private let fbank: KaldiFbank

    /// Loads a model directory: config.yaml (`model: CAMPPlus`) and the weights named by configuration.json's
    /// `file_path_metas.init_param`, else campplus_cn_common.bin or model.pt.
    /// - Throws: `FunASRError` naming the file and what is wrong.
    public init(directory: String) throws(FunASRError) {
        let fm = FileManager.default
        let configPath = directory + "/config.yaml"
        guard fm.fileExists(atPath: configPath) else {
            throw FunASRError(.model, "\(configPath) is missing: not a FunASR CAM++ model directory")
        }
        config = try CAMPPlusConfig(configPath: configPath)
        var candidates = ["campplus_cn_common.bin", "model.pt"]
        if let data = FileBytes.read(directory + "/configuration.json"),
           let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let metas = json["file_path_metas"] as? [String: Any], let file = metas["init_param"] as? String {
            candidates.insert(file, at: 0)
        }
        guard let file = candidates.first(where: { fm.fileExists(atPath: directory + "/" + $0) }) else {
            throw FunASRError(.model, "\(directory): no CAM++ weights (looked for \(candidates.joined(separator: ", ")))")
        }
        do {
            let ckpt = try PyTorchCheckpoint(path: directory + "/" + file)
            weights = try CAMPPlusWeights(checkpoint: ckpt, config: config)
        } catch {
            throw FunASRError(error)
        }
        weightBytes = weights.parameterCount * 4
        name = URL(fileURLWithPath: directory).lastPathComponent
        var o = FbankOptions()
        o.window = "povey"
        o.inputScale = 1
        o.melBins = 80
        fbank = try KaldiFbank(options: o)
    }

    /// Frames of a 1.5-s window (snip edges: 1 + (24000 − 400) / 160 = 148).
    var frames: Int { 1 + (windowSamples - fbank.options.frameLength) / fbank.options.frameShift }

    /// FunASR's features for one window: fbank of the zero-padded window minus its per-bin mean.
    func features(_ window: [Float]) -> [Float] {
        var padded = Array(window.prefix(windowSamples))
        if padded.count < windowSamples { padded += [Float](repeating: 0, count: windowSamples - padded.count) }
        let bins = 80, n = frames
        var out = [Float](repeating: 0, count: n * bins)
        var scratch = [Float](repeating: 0, count: fbank.scratchCount)
        padded.withUnsafeBufferPointer { x in
            scratch.withUnsafeMutableBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    for t in 0..<n {
                        fbank.compute(frame: x.baseAddress! + t * fbank.options.frameShift, scratch: s.baseAddress!,
                                      into: o.baseAddress! + t * bins)
                    }
                }
            }
        }
        for b in 0..<bins {
            var s: Float = 0
            for t in 0..<n { s += out[t * bins + b] }
            let mean = s / Float(n)
            for t in 0..<n { out[t * bins + b] -= mean }
        }
        return out
    }

    public func embed(_ windows: [[Float]]) throws -> [[Float]] {
        try windows.enumerated().map { i, w in
            guard w.allSatisfy(\.isFinite) else { throw FunASRError(.audio, "speaker window \(i) contains NaN or infinity") }
            return weights.embed(features: features(w), frames: frames)
        }
    }

    /// One window's working set (windows run one at a time): features, the largest FCM im2col + output,
    /// the dense block's concatenation and a layer's temporaries, plus every window's output vector.
    public func batchBytes(windows: Int) -> Int {
        let t = frames, t2 = (t + 1) / 2, m = CAMPPlusConfig.headChannels
        let head = weights.headBlocks.map { $0.conv1.workingFloats(bands: 80, frames: t) }.max() ?? 0
        let fcm = 2 * 80 * t * m + head + weights.headConv1.workingFloats(bands: 80, frames: t)
        let tdnn = t2 * (5 * m * 10 + config.initialChannels) + t * m * 10
        var widest = 0
        var c = config.initialChannels
        for layers in CAMPPlusConfig.blockLayers { c += layers * config.growthRate; widest = max(widest, c); c /= 2 }
        let bnc = config.bottleneckFactor * config.growthRate
        let dense = t2 * (3 * widest + 6 * bnc + 3 * config.growthRate)
        return 4 * (t * 80 * 2 + max(fcm, tdnn, dense) + windows * config.embeddingSize)
    }
}
