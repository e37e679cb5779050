import Foundation
import Testing
import EarshotAudio
@testable import EarshotWhisper

/// One word-timestamp oracle file (`scripts/oracle/whisper_words_oracle.py`).
struct WordOracleFile: Decodable {
    struct Word: Decodable {
        var word: String
        var start: Double
        var end: Double
        var probability: Double
    }
    struct Segment: Decodable {
        var seek: Int
        var start: Double
        var end: Double
        var text: String
        var tokens: [Int]
        var temperature: Double
        var words: [Word]
    }
    struct Decoding: Decodable {
        var language: String
        var segments: [Segment]
    }
    struct Recording: Decodable {
        var id: String
        var file: String
        var language_option: String?
        var timestamps: Decoding
        var notimestamps: Decoding
    }
    var model: String
    var model_dir: String
    var recordings: [Recording]

    static func load(_ name: String) throws -> WordOracleFile {
        try JSONDecoder().decode(WordOracleFile.self, from: TestAssets.fixture(name))
    }
}

/// Word timestamps (cross-attention alignment) against faster-whisper 1.2.1 `word_timestamps=True`.
@Suite("Word timestamps against faster-whisper", .serialized)
struct WordTimestampTests {
    /// Largest start/end difference allowed against faster-whisper: one DTW step (20 ms) plus rounding.
    /// Earshot's decoder pass is not bit-identical to CTranslate2's, so a near-tie in the DTW may resolve
    /// one encoder position differently.
    static let tolerance = 0.021

    static var greedyWords: WhisperDecodingOptions {
        var options = WhisperDecodingOptions.greedy
        options.temperatures = [0]
        options.wordTimestamps = true
        return options
    }

    struct Deviation {
        var words = 0
        var maxStart = 0.0
        var maxEnd = 0.0
        var maxProbability = 0.0
        var sumAbs = 0.0
        var outside = 0
        var exact = 0
        mutating func add(_ ours: WordTiming, _ theirs: WordOracleFile.Word, tolerance: Double) {
            words += 1
            if abs(ours.start - theirs.start) < 1e-9 && abs(ours.end - theirs.end) < 1e-9 { exact += 1 }
            let ds = abs(ours.start - theirs.start), de = abs(ours.end - theirs.end)
            maxStart = max(maxStart, ds)
            maxEnd = max(maxEnd, de)
            maxProbability = max(maxProbability, abs(ours.probability - theirs.probability))
            sumAbs += ds + de
            if ds > tolerance || de > tolerance { outside += 1 }
        }
        var summary: String {
            String(format: "%d words (%d with identical start and end), max |Δstart| %.3f s, max |Δend| %.3f s, mean |Δ| %.4f s, max |Δp| %.4f, %d beyond tolerance",
                   words, exact, maxStart, maxEnd, sumAbs / Double(max(2 * words, 1)), maxProbability, outside)
        }
        /// Nearly every word must come out exactly as faster-whisper's (the tolerance is for rare DTW ties).
        func check(minimumWords: Int, _ label: String) {
            #expect(words >= minimumWords, "\(label): too few words compared")
            #expect(Double(exact) >= 0.95 * Double(words), "\(label): \(summary)")
        }
    }

    /// Words of one segment are in order and inside the segment's window; their text is the segment's.
    func checkInvariants(_ words: [WordTiming], from: Double, to: Double, text: String?, _ label: String) {
        for (i, w) in words.enumerated() {
            #expect(w.start <= w.end, "\(label): word \(i) '\(w.word)' starts after it ends")
            #expect(w.start >= from - 1e-9 && w.end <= to + 1e-9,
                    "\(label): word '\(w.word)' \(w.start)–\(w.end) outside \(from)–\(to)")
            #expect(w.probability >= 0 && w.probability <= 1, "\(label): probability \(w.probability)")
            if i > 0 { #expect(words[i - 1].end <= w.start + 1e-9, "\(label): words \(i - 1), \(i) overlap") }
        }
        if let text { #expect(words.map(\.word).joined() == text, "\(label): words do not spell the segment") }
    }

    func sequential(model directory: String, oracle name: String, withoutTimestamps: Bool = false) throws -> Deviation {
        let oracle = try WordOracleFile.load(name)
        let model = try WhisperModel(directory: TestAssets.path(directory))
        var deviation = Deviation()
        for recording in oracle.recordings {
            let expected = withoutTimestamps ? recording.notimestamps : recording.timestamps
            if expected.segments.contains(where: { $0.temperature > 0 }) { continue }
            var options = Self.greedyWords
            options.language = recording.language_option
            options.withoutTimestamps = withoutTimestamps
            let samples = try AudioFileReader.readAll(path: TestAssets.path(recording.file))
            let transcript = try model.transcribe(audio: samples, options: options)
            let label = "\(oracle.model) \(recording.id)"
            try #require(transcript.segments.count == expected.segments.count,
                         "\(label): \(transcript.segments.count) segments, faster-whisper \(expected.segments.count)")
            for (ours, theirs) in zip(transcript.segments, expected.segments) {
                #expect(ours.text == theirs.text, "\(label): segment text")
                #expect(abs(ours.start - theirs.start) <= Self.tolerance && abs(ours.end - theirs.end) <= Self.tolerance,
                        "\(label): segment \(ours.start)–\(ours.end), faster-whisper \(theirs.start)–\(theirs.end)")
                let words = try #require(ours.words, "\(label): no words")
                #expect(words.map(\.word) == theirs.words.map(\.word), "\(label): words differ")
                for (w, t) in zip(words, theirs.words) {
                    deviation.add(w, t, tolerance: Self.tolerance)
                    #expect(abs(w.start - t.start) <= Self.tolerance && abs(w.end - t.end) <= Self.tolerance,
                            "\(label): '\(w.word)' \(w.start)–\(w.end), faster-whisper \(t.start)–\(t.end)")
                    #expect(abs(w.probability - t.probability) <= 0.01, "\(label): '\(w.word)' probability")
                }
                checkInvariants(words, from: 0, to: transcript.duration, text: nil, label)
            }
            #expect(transcript.segments.flatMap { $0.words ?? [] }.map(\.word).joined() == transcript.text,
                    "\(label): the words do not spell the transcript")
        }
        return deviation
    }

    @Test("tiny.en sequential word timestamps match faster-whisper")
    func tinySequential() throws {
        let d = try sequential(model: "models/whisper-tiny.en", oracle: "faster-whisper-tiny.en-words.json")
        print("tiny.en sequential words: \(d.summary)")
        d.check(minimumWords: 150, "tiny.en sequential")
    }

    /// Without timestamp tokens every window is one segment and the next window starts at the last word's
    /// end, so short recordings get further windows: this exercises the seek rule of word timestamps.
    @Test("tiny.en sequential word timestamps without timestamp tokens match faster-whisper (seek to the last word)")
    func tinySequentialWithoutTimestamps() throws {
        let d = try sequential(model: "models/whisper-tiny.en", oracle: "faster-whisper-tiny.en-words.json",
                               withoutTimestamps: true)
        print("tiny.en sequential words, without timestamps: \(d.summary)")
        d.check(minimumWords: 150, "tiny.en sequential without timestamps")
    }

    @Test("base sequential word timestamps match faster-whisper (language detection, Mandarin split by character)")
    func baseSequential() throws {
        let d = try sequential(model: "models/whisper-base", oracle: "faster-whisper-base-words.json")
        print("base sequential words: \(d.summary)")
        d.check(minimumWords: 150, "base sequential")
    }

    /// `transcribeBatch` of one chunk decodes exactly faster-whisper's first window with
    /// `without_timestamps=True`; its words must be where faster-whisper puts them, on the chunk's timeline.
    @Test("tiny.en batched word timestamps match faster-whisper without timestamps, on the chunk's timeline")
    func tinyBatched() throws {
        let oracle = try WordOracleFile.load("faster-whisper-tiny.en-words.json")
        let model = try WhisperModel(directory: TestAssets.path(oracle.model_dir))
        var options = Self.greedyWords
        options.withoutTimestamps = true
        var deviation = Deviation()
        for recording in oracle.recordings {
            let samples = try AudioFileReader.readAll(path: TestAssets.path(recording.file))
            let first = try #require(recording.notimestamps.segments.first)
            try #require(first.seek == 0)
            let offset = 100.0
            let chunks = [AudioChunk(samples: samples, startSeconds: 0, index: 0),
                          AudioChunk(samples: samples, startSeconds: offset, index: 1)]
            let result = try model.transcribeBatch(chunks, language: "en", options: options)
            let label = "batched \(recording.id)"
            try #require(result[0].count == 1, "\(label): one segment per chunk without timestamps")
            let segment = result[0][0]
            #expect(segment.text == first.text, "\(label): text")
            let words = try #require(segment.words)
            #expect(words.map(\.word) == first.words.map(\.word), "\(label): words differ")
            for (w, t) in zip(words, first.words) {
                deviation.add(w, t, tolerance: Self.tolerance)
                #expect(abs(w.start - t.start) <= Self.tolerance && abs(w.end - t.end) <= Self.tolerance,
                        "\(label): '\(w.word)' \(w.start)–\(w.end), faster-whisper \(t.start)–\(t.end)")
            }
            let duration = Double(samples.count) / 16_000
            checkInvariants(words, from: 0, to: duration, text: segment.text, label)
            #expect(segment.start == words.first?.start && segment.end == words.last?.end, "\(label): segment span")
            // The same chunk 100 s later: the same words, 100 s later.
            let shifted = try #require(result[1].first?.words)
            #expect(shifted.map(\.word) == words.map(\.word))
            for (a, b) in zip(shifted, words) {
                #expect(abs(a.start - (b.start + offset)) < 1e-9 && abs(a.end - (b.end + offset)) < 1e-9,
                        "\(label): shifted chunk")
            }
            checkInvariants(shifted, from: offset, to: offset + duration, text: segment.text, label + " +100 s")
        }
        print("tiny.en batched words: \(deviation.summary)")
        deviation.check(minimumWords: 150, "tiny.en batched")
    }

    /// Pairs of equal words in two word lists (longest common subsequence of the word texts).
    static func matchedWords(_ a: [WordTiming], _ b: [WordOracleFile.Word]) -> [(WordTiming, WordOracleFile.Word)] {
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i].word == b[j].word ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var pairs: [(WordTiming, WordOracleFile.Word)] = []
        var i = 0, j = 0
        while i < a.count && j < b.count {
            if a[i].word == b[j].word { pairs.append((a[i], b[j])); i += 1; j += 1 }
            else if table[i + 1][j] >= table[i][j + 1] { i += 1 } else { j += 1 }
        }
        return pairs
    }

    /// Batched (no timestamp tokens, one chunk) and int8 words against where faster-whisper's long-form run
    /// with timestamp tokens puts the same words: the decodings differ, the word times should not.
    @Test("tiny.en batched words (fp32 and int8) are where faster-whisper's timestamped run puts them")
    func batchedAgainstTimestamped() throws {
        let oracle = try WordOracleFile.load("faster-whisper-tiny.en-words.json")
        var options = Self.greedyWords
        options.withoutTimestamps = true
        for precision in [WeightPrecision.float32, .int8] {
            let model = try WhisperModel(directory: TestAssets.path(oracle.model_dir), precision: precision)
            var differences: [Double] = []
            for recording in oracle.recordings {
                let samples = try AudioFileReader.readAll(path: TestAssets.path(recording.file))
                let result = try model.transcribeBatch([AudioChunk(samples: samples, startSeconds: 0, index: 0)],
                                                       language: "en", options: options)
                let ours = result[0].flatMap { $0.words ?? [] }
                let theirs = recording.timestamps.segments.filter { $0.seek == 0 }.flatMap(\.words)
                for (a, b) in Self.matchedWords(ours, theirs) {
                    differences += [abs(a.start - b.start), abs(a.end - b.end)]
                }
            }
            let within = differences.filter { $0 <= 0.2 }.count
            let sorted = differences.sorted()
            print(String(format: "tiny.en batched %@ vs faster-whisper timestamped: %d matched words, median |Δ| %.3f s, %.1f%% within 0.2 s, max %.2f s",
                         precision.rawValue, differences.count / 2, sorted[sorted.count / 2],
                         100 * Double(within) / Double(differences.count), sorted.last ?? 0))
            #expect(differences.count / 2 >= 140, "\(precision): too few matched words")
            #expect(Double(within) >= 0.95 * Double(differences.count), "\(precision): word times too far off")
            #expect(sorted[sorted.count / 2] <= 0.02, "\(precision): median difference")
        }
    }

    @Test("very short, silent and mixed-length chunks in one batch: words stay inside their chunks")
    func edgeChunks() throws {
        let model = try WhisperModel(directory: TestAssets.path("models/whisper-tiny.en"))
        let speech = try AudioFileReader.readAll(path: TestAssets.path("audio/cards/005.wav"))
        let pieces: [[Float]] = [Array(speech.prefix(800)), Array(speech.prefix(3_200)), [Float](repeating: 0, count: 16_000),
                                 speech, [], Array(speech.suffix(20_000))]
        var start = 0.0
        var chunks: [AudioChunk] = []
        for (i, samples) in pieces.enumerated() {
            chunks.append(AudioChunk(samples: samples, startSeconds: start, index: i))
            start += Double(samples.count) / 16_000 + 1
        }
        var options = Self.greedyWords
        options.withoutTimestamps = true
        let result = try model.transcribeBatch(chunks, language: "en", options: options)
        var checked = 0
        for (chunk, segments) in zip(chunks, result) {
            for segment in segments {
                let words = try #require(segment.words, "chunk \(chunk.index): words missing")
                checkInvariants(words, from: chunk.startSeconds, to: chunk.startSeconds + chunk.durationSeconds,
                                text: words.isEmpty ? nil : segment.text, "chunk \(chunk.index)")
                #expect(segment.start >= chunk.startSeconds && segment.end <= chunk.startSeconds + chunk.durationSeconds + 1e-9)
                checked += words.count
            }
        }
        // The whole recording (chunk 3) alone gives the same words as in this batch.
        let alone = try model.transcribeBatch([chunks[3]], language: "en", options: options)
        #expect(alone[0].map(\.words) == result[3].map(\.words))
        #expect(checked > 0)
    }

    @Test("a model whose config.json has no alignment heads: word timestamps fail with a clear error")
    func missingAlignmentHeads() throws {
        let source = try TestAssets.path("models/whisper-tiny.en")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("earshot-noheads-\(getpid())").path
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for file in ["model.bin", "tokenizer.json", "vocabulary.txt"] {
            try FileManager.default.createSymbolicLink(atPath: directory + "/" + file, withDestinationPath: source + "/" + file)
        }
        var config = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: source + "/config.json"))) as? [String: Any])
        config["alignment_heads"] = nil
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: directory + "/config.json"))
        let model = try WhisperModel(directory: directory)
        let samples = try AudioFileReader.readAll(path: TestAssets.path("audio/cards/001.wav"))
        var plain = Self.greedyWords
        plain.wordTimestamps = false
        #expect(try !model.transcribeBatch([AudioChunk(samples: samples, startSeconds: 0, index: 0)], language: "en",
                                           options: plain).isEmpty)
        for options in [Self.greedyWords] {
            #expect { _ = try model.transcribe(audio: samples, options: options) } throws: { error in
                "\(error)".contains("alignment_heads")
            }
            #expect { _ = try model.transcribeBatch([AudioChunk(samples: samples, startSeconds: 0, index: 0)],
                                                    language: "en", options: options) } throws: { error in
                "\(error)".contains("alignment_heads")
            }
        }
    }
}

@Suite("Word timestamps in json and verbose_json")
struct WordTimestampFormatTests {
    func transcript(words: Bool) -> Transcript {
        let w = [WordTiming(word: " Hello,", start: 0.5, end: 0.9, probability: 0.75),
                 WordTiming(word: " world.", start: 0.9, end: 1.4, probability: 0.5)]
        let segment = TranscriptSegment(id: 1, seek: 0, start: 0.5, end: 1.4, text: " Hello, world.", tokens: [1, 2],
                                        temperature: 0, avgLogProb: -0.2, compressionRatio: 1, noSpeechProb: 0.01,
                                        words: words ? w : nil)
        return Transcript(language: "en", languageProbability: 1, duration: 2, segments: [segment])
    }

    func parse(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("words per segment (json, verbose_json) and at the top level (verbose_json)")
    func withWords() throws {
        for format in [TranscriptFormat.json, .verboseJSON] {
            let object = try parse(format.render(transcript(words: true)))
            let segments = try #require(object["segments"] as? [[String: Any]])
            let words = try #require(segments[0]["words"] as? [[String: Any]], "\(format)")
            #expect(words.count == 2)
            #expect(words[0]["word"] as? String == " Hello,")
            #expect(words[1]["start"] as? Double == 0.9 && words[1]["end"] as? Double == 1.4)
            #expect(words[0]["probability"] as? Double == 0.75)
            if format == .verboseJSON {
                let top = try #require(object["words"] as? [[String: Any]])
                #expect(top.map { $0["word"] as? String } == [" Hello,", " world."])
                #expect(top[0]["start"] as? Double == 0.5 && top[0]["probability"] == nil)
            } else {
                #expect(object["words"] == nil)
            }
        }
    }

    @Test("no words key without word timestamps")
    func withoutWords() throws {
        for format in [TranscriptFormat.json, .verboseJSON] {
            let object = try parse(format.render(transcript(words: false)))
            let segments = try #require(object["segments"] as? [[String: Any]])
            #expect(segments[0]["words"] == nil && object["words"] == nil, "\(format)")
        }
    }
}

@Suite("Word alignment memory cost")
struct WordAlignmentCostTests {
    @Test("word timestamps add the alignment scratch to the batch's fixed cost, and nothing without them")
    func cost() throws {
        for directory in ["models/whisper-tiny.en", "models/whisper-base"] {
            let model = try WhisperModel(directory: TestAssets.path(directory))
            let plain = model.batchCost, words = model.batchCost(wordTimestamps: true)
            #expect(plain.wordAlignment == 0)
            #expect(words.perChunk == plain.perChunk)
            #expect(words.fixed == plain.fixed + words.wordAlignment)
            // At least the two L×F attention matrices of the longest window text over 1500 positions.
            let dims = model.dimensions
            let longest = WhisperAligner.maxSequence(dims)
            #expect(longest >= dims.textContext / 2 + 1)
            #expect(words.wordAlignment >= 2 * longest * dims.audioContext * 4)
            print("\(directory): word alignment adds \(words.wordAlignment) bytes per batch (fixed \(plain.fixed) → \(words.fixed))")
        }
    }
}
