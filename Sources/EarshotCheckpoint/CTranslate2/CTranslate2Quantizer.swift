import EarshotTensor

/// A weight type CTranslate2 models can be converted to, with CTranslate2's own names
/// (`ACCEPTED_MODEL_TYPES` in `python/ctranslate2/specs/model_spec.py`). The ones this converter writes are
/// the ones Earshot runs natively; `int16` and `bfloat16` are refused with the list of supported types.
public enum CTranslate2Quantization: String, CaseIterable, Sendable {
    /// Weights int8 with per-row float32 scales; other floating-point tensors keep their stored type.
    case int8
    /// Weights int8; other floating-point tensors float32.
    case int8Float32 = "int8_float32"
    /// Weights int8; other floating-point tensors float16.
    case int8Float16 = "int8_float16"
    /// Every floating-point tensor float16.
    case float16
    /// Every floating-point tensor float32.
    case float32

    /// Accepts CTranslate2's names plus `fp16` / `fp32`.
    public init(name: String) throws(CheckpointError) {
        switch name.lowercased() {
        case "fp16": self = .float16
        case "fp32": self = .float32
        default:
            guard let known = CTranslate2Quantization(rawValue: name.lowercased()) else {
                throw CheckpointError(.invalidConfiguration, path: name,
                                      message: "unsupported quantization type '\(name)'; supported: \(Self.supportedList)")
            }
            self = known
        }
    }

    /// "int8, int8_float32, int8_float16, float16 (fp16), float32 (fp32)".
    public static var supportedList: String {
        allCases.map { q in
            switch q {
            case .float16: return "float16 (fp16)"
            case .float32: return "float32 (fp32)"
            default: return q.rawValue
            }
        }.joined(separator: ", ")
    }

    /// Whether weights (linear, convolution, embedding) become int8.
    public var quantizesWeights: Bool { self == .int8 || self == .int8Float32 || self == .int8Float16 }

    /// The type other floating-point tensors are cast to (`nil`: keep the stored type).
    var otherFloatType: DType? {
        switch self {
        case .int8: return nil
        case .int8Float32, .float32: return .float32
        case .int8Float16, .float16: return .float16
        }
    }
}

/// Applies CTranslate2's `LayerSpec._quantize` to the tensors of a checkpoint.
///
/// Rules, as in ctranslate2 4.x `model_spec.py`:
/// - "quantizable" tensors are those whose spec has a `<key>_scale` attribute: `LinearSpec`, `Conv1DSpec`
///   and `EmbeddingsSpec` — i.e. every tensor whose last name component is `weight` (norms use
///   `gamma`/`beta`, position tables `encodings`). Aliases are not visited (the alias target is converted);
/// - int8: the weight as float32, conv weights `[out, in, k]` viewed as `[out, in·k]`;
///   `amax = max|W_row|` (0 → 127; at least `127 / FLT_MAX`), `scale = 127 / amax` (float32),
///   `rint(W · scale)` (round half to even) as int8, plus `<name>_scale` float32 `[out]`;
/// - float16 / float32: quantizable tensors are cast to that type;
/// - other float32/float16/bfloat16 tensors: cast to float16 for `float16`/`int8_float16`, float32 for
///   `float32`/`int8_float32`, left as stored for `int8`; scalars and integer tensors are copied.
///
/// For float inputs the result is bit-identical to what the Python converter writes for the same values.
/// Where Python would misread an already-quantized input (it casts int8 values to float ignoring the
/// scale), this one dequantizes first (`value / scale`), or copies int8 weights and scales unchanged when the
/// target is int8 again.
public enum CTranslate2Quantizer {
    /// Whether CTranslate2 would quantize a tensor of this name.
    public static func isQuantizable(_ name: String) -> Bool {
        name == "weight" || name.hasSuffix("/weight")
    }

    /// Converts every stored tensor of `checkpoint` (renamed through `rename`, which returns `nil` to drop a
    /// tensor) into `writer`. `_scale` companions of quantized weights are handled with their weight.
    public static func convert(_ checkpoint: CTranslate2Checkpoint, to type: CTranslate2Quantization,
                               into writer: inout CTranslate2ModelWriter,
                               rename: (String) -> String? = { $0 }) throws(CheckpointError) {
        let names = Set(checkpoint.variableNames)
        for name in checkpoint.variableNames {
            // A scale is written together with its weight.
            if name.hasSuffix("_scale"), isQuantizable(String(name.dropLast(6))), names.contains(String(name.dropLast(6))) {
                continue
            }
            guard let newName = rename(name) else { continue }
            for t in try convert(name, of: checkpoint, to: type, as: newName) { try writer.add(t) }
        }
    }

    /// Converts one stored tensor (and, for a quantized weight, its `_scale`).
    public static func convert(_ name: String, of c: CTranslate2Checkpoint, to type: CTranslate2Quantization,
                               as newName: String) throws(CheckpointError) -> [CTranslate2TensorPayload] {
        let v = try c.require(name)
        let isFloat = v.dtype == .float32 || v.dtype == .float16 || v.dtype == .bfloat16
        if v.shape.isEmpty {
            return [CTranslate2TensorPayload(v, of: c, name: newName)]
        }
        if isQuantizable(name) {
            if type.quantizesWeights {
                if v.dtype == .int8, let scale = c.variable(name + "_scale"), scale.dtype == .float32 {
                    return [CTranslate2TensorPayload(v, of: c, name: newName),
                            CTranslate2TensorPayload(scale, of: c, name: newName + "_scale")]
                }
                let values = try weightValues(name, v, c)
                return quantizeInt8(values, shape: v.shape, name: newName)
            }
            let target: DType = type == .float16 ? .float16 : .float32
            if v.dtype == target { return [CTranslate2TensorPayload(v, of: c, name: newName)] }
            return [cast(try weightValues(name, v, c), shape: v.shape, to: target, name: newName)]
        }
        if isFloat, let target = type.otherFloatType, target != v.dtype {
            return [cast(try c.floats(name), shape: v.shape, to: target, name: newName)]
        }
        return [CTranslate2TensorPayload(v, of: c, name: newName)]
    }

    /// A weight's values as float32: floats widened exactly, int8/int16 divided by their scale.
    static func weightValues(_ name: String, _ v: CTranslate2Variable, _ c: CTranslate2Checkpoint) throws(CheckpointError) -> [Float] {
        switch v.dtype {
        case .float32, .float16, .bfloat16:
            return try c.floats(name)
        case .int8, .int16:
            let rows = v.shape[0]
            let m = try c.weightMatrix(name)
            var out = [Float](repeating: 0, count: v.count)
            let perRow = v.count / rows
            switch m.storage {
            case .int8(let values, let scales):
                for r in 0..<rows {
                    let s = scales[r]
                    for i in 0..<perRow { out[r * perRow + i] = Float(values[r * perRow + i]) / s }
                }
            case .float32(let p):
                for i in 0..<v.count { out[i] = p[i] }
            default:
                throw CheckpointError(.dtypeMismatch, path: c.modelPath, tensor: name,
                                      message: "cannot read \(v.dtype) weight values")
            }
            return out
        default:
            throw CheckpointError(.dtypeMismatch, path: c.modelPath, tensor: name,
                                  message: "a weight must be float32, float16, bfloat16, int8 or int16, found \(v.dtype)")
        }
    }

    /// CTranslate2's int8 rule (per output row; rank-3 convolution weights flattened to `[out, in·k]`).
    public static func quantizeInt8(_ values: [Float], shape: [Int], name: String) -> [CTranslate2TensorPayload] {
        let rows = shape[0]
        let perRow = rows == 0 ? 0 : values.count / rows
        let q = CTranslate2OwnedBuffer(byteCount: values.count)
        let s = CTranslate2OwnedBuffer(byteCount: rows * 4)
        let qp = q.pointer.bindMemory(to: Int8.self, capacity: values.count)
        let sp = s.pointer.bindMemory(to: Float.self, capacity: rows)
        let floor = Float(127) / Float.greatestFiniteMagnitude
        values.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                let row = w.baseAddress! + r * perRow
                var amax: Float = 0
                for i in 0..<perRow { amax = max(amax, abs(row[i])) }
                if amax == 0 { amax = 127 }
                amax = max(amax, floor)
                let scale = Float(127) / amax
                sp[r] = scale
                for i in 0..<perRow {
                    let x = (row[i] * scale).rounded(.toNearestOrEven)
                    qp[r * perRow + i] = Int8(clamping: Int(x))
                }
            }
        }
        return [CTranslate2TensorPayload(name: name, dtype: .int8, shape: shape,
                                         bytes: UnsafeRawBufferPointer(start: q.pointer, count: values.count), owner: q),
                CTranslate2TensorPayload(name: name + "_scale", dtype: .float32, shape: [rows],
                                         bytes: UnsafeRawBufferPointer(start: s.pointer, count: rows * 4), owner: s)]
    }

    /// Casts float32 values to float16 (round to nearest even, as numpy's `astype`) or stores them as float32.
    public static func cast(_ values: [Float], shape: [Int], to type: DType, name: String) -> CTranslate2TensorPayload {
        let n = values.count
        switch type {
        case .float16:
            let b = CTranslate2OwnedBuffer(byteCount: n * 2)
            let p = b.pointer.bindMemory(to: UInt16.self, capacity: n)
            for i in 0..<n { p[i] = Float16(values[i]).bitPattern.littleEndian }
            return CTranslate2TensorPayload(name: name, dtype: .float16, shape: shape,
                                            bytes: UnsafeRawBufferPointer(start: b.pointer, count: n * 2), owner: b)
        default:
            let b = CTranslate2OwnedBuffer(byteCount: n * 4)
            let p = b.pointer.bindMemory(to: UInt32.self, capacity: n)
            for i in 0..<n { p[i] = values[i].bitPattern.littleEndian }
            return CTranslate2TensorPayload(name: name, dtype: .float32, shape: shape,
                                            bytes: UnsafeRawBufferPointer(start: b.pointer, count: n * 4), owner: b)
        }
    }
}
