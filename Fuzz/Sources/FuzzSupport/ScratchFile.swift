#if canImport(Glibc)
import Glibc
#endif

/// The readers under test take paths: each input is written to a per-process scratch file on tmpfs
/// (`/dev/shm` when present) and read back through the public API, as a user's file would be.
public enum Scratch {
    /// A per-process directory, created on first use.
    public static let directory: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        let dir = "\(base)/earshot-fuzz-\(getpid())"
        mkdir(dir, 0o700)
        // ffmpeg must never be spawned by a fuzz input (the WAV reader hands unknown codecs to it).
        setenv("PATH", "/nonexistent-earshot-fuzz", 1)
        return dir
    }()

    /// Writes `count` bytes at `data` to `name` inside ``directory`` and returns the path.
    @discardableResult
    public static func write(_ data: UnsafePointer<UInt8>?, _ count: Int, name: String) -> String {
        let path = "\(directory)/\(name)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot create the scratch file \(path)")
        var offset = 0
        while offset < count, let data {
            let n = Glibc.write(fd, data + offset, count - offset)
            precondition(n > 0, "cannot write the scratch file \(path)")
            offset += n
        }
        close(fd)
        return path
    }

    /// Removes `name` from ``directory`` (missing is fine).
    public static func remove(_ name: String) { unlink("\(directory)/\(name)") }
}

/// A cursor taking fixed-width values off the front of a fuzz input (for targets whose input is parameters
/// followed by data).
public struct FuzzBytes {
    public let base: UnsafePointer<UInt8>?
    public let count: Int
    public private(set) var offset = 0

    public init(_ base: UnsafePointer<UInt8>?, _ count: Int) { self.base = base; self.count = count }

    /// The next `UInt32` (little-endian), or 0 past the end.
    public mutating func uint32() -> UInt32 {
        var value: UInt32 = 0
        for shift in stride(from: 0, to: 32, by: 8) where offset < count {
            value |= UInt32(base![offset]) << UInt32(shift)
            offset += 1
        }
        return value
    }

    /// The rest, as `Float`s (4 bytes each, little-endian).
    public mutating func floats() -> [Float] {
        var out: [Float] = []
        out.reserveCapacity((count - offset) / 4)
        while count - offset >= 4 { out.append(Float(bitPattern: uint32())) }
        return out
    }
}
