import EarshotTensor

/// An owned, aligned allocation that backs a ``WeightMatrix`` when the stored bytes cannot be used in place
/// (a dtype that has to be widened, or a payload that is not aligned for its element type).
public final class CTranslate2OwnedBuffer: @unchecked Sendable {
    /// The allocation.
    public let pointer: UnsafeMutableRawPointer
    /// Its size in bytes.
    public let byteCount: Int

    init(byteCount: Int, alignment: Int = 64) {
        self.byteCount = byteCount
        self.pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: alignment)
    }

    deinit { pointer.deallocate() }
}

extension CTranslate2Checkpoint {
    /// Returns a linear layer's weight as a ``WeightMatrix`` of `outputs × inputs`.
    ///
    /// Rank-2 tensors map directly; rank-3 convolution weights `[out, in, k]` are viewed as
    /// `[out, in*k]`. Storage by dtype:
    /// - float32 / float16: point into the mapping, zero-copy. `model.bin` has no padding, so the pointer is
    ///   often NOT aligned to the element size (in the real Whisper models most fp16 tensors start at odd
    ///   offsets); consumers must load with unaligned loads (as the C kernels' `loadu` paths do). Pass
    ///   `copyIfMisaligned: true` to get an aligned private copy instead;
    /// - int8: requires `<name>_scale` (per output row, or one scalar) and yields `.int8(values:scales:)`;
    /// - int16: requires a scalar `<name>_scale`; widened to float32 (`value / scale`) in an owned allocation;
    /// - bfloat16: widened to float32 in an owned allocation.
    ///
    /// `owner` keeps the mapping (or the allocation) alive.
    /// - Parameter expectedShape: if given, the stored shape must equal it (or, for rank-3 tensors, the
    ///   flattened `[out, in*k]`), else `.shapeMismatch`.
    /// - Parameter copyIfMisaligned: copy float32/float16 payloads whose address is not a multiple of the
    ///   element size into an aligned allocation (default `false`: always zero-copy).
    /// - Throws: `CheckpointError` `.missingTensor`, `.shapeMismatch`, `.dtypeMismatch`.
    public func weightMatrix(_ name: String, expectedShape: [Int]? = nil,
                             copyIfMisaligned: Bool = false) throws(CheckpointError) -> WeightMatrix {
        let v = try require(name)
        guard v.shape.count == 2 || v.shape.count == 3 else {
            throw CheckpointError(.shapeMismatch, path: modelPath, tensor: name,
                                  message: "expected a matrix (rank 2, or rank 3 for a convolution), found shape \(v.shape)")
        }
        let outputs = v.shape[0]
        let inputs = v.shape.dropFirst().reduce(1, *)
        if let expectedShape, expectedShape != v.shape, expectedShape != [outputs, inputs] {
            throw CheckpointError(.shapeMismatch, path: modelPath, tensor: name,
                                  message: "expected shape \(expectedShape), found \(v.shape)")
        }
        guard outputs > 0 && inputs > 0 else {
            throw CheckpointError(.shapeMismatch, path: modelPath, tensor: name,
                                  message: "empty matrix of shape \(v.shape)")
        }
        let count = outputs * inputs
        switch v.dtype {
        case .float32:
            let (pointer, owner) = storage(v, alignment: copyIfMisaligned ? 4 : 1)
            return WeightMatrix(outputs: outputs, inputs: inputs,
                                storage: .float32(pointer.assumingMemoryBound(to: Float.self)), owner: owner)
        case .float16:
            let (pointer, owner) = storage(v, alignment: copyIfMisaligned ? 2 : 1)
            return WeightMatrix(outputs: outputs, inputs: inputs,
                                storage: .float16(pointer.assumingMemoryBound(to: UInt16.self)), owner: owner)
        case .bfloat16:
            let buffer = CTranslate2OwnedBuffer(byteCount: count * 4)
            let out = buffer.pointer.bindMemory(to: Float.self, capacity: count)
            CT2Convert.widen(v, into: out)
            return WeightMatrix(outputs: outputs, inputs: inputs, storage: .float32(out), owner: buffer)
        case .int8:
            let scales = try quantizationScales(for: name, rows: outputs)
            // Values and scales share one allocation only if one of them must be copied.
            if let mapped = scales.mapped, Int(bitPattern: mapped) % 4 == 0 {
                return WeightMatrix(outputs: outputs, inputs: inputs,
                                    storage: .int8(values: v.bytes.baseAddress!.assumingMemoryBound(to: Int8.self),
                                                   scales: mapped),
                                    owner: file)
            }
            let buffer = CTranslate2OwnedBuffer(byteCount: outputs * 4)
            let out = buffer.pointer.bindMemory(to: Float.self, capacity: outputs)
            out.initialize(from: scales.values, count: outputs)
            let owner = CT2CompositeOwner(file, buffer)
            return WeightMatrix(outputs: outputs, inputs: inputs,
                                storage: .int8(values: v.bytes.baseAddress!.assumingMemoryBound(to: Int8.self),
                                               scales: UnsafePointer(out)),
                                owner: owner)
        case .int16:
            let scaleName = name + "_scale"
            let scale = try floats(scaleName)
            guard scale.count == 1, scale[0] != 0, scale[0].isFinite else {
                throw CheckpointError(.shapeMismatch, path: modelPath, tensor: scaleName,
                                      message: "an int16 weight needs one non-zero scalar scale, found \(scale.count) values")
            }
            let buffer = CTranslate2OwnedBuffer(byteCount: count * 4)
            let out = buffer.pointer.bindMemory(to: Float.self, capacity: count)
            let inverse = 1 / scale[0]
            for i in 0..<count {
                let raw = v.bytes.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)
                out[i] = Float(Int16(littleEndian: raw)) * inverse
            }
            return WeightMatrix(outputs: outputs, inputs: inputs, storage: .float32(out), owner: buffer)
        case .int32, .int64:
            throw CheckpointError(.dtypeMismatch, path: modelPath, tensor: name,
                                  message: "a weight matrix must be float32, float16, bfloat16, int8 or int16, found \(v.dtype)")
        }
    }

    /// Copies a tensor of any floating-point dtype (float32, float16, bfloat16) to `[Float]`; for biases,
    /// layer norms, position tables and scales.
    /// - Parameter expectedCount: if given, the element count must equal it, else `.shapeMismatch`.
    /// - Throws: `CheckpointError` `.missingTensor`, `.shapeMismatch`, `.dtypeMismatch` (integer tensors).
    public func floats(_ name: String, expectedCount: Int? = nil) throws(CheckpointError) -> [Float] {
        let v = try require(name)
        if let expectedCount, expectedCount != v.count {
            throw CheckpointError(.shapeMismatch, path: modelPath, tensor: name,
                                  message: "expected \(expectedCount) elements, found shape \(v.shape) (\(v.count) elements)")
        }
        switch v.dtype {
        case .float32, .float16, .bfloat16:
            return [Float](unsafeUninitializedCapacity: v.count) { buffer, initialized in
                CT2Convert.widen(v, into: buffer.baseAddress!)
                initialized = v.count
            }
        default:
            throw CheckpointError(.dtypeMismatch, path: modelPath, tensor: name,
                                  message: "expected a floating-point tensor (float32, float16 or bfloat16), found \(v.dtype)")
        }
    }

    /// Reads a scalar integer attribute (rank 0, or a single element) stored as int8, int16 or int32, such
    /// as `encoder/num_heads`.
    /// - Throws: `CheckpointError` `.missingTensor`, `.shapeMismatch` (more than one element),
    ///   `.dtypeMismatch` (floating-point tensor).
    public func scalar(_ name: String) throws(CheckpointError) -> Int {
        let v = try require(name)
        guard v.count == 1 else {
            throw CheckpointError(.shapeMismatch, path: modelPath, tensor: name,
                                  message: "expected a scalar, found shape \(v.shape)")
        }
        switch v.dtype {
        case .int8: return Int(v.bytes.load(as: Int8.self))
        case .int16: return Int(Int16(littleEndian: v.bytes.loadUnaligned(as: Int16.self)))
        case .int32: return Int(Int32(littleEndian: v.bytes.loadUnaligned(as: Int32.self)))
        default:
            throw CheckpointError(.dtypeMismatch, path: modelPath, tensor: name,
                                  message: "expected an integer scalar (int8, int16 or int32), found \(v.dtype)")
        }
    }

    /// The payload address if aligned to `alignment`, else an aligned copy; plus the object that owns it.
    private func storage(_ v: CTranslate2Variable, alignment: Int) -> (UnsafeRawPointer, AnyObject) {
        let base = v.bytes.baseAddress!
        if Int(bitPattern: base) % alignment == 0 { return (base, file) }
        let buffer = CTranslate2OwnedBuffer(byteCount: v.bytes.count)
        buffer.pointer.copyMemory(from: base, byteCount: v.bytes.count)
        return (UnsafeRawPointer(buffer.pointer), buffer)
    }

    /// The per-row scales of an int8 weight: a pointer into the mapping when stored as aligned float32,
    /// otherwise widened values.
    private func quantizationScales(for name: String, rows: Int) throws(CheckpointError)
        -> (mapped: UnsafePointer<Float>?, values: [Float]) {
        let scaleName = name + "_scale"
        guard let s = variable(scaleName) else {
            throw CheckpointError(.missingTensor, path: modelPath, tensor: scaleName,
                                  message: "int8 weight '\(name)' has no quantization scale")
        }
        if s.count == rows && s.dtype == .float32 {
            let base = s.bytes.baseAddress!
            if Int(bitPattern: base) % 4 == 0 { return (base.assumingMemoryBound(to: Float.self), []) }
        }
        let values = try floats(scaleName)
        if values.count == rows { return (nil, values) }
        if values.count == 1 { return (nil, [Float](repeating: values[0], count: rows)) }
        throw CheckpointError(.shapeMismatch, path: modelPath, tensor: scaleName,
                              message: "expected \(rows) per-row scales (or one), found \(values.count)")
    }
}

/// Keeps two objects alive together (the mapping and an allocation).
final class CT2CompositeOwner: @unchecked Sendable {
    let first: AnyObject
    let second: AnyObject
    init(_ first: AnyObject, _ second: AnyObject) {
        self.first = first
        self.second = second
    }
}

/// Element-type widening to float32 (portable scalar code; used at load time only).
enum CT2Convert {
    /// Widens a float32/float16/bfloat16 tensor into `out` (which holds `v.count` floats).
    static func widen(_ v: CTranslate2Variable, into out: UnsafeMutablePointer<Float>) {
        let n = v.count
        switch v.dtype {
        case .float32:
            for i in 0..<n {
                out[i] = Float(bitPattern: UInt32(littleEndian: v.bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        case .float16:
            for i in 0..<n {
                out[i] = halfToFloat(UInt16(littleEndian: v.bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .bfloat16:
            for i in 0..<n {
                let bits = UInt16(littleEndian: v.bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                out[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        default:
            preconditionFailure("widen called on \(v.dtype)")
        }
    }

    /// IEEE 754 binary16 → binary32, exact (including subnormals, infinities and NaN).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            // Subnormal: value = mantissa × 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
