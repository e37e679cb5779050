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
        /// `scale = 127 / max|W[n,:]|`).
        case int8(values: UnsafePointer<Int8>, scales: UnsafePointer<Float>)
    }

    /// Number of rows (output features, `N`).
    public let outputs: Int
    /// Number of columns (input features, `K`).
    public let inputs: Int
    /// The elements.
    public let storage: Storage
    /// Keeps the memory behind `storage` alive (a mapping or an allocation); `nil` if the caller does.
    public let owner: AnyObject?

    public init(outputs: Int, inputs: Int, storage: Storage, owner: AnyObject?) {
        precondition(outputs > 0 && inputs > 0, "a weight matrix needs at least one row and one column")
        self.outputs = outputs
        self.inputs = inputs
        self.storage = storage
        self.owner = owner
    }

    /// The precision the matrix is held in.
    public var dtype: DType {
        switch storage {
        case .float32: return .float32
        case .float16: return .float16
        case .int8: return .int8
        }
    }

    /// Bytes the matrix occupies in memory (values plus int8 scales).
    public var byteCount: Int {
        switch storage {
        case .float32: return outputs * inputs * 4
        case .float16: return outputs * inputs * 2
        case .int8: return outputs * inputs + outputs * 4
        }
    }
}
