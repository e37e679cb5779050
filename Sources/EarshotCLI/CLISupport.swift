import Foundation

/// An error the CLI reports as one line and a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Where models are cached (the same layout `scripts/fetch-assets.sh` and `earshot models fetch` use).
enum ModelLocations {
    /// `$EARSHOT_CACHE`, or `~/.cache/earshot`.
    static var cache: String {
        if let env = ProcessInfo.processInfo.environment["EARSHOT_CACHE"], !env.isEmpty { return env }
        return (NSHomeDirectory() as NSString).appendingPathComponent(".cache/earshot")
    }

    static var defaultWhisperModel: String { cache + "/models/whisper-tiny.en" }
}

/// Writing results to standard output (files go through `TranscriptSink`, which never leaves a half-written one).
enum OutputFile {
    /// Writes to standard output, reporting a closed pipe or a full disk instead of dying on SIGPIPE.
    static func writeToStandardOutput(_ text: String) throws {
        signal(SIGPIPE, SIG_IGN)
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot write to standard output: \(String(cString: strerror(errno)))")
            }
            bytes = bytes.dropFirst(written)
        }
    }
}

/// A one-line progress bar on standard error, shown only when standard error is a terminal.
final class ProgressBar {
    private let label: String
    private let enabled = isatty(STDERR_FILENO) != 0
    private var lastDrawn = -1

    init(label: String) { self.label = label }

    func update(_ done: Double, _ total: Double) {
        guard enabled, total > 0 else { return }
        let percent = Int(min(100, done / total * 100))
        guard percent != lastDrawn else { return }
        lastDrawn = percent
        let filled = percent * 30 / 100
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: 30 - filled)
        FileHandle.standardError.write(Data("\r\(label) \(bar) \(percent)% (\(Int(done))/\(Int(total)) s)".utf8))
    }

    func finish() {
        guard enabled, lastDrawn >= 0 else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
