import Foundation
import Testing
import EarshotMemory

/// `earshot transcribe --punc DIR`: FunASR's CT-Transformer after recognition, checked against FunASR's
/// `AutoModel(model=bicif-small, vad_model=…, punc_model=punc-small)` with `sentence_timestamp=True` on the
/// Mandarin clip (Fixtures/punctuation/pipeline.json, scripts/oracle/punctuation_oracle.py; FunASR's VAD is
/// pinned to one segment covering the clip, which is what `--vad none` recognises).
@Suite("transcribe --punc (FunASR AutoModel oracle)", .serialized)
struct PunctuationPipelineTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EarshotFunASRTests/Fixtures").path
    static let asr = fixtures + "/paraformer/bicif-small"
    static let punc = fixtures + "/punctuation/punc-small"

    struct Oracle: Decodable {
        struct Sentence: Decodable { var text: String; var start: Int; var end: Int }
        var text: String
        var samples: Int
        var sentence_info: [Sentence]
    }

    struct Output: Decodable {
        struct Segment: Decodable { var text: String; var start: Double; var end: Double; var words: [Word]? }
        struct Word: Decodable { var word: String; var start: Double; var end: Double }
        var text: String
        var segments: [Segment]
    }

    static func oracle() throws -> Oracle {
        try JSONDecoder().decode(Oracle.self, from: Data(contentsOf: URL(fileURLWithPath: fixtures + "/punctuation/pipeline.json")))
    }

    @Test("segments are FunASR's sentence_info: text with marks, start and end from the units' times")
    func sentences() throws {
        let clip = try CommandRunner.asset("audio/zh/asr_example.wav")
        let oracle = try Self.oracle()
        let result = try CommandRunner.run(["transcribe", clip, "--model", Self.asr, "--punc", Self.punc, "--vad", "none",
                                            "--precision", "fp32", "--output-format", "json", "--memory-report"])
        try #require(result.status == 0, "\(result.stderr)")
        let output = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
        #expect(output.segments.map(\.text) == oracle.sentence_info.map(\.text))
        // FunASR's last end may pass the end of the audio; the pipeline keeps times inside the recording.
        let clipMs = Int((Double(oracle.samples) / 16).rounded())
        #expect(output.segments.map { Int(($0.start * 1000).rounded()) } == oracle.sentence_info.map { min($0.start, clipMs) })
        #expect(output.segments.map { Int(($0.end * 1000).rounded()) } == oracle.sentence_info.map { min($0.end, clipMs) })
        #expect(output.segments.allSatisfy { $0.words == nil }, "words only with --word-timestamps")
        #expect(result.stderr.contains("punctuation: weights"), "\(result.stderr)")

        // --word-timestamps keeps each sentence's words; txt gives one sentence per line
        let words = try CommandRunner.run(["transcribe", clip, "--model", Self.asr, "--punc", Self.punc, "--vad", "none",
                                           "--precision", "fp32", "--output-format", "json", "--word-timestamps"])
        try #require(words.status == 0, "\(words.stderr)")
        let withWords = try JSONDecoder().decode(Output.self, from: Data(words.stdout.utf8))
        #expect(withWords.segments.map(\.text) == oracle.sentence_info.map(\.text))
        #expect(withWords.segments.allSatisfy { s in (s.words?.first?.start).map { abs($0 - s.start) < 1e-6 } ?? false })
        let txt = try CommandRunner.run(["transcribe", clip, "--model", Self.asr, "--punc", Self.punc, "--vad", "none",
                                         "--precision", "fp32"])
        try #require(txt.status == 0, "\(txt.stderr)")
        #expect(txt.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == oracle.sentence_info.map(\.text))
    }

    @Test("without --punc nothing is punctuated and no punctuation weights load")
    func offByDefault() throws {
        let clip = try CommandRunner.asset("audio/zh/asr_example.wav")
        let result = try CommandRunner.run(["transcribe", clip, "--model", Self.asr, "--vad", "none", "--precision", "fp32",
                                            "--output-format", "json", "--memory-report"])
        try #require(result.status == 0, "\(result.stderr)")
        let output = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
        #expect(!output.text.contains("，") && !output.text.contains("。"))
        #expect(!result.stderr.contains("punctuation:"))
    }

    @Test("bad punctuation directories name the file and what is wrong")
    func badDirectories() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try CommandRunner.asset("audio/zh/asr_example.wav")
        let fm = FileManager.default
        func copy(_ name: String, from source: String = Self.punc) throws -> String {
            let path = directory + "/" + name
            try fm.copyItem(atPath: source, toPath: path)
            return path
        }
        func expectError(_ punc: String, mentions words: [String], model: String = Self.asr) throws {
            let result = try CommandRunner.run(["transcribe", clip, "--model", model, "--punc", punc, "--vad", "none"])
            #expect(result.status != 0 && result.stdout.isEmpty, "\(result.status) \(result.stdout)")
            for word in words { #expect(result.stderr.contains(word), "'\(word)' not in: \(result.stderr)") }
        }
        try expectError(directory + "/nowhere", mentions: ["nowhere", "no such punctuation model directory"])

        let noTokens = try copy("no-tokens")
        try fm.removeItem(atPath: noTokens + "/tokens.json")
        try expectError(noTokens, mentions: ["tokens.json", "missing"])

        // a recognizer given as the punctuation model, and the punctuation model given as the recognizer
        try expectError(Self.asr, mentions: ["config.yaml", "BiCifParaformer", "not a punctuation model"])
        try expectError(Self.punc, mentions: ["punctuation model", "--punc"], model: Self.punc)

        // tokens.json one entry short: embed.weight no longer matches
        let short = try copy("shape-mismatch")
        let tokens = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: short + "/tokens.json"))) as? [String])
        try JSONSerialization.data(withJSONObject: Array(tokens.dropFirst())).write(to: URL(fileURLWithPath: short + "/tokens.json"))
        try expectError(short, mentions: ["model.pt", "embed.weight", "shape"])

        // the word-level cn-en model (jieba segmentation) is refused by name
        let jieba = try copy("jieba")
        try "达摩院 10\n".write(toFile: jieba + "/jieba_usr_dict", atomically: true, encoding: .utf8)
        try expectError(jieba, mentions: ["jieba_usr_dict", "word-level"])

        // the classifier's width disagrees with config.yaml
        let wide = try copy("config-mismatch")
        let config = try String(contentsOfFile: wide + "/config.yaml", encoding: .utf8)
        try config.replacingOccurrences(of: "linear_units: 64", with: "linear_units: 96")
            .write(toFile: wide + "/config.yaml", atomically: true, encoding: .utf8)
        try expectError(wide, mentions: ["model.pt", "feed_forward"])
    }

    @Test("Whisper output is punctuated only with --punc; the sentences keep Whisper's words in order and times")
    func whisper() throws {
        let clip = try CommandRunner.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")
        let plain = try CommandRunner.run(["transcribe", clip, "--output-format", "json"])
        try #require(plain.status == 0, "\(plain.stderr)")
        let whisper = try JSONDecoder().decode(Output.self, from: Data(plain.stdout.utf8))
        #expect(!whisper.text.contains("，") && !whisper.text.contains("。"))
        let result = try CommandRunner.run(["transcribe", clip, "--punc", Self.punc, "--output-format", "json"])
        try #require(result.status == 0, "\(result.stderr)")
        let punctuated = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
        let marks = Set("，。？、")
        let squeeze = { (s: String) in String(s.filter { !$0.isWhitespace && !marks.contains($0) }) }
        #expect(squeeze(punctuated.segments.map(\.text).joined()) == squeeze(whisper.text))
        #expect(punctuated.segments.count > 1)
        #expect(zip(punctuated.segments, punctuated.segments.dropFirst()).allSatisfy { $0.end <= $1.start + 1e-9 && $0.start <= $0.end })
        #expect(punctuated.segments.first!.start >= whisper.segments.first!.start - 1e-9)
        #expect(punctuated.segments.last!.end <= whisper.segments.last!.end + 1e-9)
    }

    @Test("FSMN-VAD → batched Paraformer → punctuation under --memory-limit: peak within it, the stage in the report", .disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates"))
    func underMemoryLimit() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let audio = try PipelineWindowsTests.shortUtterances(minutes: 2, in: directory)
        let rss = directory + "/rss"
        let result = try CommandRunner.run(["transcribe", audio, "--model", Self.asr, "--punc", Self.punc, "--memory-limit", "120MB",
                                            "--memory-report", "--output-format", "json"],
                                           launcher: ["/usr/bin/time", "-f", "%M", "-o", rss])
        try #require(result.status == 0, "\(result.stderr)")
        let peakKiB = try #require(Int(String(contentsOfFile: rss, encoding: .utf8).split(separator: "\n").last ?? ""))
        #expect(peakKiB * 1024 <= 120_000_000, "peak \(peakKiB) KiB")
        #expect(result.stderr.contains("punctuation: weights") && result.stderr.contains("units"), "\(result.stderr)")
        let output = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
        let marks = Set("，。？、")
        #expect(output.segments.count > 10)
        #expect(output.segments.dropLast().allSatisfy { $0.text.last.map(marks.contains) == true })
        #expect(zip(output.segments, output.segments.dropFirst()).allSatisfy { $0.start <= $1.start })
    }

    /// Issue 11's acceptance: all four stages — FSMN-VAD, batched Paraformer, punctuation, speakers — in one run
    /// under one `--memory-limit`, each shown in the memory report; with resemblyzer (real weights) and with
    /// CAM++ (the committed small FunASR-built model, random weights: which speaker is arbitrary, that each
    /// sentence gets one is not).
    @Test("FSMN-VAD → Paraformer → punctuation → speakers under one --memory-limit", .disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates"),
          arguments: ["resemblyzer", "campplus"])
    func allFourStages(speakerModel: String) throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let audio = try PipelineWindowsTests.shortUtterances(minutes: 2, in: directory)
        let rss = directory + "/rss"
        var arguments = ["transcribe", audio, "--model", Self.asr, "--vad", "fsmn", "--punc", Self.punc, "--diarize",
                         "--memory-limit", "200MB", "--memory-report", "--output-format", "json"]
        if speakerModel == "campplus" { arguments += ["--speaker-model", Self.fixtures + "/campplus/small"] }
        let result = try CommandRunner.run(arguments, launcher: ["/usr/bin/time", "-f", "%M", "-o", rss])
        try #require(result.status == 0, "\(result.stderr)")
        let peakKiB = try #require(Int(String(contentsOfFile: rss, encoding: .utf8).split(separator: "\n").last ?? ""))
        #expect(peakKiB * 1024 <= 200_000_000, "peak \(peakKiB) KiB")
        #expect(result.stderr.contains("punctuation: weights"), "\(result.stderr)")
        #expect(result.stderr.contains(speakerModel == "campplus" ? "speaker: small weights" : "pretrained.pt weights"),
                "\(result.stderr)")
        struct Labelled: Decodable {
            struct Segment: Decodable { var text: String; var speaker: String? }
            var segments: [Segment]
        }
        let output = try JSONDecoder().decode(Labelled.self, from: Data(result.stdout.utf8))
        #expect(output.segments.count > 10)
        #expect(output.segments.allSatisfy { $0.speaker?.hasPrefix("spk") == true }, "a sentence without a speaker")
    }
}
