import Foundation
#if canImport(Glibc)
import Glibc
import CMalloc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the operating system says this process uses, and the knobs that make freed memory go back to it.
///
/// Linux: VmRSS / VmHWM come from `/proc/self/status` (about 21 µs per read); without `/proc` the peak falls back to
/// `getrusage` `ru_maxrss`. The high-water mark can be reset per phase by writing `5` to `/proc/self/clear_refs`
/// (ru_maxrss follows it). See `reference/swift-numerics.md` §5.
public enum ProcessMemory {
    /// The sanitizer this process was built with (`address` or `thread`), or `nil`. Its shadow memory,
    /// quarantine and history buffers are resident too, so RSS figures then say nothing about Earshot's own
    /// use: the memory tests are skipped in sanitizer runs (docs/reliability.md, "Sanitizers").
    public static let sanitizer: String? = {
        #if canImport(Glibc)
        let program = dlopen(nil, RTLD_NOW)
        if dlsym(program, "__asan_init") != nil { return "address" }
        if dlsym(program, "__tsan_init") != nil { return "thread" }
        #endif
        return nil
    }()

    /// Resident set size now (VmRSS), or `nil` where it cannot be read.
    public static func currentRSS() -> ByteCount? {
        statusField("VmRSS:")
    }

    /// Peak resident set size (VmHWM; fallback `getrusage` ru_maxrss) since start or the last ``resetPeak()``.
    public static func peakRSS() -> ByteCount? {
        if let hwm = statusField("VmHWM:") { return hwm }
        var usage = rusage()
        guard getrusage(RUSAGE_SELF_VALUE, &usage) == 0 else { return nil }
        #if canImport(Darwin)
        return ByteCount(Int(usage.ru_maxrss))  // bytes on Darwin
        #else
        return ByteCount(Int(usage.ru_maxrss) * 1024)  // kB on Linux
        #endif
    }

    /// Resets the peak (VmHWM and ru_maxrss) to the current RSS by writing `5` to `/proc/self/clear_refs`.
    /// - Returns: whether the kernel accepted it (false on non-Linux systems or restricted containers).
    @discardableResult
    public static func resetPeak() -> Bool {
        #if os(Linux)
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let written = "5".withCString { write(fd, $0, 1) }
        return written == 1
        #else
        return false
        #endif
    }

    /// Gives free heap pages back to the OS (`malloc_trim(0)`; glibc also releases free pages in mid-heap).
    /// - Returns: whether memory was released (always false where glibc is absent).
    @discardableResult
    public static func trimHeap() -> Bool {
        #if canImport(Glibc)
        return malloc_trim(0) != 0
        #else
        return false
        #endif
    }

    private static let configured = Locked<Bool>(false)

    /// Call once at start-up: pins glibc's mmap threshold so every block of `mmapThreshold` or more is mmapped and
    /// returned to the OS on free. Without it glibc raises the threshold after the first large free and later
    /// large buffers stay on the heap, keeping RSS high. Later calls do nothing.
    /// - Returns: whether the setting was applied by this call.
    @discardableResult
    public static func configureAllocator(mmapThreshold: ByteCount = ByteCount(1 << 20)) -> Bool {
        configured.withLock { done in
            guard !done else { return false }
            done = true
            #if canImport(Glibc)
            return mallopt(M_MMAP_THRESHOLD, Int32(clamping: mmapThreshold.bytes)) == 1
            #else
            return false
            #endif
        }
    }

    /// Caps glibc's malloc arenas (`M_ARENA_MAX`). A long-running server calls this once at start-up with 1:
    /// glibc gives each thread that contends for the heap its own arena, and `malloc_trim` returns a thread
    /// arena's free pages but never its top chunk, so after a burst of requests tens of MB stay resident
    /// (measured: +29 MB over a 100-MB idle server after 12 requests). With one arena `trimHeap` returns RSS to
    /// the idle baseline. Threads that have already allocated keep their arena, so call it early.
    /// - Returns: whether the setting was applied.
    @discardableResult
    public static func limitArenas(_ count: Int) -> Bool {
        #if canImport(Glibc)
        return mallopt(M_ARENA_MAX, Int32(clamping: max(1, count))) == 1
        #else
        return false
        #endif
    }

    /// glibc's allocator counters (`mallinfo2`).
    public struct HeapStatistics: Sendable, Equatable, Codable {
        /// Bytes obtained from the OS with brk/sbrk (`arena`).
        public var arena: ByteCount
        /// Bytes in mmapped blocks (`hblkhd`).
        public var mmapped: ByteCount
        /// Bytes in use by the program (`uordblks` + `hblkhd`).
        public var inUse: ByteCount
        /// Free bytes held by the allocator (`fordblks`).
        public var free: ByteCount
    }

    /// glibc heap counters, or `nil` without glibc. Costs about 0.2 µs.
    public static func heapStatistics() -> HeapStatistics? {
        #if canImport(Glibc)
        let info = mallinfo2()
        return HeapStatistics(arena: ByteCount(Int(info.arena)), mmapped: ByteCount(Int(info.hblkhd)),
                              inUse: ByteCount(Int(info.uordblks) + Int(info.hblkhd)),
                              free: ByteCount(Int(info.fordblks)))
        #else
        return nil
        #endif
    }

    #if canImport(Glibc)
    private static let RUSAGE_SELF_VALUE = RUSAGE_SELF.rawValue
    #else
    private static let RUSAGE_SELF_VALUE = RUSAGE_SELF
    #endif

    /// Reads one `kB` field of /proc/self/status with plain syscalls (no Foundation file APIs, no large buffers).
    static func statusField(_ key: String) -> ByteCount? {
        #if os(Linux)
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var text = [UInt8]()
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            text.append(contentsOf: buffer[0..<n])
        }
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") where line.hasPrefix(key) {
            let digits = line.dropFirst(key.count).filter(\.isNumber)
            guard let kb = Int(digits) else { return nil }
            return ByteCount(kb * 1024)
        }
        return nil
        #else
        return nil
        #endif
    }
}
