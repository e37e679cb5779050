import Foundation
import EarshotCheckpoint

/// The record of finished files in a corpus run's output directory: append-only JSON lines, each written with
/// one `write` and `fsync`ed before the next file is reported done.
///
/// A line is appended only after every output of its file has been renamed into place, so a journaled file's
/// outputs are complete. A process killed mid-line leaves at most one torn last line, which is ignored on
/// reading (its file is redone). Each shard appends to its own journal (`.earshot-journal.jsonl`, or
/// `.earshot-journal-I-of-N.jsonl` with `--shard`) and every run reads all of them, so shards sharing an
/// output directory never write to the same file and a rerun with another shard count still sees their work.
final class CorpusJournal: @unchecked Sendable {
    /// One finished input.
    struct Record: Codable, Equatable, Sendable {
        /// The input's path relative to the manifest root.
        var path: String
        /// Its size in bytes and modification time (seconds, nanoseconds) when it was transcribed: a file
        /// changed since is redone.
        var size: Int64
        var mtime: Int64
        var mtimeNs: Int64
        /// Outputs written, relative to the output directory.
        var outputs: [String]
        /// Seconds of audio read.
        var seconds: Double
    }

    static let prefix = ".earshot-journal"
    let path: String
    private let lock = NSLock()
    private var fd: Int32 = -1
    /// What the journals in the directory held when the run started, by input path (the last line wins).
    let finished: [String: Record]

    /// Reads every journal in `directory` and opens this process's for appending.
    init(directory: String, shard: ShardSpec?) throws {
        let name = shard.map { "\(Self.prefix)-\($0.index)-of-\($0.count).jsonl" } ?? "\(Self.prefix).jsonl"
        path = (directory as NSString).appendingPathComponent(name)
        let finished = try Self.read(directory: directory)
        self.finished = finished
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CLIError("cannot open the journal \(path): \(String(cString: strerror(errno))); check that --output-dir is writable")
        }
        // A torn last line from an earlier crash: start on a fresh line so the next record stays whole.
        var info = stat()
        if fstat(fd, &info) == 0, info.st_size > 0, let data = FileBytes.read(path), data.last != UInt8(ascii: "\n") {
            _ = "\n".withCString { write(fd, $0, 1) }
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Every journal in `directory`, by input path (the last line wins; torn lines are skipped).
    static func read(directory: String) throws -> [String: Record] {
        var finished: [String: Record] = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let decoder = JSONDecoder()
        for journal in names.sorted() where journal.hasPrefix(Self.prefix) && journal.hasSuffix(".jsonl") {
            guard let data = FileBytes.read((directory as NSString).appendingPathComponent(journal)) else { continue }
            for line in data.split(separator: UInt8(ascii: "\n")) {
                // A torn line (the process died while writing it) does not decode and is skipped.
                if let record = try? decoder.decode(Record.self, from: Data(line)) { finished[record.path] = record }
            }
        }
        return finished
    }

    /// Size and modification time of an input, as journaled.
    static func identity(of path: String) -> (size: Int64, mtime: Int64, mtimeNs: Int64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec))
    }

    /// Whether `entry` is done: journaled with its current size and time, with at least `outputs`, and every file it lists present.
    func isFinished(_ entry: CorpusEntry, outputs: [String], outputDirectory: String) -> Bool {
        Self.isFinished(entry, outputs: outputs, outputDirectory: outputDirectory, journal: finished)
    }

    static func isFinished(_ entry: CorpusEntry, outputs: [String], outputDirectory: String, journal: [String: Record]) -> Bool {
        guard let record = journal[entry.relativePath], Set(outputs).isSubset(of: record.outputs),
              let id = Self.identity(of: entry.path),
              id.size == record.size, id.mtime == record.mtime, id.mtimeNs == record.mtimeNs else { return false }
        return record.outputs.allSatisfy { FileManager.default.fileExists(atPath: (outputDirectory as NSString).appendingPathComponent($0)) }
    }

    /// Appends a record as one line and forces it to disk.
    func append(_ record: Record) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(record)
        line.append(UInt8(ascii: "\n"))
        try lock.withLock {
            let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == line.count, fsync(fd) == 0 else {
                throw CLIError("cannot append to the journal \(path): \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// Files written through a temporary name: forcing a directory's entries to disk, and sweeping the
/// temporaries a killed process left behind.
enum CorpusFiles {
    /// `fsync` of a directory, so a rename in it survives a power cut (a kill never loses it anyway).
    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Removes `.NAME.PID.partial` files (``TranscriptSink``'s temporaries) that an earlier, killed process
    /// left for the outputs in `names`. Only this process's share of outputs is swept, so another shard
    /// writing into the same folder (even on another host, where its pid means nothing here) is left alone.
    static func sweepTemporaries(in directory: String, names: Set<String>) {
        guard let listing = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in listing where name.hasPrefix(".") && name.hasSuffix(".partial") {
            let inner = name.dropFirst().dropLast(".partial".count)
            guard let dot = inner.lastIndex(of: "."), let pid = Int32(inner[inner.index(after: dot)...]),
                  pid != getpid(), names.contains(String(inner[..<dot])) else { continue }
            unlink((directory as NSString).appendingPathComponent(name))
        }
    }
}
