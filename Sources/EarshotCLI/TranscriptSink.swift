import Foundation
import EarshotMemory
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

    func append(_ segment: TranscriptSegment) throws {
        guard format.isStreamable else {
            segments.append(segment)
            return
        }
        if written == 0 { try write(format.header) }
        written += 1
        try write(format.cue(segment, number: written))
    }

    func finish(language: String, duration: Double) throws {
        if !format.isStreamable {
            try write(format.render(Transcript(language: language, languageProbability: 1, duration: duration,
                                               segments: segments), task: task))
        } else if written == 0 {
            try write(format.header)   // an empty transcript is still a complete (empty) file
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

/// The `--memory-report` text: the ledger's report plus what only the pipeline knows.
enum MemoryReportText {
    static func render(_ report: PipelineReport) -> String {
        var text = report.memory?.render(format: .text) ?? ""
        text += "weights by stage: recognizer \(ByteCount(report.weightBytes)), VAD \(ByteCount(report.vadWeightBytes)) (loaded only with --vad fsmn)\n"
        if report.punctuationWeightBytes > 0 {
            text += "punctuation: weights \(ByteCount(report.punctuationWeightBytes)) (\(ByteCount(report.punctuationWeightBytes - report.punctuationResidentWeightBytes)) of them the mapped embedding table, resident only for the units seen; loaded only with --punc), working \(ByteCount(report.punctuationWorkingBytes)) for \(report.punctuationUnits) units\(report.punctuationAlignmentFailed ? " (units did not match the words: segments kept their text)" : "")\n"
        }
        text += "resident after load and warm-up \(ByteCount(report.baselineBytes))\n"
        text += String(format: "audio %.1f s in %d chunks, %d batches (memory allows up to %d per batch)\n",
                       report.audioSeconds, report.chunks, report.batchSizes.count, report.memoryBatchCap)
        return text
    }
}
