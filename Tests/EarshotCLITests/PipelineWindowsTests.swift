import Foundation
import Testing
import EarshotAudio
import EarshotFunASR
import EarshotPipeline
import EarshotText
import EarshotWhisper

/// Packed speech windows and per-utterance segments on real recordings, with tiny.en (int8) and FSMN-VAD.
@Suite("transcribe: speech-only windows and utterance timestamps", .serialized)
struct PipelineWindowsTests {
    static let rate = 16_000

    /// WER of the chunker this replaced (VAD segments grouped into ≤ 30-s spans, pauses included) on
    /// english-10min-seed0.wav, tiny.en int8, greedy: 13.51 % (118/72/14 of 1510), measured with
    /// `bench/run.py --skip-fw --audio … --earshot-args='--precision int8'` at commit 64d7a6c.
    static let oldChunkerWER = 0.1351

    /// One clip of a generated recording (`OUT.clips.tsv`).
    struct Clip { var start: Double; var end: Double; var id: String; var reference: String }

    static func clips(_ wav: String) throws -> [Clip] {
        let tsv = try String(contentsOfFile: (wav as NSString).deletingPathExtension + ".clips.tsv", encoding: .utf8)
        return tsv.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return Clip(start: Double(f[0])!, end: Double(f[1])!, id: f[2], reference: f.count > 3 ? f[3] : "")
        }
    }

    /// Transcribes with the library pipeline (as `earshot transcribe` does by default, int8 weights).
    static func transcribe(_ path: String, keepWords: Bool = true) throws -> ([TranscriptSegment], PipelineReport) {
        let whisper = try WhisperModel(directory: try CommandRunner.asset("models/whisper-tiny.en"), precision: .int8)
        let vad = try FSMNVAD(directory: try CommandRunner.asset("models/fsmn-vad"))
        var options = PipelineOptions()
        var decoding = WhisperDecodingOptions.greedy
        decoding.temperatures = [0]
        decoding.withoutTimestamps = true
        options.decoding = decoding
        options.keepWords = keepWords
        let pipeline = try StreamingTranscriber(whisper: whisper, vad: vad, options: options)
        var segments: [TranscriptSegment] = []
        let report = try pipeline.run(path: path) { segments.append($0) }
        return (segments, report)
    }

    /// The number of windows the replaced chunker made: FSMN-VAD segments (cut at 30 s) grouped while the
    /// span from the first start to the last end stays within 30 s (its rule, restated).
    static func oldChunkerWindows(_ path: String) throws -> Int {
        let vad = try FSMNVAD(directory: try CommandRunner.asset("models/fsmn-vad"))
        var options = vad.options
        options.maxSingleSegmentTime = 30_000
        let stream = try vad.makeStream(options: options)
        let samples = try AudioFileReader.readAll(path: path)
        var segments: [SpeechSegment] = []
        for event in stream.push(samples) + stream.finish() {
            if case .end(let segment) = event { segments.append(segment) }
        }
        var windows = 0
        var openStart: Int?
        for segment in segments {
            var start = segment.startMs
            while start < segment.endMs {
                let end = min(segment.endMs, start + 30_000)
                defer { start = end }
                if let open = openStart, end - open <= 30_000 { continue }
                if openStart != nil { windows += 1 }
                openStart = start
            }
        }
        return windows + (openStart == nil ? 0 : 1)
    }

    /// Where a clip's speech really starts and ends: the first and last 10-ms frame within 35 dB of the
    /// clip's loudest frame (the clips carry a little silence of their own).
    static func speechBounds(_ samples: [Float], _ clip: Clip) -> (start: Double, end: Double) {
        let from = Int(clip.start * Double(rate)), to = min(Int(clip.end * Double(rate)), samples.count)
        let frames = stride(from: from, to: to - 159, by: 160).map { i -> Double in
            var energy = 0.0
            for j in i..<(i + 160) { energy += Double(samples[j] * samples[j]) }
            return 10 * log10(energy / 160 + 1e-18)
        }
        let loud = (frames.max() ?? 0) - 35
        let first = frames.firstIndex { $0 > loud } ?? 0, last = frames.lastIndex { $0 > loud } ?? 0
        return (Double(from + first * 160) / Double(rate), Double(from + (last + 1) * 160) / Double(rate))
    }

    /// A recording of real clips with 0.3–3 s pauses (many short utterances), made in `directory`.
    static func shortUtterances(minutes: Int, in directory: String) throws -> String {
        let audio = directory + "/short-utt-\(minutes)min.wav"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/make-long-recording.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--minutes", "\(minutes)", "--gap-min", "0.3", "--gap-max", "3", "--out", audio]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "make-long-recording.py failed")
        return audio
    }

    static func wer(_ segments: [TranscriptSegment], _ audio: String) throws -> WordErrorRate {
        let reference = try String(contentsOfFile: (audio as NSString).deletingPathExtension + ".txt", encoding: .utf8)
            .split(separator: "\n").joined(separator: " ")
        return WordErrorRate(reference: reference, hypothesis: segments.map(\.text).joined())
    }

    @Test("WER does not rise (10-min recording); fewer windows than the old chunker on short utterances",
          .timeLimit(.minutes(20)))
    func windowsAndWER() throws {
        let audio = try PipelineMemoryTests.recording(minutes: 10)
        let (segments, report) = try Self.transcribe(audio, keepWords: false)
        let wer = try Self.wer(segments, audio)
        // Pauses here are only 0.4–1.2 s, so the old spans held little silence and the pads (0.8 s per
        // segment) can cost a window: printed, not asserted.
        print("10 min, 0.4–1.2 s pauses: \(report.chunks) windows (old chunker \(try Self.oldChunkerWindows(audio))), \(wer)")
        #expect(wer.wer <= Self.oldChunkerWER, "WER \(wer) rose above the old chunker's \(Self.oldChunkerWER)")
        let starts = segments.map(\.start)
        #expect(starts == starts.sorted())
        #expect(zip(segments, segments.dropFirst()).allSatisfy { $0.end <= $1.start + 1e-9 }, "segments overlap")

        let work = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let short = try Self.shortUtterances(minutes: 10, in: work)
        let (shortSegments, shortReport) = try Self.transcribe(short, keepWords: false)
        let old = try Self.oldChunkerWindows(short)
        print("10 min, 0.3–3 s pauses: \(shortReport.chunks) windows (old chunker \(old)), \(try Self.wer(shortSegments, short))")
        #expect(shortReport.chunks < old, "packing only speech should need fewer windows than \(old)")
    }

    @Test("utterance timestamps within 0.2 s on a recording of short utterances", .timeLimit(.minutes(10)))
    func utteranceTimestamps() throws {
        let work = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let audio = try Self.shortUtterances(minutes: 3, in: work)
        let samples = try AudioFileReader.readAll(path: audio)
        // The 30-s pyannote call holds several utterances and long pauses of its own: not one utterance.
        let clips = try Self.clips(audio).filter { !$0.id.hasPrefix("pyannote") }
        let (segments, report) = try Self.transcribe(audio)
        try #require(!segments.isEmpty)
        let starts = segments.map(\.start)
        #expect(starts == starts.sorted())
        #expect(zip(segments, segments.dropFirst()).allSatisfy { $0.end <= $1.start + 1e-9 }, "segments overlap")
        let truth = clips.map { Self.speechBounds(samples, $0) }

        guard segments.contains(where: { $0.words != nil }) else {
            // No word timings from Whisper: one segment per window, from its first piece's speech start to its
            // last piece's speech end. Every clip's speech must start and end inside segments.
            print("no word timings: \(segments.count) segments for \(report.chunks) windows")
            #expect(segments.count <= report.chunks)
            for (clip, bounds) in zip(clips, truth) {
                for edge in [bounds.start + 0.15, bounds.end - 0.15] {   // FSMN-VAD edges are within ~0.15 s
                    #expect(segments.contains { $0.start <= edge && edge <= $0.end },
                            "\(clip.id): its speech at \(edge) s is outside every segment")
                }
            }
            return
        }
        // Each clip's start is compared with the segment nearest to it that starts inside the clip's speech
        // (± 0.5 s), its end with the nearest segment end; an utterance merged with its neighbour counts as a miss.
        var hits = 0, total = 0
        var misses: [String] = []
        for (clip, bounds) in zip(clips, truth) {
            let start = segments.map { abs($0.start - bounds.start) }.min() ?? .infinity
            let end = segments.map { abs($0.end - bounds.end) }.min() ?? .infinity
            for (label, error) in [("start", start), ("end", end)] {
                total += 1
                if error <= 0.2 { hits += 1 } else { misses.append("\(clip.id) \(label) off by \(error) s") }
            }
        }
        print("utterance boundaries within 0.2 s: \(hits)/\(total); \(segments.count) segments, \(report.chunks) windows")
        for line in misses { print("  " + line) }
        #expect(Double(hits) >= 0.8 * Double(total), "too few utterance boundaries within 0.2 s")
        #expect(segments.count > report.chunks, "segments should be per utterance, not per window")
    }
}
