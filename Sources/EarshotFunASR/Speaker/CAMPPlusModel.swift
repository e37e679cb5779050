import EarshotCheckpoint
import Foundation

/// CAM++'s shape (`model_conf` in config.yaml; FunASR `CAMPPlus`, funasr/models/campplus/model.py).
/// Block depths (12, 24, 16), kernel 3, dilations (1, 2, 2) and the FCM head's 32 channels are fixed in
/// FunASR's code, not configurable.
public struct CAMPPlusConfig: Sendable, Equatable {
    /// Mel bins in (80).
    public var featureDimension = 80
    /// Embedding length out (192).
    public var embeddingSize = 192
    /// Channels each CAM-Dense-TDNN layer adds (32).
    public var growthRate = 32
    /// Bottleneck width factor (4: bottleneck = 4 × growth).
    public var bottleneckFactor = 4
    /// Channels out of the first TDNN layer (128).
    public var initialChannels = 128

    static let blockLayers = [12, 24, 16]
    static let blockDilations = [1, 2, 2]
    static let headChannels = 32

    public init() {}

    /// Reads `model_conf` from a FunASR config.yaml whose `model` is `CAMPPlus`.
    public init(configPath: String) throws(FunASRError) {
        do {
            let yaml = try YAMLConfig(path: configPath)
            let model = try yaml.string("model", default: "")
            guard model == "CAMPPlus" else {
                throw FunASRError(.model, "\(configPath): model is '\(model)', not CAMPPlus (CAM++)")
            }
            featureDimension = try yaml.int("model_conf.feat_dim", default: 80)
            embeddingSize = try yaml.int("model_conf.embedding_size", default: 192)
            growthRate = try yaml.int("model_conf.growth_rate", default: 32)
            bottleneckFactor = try yaml.int("model_conf.bn_size", default: 4)
            initialChannels = try yaml.int("model_conf.init_channels", default: 128)
            let configStr = try yaml.string("model_conf.config_str", default: "batchnorm-relu")
            let level = try yaml.string("model_conf.output_level", default: "segment")
            guard configStr == "batchnorm-relu", level == "segment" else {
                throw FunASRError(.invalidConfiguration,
                                  "\(configPath): config_str '\(configStr)' / output_level '\(level)' unsupported (batchnorm-relu, segment)")
            }
        } catch let e as CheckpointError {
            throw FunASRError(e)
        } catch let e as FunASRError {
            throw e
        } catch {
            throw FunASRError(.invalidConfiguration, "\(configPath): \(error)")
        }
        guard featureDimension == 80, [embeddingSize, growthRate, bottleneckFactor, initialChannels].allSatisfy({ $0 > 0 }) else {
            throw FunASRError(.invalidConfiguration, "\(configPath): model_conf needs feat_dim 80 (FunASR's fbank) and positive sizes")
        }
    }
}

/// One CAM-Dense-TDNN layer: relu(bn(x)) → 1×1 conv to the bottleneck (+ bn, relu) → context-aware
/// masking: a dilated k=3 conv times sigmoid(W₂ relu(W₁ (mean over time + 100-frame segment mean))).
struct CAMDenseLayer: Sendable {
    var inputNorm: ChannelAffine
    var bottleneck: TimeConvolution
    var local: TimeConvolution
    var context1: TimeConvolution
    var context2: TimeConvolution
}

/// A transit layer: relu(bn(x)) → 1×1 conv halving the channels.
struct TransitLayer: Sendable {
    var norm: ChannelAffine
    var linear: TimeConvolution
}

/// The FCM head's residual block (`BasicResBlock`).
struct HeadBlock: Sendable {
    var conv1: PlaneConvolution
    var conv2: PlaneConvolution
    var shortcut: PlaneConvolution?
}

/// CAM++ weights, BatchNorms folded into the convolutions that precede them at load.
struct CAMPPlusWeights: Sendable {
    var config: CAMPPlusConfig
    var headConv1: PlaneConvolution
    var headBlocks: [HeadBlock]
    var headConv2: PlaneConvolution
    var tdnn: TimeConvolution
    var blocks: [[CAMDenseLayer]]
    var transits: [TransitLayer]
    var outputNorm: ChannelAffine
    var dense: TimeConvolution
    var parameterCount: Int

    init(checkpoint ckpt: PyTorchCheckpoint, config c: CAMPPlusConfig) throws(CheckpointError) {
        config = c
        var count = 0
        func t(_ name: String, _ shape: [Int]) throws(CheckpointError) -> [Float] {
            let v = try ckpt.floats(name, shape: shape)
            count += v.count
            return v
        }
        func bn(_ p: String, _ n: Int, affine: Bool = true) throws(CheckpointError) -> ChannelAffine {
            ChannelAffine(weight: affine ? try t(p + ".weight", [n]) : nil, bias: affine ? try t(p + ".bias", [n]) : nil,
                          mean: try t(p + ".running_mean", [n]), variance: try t(p + ".running_var", [n]))
        }
        func plane(_ conv: String, _ norm: String, out: Int, in i: Int, size: Int, stride: Int) throws(CheckpointError) -> PlaneConvolution {
            PlaneConvolution(torchWeight: try t(conv + ".weight", [out, i, size, size]), outputs: out, inputs: i, size: size,
                             frequencyStride: stride, fold: try bn(norm, out))
        }
        let m = CAMPPlusConfig.headChannels
        headConv1 = try plane("head.conv1", "head.bn1", out: m, in: 1, size: 3, stride: 1)
        var hb: [HeadBlock] = []
        for layer in 1...2 {
            for b in 0..<2 {
                let p = "head.layer\(layer).\(b)"
                let stride = b == 0 ? 2 : 1
                hb.append(HeadBlock(
                    conv1: try plane(p + ".conv1", p + ".bn1", out: m, in: m, size: 3, stride: stride),
                    conv2: try plane(p + ".conv2", p + ".bn2", out: m, in: m, size: 3, stride: 1),
                    shortcut: stride != 1 ? try plane(p + ".shortcut.0", p + ".shortcut.1", out: m, in: m, size: 1, stride: stride) : nil))
            }
        }
        headBlocks = hb
        headConv2 = try plane("head.conv2", "head.bn2", out: m, in: m, size: 3, stride: 2)
        let headOut = m * (c.featureDimension / 8)
        tdnn = TimeConvolution(torchWeight: try t("xvector.tdnn.linear.weight", [c.initialChannels, headOut, 5]),
                               outputs: c.initialChannels, inputs: headOut, kernel: 5, stride: 2, padding: 2,
                               fold: try bn("xvector.tdnn.nonlinear.batchnorm", c.initialChannels))
        var channels = c.initialChannels
        let g = c.growthRate, bnc = c.bottleneckFactor * c.growthRate
        var bl: [[CAMDenseLayer]] = [], tr: [TransitLayer] = []
        for (bi, (layers, dilation)) in zip(CAMPPlusConfig.blockLayers, CAMPPlusConfig.blockDilations).enumerated() {
            var block: [CAMDenseLayer] = []
            for li in 0..<layers {
                let p = "xvector.block\(bi + 1).tdnnd\(li + 1)"
                let cin = channels + li * g
                block.append(CAMDenseLayer(
                    inputNorm: try bn(p + ".nonlinear1.batchnorm", cin),
                    bottleneck: TimeConvolution(torchWeight: try t(p + ".linear1.weight", [bnc, cin, 1]), outputs: bnc, inputs: cin,
                                                kernel: 1, fold: try bn(p + ".nonlinear2.batchnorm", bnc)),
                    local: TimeConvolution(torchWeight: try t(p + ".cam_layer.linear_local.weight", [g, bnc, 3]), outputs: g,
                                           inputs: bnc, kernel: 3, dilation: dilation, padding: dilation),
                    context1: TimeConvolution(torchWeight: try t(p + ".cam_layer.linear1.weight", [bnc / 2, bnc, 1]), outputs: bnc / 2,
                                              inputs: bnc, kernel: 1, bias: try t(p + ".cam_layer.linear1.bias", [bnc / 2])),
                    context2: TimeConvolution(torchWeight: try t(p + ".cam_layer.linear2.weight", [g, bnc / 2, 1]), outputs: g,
                                              inputs: bnc / 2, kernel: 1, bias: try t(p + ".cam_layer.linear2.bias", [g]))))
            }
            bl.append(block)
            channels += layers * g
            let p = "xvector.transit\(bi + 1)"
            tr.append(TransitLayer(norm: try bn(p + ".nonlinear.batchnorm", channels),
                                   linear: TimeConvolution(torchWeight: try t(p + ".linear.weight", [channels / 2, channels, 1]),
                                                           outputs: channels / 2, inputs: channels, kernel: 1)))
            channels /= 2
        }
        blocks = bl
        transits = tr
        outputNorm = try bn("xvector.out_nonlinear.batchnorm", channels)
        dense = TimeConvolution(torchWeight: try t("xvector.dense.linear.weight", [c.embeddingSize, channels * 2, 1]),
                                outputs: c.embeddingSize, inputs: channels * 2, kernel: 1,
                                fold: try bn("xvector.dense.nonlinear.batchnorm", c.embeddingSize, affine: false))
        parameterCount = count
    }
}
