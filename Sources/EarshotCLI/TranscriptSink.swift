import Foundation
import EarshotPipeline
import EarshotWhisper

/// Where one input's transcript goes: standard output, or a file written through a temporary name and
/// renamed into place only when complete. Plain text and subtitles are written segment by segment as they
/// arrive; JSON needs the whole transcript, so its segments are kept (a few hundred bytes each) until the end.
final class TranscriptSink {
    private let format: TranscriptFormat
    private let task: WhisperTask
    private let target: String?
    private let temporary: String?
    private var handle: FileHandle?
    private var segments: [TranscriptSegment] = []
    private var written = 0

    init(format: TranscriptFormat, task: WhisperTask, path: String?) {
        self.format = format
        self.task = task
        target = path
        temporary = path.map { p in
            let directory = (p as NSString).deletingLastPathComponent
            return (directory.isEmpty ? "." : directory) + "/.\((p as NSString).lastPathComponent).\(getpid()).partial"
        }
    }

    private var streams: Bool { format == .txt || format == .srt || format == .vtt }

    func append(_ segment: TranscriptSegment) throws {
        if streams {
            if written == 0 && format == .vtt { try write("WEBVTT\n\n") }
            written += 1
            var one = segment
            one.id = written
            let rendered = format.render(Transcript(language: "", languageProbability: 1, duration: 0, segments: [one]), task: task)
            try write(format == .vtt ? String(rendered.dropFirst("WEBVTT\n\n".count)) : renumbered(rendered, written))
        } else {
            segments.append(segment)
        }
    }

    /// SRT numbers cues; `render` numbers from 1, so a single-segment render is renumbered.
    private func renumbered(_ text: String, _ number: Int) -> String {
        guard format == .srt, text.hasPrefix("1\n") else { return text }
        return "\(number)\n" + text.dropFirst(2)
    }

    func finish(language: String, duration: Double) throws {
        if !streams {
            try write(format.render(Transcript(language: language, languageProbability: 1, duration: duration,
                                               segments: segments), task: task))
        } else if written == 0 && format == .vtt {
            try write("WEBVTT\n\n")
        } else if written == 0 {
            try write("")
        }
        if let handle {
            do { try handle.synchronize(); try handle.close() } catch {
                throw CLIError("cannot finish writing \(temporary ?? "output"): \(error)")
            }
            self.handle = nil
        }
        if let temporary, let target {
            if rename(temporary, target) != 0 {
                let reason = String(cString: strerror(errno))
                unlink(temporary)
                throw CLIError("cannot move the transcript into place at \(target): \(reason)")
            }
        }
    }

    /// Removes any partial output.
    func abort() {
        try? handle?.close()
        handle = nil
        if let temporary { unlink(temporary) }
    }

    private func write(_ text: String) throws {
        guard let temporary else {
            try OutputFile.writeToStandardOutput(text)
            return
        }
        if handle == nil {
            guard FileManager.default.createFile(atPath: temporary, contents: nil),
                  let opened = FileHandle(forWritingAtPath: temporary) else {
                throw CLIError("cannot create \(temporary): \(String(cString: strerror(errno))); check that the directory is writable")
            }
            handle = opened
        }
        do { try handle!.write(contentsOf: Data(text.utf8)) } catch {
            throw CLIError("cannot write \(target ?? temporary): \(error) (is the disk full?)")
        }
    }
}

/// The `--memory-report` text.
enum MemoryReportText {
    static func render(_ report: PipelineReport) -> String {
        func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        var lines = ["memory report"]
        if let limit = report.memoryLimit { lines.append("  limit                 \(limit)") }
        lines.append("  weights               \(mib(report.weightBytes))")
        lines.append("  baseline RSS          \(mib(report.baselineBytes)) (runtime, weights, tokenizer after warm-up)")
        if let ledger = report.ledger {
            for (category, peak) in ledger.peak.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where peak.bytes > 0 {
                lines.append("  peak \(category.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(mib(peak.bytes))")
            }
            lines.append("  peak reserved total   \(mib(ledger.peakTotal.bytes))")
        }
        lines.append("  peak RSS (VmHWM)      \(mib(report.peakResidentBytes))")
        lines.append("  audio                 \(String(format: "%.1f", report.audioSeconds)) s in \(report.chunks) chunks")
        var histogram: [Int: Int] = [:]
        for size in report.batchSizes { histogram[size, default: 0] += 1 }
        let sizes = histogram.keys.sorted().map { "\($0)×\(histogram[$0]!)" }.joined(separator: ", ")
        lines.append("  batches               \(report.batchSizes.count) (size×count: \(sizes); memory cap \(report.memoryBatchCap))")
        return lines.joined(separator: "\n") + "\n"
    }
}
