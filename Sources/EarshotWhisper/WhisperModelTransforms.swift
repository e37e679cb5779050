import EarshotCheckpoint
import EarshotTensor
import Foundation

/// Whisper-aware model rewriting for `earshot quantize` and `earshot prune`: checks a CTranslate2 Whisper
/// checkpoint against the dimensions its own tensors imply, converts weight types with CTranslate2's rules
/// (``CTranslate2Quantizer``), and drops encoder/decoder layers. The output is a CTranslate2 directory that
/// CTranslate2 / faster-whisper load as they load a converter's output.
public enum WhisperModelTransforms {
    /// Which layers `prune` keeps.
    public enum LayerSelection: String, CaseIterable, Sendable {
        /// Layers 0..<K (the default).
        case first
        /// K layers spread evenly over the stack, always including the first and the last.
        case spread

        /// The kept indices (ascending) out of `total` layers.
        public func indices(keep k: Int, of total: Int) -> [Int] {
            switch self {
            case .first: return Array(0..<k)
            case .spread:
                if k == 1 { return [0] }
                return (0..<k).map { i in Int((Double(i * (total - 1)) / Double(k - 1)).rounded()) }
            }
        }
    }

    /// Checks every tensor's shape and dtype against the dimensions of the model (width, heads, layer counts,
    /// vocabulary, contexts), and `config.json`'s `alignment_heads` against the decoder's layers and heads.
    /// - Throws: `CheckpointError` naming the first tensor that disagrees.
    public static func validate(_ c: CTranslate2Checkpoint) throws(CheckpointError) -> WhisperDimensions {
        guard c.specName == "WhisperSpec" else {
            throw CheckpointError(.notAModel, path: c.modelPath,
                                  message: "not a Whisper model: spec is '\(c.specName)', expected WhisperSpec")
        }
        let dims = try WhisperDimensions(checkpoint: c)
        let expected = expectedShapes(dims)
        for (name, shape) in expected.sorted(by: { $0.key < $1.key }) {
            guard let v = c.variable(name) else {
                throw CheckpointError(.missingTensor, path: c.modelPath, tensor: name,
                                      message: "missing; the model's other tensors imply \(dims.encoderLayers) encoder and \(dims.decoderLayers) decoder layers of width \(dims.width)")
            }
            if shape.isEmpty {
                guard v.shape.isEmpty || v.count == 1, [.int8, .int16, .int32].contains(v.dtype) else {
                    throw CheckpointError(.dtypeMismatch, path: c.modelPath, tensor: name,
                                          message: "expected an integer scalar, found \(v.dtype) of shape \(v.shape)")
                }
                continue
            }
            guard v.shape == shape else {
                throw CheckpointError(.shapeMismatch, path: c.modelPath, tensor: name,
                                      message: "expected shape \(shape) (width \(dims.width), ffn \(dims.ffnWidth), vocabulary \(dims.vocabularySize)), found \(v.shape)")
            }
            let quantizable = CTranslate2Quantizer.isQuantizable(name)
            switch v.dtype {
            case .float32, .float16, .bfloat16:
                break
            case .int8 where quantizable, .int16 where quantizable:
                guard let scale = c.variable(name + "_scale") else {
                    throw CheckpointError(.missingTensor, path: c.modelPath, tensor: name + "_scale",
                                          message: "\(v.dtype) weight '\(name)' has no quantization scale")
                }
                let rows = v.dtype == .int8 ? [shape[0]] : []
                guard scale.dtype == .float32, scale.shape == rows || scale.count == 1 else {
                    throw CheckpointError(.shapeMismatch, path: c.modelPath, tensor: name + "_scale",
                                          message: "expected float32 scales of shape \(rows), found \(scale.dtype) \(scale.shape)")
                }
            default:
                throw CheckpointError(.dtypeMismatch, path: c.modelPath, tensor: name,
                                      message: "expected a floating-point tensor\(quantizable ? " (or int8/int16 with a _scale)" : ""), found \(v.dtype)")
            }
        }
        if let heads = try alignmentHeads(c) {
            for pair in heads where !(0..<dims.decoderLayers ~= pair.layer) || !(0..<dims.decoderHeads ~= pair.head) {
                throw CheckpointError(.invalidConfiguration, path: CTranslate2DirectoryPath.config(c),
                                      message: "alignment_heads entry [\(pair.layer), \(pair.head)] is outside the decoder's \(dims.decoderLayers) layers × \(dims.decoderHeads) heads")
            }
        }
        return dims
    }

    /// Every tensor a `WhisperSpec` model of these dimensions holds, with its shape ([] for a scalar).
    public static func expectedShapes(_ d: WhisperDimensions) -> [String: [Int]] {
        let w = d.width, f = d.ffnWidth
        var s: [String: [Int]] = [
            "encoder/conv1/weight": [w, d.melBands, 3], "encoder/conv1/bias": [w],
            "encoder/conv2/weight": [w, w, 3], "encoder/conv2/bias": [w],
            "encoder/position_encodings/encodings": [d.audioContext, w],
            "encoder/layer_norm/gamma": [w], "encoder/layer_norm/beta": [w],
            "encoder/num_heads": [], "decoder/num_heads": [],
            "decoder/embeddings/weight": [d.vocabularySize, w],
            "decoder/position_encodings/encodings": [d.textContext, w],
            "decoder/layer_norm/gamma": [w], "decoder/layer_norm/beta": [w],
        ]
        func linear(_ p: String, _ out: Int, _ inp: Int) {
            s[p + "/weight"] = [out, inp]
            s[p + "/bias"] = [out]
        }
        func norm(_ p: String) {
            s[p + "/gamma"] = [w]
            s[p + "/beta"] = [w]
        }
        for i in 0..<d.encoderLayers {
            let p = "encoder/layer_\(i)"
            norm(p + "/self_attention/layer_norm")
            linear(p + "/self_attention/linear_0", 3 * w, w)
            linear(p + "/self_attention/linear_1", w, w)
            norm(p + "/ffn/layer_norm")
            linear(p + "/ffn/linear_0", f, w)
            linear(p + "/ffn/linear_1", w, f)
        }
        for i in 0..<d.decoderLayers {
            let p = "decoder/layer_\(i)"
            norm(p + "/self_attention/layer_norm")
            linear(p + "/self_attention/linear_0", 3 * w, w)
            linear(p + "/self_attention/linear_1", w, w)
            norm(p + "/attention/layer_norm")
            linear(p + "/attention/linear_0", w, w)
            linear(p + "/attention/linear_1", 2 * w, w)
            linear(p + "/attention/linear_2", w, w)
            norm(p + "/ffn/layer_norm")
            linear(p + "/ffn/linear_0", f, w)
            linear(p + "/ffn/linear_1", w, f)
        }
        return s
    }

    /// Writes `source` converted to `type` into the directory `output` (CTranslate2 layout; sidecar files copied).
    public static func quantize(_ source: CTranslate2Checkpoint, to type: CTranslate2Quantization,
                                output: String) throws(CheckpointError) {
        _ = try validate(source)
        var writer = CTranslate2ModelWriter(specName: source.specName, specRevision: source.specRevision)
        try CTranslate2Quantizer.convert(source, to: type, into: &writer)
        for a in source.storedAliases { try writer.addAlias(a.alias, target: a.target) }
        try CTranslate2DirectoryWriter.write(writer, sidecarsFrom: source, to: output)
    }

    /// Writes `source` with only `encoderLayers` encoder and `decoderLayers` decoder layers (chosen by
    /// `selection`, renumbered `layer_0…`), everything else unchanged (tensor types included; combine with
    /// `quantize` to change them). `config.json`'s `alignment_heads` keeps the heads of kept decoder layers,
    /// renumbered; if none remain the key is removed (CTranslate2 then uses the last half of the layers).
    /// - Returns: the kept (encoder, decoder) layer indices of the source.
    @discardableResult
    public static func prune(_ source: CTranslate2Checkpoint, encoderLayers: Int?, decoderLayers: Int?,
                             selection: LayerSelection = .first,
                             output: String) throws(CheckpointError) -> (encoder: [Int], decoder: [Int]) {
        let dims = try validate(source)
        func pick(_ k: Int?, _ total: Int, _ what: String) throws(CheckpointError) -> [Int] {
            let k = k ?? total
            guard (1...total).contains(k) else {
                throw CheckpointError(.invalidConfiguration, path: source.modelPath,
                                      message: "cannot keep \(k) \(what) layers: the model has \(total) (choose 1...\(total))")
            }
            return selection.indices(keep: k, of: total)
        }
        let keptEncoder = try pick(encoderLayers, dims.encoderLayers, "encoder")
        let keptDecoder = try pick(decoderLayers, dims.decoderLayers, "decoder")
        let encoderMap = Dictionary(uniqueKeysWithValues: keptEncoder.enumerated().map { ($1, $0) })
        let decoderMap = Dictionary(uniqueKeysWithValues: keptDecoder.enumerated().map { ($1, $0) })
        func rename(_ name: String) -> String? {
            for (prefix, map) in [("encoder/layer_", encoderMap), ("decoder/layer_", decoderMap)] where name.hasPrefix(prefix) {
                let rest = name.dropFirst(prefix.count)
                guard let slash = rest.firstIndex(of: "/"), let old = Int(rest[..<slash]) else { return name }
                guard let new = map[old] else { return nil }
                return prefix + String(new) + String(rest[slash...])
            }
            return name
        }
        var writer = CTranslate2ModelWriter(specName: source.specName, specRevision: source.specRevision)
        for name in source.variableNames {
            guard let newName = rename(name) else { continue }
            try writer.add(CTranslate2TensorPayload(source.variable(name)!, of: source, name: newName))
        }
        for a in source.storedAliases {
            guard let alias = rename(a.alias), let target = rename(a.target) else { continue }
            try writer.addAlias(alias, target: target)
        }
        var config: [UInt8]?
        if let json = source.configJSON,
           var object = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any],
           let heads = try alignmentHeads(source) {
            let kept = heads.compactMap { pair in decoderMap[pair.layer].map { [$0, pair.head] } }
            if kept.isEmpty { object.removeValue(forKey: "alignment_heads") } else { object["alignment_heads"] = kept }
            config = Array(PythonJSON.dump(object).utf8)
        }
        try CTranslate2DirectoryWriter.write(writer, sidecarsFrom: source, to: output, configJSON: config)
        return (keptEncoder, keptDecoder)
    }

    /// `config.json`'s `alignment_heads` as (layer, head) pairs, or nil if absent.
    static func alignmentHeads(_ c: CTranslate2Checkpoint) throws(CheckpointError) -> [(layer: Int, head: Int)]? {
        guard let json = c.configJSON else { return nil }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] else {
            throw CheckpointError(.invalidConfiguration, path: CTranslate2DirectoryPath.config(c),
                                  message: "config.json is not a JSON object")
        }
        guard let raw = object["alignment_heads"], !(raw is NSNull) else { return nil }
        guard let list = raw as? [[Any]] else {
            throw CheckpointError(.invalidConfiguration, path: CTranslate2DirectoryPath.config(c),
                                  message: "alignment_heads must be a list of [layer, head] pairs")
        }
        var out: [(layer: Int, head: Int)] = []
        for pair in list {
            guard pair.count == 2, let l = pair[0] as? Int, let h = pair[1] as? Int else {
                throw CheckpointError(.invalidConfiguration, path: CTranslate2DirectoryPath.config(c),
                                      message: "alignment_heads must be a list of [layer, head] integer pairs")
            }
            out.append((l, h))
        }
        return out
    }
}

enum CTranslate2DirectoryPath {
    static func config(_ c: CTranslate2Checkpoint) -> String {
        c.directory.hasSuffix("/") ? c.directory + "config.json" : c.directory + "/config.json"
    }
}

/// JSON text as Python's `json.dump(obj, f, indent=2, sort_keys=True)` followed by a newline (what
/// CTranslate2's `ModelConfig.save_as_json` writes).
enum PythonJSON {
    static func dump(_ value: Any) -> String { encode(value, indent: 0) + "\n" }

    static func encode(_ value: Any, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent + 2), close = String(repeating: " ", count: indent)
        switch value {
        case let d as [String: Any]:
            if d.isEmpty { return "{}" }
            let items = d.keys.sorted().map { pad + string($0) + ": " + encode(d[$0]!, indent: indent + 2) }
            return "{\n" + items.joined(separator: ",\n") + "\n" + close + "}"
        case let a as [Any]:
            if a.isEmpty { return "[]" }
            return "[\n" + a.map { pad + encode($0, indent: indent + 2) }.joined(separator: ",\n") + "\n" + close + "]"
        case let s as String: return string(s)
        case is NSNull: return "null"
        case let n as NSNumber:
            if let i = n as? Int, Double(i) == n.doubleValue { return String(i) }
            return "\(n.doubleValue)"
        case let i as Int: return String(i)
        case let b as Bool: return b ? "true" : "false"
        case let x as Double: return "\(x)"
        default: return "null"
        }
    }

    static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value > 0x7E {
                    if u.value > 0xFFFF {
                        let v = u.value - 0x10000
                        out += String(format: "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                    } else {
                        out += String(format: "\\u%04x", u.value)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
