/// An error of the speaker stage (embedding, clustering, diarization): what went wrong and what to do.
public struct SpeakerError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure.
    public enum Code: Sendable, Equatable {
        /// The speaker model file is missing, unreadable or not the expected model.
        case model
        /// Input that cannot be used (empty embeddings, ragged rows, a bad speaker count).
        case invalidInput
        /// The memory limit leaves no room for one embedding batch.
        case memory
    }

    /// The kind of failure.
    public let code: Code
    /// A human-readable explanation.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
