import CEarshotKernels

/// int8 weights of a linear layer packed once, at load time, into the layout the int8 GEMM streams:
/// `[⌈outputs/16⌉][⌈inputs/4⌉][16][4]` bytes (16 output rows × 4 inputs per 64-byte step), plus per-row
/// scales and the VNNI compensation terms `128·Σₖ q[n,k]`.
///
/// Convention (CTranslate2): `W[n,k] ≈ q[n,k] / scales[n]`, `scales[n] = 127 / max|W[n,:]|`.
/// The object owns its memory; `byteCount` is what it occupies.
public final class PackedInt8Weights: @unchecked Sendable {
    /// Output features (`N`).
    public let outputs: Int
    /// Input features (`K`).
    public let inputs: Int
    /// `inputs` rounded up to a multiple of 4 (the row stride of quantized activations).
    public let paddedInputs: Int
    /// Packed values.
    public let data: UnsafePointer<Int8>
    /// `128·Σₖ q[n,k]` per output row (padded to a multiple of 16 rows).
    public let compensation: UnsafePointer<Int32>
    /// Per-output-row scales (`q ≈ W·scale`).
    public let scales: UnsafePointer<Float>
    private let block: UnsafeMutableRawPointer
    /// Bytes owned: packed values, compensation terms and scales.
    public let byteCount: Int

    /// Packs already-quantized rows `values[outputs][inputs]` with their per-row `scales`.
    public init(int8Rows values: UnsafePointer<Int8>, scales: UnsafePointer<Float>, outputs: Int, inputs: Int) {
        precondition(outputs > 0 && inputs > 0, "packed int8 weights need at least one row and one column")
        self.outputs = outputs
        self.inputs = inputs
        paddedInputs = (inputs + 3) / 4 * 4
        let paddedRows = (outputs + 15) / 16 * 16
        let dataBytes = ek_i8_packed_bytes(outputs, inputs)
        let compOffset = dataBytes
        let scaleOffset = compOffset + paddedRows * 4
        byteCount = scaleOffset + outputs * 4
        block = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        let d = block.bindMemory(to: Int8.self, capacity: dataBytes)
        let c = (block + compOffset).bindMemory(to: Int32.self, capacity: paddedRows)
        let s = (block + scaleOffset).bindMemory(to: Float.self, capacity: outputs)
        ek_i8_pack(values, outputs, inputs, inputs, d, c)
        s.update(from: scales, count: outputs)
        data = UnsafePointer(d)
        compensation = UnsafePointer(c)
        self.scales = UnsafePointer(s)
    }

    /// Writes row `row` dequantized, `q · (1/scale)` (CTranslate2's int8 embedding lookup), into `out`
    /// (`inputs` values).
    public func dequantizeRow(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < outputs, "row \(row) out of range 0..<\(outputs)")
        ek_i8_unpack_row(data, inputs, row, scales[row], out)
    }

    /// Quantizes fp32 rows `w[outputs][inputs]` per row (`round_half_even(w · 127/max|row|)`, CTranslate2's
    /// load-time rule) and packs them.
    public convenience init(float32Rows w: UnsafePointer<Float>, outputs: Int, inputs: Int) {
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: outputs * inputs)
        let s = UnsafeMutablePointer<Float>.allocate(capacity: outputs)
        defer { q.deallocate(); s.deallocate() }
        ek_i8_quantize_weight_rows(ek_level(), w, outputs, inputs, inputs, q, inputs, s)
        self.init(int8Rows: q, scales: s, outputs: outputs, inputs: inputs)
    }

    /// Widens fp16 rows (IEEE half bit patterns) one at a time, quantizes them per row and packs them
    /// (CTranslate2 quantizes an fp16 checkpoint the same way: widen to fp32, then quantize).
    public convenience init(float16Rows w: UnsafePointer<UInt16>, outputs: Int, inputs: Int) {
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: outputs * inputs)
        let s = UnsafeMutablePointer<Float>.allocate(capacity: outputs)
        let row = UnsafeMutablePointer<Float>.allocate(capacity: inputs)
        defer { q.deallocate(); s.deallocate(); row.deallocate() }
        let level = ek_level()
        for r in 0..<outputs {
            ek_half_to_float(level, w + r * inputs, row, inputs)
            ek_i8_quantize_weight_rows(level, row, 1, inputs, inputs, q + r * inputs, inputs, s + r)
        }
        self.init(int8Rows: q, scales: s, outputs: outputs, inputs: inputs)
    }

    deinit { block.deallocate() }
}
