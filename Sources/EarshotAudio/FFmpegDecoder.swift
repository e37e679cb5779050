import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decodes any container ffmpeg understands by running
/// `ffmpeg -nostdin -i file:<path> -map 0:a:0 -ac 1 -rematrix_maxval 1.0 -ar <rate> -f f32le pipe:1` and reading its stdout
/// incrementally (the same decode-and-resample route openai-whisper's `load_audio` takes, with float
/// output instead of s16le). ffmpeg's log goes to an unlinked temporary file, which is parsed for the
/// source rate/channels/duration and, on failure, turned into an `AudioError`. The child is always
/// reaped: at end of stream, or killed and reaped in `close()` / `deinit` — no zombies, no hang on a
/// full stderr pipe.
final class FFmpegDecoder: MonoSource {
    let outputRate: Int
    private let path: String
    /// The ffmpeg child's process id (tests check it is reaped).
    private(set) var pid: pid_t
    private let frames: PCMFrameReader
    private var logFD: Int32
    private(set) var sourceRate = 0
    private(set) var sourceChannels = 0
    private(set) var durationSeconds: Double?
    private var finished = false

    var bufferBytes: Int { frames.input.capacity }

    /// Finds an executable named `name` in the `:`-separated `searchPath` (normally `$PATH`).
    static func locate(_ name: String = "ffmpeg", searchPath: String?) -> String? {
        for dir in (searchPath ?? "").split(separator: ":") where !dir.isEmpty {
            let candidate = dir + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Starts ffmpeg on `path` and waits for its first output (or its exit), so that a file ffmpeg cannot
    /// decode fails here, in the initialiser.
    init(executable: String, path: String, outputRate: Int) throws(AudioError) {
        self.path = path
        self.outputRate = outputRate
        let logFD = FFmpegDecoder.makeLogFile()
        guard logFD >= 0 else {
            throw AudioError(.decoderFailed, path: path, "cannot create a temporary file for ffmpeg's log: \(String(cString: strerror(errno)))")
        }
        self.logFD = logFD
        let args = [executable, "-nostdin", "-hide_banner", "-nostats", "-i", "file:" + path,
                    // -rematrix_maxval 1: scale ffmpeg's downmix matrix to unity gain, so stereo becomes
                    // (L + R) / 2 like the native WAV path (plain -ac 1 gives (L + R)/√2, +3 dB).
                    "-map", "0:a:0", "-vn", "-ac", "1", "-rematrix_maxval", "1.0", "-ar", String(outputRate),
                    "-c:a", "pcm_f32le", "-f", "f32le", "pipe:1"]
        let spawned = FFmpegDecoder.spawn(args, stdoutLog: logFD)
        guard let (pid, readFD) = spawned.value else {
            Glibc.close(logFD)
            throw AudioError(.decoderFailed, path: path, "cannot start \(executable): \(String(cString: strerror(spawned.errno)))")
        }
        self.pid = pid
        let input = ByteInput(fd: readFD, label: path)
        frames = PCMFrameReader(input: input,
                                layout: PCMLayout(encoding: .float32, channels: 1, blockAlign: 4, bigEndian: false),
                                dataBytes: nil)
        let first = try input.fill(atLeast: 4)
        if first < 4 {
            try reap()  // no audio at all: either a failure (throws) or a genuinely empty stream
        }
        parseLog()
    }

    deinit { close() }

    func read(maxFrames: Int, into out: inout [Float]) throws(AudioError) -> Int {
        let n = try frames.read(maxFrames: maxFrames, into: &out)
        if n == 0 { try reap() }
        return n
    }

    /// Kills ffmpeg if it is still running, reaps it and releases the pipe and log (idempotent).
    func close() {
        frames.input.closeNow()
        if !finished && pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            finished = true
        }
        if logFD >= 0 { Glibc.close(logFD); logFD = -1 }
    }

    /// Waits for ffmpeg to exit after its output ended; throws if it failed.
    private func reap() throws(AudioError) {
        guard !finished else { return }
        frames.input.closeNow()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        finished = true
        let exited = (status & 0x7F) == 0
        let code = (status >> 8) & 0xFF
        if exited && code == 0 { return }
        let log = readLog()
        let tail = log.split(separator: "\n").suffix(3).joined(separator: " | ")
        let reason = exited ? "exit status \(code)" : "signal \(status & 0x7F)"
        if log.contains("Invalid data found when processing input") || log.contains("matches no streams")
            || log.contains("does not contain any stream") || log.contains("could not find codec parameters") {
            throw AudioError(.notAudio, path: path,
                             "not an audio file: neither a WAV nor anything ffmpeg can decode (ffmpeg: \(tail))")
        }
        throw AudioError(.decoderFailed, path: path, "ffmpeg failed (\(reason)): \(tail)")
    }

    /// Source rate, channels and duration from the input description ffmpeg logs before decoding.
    private func parseLog() {
        let log = readLog()
        let input = log.components(separatedBy: "Output #0").first ?? log
        for line in input.split(separator: "\n") {
            if durationSeconds == nil, let r = line.range(of: "Duration: ") {
                let f = line[r.upperBound...].prefix(11).split(separator: ":")
                if f.count == 3, let h = Double(f[0]), let m = Double(f[1]), let s = Double(f[2]) {
                    durationSeconds = h * 3600 + m * 60 + s
                }
            }
            if sourceRate == 0, let r = line.range(of: "Audio: ") {
                let fields = line[r.upperBound...].split(separator: ",").map { $0.trimmingSpaces() }
                for (i, f) in fields.enumerated() where f.hasSuffix(" Hz") {
                    sourceRate = Int(f.dropLast(3)) ?? 0
                    if i + 1 < fields.count { sourceChannels = FFmpegDecoder.channelCount(fields[i + 1]) }
                }
            }
        }
    }

    /// Channel count of an ffmpeg layout name (`mono`, `stereo`, `5.1(side)`, `3 channels`…); 0 if unknown.
    static func channelCount(_ layout: String) -> Int {
        let name = layout.split(separator: "(").first.map(String.init) ?? layout
        let known = ["mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "3.1": 4, "4.0": 4, "quad": 4, "4.1": 5,
                     "5.0": 5, "5.1": 6, "6.0": 6, "6.1": 7, "7.0": 7, "7.1": 8, "hexagonal": 6, "octagonal": 8]
        if let n = known[name] { return n }
        if name.hasSuffix(" channels"), let n = Int(name.dropLast(9)) { return n }
        return 0
    }

    private func readLog() -> String {
        guard logFD >= 0 else { return "" }
        var bytes = [UInt8](repeating: 0, count: 1 << 16)
        let n = bytes.withUnsafeMutableBytes { pread(logFD, $0.baseAddress!, $0.count, 0) }
        return n > 0 ? String(decoding: bytes[0 ..< n], as: UTF8.self) : ""
    }

    /// An anonymous (already unlinked) close-on-exec temporary file.
    private static func makeLogFile() -> Int32 {
        let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((dir + "/earshot-ffmpeg-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd >= 0 {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        }
        return fd
    }

    /// `posix_spawn`s `args` with stdin from /dev/null, stdout to a new pipe and stderr to `stdoutLog`;
    /// returns the pid and the pipe's read end, or the errno.
    private static func spawn(_ args: [String], stdoutLog: Int32) -> (value: (pid_t, Int32)?, errno: Int32) {
        var fds: [Int32] = [-1, -1]
        // pipe2(O_CLOEXEC) is not exported to Swift; set the flag right after (a concurrent spawn in
        // another thread could inherit the ends in between, which only delays that child's EOF).
        guard pipe(&fds) == 0 else { return (nil, errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stdoutLog, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = argv.withUnsafeBufferPointer { posix_spawn(&pid, args[0], &actions, nil, $0.baseAddress!, environ) }
        Glibc.close(fds[1])
        if rc != 0 {
            Glibc.close(fds[0])
            return (nil, rc)
        }
        return ((pid, fds[0]), 0)
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
