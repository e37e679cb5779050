import Foundation

/// Whole-file reads for the small files Earshot reads at once (configs, token lists, journals, labels).
///
/// `FileManager.contents(atPath:)` leaks its 4 KiB read buffer when the file is empty (swift-foundation in
/// Swift 6.3; LeakSanitizer found it through FuzzYAML and again in the ASan run of the test suite, on a
/// corpus run's empty label files). An empty file is answered here without that call.
public enum FileBytes {
    /// The bytes of `path`: empty for a 0-byte file, `nil` when it does not exist or cannot be read.
    public static func read(_ path: String) -> Data? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        if info.st_size == 0 && (info.st_mode & S_IFMT) == S_IFREG { return Data() }
        return FileManager.default.contents(atPath: path)
    }
}
