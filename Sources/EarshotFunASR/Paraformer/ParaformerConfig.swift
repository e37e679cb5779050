import EarshotCheckpoint

/// Which FunASR model class a `config.yaml` names (its top-level `model:` key).
public enum ParaformerKind: String, Sendable, CaseIterable {
    /// `Paraformer` (`funasr/models/paraformer/model.py`): CIF predictor `CifPredictorV2`, no timestamps by default.
    case paraformer = "Paraformer"
    /// `BiCifParaformer` (`funasr/models/bicif_paraformer/model.py`): `CifPredictorV3` with an upsampled second CIF
    /// that gives token timestamps.
    case biCifParaformer = "BiCifParaformer"
    /// `SeacoParaformer` (`funasr/models/seaco_paraformer/model.py`): BiCif plus a hotword bias path
    /// (`ParaformerModel.prepareHotwords`); without hotwords its output equals its BiCif part's.
    case seacoParaformer = "SeacoParaformer"
}

/// Shape of the SAN-M encoder (`encoder_conf`; `funasr/models/sanm/encoder.py:SANMEncoder`).
public struct SANMEncoderConfig: Sendable, Equatable {
    /// Input features per frame (`n_mels × lfr_m`, 560).
    public var inputSize = 560
    /// Model width (`output_size`, 512).
    public var outputSize = 512
    /// Attention heads (4).
    public var attentionHeads = 4
    /// Feed-forward width (`linear_units`, 2048).
    public var linearUnits = 2048
    /// Layers including `encoders0` (`num_blocks`, 50).
    public var numBlocks = 50
    /// FSMN memory kernel size (11).
    public var kernelSize = 11
    /// FSMN look-back shift (`sanm_shfit`, 0): the left padding is `(kernel−1)/2 + shift`.
    public var sanmShift = 0
}

extension SANMEncoderConfig {
    /// Reads `encoder_conf` as FunASR's `SANMEncoder` takes it (shared by Paraformer and CT-Transformer);
    /// `inputSize` keeps its default unless the config gives `input_size`. `model` names the model in messages.
    /// - Throws: `FunASRError(.invalidConfiguration)` naming the key for a layout this port does not run;
    ///   `CheckpointError` for a value of the wrong type.
    init(_ c: YAMLConfig, model: String, inputSize: Int? = nil) throws {
        self.init()
        let ek = "encoder_conf."
        if let inputSize { self.inputSize = try c.int(ek + "input_size", default: inputSize) }
        outputSize = try c.int(ek + "output_size", default: 256)
        attentionHeads = try c.int(ek + "attention_heads", default: 4)
        linearUnits = try c.int(ek + "linear_units", default: 2048)
        numBlocks = try c.int(ek + "num_blocks", default: 6)
        kernelSize = try c.int(ek + "kernel_size", default: 11)
        sanmShift = try c.int(ek + "sanm_shfit", default: 0)
        let inputLayer = try c.string(ek + "input_layer", default: "conv2d")
        guard inputLayer == "pe" else {
            throw FunASRError(.invalidConfiguration, "\(c.path): encoder_conf.input_layer is '\(inputLayer)'; only 'pe' (sinusoidal positions, \(model)'s) is supported")
        }
        guard try c.bool(ek + "normalize_before", default: true), !(try c.bool(ek + "concat_after", default: false)) else {
            throw FunASRError(.invalidConfiguration, "\(c.path): encoder_conf needs normalize_before true and concat_after false (\(model)'s)")
        }
        let attentionType = try c.string(ek + "selfattention_layer_type", default: "sanm")
        guard attentionType == "sanm" else {
            throw FunASRError(.invalidConfiguration, "\(c.path): encoder_conf.selfattention_layer_type '\(attentionType)' is not supported (only sanm)")
        }
    }
}

/// Shape of the non-autoregressive SAN-M decoder (`decoder_conf`; `funasr/models/paraformer/decoder.py:ParaformerSANMDecoder`).
public struct SANMDecoderConfig: Sendable, Equatable {
    /// Cross-attention heads (4).
    public var attentionHeads = 4
    /// Feed-forward width (2048).
    public var linearUnits = 2048
    /// Blocks (`num_blocks`, 16): `att_layer_num` with cross-attention, the rest (`decoders2`) without.
    public var numBlocks = 16
    /// Blocks with cross-attention (`att_layer_num`, 16).
    public var attentionLayers = 16
    /// FSMN memory kernel size (11).
    public var kernelSize = 11
    /// FSMN shift of the cross-attention blocks (`sanm_shfit`; FunASR uses `(kernel−1)/2` when it is null).
    public var sanmShift = 0
}

/// CIF predictor parameters (`predictor_conf`; `funasr/models/paraformer/cif_predictor.py`,
/// `funasr/models/bicif_paraformer/cif_predictor.py`).
public struct CIFPredictorConfig: Sendable, Equatable {
    /// `CifPredictorV2` (Paraformer) or `CifPredictorV3` (BiCif, SeACo).
    public var className = "CifPredictorV2"
    /// Input width (`idim`, 512).
    public var idim = 512
    /// Firing threshold (1.0).
    public var threshold: Float = 1.0
    /// Left and right context of the alpha convolution (1, 1).
    public var lOrder = 1, rOrder = 1
    /// `alpha = relu(sigmoid(·)·smooth_factor − noise_threshold)` (1.0, 0).
    public var smoothFactor: Float = 1.0, noiseThreshold: Float = 0
    /// Weight added after the last frame so a trailing partial token fires (0.45).
    public var tailThreshold: Float = 0.45
    /// V3 timestamp head: upsampling factor (`upsample_times`, 3).
    public var upsampleTimes = 3
    /// V3 timestamp head: `relu(sigmoid(·)·smooth_factor2 − noise_threshold2)` (0.25, 0.01).
    public var smoothFactor2: Float = 1.0, noiseThreshold2: Float = 0
    /// V3 timestamp head: the upsample network, `cnn_blstm` (paraformer-large) or `cnn`.
    public var upsampleType = "cnn"
    /// V3 timestamp head: whether it reads the CIF convolution's output (`use_cif1_cnn`; false: the encoder's).
    public var useCIF1CNN = true

    /// Whether the predictor has the upsampled timestamp head.
    public var hasTimestampHead: Bool { className == "CifPredictorV3" }
}

/// SeACo-Paraformer's hotword path (`model_conf`, `seaco_decoder_conf`; `funasr/models/seaco_paraformer/model.py`).
public struct SeacoConfig: Sendable, Equatable {
    /// Width of the hotword embeddings and bias encoder (`inner_dim`, 512).
    public var innerDim = 512
    /// The hotword head's "no hotword" class (`NO_BIAS`, 8377).
    public var noBiasID = 8377
    /// The hotword decoder (`seaco_decoder_conf`: 4 blocks, FFN 1024, kernel 21; att_layer_num defaults to 6,
    /// so FunASR builds 6 cross-attention blocks and no `decoders2`).
    public var decoder = SANMDecoderConfig()
}

/// Everything `config.yaml` says that the Swift Paraformer uses.
public struct ParaformerConfig: Sendable, Equatable {
    /// The model class.
    public var kind: ParaformerKind
    /// Encoder shape.
    public var encoder: SANMEncoderConfig
    /// Decoder shape.
    public var decoder: SANMDecoderConfig
    /// CIF predictor.
    public var predictor: CIFPredictorConfig
    /// Fbank options from `frontend_conf`.
    public var fbank: FbankOptions
    /// LFR stacking (7, 6).
    public var lfrM: Int, lfrN: Int
    /// Special token ids (`model_conf` `blank_id`, `sos`, `eos`: 0, 1, 2).
    public var blankID = 0, sosID = 1, eosID = 2
    /// SeACo's hotword path (`SeacoParaformer` only).
    public var seaco: SeacoConfig?

    /// Reads a `ParaformerSANMDecoder` configuration under `key` ("decoder_conf." or "seaco_decoder_conf.").
    static func decoderConfig(_ c: YAMLConfig, _ key: String, width: Int) throws -> SANMDecoderConfig {
        var d = SANMDecoderConfig()
        d.attentionHeads = try c.int(key + "attention_heads", default: 4)
        d.linearUnits = try c.int(key + "linear_units", default: 2048)
        d.numBlocks = try c.int(key + "num_blocks", default: 6)
        d.attentionLayers = try c.int(key + "att_layer_num", default: 6)
        d.kernelSize = try c.int(key + "kernel_size", default: 21)
        if let raw = c.node(key + "sanm_shfit")?.string, ["null", "Null", "NULL", "~", ""].contains(raw) {
            d.sanmShift = (d.kernelSize - 1) / 2
        } else {
            d.sanmShift = try c.int(key + "sanm_shfit", default: 0)
        }
        guard try c.bool(key + "normalize_before", default: true), !(try c.bool(key + "concat_after", default: false)) else {
            throw FunASRError(.invalidConfiguration, "\(c.path): \(key)normalize_before must be true and concat_after false (Paraformer's)")
        }
        guard d.attentionHeads > 0, width % d.attentionHeads == 0, d.attentionLayers >= 1, d.kernelSize >= 1,
              d.sanmShift >= 0, (d.kernelSize - 1) / 2 + d.sanmShift <= d.kernelSize - 1 else {
            throw FunASRError(.invalidConfiguration, "\(c.path): \(key) attention_heads \(d.attentionHeads) / num_blocks \(d.numBlocks) / att_layer_num \(d.attentionLayers) / kernel_size \(d.kernelSize) / sanm_shfit \(d.sanmShift) do not describe a SAN-M decoder of width \(width)")
        }
        return d
    }

    /// Parses `config.yaml`.
    /// - Throws: `FunASRError` naming the file and key: `.model` for an unknown `model:` class or encoder,
    ///   decoder or predictor class this port does not run, `.invalidConfiguration` for bad values.
    public init(_ c: YAMLConfig) throws(FunASRError) {
        do {
            let className = try c.string("model", default: "")
            guard let kind = ParaformerKind(rawValue: className) else {
                throw FunASRError(.model, "\(c.path): model '\(className)' is not a model class Earshot runs; expected one of \(ParaformerKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.kind = kind
            let encoderClass = try c.string("encoder", default: "SANMEncoder")
            guard encoderClass == "SANMEncoder" else {
                throw FunASRError(.model, "\(c.path): encoder '\(encoderClass)' is not supported (only SANMEncoder, the offline Paraformer encoder)")
            }
            let decoderClass = try c.string("decoder", default: "ParaformerSANMDecoder")
            guard decoderClass == "ParaformerSANMDecoder" else {
                throw FunASRError(.model, "\(c.path): decoder '\(decoderClass)' is not supported (only ParaformerSANMDecoder)")
            }
            var e = try SANMEncoderConfig(c, model: "Paraformer")
            let d = try Self.decoderConfig(c, "decoder_conf.", width: e.outputSize)
            var p = CIFPredictorConfig()
            let pk = "predictor_conf."
            p.className = try c.string("predictor", default: "")
            guard p.className == "CifPredictorV2" || p.className == "CifPredictorV3" else {
                throw FunASRError(.model, "\(c.path): predictor '\(p.className)' is not supported (CifPredictorV2 or CifPredictorV3)")
            }
            p.idim = try c.int(pk + "idim", default: e.outputSize)
            p.threshold = Float(try c.double(pk + "threshold", default: 1.0))
            p.lOrder = try c.int(pk + "l_order", default: 1)
            p.rOrder = try c.int(pk + "r_order", default: 1)
            p.smoothFactor = Float(try c.double(pk + "smooth_factor", default: 1.0))
            p.noiseThreshold = Float(try c.double(pk + "noise_threshold", default: 0))
            p.tailThreshold = Float(try c.double(pk + "tail_threshold", default: 0))
            p.upsampleTimes = try c.int(pk + "upsample_times", default: 5)
            p.smoothFactor2 = Float(try c.double(pk + "smooth_factor2", default: 1.0))
            p.noiseThreshold2 = Float(try c.double(pk + "noise_threshold2", default: 0))
            p.upsampleType = try c.string(pk + "upsample_type", default: "cnn")
            p.useCIF1CNN = try c.bool(pk + "use_cif1_cnn", default: true)
            if p.hasTimestampHead {
                guard p.upsampleType == "cnn" || p.upsampleType == "cnn_blstm" else {
                    throw FunASRError(.invalidConfiguration, "\(c.path): predictor_conf.upsample_type '\(p.upsampleType)' is not supported (cnn or cnn_blstm)")
                }
            }
            guard p.idim == e.outputSize, p.lOrder >= 0, p.rOrder >= 0, p.upsampleTimes >= 1 else {
                throw FunASRError(.invalidConfiguration, "\(c.path): predictor_conf.idim (\(p.idim)) must equal encoder_conf.output_size (\(e.outputSize)), l_order/r_order ≥ 0, upsample_times ≥ 1")
            }
            if (try c.double("model_conf.ctc_weight", default: 0.0)) >= 1.0 {
                throw FunASRError(.invalidConfiguration, "\(c.path): model_conf.ctc_weight is 1.0, which makes a CTC-only model without a decoder")
            }
            var f = FbankOptions()
            let fk = "frontend_conf."
            f.sampleRate = try c.int(fk + "fs", default: 16_000)
            f.window = try c.string(fk + "window", default: "hamming")
            f.melBins = try c.int(fk + "n_mels", default: 80)
            f.frameLengthMs = try c.double(fk + "frame_length", default: 25)
            f.frameShiftMs = try c.double(fk + "frame_shift", default: 10)
            guard f.sampleRate == 16_000 else {
                throw FunASRError(.invalidConfiguration, "\(c.path): frontend_conf.fs is \(f.sampleRate); Earshot feeds 16 kHz audio")
            }
            // dither: FunASR's WavFrontend defaults to 1.0 when the key is absent (old Paraformer configs), the
            // C++ runtime hard-codes 0; Earshot never dithers, so the value is ignored (reference/funasr.md §2.2).
            fbank = f
            lfrM = try c.int(fk + "lfr_m", default: 1)
            lfrN = try c.int(fk + "lfr_n", default: 1)
            e.inputSize = f.melBins * lfrM
            guard e.outputSize > 0, e.attentionHeads > 0, e.outputSize % e.attentionHeads == 0, e.numBlocks >= 1,
                  e.kernelSize >= 1, e.sanmShift >= 0, (e.kernelSize - 1) / 2 + e.sanmShift <= e.kernelSize - 1 else {
                throw FunASRError(.invalidConfiguration, "\(c.path): encoder_conf output_size \(e.outputSize) / attention_heads \(e.attentionHeads) / num_blocks \(e.numBlocks) / kernel_size \(e.kernelSize) / sanm_shfit \(e.sanmShift) do not describe a SAN-M encoder")
            }
            encoder = e
            decoder = d
            predictor = p
            if kind == .seacoParaformer {
                var h = SeacoConfig()
                h.innerDim = try c.int("model_conf.inner_dim", default: 256)
                h.noBiasID = try c.int("model_conf.NO_BIAS", default: 8377)
                let biasType = try c.string("model_conf.bias_encoder_type", default: "lstm")
                guard biasType == "lstm", !(try c.bool("model_conf.bias_encoder_bid", default: false)) else {
                    throw FunASRError(.invalidConfiguration, "\(c.path): model_conf.bias_encoder_type '\(biasType)' / bias_encoder_bid: only a unidirectional LSTM bias encoder (paraformer-zh's) is supported")
                }
                guard h.innerDim == e.outputSize else {
                    throw FunASRError(.invalidConfiguration, "\(c.path): model_conf.inner_dim (\(h.innerDim)) must equal encoder_conf.output_size (\(e.outputSize)): hotwords are embedded with the decoder's table")
                }
                let seacoClass = try c.string("seaco_decoder", default: "ParaformerSANMDecoder")
                guard seacoClass == "ParaformerSANMDecoder" else {
                    throw FunASRError(.model, "\(c.path): seaco_decoder '\(seacoClass)' is not supported (only ParaformerSANMDecoder)")
                }
                h.decoder = try Self.decoderConfig(c, "seaco_decoder_conf.", width: h.innerDim)
                seaco = h
            }
            blankID = try c.int("model_conf.blank_id", default: 0)
            sosID = try c.int("model_conf.sos", default: 1)
            eosID = try c.int("model_conf.eos", default: 2)
        } catch {
            throw FunASRError.readingConfiguration(c.path, error)
        }
    }
}
