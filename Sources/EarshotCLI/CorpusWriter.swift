import Foundation
import EarshotSpeech
import EarshotWhisper

/// What a corpus run writes for each input.
enum CorpusOutputFormat: Sendable, Equatable {
    /// One transcript file per input (txt, srt, vtt, json, verbose_json), as `earshot transcribe` writes.
    case transcript(TranscriptFormat)
    /// Teacher labels for distillation (``LabelWriter``), optionally with each utterance's audio cut out.
    case labels(LabelFilter, cutAudio: Bool)

    init?(name: String, filter: LabelFilter = LabelFilter(), cutAudio: Bool = false) {
        if name == "jsonl" { self = .labels(filter, cutAudio: cutAudio); return }
        guard let format = TranscriptFormat(rawValue: name) else { return nil }
        self = .transcript(format)
    }

    /// Extensions of the files written per input.
    var extensions: [String] {
        switch self {
        case .transcript(let format): [format.fileExtension]
        case .labels(_, let cutAudio): LabelWriter.outputs(stem: "", cutAudio: cutAudio).map { String($0.dropFirst()) }
        }
    }
}

/// The outputs of one input of a corpus run, each written through a temporary name (``TranscriptSink``) and
/// renamed into place only when complete; the folders that mirror the input tree are made on the way.
final class CorpusWriter {
    private var sinks: [TranscriptSink] = []
    private var labels: LabelWriter?
    private let directories: Set<String>

    init(entry: CorpusEntry, outputs: [String], settings: CorpusSettings) throws {
        let paths = outputs.map { (settings.outputDirectory as NSString).appendingPathComponent($0) }
        directories = Set(paths.map { ($0 as NSString).deletingLastPathComponent })
        for directory in directories {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw CLIError("cannot create \(directory): \(error.localizedDescription)")
            }
        }
        switch settings.format {
        case .transcript(let format):
            sinks = [TranscriptSink(format: format, task: settings.task, path: paths[0])]
        case .labels(let filter, let cutAudio):
            labels = LabelWriter(entry: entry, outputDirectory: settings.outputDirectory, filter: filter, cutAudio: cutAudio)
        }
    }

    func append(_ segment: TranscriptSegment) throws {
        for sink in sinks { try sink.append(segment) }
        labels?.append(segment)
    }

    /// Labels kept and dropped by the filter (0, 0 for transcripts).
    var labelCounts: (kept: Int, dropped: Int) { (labels?.kept ?? 0, labels?.dropped ?? 0) }

    /// Every file written for this input (cut audio included), relative to the output folder.
    var writtenFiles: [String]? { labels?.written }

    /// Completes every output (each renamed into place) and forces the folders' entries to disk.
    func finish(language: String, duration: Double) throws {
        for sink in sinks { try sink.finish(language: language, duration: duration) }
        try labels?.finish(language: language, duration: duration)
        for directory in directories { CorpusFiles.syncDirectory(directory) }
    }

    /// Removes any partial output.
    func abort() {
        for sink in sinks { sink.abort() }
        labels?.abort()
    }
}
