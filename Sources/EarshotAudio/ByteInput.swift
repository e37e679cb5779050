#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded read buffer over a file descriptor (a regular file or a pipe). It never seeks, so it works
/// on FIFOs and on ffmpeg's stdout, and never holds more than `capacity` bytes whatever the input length.
final class ByteInput {
    /// Bytes buffered at most (64 KiB: large enough to amortise `read(2)`, small enough not to matter).
    static let defaultCapacity = 1 << 16

    let path: String
    private(set) var fd: Int32
    private var storage: [UInt8]
    private var head = 0
    private var tail = 0
    /// `true` once `read(2)` has returned 0.
    private(set) var atEOF = false
    /// Bytes consumed so far (the file offset of the next byte `bytes` would return).
    private(set) var consumed: Int64 = 0
    /// Size of the file when it is a regular file, else `nil`.
    let regularFileSize: Int64?

    /// Opens `path` for reading.
    init(path: String, capacity: Int = ByteInput.defaultCapacity) throws(AudioError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            if e == ENOENT || e == ENOTDIR {
                throw AudioError(.fileNotFound, path: path, "no such file; check the path")
            }
            throw AudioError(.unreadable, path: path, "cannot open: \(String(cString: strerror(e)))")
        }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw AudioError(.unreadable, path: path, "is a directory, not an audio file")
        }
        let isRegular = (st.st_mode & S_IFMT) == S_IFREG
        self.regularFileSize = isRegular ? Int64(st.st_size) : nil
        self.fd = fd
        self.storage = [UInt8](repeating: 0, count: capacity)
    }

    /// Wraps an already open descriptor (ffmpeg's stdout); `ByteInput` closes it.
    init(fd: Int32, label: String, capacity: Int = ByteInput.defaultCapacity) {
        self.path = label
        self.fd = fd
        self.regularFileSize = nil
        self.storage = [UInt8](repeating: 0, count: capacity)
    }

    deinit { closeNow() }

    /// Closes the descriptor (idempotent).
    func closeNow() {
        if fd >= 0 { close(fd); fd = -1 }
        atEOF = true
    }

    /// Buffer capacity in bytes (constant; reported by the memory-boundedness test).
    var capacity: Int { storage.count }

    /// Bytes currently buffered.
    var available: Int { tail - head }

    /// Makes at least `count` bytes (≤ capacity) available unless the input ends first; returns how many
    /// are available.
    @discardableResult
    func fill(atLeast count: Int) throws(AudioError) -> Int {
        precondition(count <= storage.count, "request larger than the read buffer")
        if available >= count || atEOF || fd < 0 { return available }
        if head > 0 {
            let n = available
            storage.withUnsafeMutableBytes { raw in
                if n > 0 { memmove(raw.baseAddress!, raw.baseAddress! + head, n) }
            }
            head = 0
            tail = n
        }
        while available < count && !atEOF {
            let got = try readOnce()
            if got == 0 { atEOF = true } else { tail += got }
        }
        return available
    }

    private func readOnce() throws(AudioError) -> Int {
        while true {
            let start = tail, room = storage.count - tail
            let r = storage.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress! + start, room) }
            if r >= 0 { return r }
            if errno == EINTR { continue }
            throw AudioError(.unreadable, path: path,
                             "read error after \(consumed + Int64(available)) bytes: \(String(cString: strerror(errno)))")
        }
    }

    /// Calls `body` with the first `count` buffered bytes (caller must have `fill`ed) and consumes them.
    func consume<R>(_ count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(count <= available)
        let h = head
        let r = storage.withUnsafeBytes { raw in body(UnsafeRawBufferPointer(rebasing: raw[h ..< h + count])) }
        head += count
        consumed += Int64(count)
        return r
    }

    /// Returns and consumes up to `count` buffered bytes as an array (header parsing only; small counts).
    func take(_ count: Int) -> [UInt8] {
        let n = min(count, available)
        return consume(n) { Array($0) }
    }

    /// Discards `count` bytes by reading them (works on pipes); returns how many were actually skipped.
    func skip(_ count: Int64) throws(AudioError) -> Int64 {
        var left = count
        while left > 0 {
            if available == 0 {
                try fill(atLeast: 1)
                if available == 0 { break }
            }
            let n = Int(min(Int64(available), left))
            head += n
            consumed += Int64(n)
            left -= Int64(n)
        }
        return count - left
    }
}
