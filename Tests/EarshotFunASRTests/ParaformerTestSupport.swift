import Foundation
import Testing

/// Writes tiny random-weight Paraformer directories in FunASR's layout (config.yaml, am.mvn, tokens.json and a
/// torch.save-format model.pt with FunASR's state-dict names), for load-error tests and for properties that
/// hold for any weights (batched equals one at a time). Numerics against FunASR itself come from the oracle
/// fixtures (ParaformerOracleTests).
struct TinyParaformer {
    var modelClass = "Paraformer"
    var predictorClass = "CifPredictorV2"
    var d = 8, heads = 2, ffn = 16, encoderBlocks = 2, decoderBlocks = 2, kernel = 3, melBins = 8
    var tokens = ["<blank>", "<s>", "</s>", "a", "b@@", "c", "你", "好", "<unk>", "d"]
    /// Shape overrides by tensor name (to make a mismatching checkpoint).
    var shapeOverrides: [String: [Int]] = [:]
    var seed: UInt64 = 1
    /// Written before every key (a wrapped checkpoint: "state_dict.", "model.module." …).
    var keyPrefix = ""
    /// Scale of the uniform `predictor.cif_output` weights (how far the alpha logits spread).
    var cifScale: Float = 2

    var inputSize: Int { melBins * 7 }

    var configYAML: String {
        var s = """
        model: \(modelClass)
        model_conf:
            ctc_weight: 0.0
            predictor_bias: 1
        encoder: SANMEncoder
        encoder_conf:
            output_size: \(d)
            attention_heads: \(heads)
            linear_units: \(ffn)
            num_blocks: \(encoderBlocks)
            input_layer: pe
            pos_enc_class: SinusoidalPositionEncoder
            normalize_before: true
            kernel_size: \(kernel)
            sanm_shfit: 0
            selfattention_layer_type: sanm
        decoder: ParaformerSANMDecoder
        decoder_conf:
            attention_heads: \(heads)
            linear_units: \(ffn)
            num_blocks: \(decoderBlocks)
            att_layer_num: \(decoderBlocks)
            kernel_size: \(kernel)
            sanm_shfit: 0
        predictor: \(predictorClass)
        predictor_conf:
            idim: \(d)
            threshold: 1.0
            l_order: 1
            r_order: 1
            tail_threshold: 0.45

        """
        if predictorClass == "CifPredictorV3" {
            s += """
                smooth_factor2: 0.25
                noise_threshold2: 0.01
                upsample_times: 3
                use_cif1_cnn: false
                upsample_type: cnn_blstm

            """
        }
        if modelClass == "SeacoParaformer" {
            s += """
            seaco_decoder: ParaformerSANMDecoder
            seaco_decoder_conf:
                attention_heads: \(heads)
                linear_units: \(ffn)
                num_blocks: 2
                kernel_size: 5
                sanm_shfit: 0
                use_output_layer: false
                wo_input_layer: true

            """
            s = s.replacingOccurrences(of: "    predictor_bias: 1\n", with: "    predictor_bias: 1\n    inner_dim: \(d)\n    bias_encoder_type: lstm\n    bias_encoder_bid: false\n    NO_BIAS: \(tokens.count - 1)\n")
        }
        s += """
        frontend: WavFrontend
        frontend_conf:
            fs: 16000
            window: hamming
            n_mels: \(melBins)
            frame_length: 25
            frame_shift: 10
            lfr_m: 7
            lfr_n: 6
            dither: 0.0
        tokenizer: CharTokenizer

        """
        return s
    }

    /// Every tensor (name, shape) of the state dict, in FunASR's naming.
    var tensorShapes: [(String, [Int])] {
        var t: [(String, [Int])] = []
        func ln(_ p: String, _ w: Int) { t.append((p + ".weight", [w])); t.append((p + ".bias", [w])) }
        func lin(_ p: String, _ o: Int, _ i: Int, bias: Bool = true) {
            t.append((p + ".weight", [o, i])); if bias { t.append((p + ".bias", [o])) }
        }
        for b in 0..<encoderBlocks {
            let p = b == 0 ? "encoder.encoders0.0." : "encoder.encoders.\(b - 1)."
            let width = b == 0 ? inputSize : d
            ln(p + "norm1", width)
            lin(p + "self_attn.linear_q_k_v", 3 * d, width)
            t.append((p + "self_attn.fsmn_block.weight", [d, 1, kernel]))
            lin(p + "self_attn.linear_out", d, d)
            ln(p + "norm2", d)
            lin(p + "feed_forward.w_1", ffn, d)
            lin(p + "feed_forward.w_2", d, ffn)
        }
        ln("encoder.after_norm", d)
        t.append(("predictor.cif_conv1d.weight", [d, d, 3])); t.append(("predictor.cif_conv1d.bias", [d]))
        lin("predictor.cif_output", 1, d)
        if predictorClass == "CifPredictorV3" {
            t.append(("predictor.upsample_cnn.weight", [d, d, 3])); t.append(("predictor.upsample_cnn.bias", [d]))
            for s in ["", "_reverse"] {
                t.append(("predictor.blstm.weight_ih_l0" + s, [4 * d, d]))
                t.append(("predictor.blstm.weight_hh_l0" + s, [4 * d, d]))
                t.append(("predictor.blstm.bias_ih_l0" + s, [4 * d]))
                t.append(("predictor.blstm.bias_hh_l0" + s, [4 * d]))
            }
            lin("predictor.cif_output2", 1, 2 * d)
        }
        for b in 0..<decoderBlocks {
            let p = "decoder.decoders.\(b)."
            ln(p + "norm1", d); ln(p + "norm2", d); ln(p + "norm3", d)
            lin(p + "feed_forward.w_1", ffn, d); ln(p + "feed_forward.norm", ffn)
            lin(p + "feed_forward.w_2", d, ffn, bias: false)
            t.append((p + "self_attn.fsmn_block.weight", [d, 1, kernel]))
            lin(p + "src_attn.linear_q", d, d); lin(p + "src_attn.linear_k_v", 2 * d, d); lin(p + "src_attn.linear_out", d, d)
        }
        let p = "decoder.decoders3.0."
        ln(p + "norm1", d); lin(p + "feed_forward.w_1", ffn, d); ln(p + "feed_forward.norm", ffn)
        lin(p + "feed_forward.w_2", d, ffn, bias: false)
        ln("decoder.after_norm", d)
        lin("decoder.output_layer", tokens.count, d)
        if modelClass == "SeacoParaformer" {
            t.append(("decoder.embed.0.weight", [tokens.count, d]))
            for l in 0..<2 {
                t.append(("bias_encoder.weight_ih_l\(l)", [4 * d, d])); t.append(("bias_encoder.weight_hh_l\(l)", [4 * d, d]))
                t.append(("bias_encoder.bias_ih_l\(l)", [4 * d])); t.append(("bias_encoder.bias_hh_l\(l)", [4 * d]))
            }
            for b in 0..<6 {   // att_layer_num defaults to 6 in FunASR, above num_blocks 2
                let p = "seaco_decoder.decoders.\(b)."
                ln(p + "norm1", d); ln(p + "norm2", d); ln(p + "norm3", d)
                lin(p + "feed_forward.w_1", ffn, d); ln(p + "feed_forward.norm", ffn)
                lin(p + "feed_forward.w_2", d, ffn, bias: false)
                t.append((p + "self_attn.fsmn_block.weight", [d, 1, 5]))
                lin(p + "src_attn.linear_q", d, d); lin(p + "src_attn.linear_k_v", 2 * d, d); lin(p + "src_attn.linear_out", d, d)
            }
            let q = "seaco_decoder.decoders3.0."
            ln(q + "norm1", d); lin(q + "feed_forward.w_1", ffn, d); ln(q + "feed_forward.norm", ffn)
            lin(q + "feed_forward.w_2", d, ffn, bias: false)
            ln("seaco_decoder.after_norm", d)
            lin("hotword_output_layer", tokens.count, d)
        }
        return t.map { ($0.0, shapeOverrides[$0.0] ?? $0.1) }
    }

    /// model.pt bytes: an OrderedDict of fp32 tensors with seeded uniform values (LayerNorm weights near 1).
    func checkpoint() -> [UInt8] {
        var rng = SplitMix(seed: seed)
        var w = TorchArchiveWriter()
        w.op(0x7D); w.op(0x28)   // EMPTY_DICT, MARK
        for (name, shape) in tensorShapes {
            let count = shape.reduce(1, *)
            let isNormWeight = name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name.hasSuffix("norm3.weight")
                || name.hasSuffix("norm.weight")
            let scale: Float = name.contains("cif_output") ? cifScale : 0.5
            let values: [Float] = (0..<count).map { _ in
                let u = rng.uniform() * 2 - 1
                return isNormWeight ? 1 + 0.1 * u : scale * u
            }
            var strides = [Int](repeating: 1, count: shape.count)
            for i in stride(from: shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
            w.string(keyPrefix + name)
            w.tensor(className: "FloatStorage", count: count, bytes: values.flatMap { w.le($0.bitPattern) },
                     offset: 0, shape: shape, strides: strides)
        }
        w.op(0x75)   // SETITEMS
        return w.archive()
    }

    var amMVN: String {
        let dim = inputSize
        let shift = (0..<dim).map { _ in "-8.0" }.joined(separator: " ")
        let scale = (0..<dim).map { _ in "0.25" }.joined(separator: " ")
        return """
        <Nnet>
        <Splice> \(dim) \(dim)
        [ 0 ]
        <AddShift> \(dim) \(dim)
        <LearnRateCoef> 0 [ \(shift) ]
        <Rescale> \(dim) \(dim)
        <LearnRateCoef> 0 [ \(scale) ]
        </Nnet>

        """
    }

    /// Writes the directory; `omit` leaves files out.
    func write(omit: Set<String> = []) throws -> String {
        let dir = NSTemporaryDirectory() + "earshot-paraformer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func put(_ name: String, _ data: Data) throws {
            if !omit.contains(name) { try data.write(to: URL(fileURLWithPath: dir + "/" + name)) }
        }
        try put("config.yaml", Data(configYAML.utf8))
        try put("am.mvn", Data(amMVN.utf8))
        try put("tokens.json", try JSONSerialization.data(withJSONObject: tokens))
        try put("model.pt", Data(checkpoint()))
        return dir
    }
}

/// A small deterministic generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
