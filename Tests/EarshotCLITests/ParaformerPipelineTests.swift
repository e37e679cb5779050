import Foundation
import Testing
import EarshotMemory

/// FunASR's Paraformer through the same pipeline and command as Whisper: the model directory is recognised
/// by its files, `earshot transcribe` gives FunASR's own output (the oracle fixtures of
/// `scripts/oracle/paraformer_oracle.py`), batches under `--memory-limit` with the memory report, and bad
/// model directories name the file and what is wrong.
@Suite("transcribe with Paraformer (FunASR oracle fixtures)", .serialized)
struct ParaformerPipelineTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EarshotFunASRTests/Fixtures/paraformer").path

    struct Oracle: Decodable {
        struct Run: Decodable { var calls: [Call] }
        struct Call: Decodable { var items: [Item] }
        struct Item: Decodable { var key: String; var text: String; var timestamp: [[Int]]? }
        var runs: [String: Run]
        var hotwords: String?

        /// FunASR's result for one clip run alone (`single`, or `single_hw` with the hotwords).
        func single(_ key: String, run: String = "single") throws -> Item {
            try #require(runs[run]?.calls.flatMap(\.items).first { $0.key == key })
        }
    }

    struct Output: Decodable {
        struct Segment: Decodable { var text: String; var start: Double; var end: Double; var words: [Word]? }
        struct Word: Decodable { var word: String; var start: Double; var end: Double }
        var language: String
        var text: String
        var segments: [Segment]
    }

    static func oracle(_ model: String) throws -> Oracle {
        try JSONDecoder().decode(Oracle.self, from: Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/\(model)/oracle.json")))
    }

    @Test("the whole clip as one window: FunASR's text and (BiCif, SeACo) word timestamps",
          arguments: ["paraformer-small", "bicif-small", "seaco-small"])
    func oracleText(model: String) throws {
        let clip = try CommandRunner.asset("audio/zh/asr_example.wav")
        let result = try CommandRunner.run(["transcribe", clip, "--model", "\(Self.fixtures)/\(model)", "--vad", "none",
                                            "--precision", "fp32", "--output-format", "json", "--word-timestamps"])
        try #require(result.status == 0, "\(result.stderr)")
        let output = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
        let want = try Self.oracle(model).single("zh")
        #expect(output.language == "zh")
        let unspaced = { (s: String) in s.filter { !$0.isWhitespace } }
        #expect(unspaced(output.text) == unspaced(want.text))
        if let stamps = want.timestamp, model != "paraformer-small" {
            // FunASR's last end may pass the end of the audio (5 580 ms on this 5 547-ms clip); the pipeline
            // keeps word times inside the recording.
            let clipMs = Int((88_747.0 / 16).rounded())
            let words = output.segments.flatMap { $0.words ?? [] }
            #expect(words.map { Int(($0.start * 1000).rounded()) } == stamps.map { min($0[0], clipMs) })
            #expect(words.map { Int(($0.end * 1000).rounded()) } == stamps.map { min($0[1], clipMs) })
        }
    }

    @Test("--hotwords bias SeACo as FunASR's hotword run does; other models refuse them")
    func hotwords() throws {
        let clip = try CommandRunner.asset("audio/zh/asr_example.wav")
        let oracle = try Self.oracle("seaco-small")
        let words = try #require(oracle.hotwords)
        let result = try CommandRunner.run(["transcribe", clip, "--model", "\(Self.fixtures)/seaco-small", "--vad", "none",
                                            "--precision", "fp32", "--hotwords", words])
        try #require(result.status == 0, "\(result.stderr)")
        let unspaced = { (s: String) in s.filter { !$0.isWhitespace } }
        let want = try oracle.single("zh", run: "single_hw")
        #expect(unspaced(result.stdout) == unspaced(want.text))
        #expect(unspaced(want.text) != unspaced(try oracle.single("zh").text), "the hotwords changed nothing in FunASR's run")
        let refused = try CommandRunner.run(["transcribe", clip, "--model", "\(Self.fixtures)/bicif-small", "--hotwords", words])
        #expect(refused.status != 0 && refused.stderr.contains("SeacoParaformer"), "\(refused.stderr)")
    }

    @Test("FSMN-VAD → batched Paraformer under --memory-limit: peak RSS within it, same text as one window per batch", .disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates"))
    func batchedUnderLimit() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let audio = try PipelineWindowsTests.shortUtterances(minutes: 2, in: directory)
        let model = "\(Self.fixtures)/bicif-small"
        let rss = directory + "/rss"
        let batched = try CommandRunner.run(["transcribe", audio, "--model", model, "--memory-limit", "120MB",
                                             "--memory-report", "--output-format", "json"],
                                            launcher: ["/usr/bin/time", "-f", "%M", "-o", rss])
        try #require(batched.status == 0, "\(batched.stderr)")
        #expect(batched.stderr.contains("memory report") && batched.stderr.contains("batches:"))
        let peakKiB = try #require(Int(String(contentsOfFile: rss, encoding: .utf8).split(separator: "\n").last ?? ""))
        #expect(peakKiB * 1024 <= 120_000_000, "peak \(peakKiB) KiB")
        let single = try CommandRunner.run(["transcribe", audio, "--model", model, "--max-batch-size", "1",
                                            "--output-format", "json"])
        try #require(single.status == 0, "\(single.stderr)")
        let a = try JSONDecoder().decode(Output.self, from: Data(batched.stdout.utf8))
        let b = try JSONDecoder().decode(Output.self, from: Data(single.stdout.utf8))
        #expect(a.segments.count > 1)
        #expect(a.segments.map(\.text) == b.segments.map(\.text))
    }

    @Test("bad model directories name the file and what is wrong")
    func badDirectories() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clip = try CommandRunner.asset("audio/zh/asr_example.wav")
        let fm = FileManager.default
        func copy(_ name: String) throws -> String {
            let path = directory + "/" + name
            try fm.copyItem(atPath: "\(Self.fixtures)/bicif-small", toPath: path)
            return path
        }
        func expectError(_ model: String, mentions words: [String]) throws {
            let result = try CommandRunner.run(["transcribe", clip, "--model", model])
            #expect(result.status != 0 && result.stdout.isEmpty, "\(result.status) \(result.stdout)")
            for word in words { #expect(result.stderr.contains(word), "'\(word)' not in: \(result.stderr)") }
        }
        let noTokens = try copy("no-tokens")
        try fm.removeItem(atPath: noTokens + "/tokens.json")
        try expectError(noTokens, mentions: ["tokens.json", "missing"])

        let unknown = try copy("unknown-class")
        let config = try String(contentsOfFile: unknown + "/config.yaml", encoding: .utf8)
        try config.replacingOccurrences(of: "model: BiCifParaformer", with: "model: ConformerCTC")
            .write(toFile: unknown + "/config.yaml", atomically: true, encoding: .utf8)
        try expectError(unknown, mentions: ["config.yaml", "ConformerCTC"])

        let mismatched = try copy("shape-mismatch")
        try fm.removeItem(atPath: mismatched + "/model.pt")
        try fm.copyItem(atPath: "\(Self.fixtures)/paraformer-small/model.pt", toPath: mismatched + "/model.pt")
        try expectError(mismatched, mentions: ["model.pt"])

        try expectError(try CommandRunner.asset("models/fsmn-vad"), mentions: ["voice activity detector", "--vad-model"])
    }
}
