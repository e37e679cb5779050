import Foundation
import EarshotAudio
import EarshotMemory
import EarshotPipeline
import EarshotSpeech
import EarshotWhisper

/// What a corpus run writes and how it behaves on failure.
struct CorpusSettings: Sendable {
    var outputDirectory: String
    var format: CorpusOutputFormat
    var task: WhisperTask
    var job: JobOptions
    var overwrite = false
    var failFast = false
    /// Files in flight at once; `nil` picks from the engine's plan (``CorpusJob/defaultConcurrency(engine:)``).
    var concurrency: Int?
    var progress: Bool?
    var shard: ShardSpec?
}

/// Why a file failed, for the summary.
struct CorpusFailure: Sendable {
    let path: String
    let reason: String
}

/// What a corpus run did.
struct CorpusOutcome: Sendable {
    var files = 0          // in this process's share
    var skipped = 0        // already done (journaled, outputs present)
    var done = 0
    var notStarted = 0     // left when --fail-fast stopped the run
    var audioSeconds = 0.0
    var wallSeconds = 0.0
    var failures: [CorpusFailure] = []
    /// Teacher labels written and dropped by the filters (`--output-format jsonl`).
    var labelsKept = 0
    var labelsDropped = 0
    /// Windows recognised and batches run by the engine (windows of different files share batches).
    var windows = 0
    var batches = 0
    /// Merged label files written at the end, with their line counts.
    var merged: [(String, Int)] = []
}

/// `earshot transcribe --manifest`: many files through one ``RecognitionEngine``, so windows of different
/// files share batches under one memory budget and the models load once.
///
/// Several files are in flight at once (each read in 1-s blocks by its own task, through its own job's VAD
/// and window packing), so short files fill each other's batches. Each file's outputs are written through a
/// temporary name and renamed into place when complete, then the file is recorded in the
/// ``CorpusJournal``; a rerun skips journaled files whose outputs exist. A file that fails is reported and
/// the run goes on (unless `failFast`).
final class CorpusJob: @unchecked Sendable {
    let engine: RecognitionEngine
    let manifest: CorpusManifest
    let settings: CorpusSettings
    private let journal: CorpusJournal
    private let state = Locked(Progress())
    private let started = Date()

    private struct Progress {
        var filesDone = 0
        var secondsDone = 0.0
        var secondsRead = 0.0
        var lastDrawn = Date.distantPast
        var failures: [CorpusFailure] = []
        var stop = false
        var labelsKept = 0
        var labelsDropped = 0
    }

    /// Plans the run: refuses clashing outputs, opens the journal.
    init(engine: RecognitionEngine, manifest: CorpusManifest, settings: CorpusSettings) throws {
        self.engine = engine
        self.manifest = manifest
        self.settings = settings
        try Self.checkCollisions(manifest.entries, format: settings.format)
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: settings.outputDirectory, isDirectory: &isDirectory) {
            try FileManager.default.createDirectory(atPath: settings.outputDirectory, withIntermediateDirectories: true)
        } else if !isDirectory.boolValue {
            throw CLIError("--output-dir \(settings.outputDirectory) exists and is not a directory")
        }
        journal = try CorpusJournal(directory: settings.outputDirectory, shard: settings.shard)
    }

    /// Files in flight: enough single-window files to fill two batches, within what the memory plan admits.
    static func defaultConcurrency(engine: RecognitionEngine) -> Int {
        max(1, min(engine.jobCapacity, max(4, 2 * engine.batchCap)))
    }

    /// Outputs of one input, relative to the output directory.
    static func outputs(of entry: CorpusEntry, format: CorpusOutputFormat) -> [String] {
        format.extensions.map { entry.relativeStem + "." + $0 }
    }

    /// Two inputs that would write the same output (`a/x.wav` and `a/x.mp3`) are refused, naming them all.
    static func checkCollisions(_ entries: [CorpusEntry], format: CorpusOutputFormat) throws {
        var owners: [String: [String]] = [:]
        if case .labels = format {
            for merged in ["labels.funasr.jsonl", "metadata.jsonl"] { owners[merged] = ["(the merged labels)"] }
        }
        for entry in entries {
            for output in outputs(of: entry, format: format) { owners[output, default: []].append(entry.relativePath) }
        }
        let clashes = owners.filter { $0.value.count > 1 }.sorted { $0.key < $1.key }
        guard clashes.isEmpty else {
            let lines = clashes.prefix(20).map { "  \($0.key) ← \($0.value.joined(separator: ", "))" }.joined(separator: "\n")
            throw CLIError("\(clashes.count) output(s) would be written by more than one input (same folder, same name, different extension); rename or drop one of each:\n\(lines)\(clashes.count > 20 ? "\n  …" : "")")
        }
    }

    /// Runs this process's share to the end and returns what happened.
    func run() -> CorpusOutcome {
        let share = settings.shard.map { $0.select(manifest.entries) } ?? manifest.entries
        var outcome = CorpusOutcome()
        outcome.files = share.count
        var todo: [CorpusEntry] = []
        var ownNames: [String: Set<String>] = [:]
        for entry in share {
            let outputs = Self.outputs(of: entry, format: settings.format)
            if !settings.overwrite, journal.isFinished(entry, outputs: outputs, outputDirectory: settings.outputDirectory) {
                outcome.skipped += 1
                continue
            }
            todo.append(entry)
            for output in outputs {
                let full = (settings.outputDirectory as NSString).appendingPathComponent(output)
                ownNames[(full as NSString).deletingLastPathComponent, default: []].insert((full as NSString).lastPathComponent)
            }
        }
        for (directory, names) in ownNames { CorpusFiles.sweepTemporaries(in: directory, names: names) }
        let totalSeconds = todo.reduce(0) { $0 + $1.seconds }
        let concurrency = max(1, min(settings.concurrency ?? Self.defaultConcurrency(engine: engine), engine.jobCapacity))
        let showProgress = settings.progress ?? (isatty(STDERR_FILENO) != 0)

        let finished = DispatchSemaphore(value: 0)
        let items = todo
        Task.detached { [self] in
            await withTaskGroup(of: Void.self) { group in
                var next = 0
                while next < min(concurrency, items.count) {
                    let entry = items[next]
                    group.addTask { await self.process(entry, total: (items.count, totalSeconds), show: showProgress) }
                    next += 1
                }
                while await group.next() != nil {
                    if state.withLock({ $0.stop }) { group.cancelAll(); break }
                    if next < items.count {
                        let entry = items[next]
                        group.addTask { await self.process(entry, total: (items.count, totalSeconds), show: showProgress) }
                        next += 1
                    }
                }
            }
            finished.signal()
        }
        finished.wait()
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }

        let progress = state.withLock { $0 }
        outcome.done = progress.filesDone
        outcome.audioSeconds = progress.secondsDone
        outcome.failures = progress.failures.sorted { $0.path < $1.path }
        outcome.notStarted = todo.count - progress.filesDone - progress.failures.count
        let status = engine.status
        outcome.windows = status.windows
        outcome.batches = status.batches
        outcome.labelsKept = progress.labelsKept
        outcome.labelsDropped = progress.labelsDropped
        if case .labels(_, let cutAudio) = settings.format, !manifest.entries.isEmpty {
            // Every input of the manifest whose labels exist (other shards' too), in manifest order.
            do {
                let funasr = try LabelWriter.merge(manifest.entries, suffix: ".funasr.jsonl", into: "labels.funasr.jsonl",
                                                   outputDirectory: settings.outputDirectory)
                outcome.merged.append(("labels.funasr.jsonl", funasr))
                if cutAudio {
                    let hf = try LabelWriter.merge(manifest.entries, suffix: ".hf.jsonl", into: "metadata.jsonl",
                                                   outputDirectory: settings.outputDirectory)
                    outcome.merged.append(("metadata.jsonl", hf))
                }
            } catch {
                outcome.failures.append(CorpusFailure(path: "(merged labels)", reason: "\(error)"))
            }
        }
        outcome.wallSeconds = Date().timeIntervalSince(started)
        return outcome
    }

    /// One file: read, recognised with the other files in flight, written, journaled. Failures are recorded.
    private func process(_ entry: CorpusEntry, total: (files: Int, seconds: Double), show: Bool) async {
        if Task.isCancelled { return }
        do {
            let seconds = try await transcribe(entry, show: show, total: total)
            state.withLock {
                $0.filesDone += 1
                $0.secondsDone += seconds
            }
        } catch is CancellationError {
            return
        } catch {
            if Task.isCancelled, state.withLock({ $0.stop }) { return }
            let reason = "\(error)".replacingOccurrences(of: entry.path + ": ", with: "")
            state.withLock {
                $0.failures.append(CorpusFailure(path: entry.relativePath, reason: reason))
                if settings.failFast { $0.stop = true }
            }
            FileHandle.standardError.write(Data("\(show ? "\n" : "")error: \(entry.relativePath): \(reason)\n".utf8))
        }
        drawProgress(show: show, total: total, force: true)
    }

    private func transcribe(_ entry: CorpusEntry, show: Bool, total: (files: Int, seconds: Double)) async throws -> Double {
        guard let identity = CorpusJournal.identity(of: entry.path) else {
            throw CLIError("\(entry.path): cannot stat the file (\(String(cString: strerror(errno))))")
        }
        let reader = try AudioFileReader(path: entry.path, targetSampleRate: 16_000)
        defer { reader.close() }
        let outputs = Self.outputs(of: entry, format: settings.format)
        let writer = try CorpusWriter(entry: entry, outputs: outputs, settings: settings)
        let job = try await engine.startJob(settings.job)
        let summary: JobSummary
        do {
            while true {
                try Task.checkCancellation()
                let block = try reader.read(maxSamples: 16_000)
                if block.isEmpty { break }
                try await job.push(block)
                state.withLock { $0.secondsRead += Double(block.count) / 16_000 }
                drawProgress(show: show, total: total, force: false)
            }
            summary = try await job.finish()
            for try await segment in job.segments { try writer.append(segment) }
        } catch {
            job.cancel()
            writer.abort()
            throw error
        }
        guard summary.audioSeconds > 0 else {
            writer.abort()
            throw CLIError("holds no audio samples (a zero-length recording); nothing to transcribe")
        }
        do {
            try writer.finish(language: summary.language ?? settings.job.language ?? "", duration: summary.audioSeconds)
        } catch {
            writer.abort()
            throw error
        }
        let counts = writer.labelCounts
        state.withLock {
            $0.labelsKept += counts.kept
            $0.labelsDropped += counts.dropped
        }
        try journal.append(CorpusJournal.Record(path: entry.relativePath, size: identity.size, mtime: identity.mtime,
                                                mtimeNs: identity.mtimeNs, outputs: writer.writtenFiles ?? outputs,
                                                seconds: summary.audioSeconds))
        return summary.audioSeconds
    }

    /// The corpus progress line: files, audio seconds and the time left at the pace so far.
    private func drawProgress(show: Bool, total: (files: Int, seconds: Double), force: Bool) {
        guard show else { return }
        let now = Date()
        let line: String? = state.withLock { p in
            guard force || now.timeIntervalSince(p.lastDrawn) >= 0.5 else { return nil }
            p.lastDrawn = now
            let elapsed = now.timeIntervalSince(started)
            let read = min(p.secondsRead, max(total.seconds, p.secondsRead))
            let eta = read > 0 && elapsed > 1 ? (total.seconds - read) / (read / elapsed) : nil
            return String(format: "\rfiles %d/%d (%d failed) · audio %.0f/%.0f s · %@", p.filesDone, total.files,
                          p.failures.count, read, total.seconds,
                          eta.map { "ETA \(Self.clock(max(0, $0)))" } ?? "ETA …")
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    /// `--dry-run`: this shard's files, each with its seconds and whether it is still to do, then totals.
    static func plan(manifest: CorpusManifest, format: CorpusOutputFormat, shard: ShardSpec?, outputDirectory: String,
                     overwrite: Bool) throws -> String {
        let share = shard.map { $0.select(manifest.entries) } ?? manifest.entries
        let journal = FileManager.default.fileExists(atPath: outputDirectory)
            ? try CorpusJournal.read(directory: outputDirectory) : [:]
        var text = ""
        var todo = 0
        for entry in share {
            let done = !overwrite && CorpusJournal.isFinished(entry, outputs: outputs(of: entry, format: format),
                                                              outputDirectory: outputDirectory, journal: journal)
            if !done { todo += 1 }
            text += String(format: "%@\t%.3f\t%@\n", entry.relativePath, entry.seconds, done ? "done" : "todo")
        }
        text += String(format: "# %d files, %.3f s of audio, %d to do (root %@)\n", share.count,
                       share.reduce(0) { $0 + $1.seconds }, todo, manifest.root)
        return text
    }

    /// The end-of-run summary for standard error.
    static func summary(_ outcome: CorpusOutcome, shard: ShardSpec?) -> String {
        var text = "corpus\(shard.map { " shard \($0.index)/\($0.count)" } ?? ""): \(outcome.files) files"
        text += ": \(outcome.done) transcribed, \(outcome.skipped) already done (skipped), \(outcome.failures.count) failed"
        if outcome.notStarted > 0 { text += ", \(outcome.notStarted) not started (--fail-fast)" }
        text += String(format: "\naudio %.3f h in %.1f s wall: %.1f× real time", outcome.audioSeconds / 3600, outcome.wallSeconds,
                       outcome.wallSeconds > 0 ? outcome.audioSeconds / outcome.wallSeconds : 0)
        if let peak = ProcessMemory.peakRSS() { text += "; peak RSS \(peak)" }
        if outcome.batches > 0 {
            text += String(format: "; %d windows in %d batches (%.1f per batch)", outcome.windows, outcome.batches,
                           Double(outcome.windows) / Double(outcome.batches))
        }
        text += "\n"
        if !outcome.merged.isEmpty {
            text += "labels: \(outcome.labelsKept) written, \(outcome.labelsDropped) dropped by the filters this run; "
            text += outcome.merged.map { "\($0.0) \($0.1) lines" }.joined(separator: ", ") + " (whole manifest)\n"
        }
        if !outcome.failures.isEmpty {
            text += "failed:\n" + outcome.failures.map { "  \($0.path): \($0.reason)\n" }.joined()
        }
        return text
    }
}
