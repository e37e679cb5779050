/// An error reading a model directory or checkpoint file. The message says what is wrong, where (file,
/// tensor, byte offset) and, where it can, what to do about it.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure.
    public enum Code: Sendable, Equatable {
        case fileNotFound
        case unreadable
        case notAModel
        case truncated
        case corrupt
        case unsupportedVersion
        case missingTensor
        case shapeMismatch
        case dtypeMismatch
        case invalidConfiguration
    }

    public let code: Code
    /// The file concerned.
    public let path: String
    /// The tensor concerned, when there is one.
    public let tensor: String?
    /// A human-readable explanation.
    public let message: String

    public init(_ code: Code, path: String, tensor: String? = nil, message: String) {
        self.code = code
        self.path = path
        self.tensor = tensor
        self.message = message
    }

    public var description: String {
        var text = "\(path): "
        if let tensor { text += "tensor '\(tensor)': " }
        return text + message
    }
}
