import Foundation
import EarshotCheckpoint
import EarshotAudio
import EarshotSpeech

/// Which teacher labels a distillation run keeps (`--min-avg-logprob`, `--max-compression-ratio`,
/// `--max-no-speech-prob`): a label whose window the teacher decoded with low confidence, or whose text
/// repeats itself (a high zlib compression ratio: the classic hallucination loop), is dropped.
struct LabelFilter: Sendable, Equatable {
    var minAvgLogProb: Double?
    var maxCompressionRatio: Double?
    var maxNoSpeechProb: Double?

    func keeps(avgLogProb: Double, compressionRatio: Double, noSpeechProb: Double) -> Bool {
        if let minAvgLogProb, avgLogProb < minAvgLogProb { return false }
        if let maxCompressionRatio, compressionRatio > maxCompressionRatio { return false }
        if let maxNoSpeechProb, noSpeechProb > maxNoSpeechProb { return false }
        return true
    }
}

/// `--output-format jsonl`: teacher labels in the layouts training tools read.
///
/// Per input, `STEM.funasr.jsonl` holds lines of FunASR's training jsonl — `key`, `source` (audio path),
/// `source_len` (10-ms frames, as FunASR's `scp2jsonl` counts: samples × 1000 / 16000 / 10), `target` (text),
/// `target_len` (words when the text has spaces, characters otherwise, as `scp2jsonl`) — plus the teacher's
/// `avg_logprob`, `no_speech_prob` and `compression_ratio` (FunASR's reader ignores keys it does not use).
///
/// With `--cut-audio` each kept utterance is cut out as a 16-kHz mono 16-bit WAV, `STEM.segments/NNNN.wav`,
/// the FunASR line points at it, and `STEM.hf.jsonl` holds the Hugging Face `audiofolder` line for it
/// (`file_name` relative to the output folder, `text`, the scores). Without it there is one FunASR line per
/// recording (its whole text; the worst score of its windows decides the filter) and no audiofolder line,
/// since audiofolder wants the audio inside its folder.
///
/// At the end of a run the per-input files of the whole manifest are concatenated, in manifest order, into
/// `labels.funasr.jsonl` and (with `--cut-audio`) the audiofolder's `metadata.jsonl`.
final class LabelWriter {
    private let entry: CorpusEntry
    private let outputDirectory: String
    private let filter: LabelFilter
    private let cutAudio: Bool
    private var segments: [TranscriptSegment] = []
    private(set) var kept = 0
    private(set) var dropped = 0
    /// Files written so far (renamed into place), relative to the output folder; removed again on abort.
    private(set) var written: [String] = []

    init(entry: CorpusEntry, outputDirectory: String, filter: LabelFilter, cutAudio: Bool) {
        self.entry = entry
        self.outputDirectory = outputDirectory
        self.filter = filter
        self.cutAudio = cutAudio
    }

    static func outputs(stem: String, cutAudio: Bool) -> [String] {
        cutAudio ? [stem + ".funasr.jsonl", stem + ".hf.jsonl"] : [stem + ".funasr.jsonl"]
    }

    func append(_ segment: TranscriptSegment) { segments.append(segment) }

    /// Writes the cut audio (if asked) and the label files, each through a temporary name.
    func finish(language: String, duration: Double) throws {
        let stem = entry.relativeStem
        var funasr = ""
        var hf = ""
        if cutAudio {
            let kept = segments.filter {
                !$0.text.trimmingCharacters(in: .whitespaces).isEmpty && $0.end > $0.start
                    && filter.keeps(avgLogProb: $0.avgLogProb, compressionRatio: $0.compressionRatio, noSpeechProb: $0.noSpeechProb)
            }
            dropped = segments.count - kept.count
            self.kept = kept.count
            let cuts = try cut(kept, into: stem + ".segments")
            for (segment, (relative, samples)) in zip(kept, cuts) {
                let text = segment.text.trimmingCharacters(in: .whitespaces)
                let scores = Scores(segment.avgLogProb, segment.compressionRatio, segment.noSpeechProb)
                funasr += try Self.line(key: "\(stem)#\(Self.number(segment.id))",
                                        source: (outputDirectory as NSString).appendingPathComponent(relative),
                                        samples: samples, text: text, scores: scores,
                                        extra: ["recording": entry.relativePath, "start": segment.start, "end": segment.end, "language": language])
                hf += try Self.json(["file_name": relative, "text": text, "avg_logprob": scores.avgLogProb,
                                     "compression_ratio": scores.compressionRatio, "no_speech_prob": scores.noSpeechProb,
                                     "recording": entry.relativePath, "start": segment.start, "end": segment.end]) + "\n"
            }
        } else {
            let texts = segments.map { $0.text.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let scores = Scores(segments.map(\.avgLogProb).min() ?? 0, segments.map(\.compressionRatio).max() ?? 0,
                                segments.map(\.noSpeechProb).max() ?? 0)
            if !texts.isEmpty, filter.keeps(avgLogProb: scores.avgLogProb, compressionRatio: scores.compressionRatio,
                                            noSpeechProb: scores.noSpeechProb) {
                let joiner = ["zh", "ja", "yue", "th", "lo", "my", "km"].contains(language) ? "" : " "
                funasr = try Self.line(key: stem, source: entry.path, samples: Int((duration * 16_000).rounded()),
                                       text: texts.joined(separator: joiner), scores: scores, extra: ["language": language])
                kept = 1
            } else {
                dropped = texts.isEmpty ? 0 : 1
            }
        }
        try publish(funasr, as: stem + ".funasr.jsonl")
        if cutAudio { try publish(hf, as: stem + ".hf.jsonl") }
    }

    /// Removes what this input wrote.
    func abort() {
        for relative in written { unlink((outputDirectory as NSString).appendingPathComponent(relative)) }
        written = []
    }

    struct Scores {
        var avgLogProb: Double
        var compressionRatio: Double
        var noSpeechProb: Double
        init(_ a: Double, _ c: Double, _ n: Double) { (avgLogProb, compressionRatio, noSpeechProb) = (a, c, n) }
    }

    static func number(_ n: Int) -> String { String(format: "%04d", n) }

    /// One FunASR training line.
    static func line(key: String, source: String, samples: Int, text: String, scores: Scores, extra: [String: Any]) throws -> String {
        var object: [String: Any] = ["key": key, "source": source, "source_len": samples * 1000 / 16_000 / 10,
                                     "target": text, "target_len": text.contains(" ") ? text.split(separator: " ").count : text.count,
                                     "avg_logprob": scores.avgLogProb, "compression_ratio": scores.compressionRatio,
                                     "no_speech_prob": scores.noSpeechProb]
        object.merge(extra) { a, _ in a }
        return try json(object) + "\n"
    }

    static func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    /// Cuts each segment's span out of the recording (read once more, front to back) into WAVs.
    private func cut(_ segments: [TranscriptSegment], into folder: String) throws -> [(String, Int)] {
        guard !segments.isEmpty else { return [] }
        try FileManager.default.createDirectory(atPath: (outputDirectory as NSString).appendingPathComponent(folder),
                                                withIntermediateDirectories: true)
        let reader = try AudioFileReader(path: entry.path, targetSampleRate: 16_000)
        defer { reader.close() }
        var position = 0
        var out: [(String, Int)] = []
        for segment in segments.sorted(by: { $0.start < $1.start }) {
            let start = max(position, Int((segment.start * 16_000).rounded()))
            let end = max(start, Int((segment.end * 16_000).rounded()))
            while position < start {
                let skipped = try reader.read(maxSamples: min(16_000, start - position)).count
                if skipped == 0 { break }
                position += skipped
            }
            var samples: [Float] = []
            while position < end {
                let block = try reader.read(maxSamples: min(16_000, end - position))
                if block.isEmpty { break }
                samples += block
                position += block.count
            }
            let relative = folder + "/" + Self.number(segment.id) + ".wav"
            try publish(Self.wav(samples), as: relative)
            out.append((relative, samples.count))
        }
        return out
    }

    /// 16-kHz mono 16-bit PCM WAV bytes.
    static func wav(_ samples: [Float]) -> Data {
        var data = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        data.append(contentsOf: Array("RIFF".utf8)); u32(UInt32(36 + samples.count * 2)); data.append(contentsOf: Array("WAVE".utf8))
        data.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(1); u16(1); u32(16_000); u32(32_000); u16(2); u16(16)
        data.append(contentsOf: Array("data".utf8)); u32(UInt32(samples.count * 2))
        for s in samples {
            let v = Int16(max(-32768, min(32767, (s * 32768).rounded())))
            withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    private func publish(_ text: String, as relative: String) throws { try publish(Data(text.utf8), as: relative) }

    /// Writes `data` under a temporary name, forces it to disk and renames it into place.
    private func publish(_ data: Data, as relative: String) throws {
        let target = (outputDirectory as NSString).appendingPathComponent(relative)
        let temporary = (target as NSString).deletingLastPathComponent + "/.\((target as NSString).lastPathComponent).\(getpid()).partial"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CLIError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(temporary, target) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CLIError("cannot write \(target): \(reason) (is the disk full?)")
        }
        written.append(relative)
    }

    /// Concatenates the per-input label files of `entries` that exist, in order, into `name` (atomically).
    static func merge(_ entries: [CorpusEntry], suffix: String, into name: String, outputDirectory: String) throws -> Int {
        var data = Data()
        var lines = 0
        for entry in entries {
            guard let part = FileBytes.read((outputDirectory as NSString).appendingPathComponent(entry.relativeStem + suffix)) else { continue }
            data.append(part)
            lines += part.split(separator: UInt8(ascii: "\n")).count
        }
        let writer = LabelWriter(entry: entries[0], outputDirectory: outputDirectory, filter: LabelFilter(), cutAudio: false)
        try writer.publish(data, as: name)
        return lines
    }
}
