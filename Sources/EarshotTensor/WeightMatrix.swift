/// A read-only weight matrix of a linear layer, `outputs × inputs` (PyTorch's `Linear.weight` layout:
/// one row per output feature), in whichever precision it is kept in memory.
///
/// The storage usually points into a memory-mapped checkpoint; `owner` keeps that mapping (or an
/// allocation made at load time) alive for as long as the matrix exists.
public struct WeightMatrix: @unchecked Sendable {
    /// How the elements are stored.
    public enum Storage {
        /// fp32, row-major `[outputs][inputs]`.
        case float32(UnsafePointer<Float>)
        /// IEEE half bit patterns, row-major `[outputs][inputs]`; kernels widen to fp32 on the fly.
        case float16(UnsafePointer<UInt16>)
        /// Symmetric per-output-row int8: `W[n,k] ≈ values[n,k] / scales[n]` (CTranslate2's convention,
        /// `scale = 127 / max|W[n,:]|`). Kernels repack this on every call; prefer `.packedInt8`.
        case int8(values: UnsafePointer<Int8>, scales: UnsafePointer<Float>)
        /// int8 weights already in the int8 kernel's layout (same convention as `.int8`).
        case packedInt8(PackedInt8Weights)
    }

    /// Number of rows (output features, `N`).
    public let outputs: Int
    /// Number of columns (input features, `K`).
    public let inputs: Int
    /// The elements.
    public let storage: Storage
    /// Keeps the memory behind `storage` alive (a mapping or an allocation); `nil` if the caller does.
    public let owner: AnyObject?

    /// Wraps `storage` of `outputs × inputs` elements; `owner` keeps its memory alive.
    public init(outputs: Int, inputs: Int, storage: Storage, owner: AnyObject?) {
        precondition(outputs > 0 && inputs > 0, "a weight matrix needs at least one row and one column")
        self.outputs = outputs
        self.inputs = inputs
        self.storage = storage
        self.owner = owner
    }

    /// A matrix backed by packed int8 weights (which own their memory).
    public init(packed: PackedInt8Weights) {
        self.init(outputs: packed.outputs, inputs: packed.inputs, storage: .packedInt8(packed), owner: packed)
    }

    /// The precision the matrix is held in.
    public var dtype: DType {
        switch storage {
        case .float32: return .float32
        case .float16: return .float16
        case .int8, .packedInt8: return .int8
        }
    }

    /// Bytes the matrix occupies in memory (values plus int8 scales and compensation terms).
    public var byteCount: Int {
        switch storage {
        case .float32: return outputs * inputs * 4
        case .float16: return outputs * inputs * 2
        case .int8: return outputs * inputs + outputs * 4
        case .packedInt8(let p): return p.byteCount
        }
    }

    /// The same weights quantized (if needed) and packed for the int8 kernels. int8 input keeps its
    /// values and scales exactly; fp32/fp16 rows are quantized with `scale = 127 / max|row|`.
    public func packedForInt8Kernels() -> WeightMatrix {
        switch storage {
        case .packedInt8:
            return self
        case .int8(let values, let scales):
            return WeightMatrix(packed: PackedInt8Weights(int8Rows: values, scales: scales, outputs: outputs, inputs: inputs))
        case .float32(let w):
            return WeightMatrix(packed: PackedInt8Weights(float32Rows: w, outputs: outputs, inputs: inputs))
        case .float16(let w):
            return WeightMatrix(packed: PackedInt8Weights(float16Rows: w, outputs: outputs, inputs: inputs))
        }
    }
}
