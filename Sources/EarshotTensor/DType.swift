/// The element type of a stored tensor, as checkpoint formats name it.
///
/// The raw values follow CTranslate2's `DataType` enum (`include/ctranslate2/types.h`), so a
/// `model.bin` dtype byte converts with `DType(rawValue:)`.
public enum DType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 0
    case int8 = 1
    case int16 = 2
    case int32 = 3
    case float16 = 4
    case bfloat16 = 5
    /// Not a CTranslate2 type; used by PyTorch checkpoints (`LongStorage`).
    case int64 = 6

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .float32, .int32: return 4
        case .int8: return 1
        case .int16, .float16, .bfloat16: return 2
        case .int64: return 8
        }
    }

    public var description: String {
        switch self {
        case .float32: return "float32"
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        case .int64: return "int64"
        }
    }
}
