import ArgumentParser
import Foundation
import EarshotFunASR
import EarshotMemory
import EarshotPipeline
import EarshotTensor
import EarshotWhisper

/// `earshot tune`: the seed article's advice, automated — start with small batches, increase, measure
/// throughput and peak memory for each, and recommend the fastest setting that stays within the limit.
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Measure speed and peak memory for increasing batch sizes; recommend the fastest within a limit.")

    @Argument(help: "A representative recording.")
    var audio: String

    /// The same pipeline flags as `transcribe` (`--memory-limit` is required here).
    @OptionGroup var pipeline: PipelineArguments

    @Option(help: "Spoken language code (multilingual models); detected when omitted, as in transcribe.")
    var language: String?

    @Option(help: "Seconds of the recording to use for each trial.")
    var seconds: Double = 180

    @Option(help: "Batch sizes to try, comma-separated.")
    var batchSizes: String = "1,2,4,8,16"

    func validate() throws {
        if pipeline.punc != nil { throw ValidationError("--punc applies to earshot transcribe; tune does not punctuate") }
        guard pipeline.maxBatchSize == nil else { throw ValidationError("tune varies the batch size itself: list sizes with --batch-sizes") }
        guard pipeline.memoryLimit != nil else { throw ValidationError("give the memory limit to respect with --memory-limit, e.g. 300MB or 1GiB") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard !parsedSizes.isEmpty else { throw ValidationError("--batch-sizes must list positive integers") }
    }

    private var parsedSizes: [Int] {
        batchSizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }.sorted()
    }

    func run() throws {
        let memoryLimit = pipeline.memoryLimit!
        let limit = try ByteCount(parsing: memoryLimit)
        // Exactly what `transcribe` runs with the same flags (its default decoding), only the batch cap varies.
        let decoding = WhisperDecodingOptions()
        let recognizer = try pipeline.loadRecognizer(decoding: decoding)
        let vad = try pipeline.loadVAD()
        var rows: [(size: Int, cap: Int, wall: Double, audio: Double, peak: Int, ok: Bool)] = []
        for size in parsedSizes {
            var options = try pipeline.pipelineOptions(decoding: decoding, language: language)
            options.maxBatchSize = size
            options.batchBytes = nil
            options.maxAudioSeconds = seconds
            _ = ProcessMemory.resetPeak()
            let run: StreamingTranscriber
            do { run = try StreamingTranscriber(recognizer: recognizer, vad: vad, options: options) } catch {
                FileHandle.standardError.write(Data("batch \(size): \(error)\n".utf8))
                continue
            }
            let start = Date()
            let report = try run.run(path: audio) { _ in }
            let wall = Date().timeIntervalSince(start)
            let peak = ProcessMemory.peakRSS()?.bytes ?? report.peakResidentBytes
            rows.append((size, report.batchSizes.max() ?? 0, wall, report.audioSeconds, peak, peak <= limit.bytes))
            FileHandle.standardError.write(Data(String(format: "batch ≤ %d: %.1f s for %.0f s of audio, peak %@\n",
                                                       size, wall, report.audioSeconds, ByteCount(peak).description).utf8))
        }
        var table = "max batch | largest used | wall s | × real time | peak RSS | within \(limit)\n"
        for r in rows {
            table += String(format: "%9d | %12d | %6.1f | %11.1f | %@ | %@\n", r.size, r.cap, r.wall,
                            r.audio / max(r.wall, 1e-9), ByteCount(r.peak).description, r.ok ? "yes" : "NO")
        }
        if let best = rows.filter(\.ok).min(by: { $0.wall < $1.wall }) {
            table += "recommended: --max-batch-size \(best.size) --memory-limit \(memoryLimit)\n"
        } else {
            table += "no setting stayed within \(limit); raise the limit or use a smaller model or --precision int8\n"
        }
        try OutputFile.writeToStandardOutput(table)
    }
}
