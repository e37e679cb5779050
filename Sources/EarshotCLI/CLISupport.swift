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

    /// Checks that a model directory exists before anything loads it; a missing directory gets an error
    /// that says how to get it (`earshot models fetch NAME` for the catalogue's models).
    /// - Parameters:
    ///   - path: the directory given (or the default).
    ///   - flag: the option that names it, for the message.
    static func requireModel(_ path: String, flag: String) throws {
        var isDirectory: ObjCBool = false
        guard !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) || !isDirectory.boolValue else { return }
        let name = (path as NSString).lastPathComponent
        if ModelCatalog.all.contains(where: { $0.name == name }) {
            throw CLIError("\(path): model not found; fetch it with `earshot models fetch \(name)` (or give another directory with \(flag))")
        }
        throw CLIError("\(path): no such model directory; give a CTranslate2/FunASR model directory with \(flag), or fetch one of \(ModelCatalog.all.map(\.name).joined(separator: ", ")) with `earshot models fetch NAME`")
    }
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

/// A one-line progress bar on standard error; by default shown only when standard error is a terminal.
final class ProgressBar {
    private let label: String
    private let enabled: Bool
    private var lastDrawn = -1

    /// - Parameter enabled: `--progress` / `--no-progress`; `nil` shows the bar only on a terminal.
    init(label: String, enabled: Bool? = nil) {
        self.label = label
        self.enabled = enabled ?? (isatty(STDERR_FILENO) != 0)
    }

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
