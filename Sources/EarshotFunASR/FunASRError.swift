import EarshotCheckpoint

/// An error from the FunASR models: what went wrong, where (file, tensor, key) and what to do.
public struct FunASRError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure.
    public enum Code: Sendable, Equatable {
        /// A model file is missing, unreadable or does not match the architecture.
        case model
        /// `config.yaml` or `am.mvn` holds a value that cannot be used.
        case invalidConfiguration
        /// The audio input cannot be used.
        case audio
        /// A caller-supplied argument is out of range.
        case invalidArgument
    }

    /// The kind of failure.
    public let code: Code
    /// A human-readable explanation.
    public let message: String
    /// The checkpoint error behind a `.model` failure, when there is one.
    public let underlying: CheckpointError?

    /// Creates an error with a message.
    public init(_ code: Code, _ message: String, underlying: CheckpointError? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// Wraps a checkpoint error (missing file, missing tensor, bad shape …).
    public init(_ error: CheckpointError) {
        let code: Code = error.code == .invalidConfiguration ? .invalidConfiguration : .model
        self.init(code, error.description, underlying: error)
    }

    /// Any error met while reading the configuration at `path`: a `FunASRError` as it is, a checkpoint
    /// error wrapped, anything else as an invalid configuration of that file.
    static func readingConfiguration(_ path: String, _ error: any Error) -> FunASRError {
        switch error {
        case let error as FunASRError: error
        case let error as CheckpointError: FunASRError(error)
        default: FunASRError(.invalidConfiguration, "\(path): \(error)")
        }
    }

    public var description: String { message }
}
