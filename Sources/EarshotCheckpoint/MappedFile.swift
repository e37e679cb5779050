#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory (`mmap(PROT_READ, MAP_PRIVATE)`).
///
/// Pages are shared with the page cache, so several processes that map the same weights share one
/// physical copy, and untouched tensors cost no resident memory. The mapping lives as long as this object.
public final class MappedFile: @unchecked Sendable {
    /// The file's path, for error messages.
    public let path: String
    /// The mapped bytes (empty for an empty file).
    public let bytes: UnsafeRawBufferPointer

    /// Maps `path`.
    /// - Throws: `CheckpointError` `.fileNotFound` or `.unreadable`.
    public init(path: String) throws(CheckpointError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            let err = errno
            if err == ENOENT {
                throw CheckpointError(.fileNotFound, path: path, message: "no such file")
            }
            throw CheckpointError(.unreadable, path: path, message: "cannot open: \(String(cString: strerror(err)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw CheckpointError(.unreadable, path: path, message: "cannot stat: \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw CheckpointError(.unreadable, path: path, message: "is a directory, expected a file")
        }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw CheckpointError(.unreadable, path: path, message: "cannot map: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    /// Tells the kernel the mapped pages are not needed now (`madvise(MADV_DONTNEED)`): they leave this
    /// process's resident set and are read back from the page cache only if touched again. Used after
    /// weights were converted (e.g. quantized to int8) into memory of their own.
    public func dropResidentPages() {
        guard let base = bytes.baseAddress else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), bytes.count, MADV_DONTNEED)
    }

    /// Drops the resident pages that lie wholly inside `region` (a part of this mapping), as
    /// `dropResidentPages()` does for the whole file; pages shared with neighbouring bytes stay. Lets a loader
    /// release each tensor's mapped pages as soon as it has converted the tensor, so the converted copies and
    /// the mapped originals are never all resident at once.
    public func dropResidentPages(of region: UnsafeRawPointer, byteCount: Int) {
        guard let base = bytes.baseAddress, byteCount > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = max(Int(bitPattern: region), Int(bitPattern: base))
        let end = min(Int(bitPattern: region) + byteCount, Int(bitPattern: base) + bytes.count)
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(pointer, last - first, MADV_DONTNEED)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}
