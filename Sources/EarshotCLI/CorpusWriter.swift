import Foundation
import EarshotSpeech
import EarshotWhisper

/// What a corpus run writes for each input.
enum CorpusOutputFormat: Sendable, Equatable {
    /// One transcript file per input (txt, srt, vtt, json, verbose_json), as `earshot transcribe` writes.
    case transcript(TranscriptFormat)

    init?(name: String) {
        guard let format = TranscriptFormat(rawValue: name) else { return nil }
        self = .transcript(format)
    }

    /// Extensions of the files written per input.
    var extensions: [String] {
        switch self {
        case .transcript(let format): [format.fileExtension]
        }
    }
}

/// The outputs of one input of a corpus run, each written through a temporary name (``TranscriptSink``) and
/// renamed into place only when complete; the folders that mirror the input tree are made on the way.
final class CorpusWriter {
    private var sinks: [TranscriptSink] = []
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
        }
    }

    func append(_ segment: TranscriptSegment) throws {
        for sink in sinks { try sink.append(segment) }
    }

    /// Completes every output (each renamed into place) and forces the folders' entries to disk.
    func finish(language: String, duration: Double) throws {
        for sink in sinks { try sink.finish(language: language, duration: duration) }
        for directory in directories { CorpusFiles.syncDirectory(directory) }
    }

    /// Removes any partial output.
    func abort() {
        for sink in sinks { sink.abort() }
    }
}
