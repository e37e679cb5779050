import Foundation
import EarshotAudio

/// One input of a corpus run: where it is, where it sits relative to the manifest's root, and how long it is.
struct CorpusEntry: Sendable, Equatable {
    /// Absolute, standardised path of the audio file.
    let path: String
    /// Path relative to the manifest's root (`digits/at.wav`); outputs mirror it under `--output-dir`.
    let relativePath: String
    /// Seconds of audio from the header (WAV), or estimated from the file size (other containers, see
    /// ``CorpusManifest/estimatedSeconds(path:)``); used to balance shards and for the progress line's ETA.
    let seconds: Double

    /// `relativePath` without its extension: the stem every output of this input is named after.
    var relativeStem: String { (relativePath as NSString).deletingPathExtension }
}

/// The files a `--manifest` names: a text file with one path per line (relative paths are taken from the
/// manifest's directory; blank lines and `#` comments are skipped), `-` for the same on standard input
/// (relative to the working directory), or a directory walked recursively for audio files.
///
/// The root — what outputs mirror — is the directory for a directory manifest and the deepest directory
/// holding every listed file otherwise (`--manifest-root` overrides both). Every process of a sharded run
/// reads the same manifest, so all compute the same root, the same relative paths and the same shares.
struct CorpusManifest: Sendable {
    /// Every file of the manifest, sorted by relative path.
    let entries: [CorpusEntry]
    /// The directory outputs are mirrored from.
    let root: String

    /// Extensions a directory walk picks up (a listed file is taken whatever its extension).
    static let audioExtensions: Set<String> = ["wav", "flac", "mp3", "ogg", "opus", "m4a", "aac", "wma", "webm", "mp4", "mkv", "aiff", "aif"]

    /// Reads a manifest.
    /// - Parameters:
    ///   - source: a list file, `-` (standard input) or a directory.
    ///   - root: overrides the root outputs are mirrored from.
    ///   - excluding: a folder whose files are never inputs (the output folder, when it lies inside a walked
    ///     folder: cut utterances written there must not become inputs of the next run).
    /// - Throws: `CLIError` for a missing manifest, a listed file that is missing or outside the root, or
    ///   an empty manifest.
    init(source: String, root: String? = nil, excluding: String? = nil) throws {
        let cwd = FileManager.default.currentDirectoryPath
        var isDirectory: ObjCBool = false
        var paths: [String]
        var defaultRoot: String?
        if source == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            paths = try Self.listedPaths(String(decoding: data, as: UTF8.self), base: cwd, manifest: "standard input")
        } else if FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) {
            let absolute = Self.absolute(source, base: cwd)
            if isDirectory.boolValue {
                paths = try Self.walk(absolute)
                defaultRoot = absolute
            } else {
                let text: String
                do { text = try String(contentsOfFile: absolute, encoding: .utf8) } catch {
                    throw CLIError("--manifest \(source): cannot read it as UTF-8 text (\(error.localizedDescription)); give a list of paths, one per line, or a directory")
                }
                paths = try Self.listedPaths(text, base: (absolute as NSString).deletingLastPathComponent, manifest: source)
            }
        } else {
            throw CLIError("--manifest \(source): no such file or directory")
        }
        if let excluding {
            let prefix = Self.absolute(excluding, base: cwd) + "/"
            paths.removeAll { $0.hasPrefix(prefix) }
        }
        guard !paths.isEmpty else {
            throw CLIError("--manifest \(source) names no audio files\(defaultRoot != nil ? " (looked for \(Self.audioExtensions.sorted().joined(separator: ", ")))" : "")")
        }
        paths = Array(Set(paths))   // a file listed twice is transcribed once
        let rootPath = root.map { Self.absolute($0, base: cwd) } ?? defaultRoot ?? Self.commonDirectory(paths)
        self.root = rootPath
        var entries: [CorpusEntry] = []
        for path in paths {
            let prefix = rootPath == "/" ? "/" : rootPath + "/"
            guard path.hasPrefix(prefix) else {
                throw CLIError("\(path) is not under the manifest root \(rootPath); give a --manifest-root that holds every file")
            }
            entries.append(CorpusEntry(path: path, relativePath: String(path.dropFirst(prefix.count)),
                                       seconds: Self.estimatedSeconds(path: path)))
        }
        self.entries = entries.sorted { $0.relativePath < $1.relativePath }
    }

    /// Paths of a list (one per line), made absolute against `base`; every one must exist as a file.
    static func listedPaths(_ text: String, base: String, manifest: String) throws -> [String] {
        var paths: [String] = []
        var missing: [String] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let path = absolute(line, base: base)
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) || isDirectory.boolValue {
                missing.append("line \(number + 1): \(line)")
            } else {
                paths.append(path)
            }
        }
        guard missing.isEmpty else {
            let shown = missing.prefix(10).joined(separator: "\n  ")
            throw CLIError("--manifest \(manifest): \(missing.count) listed file(s) do not exist:\n  \(shown)\(missing.count > 10 ? "\n  …" : "")")
        }
        return paths
    }

    /// Audio files under a directory, recursively (hidden files and folders skipped).
    static func walk(_ directory: String) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(at: URL(fileURLWithPath: directory),
                                                              includingPropertiesForKeys: [.isRegularFileKey],
                                                              options: [.skipsHiddenFiles]) else {
            throw CLIError("--manifest \(directory): cannot list the directory")
        }
        var paths: [String] = []
        for case let url as URL in enumerator {
            guard audioExtensions.contains(url.pathExtension.lowercased()),
                  (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            paths.append(absolute(url.path, base: directory))
        }
        return paths
    }

    static func absolute(_ path: String, base: String) -> String {
        let joined = path.hasPrefix("/") ? path : (base as NSString).appendingPathComponent(path)
        return (joined as NSString).standardizingPath
    }

    /// The deepest directory that holds every path.
    static func commonDirectory(_ paths: [String]) -> String {
        var common = ((paths[0] as NSString).deletingLastPathComponent as NSString).pathComponents
        for path in paths.dropFirst() {
            let parts = ((path as NSString).deletingLastPathComponent as NSString).pathComponents
            var n = 0
            while n < min(common.count, parts.count) && common[n] == parts[n] { n += 1 }
            common = Array(common.prefix(n))
        }
        return NSString.path(withComponents: common.isEmpty ? ["/"] : common)
    }

    /// Seconds of audio, read cheaply: a WAV's header gives it exactly; other containers (which only ffmpeg
    /// decodes) are estimated from their size at 16 kB/s (128 kbit/s) rather than starting a decoder for
    /// each. Deterministic for the same file, which is all shard balancing needs. 0 for an unreadable file
    /// (it fails later, when its turn comes, with the reader's message).
    static func estimatedSeconds(path: String) -> Double {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        let size = Double(info.st_size)
        guard let handle = FileHandle(forReadingAtPath: path) else { return 0 }
        let head = (try? handle.read(upToCount: 4)) ?? Data()
        try? handle.close()
        if head.elementsEqual("RIFF".utf8) || head.elementsEqual("RF64".utf8) || head.elementsEqual("RIFX".utf8),
           let reader = try? AudioFileReader(path: path), !reader.usesFFmpeg {
            defer { reader.close() }
            return reader.estimatedDurationSeconds ?? size / 32_000
        }
        return size / 16_000
    }
}

/// `--shard I/N`: which part of a manifest one of N processes takes.
///
/// Files are dealt longest first (by ``CorpusEntry/seconds``; equal lengths in relative-path order) each to
/// the shard with the least audio so far (the lowest index on a tie) — the greedy "longest processing time
/// first" rule, which keeps every shard within the longest file of the mean. Every process computes the
/// same deal from the same manifest, so the N shards cover it exactly once.
struct ShardSpec: Sendable, Equatable {
    let index: Int
    let count: Int

    /// Parses `I/N` with 0 ≤ I < N (0-based, as Kubernetes' `JOB_COMPLETION_INDEX`).
    init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (0..<n).contains(i) else {
            throw CLIError("--shard takes I/N with 0 ≤ I < N (0-based, e.g. 0/4 … 3/4), got '\(text)'")
        }
        index = i
        count = n
    }

    /// The shard index of every entry (same order as `entries`).
    static func deal(_ entries: [CorpusEntry], count: Int) -> [Int] {
        let order = entries.indices.sorted {
            entries[$0].seconds != entries[$1].seconds ? entries[$0].seconds > entries[$1].seconds
                : entries[$0].relativePath < entries[$1].relativePath
        }
        var loads = [Double](repeating: 0, count: count)
        var shard = [Int](repeating: 0, count: entries.count)
        for i in order {
            var best = 0
            for s in 1..<max(count, 1) where loads[s] < loads[best] { best = s }
            shard[i] = best
            loads[best] += entries[i].seconds
        }
        return shard
    }

    /// This shard's entries, in manifest order.
    func select(_ entries: [CorpusEntry]) -> [CorpusEntry] {
        let shard = Self.deal(entries, count: count)
        return entries.indices.filter { shard[$0] == index }.map { entries[$0] }
    }
}
