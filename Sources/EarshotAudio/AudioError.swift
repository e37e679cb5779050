/// An error reading or decoding an audio file. The message always names the file, says what went wrong
/// and where, and — when there is one — what to do about it.
public struct AudioError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Equatable {
        /// The path does not exist.
        case fileNotFound
        /// The path exists but cannot be opened or read (permissions, a directory, an I/O error).
        case unreadable
        /// The bytes are not audio in any format this reader (or ffmpeg) understands.
        case notAudio
        /// The file ends before its header does (includes a 0-byte file).
        case truncated
        /// A WAV whose codec or sample layout this reader does not decode and no ffmpeg to fall back on.
        case unsupportedFormat
        /// The file needs ffmpeg (not a WAV), and `ffmpeg` is not on `PATH`.
        case decoderMissing
        /// ffmpeg was started but failed or could not be started.
        case decoderFailed
    }

    /// The kind of failure.
    public let code: Code
    /// The file concerned.
    public let path: String
    /// A human-readable explanation: what, where, and what to do.
    public let message: String

    /// Creates an error for `path`.
    public init(_ code: Code, path: String, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    /// `"<path>: <message> [code]"`.
    public var description: String { "\(path): \(message) [\(code.rawValue)]" }
}
