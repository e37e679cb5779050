import Foundation
import Testing

/// No flag is silently ignored: flags a mode cannot honour are refused with a message naming the flag, a
/// missing model says how to fetch it, and `--profile` reports every stage of the batched pipeline.
@Suite("transcribe flags: honoured or refused", .serialized)
struct TranscribeFlagsTests {
    let tiny: String
    let clip: String

    init() throws {
        tiny = try CommandRunner.asset("models/whisper-tiny.en")
        clip = try CommandRunner.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")
    }

    func expectRefused(_ arguments: [String], mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try CommandRunner.run(["transcribe", clip, "--model", tiny] + arguments)
        #expect(result.status != 0 && result.status < 128, "status \(result.status)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "nothing may be transcribed: \(result.stdout)", sourceLocation: sourceLocation)
        for word in mentions {
            #expect(result.stderr.contains(word), "stderr should mention '\(word)': \(result.stderr)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test("--sequential refuses the pipeline's memory and batching flags")
    func sequentialRefusesPipelineFlags() throws {
        try expectRefused(["--sequential", "--memory-limit", "300MB"], mentions: ["--memory-limit", "--sequential"])
        try expectRefused(["--sequential", "--memory-report"], mentions: ["--memory-report"])
        try expectRefused(["--sequential", "--max-batch-size", "2"], mentions: ["--max-batch-size"])
        try expectRefused(["--sequential", "--vad", "none"], mentions: ["--vad"])
    }

    @Test("the batched pipeline refuses a temperature fallback and beam search")
    func batchedRefusesSampling() throws {
        try expectRefused(["--temperature", "0,0.2"], mentions: ["temperature", "--sequential"])
        try expectRefused(["--beam-size", "5"], mentions: ["--sequential"])
    }

    @Test("a missing model names the command that fetches it")
    func missingModelSaysHowToFetch() throws {
        let empty = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let result = try CommandRunner.run(["transcribe", clip], environment: ["EARSHOT_CACHE": empty])
        #expect(result.status == 1)
        #expect(result.stderr.contains("earshot models fetch whisper-tiny.en"), "\(result.stderr)")
        let other = try CommandRunner.run(["transcribe", clip, "--model", empty + "/nothing-here"])
        #expect(other.status == 1)
        #expect(other.stderr.contains("nothing-here") && other.stderr.contains("earshot models fetch"), "\(other.stderr)")
    }

    @Test("--profile reports wall and CPU time of every stage and the encoder's and decoder's GFLOP/s")
    func profileReportsStages() throws {
        let result = try CommandRunner.run(["transcribe", clip, "--model", tiny, "--profile", "--no-progress"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.lowercased().contains("young man"), "\(result.stdout)")
        let rows = Dictionary(uniqueKeysWithValues: result.stderr.split(separator: "\n").compactMap { line -> (String, [String])? in
            let fields = line.split(separator: " ").map(String.init)
            return fields.count >= 5 ? (fields[0], fields) : nil
        })
        for stage in ["read", "vad", "mel", "encoder", "decoder", "output"] {
            let fields = try #require(rows[stage], "no '\(stage)' row in:\n\(result.stderr)")
            #expect(Double(fields[1]) != nil && Double(fields[2]) != nil, "wall and CPU seconds: \(fields)")
        }
        // One 30-s window of tiny.en: the encoder does ~36 GFLOP (convolutions, 4 blocks, cross K/V).
        let encoder = try #require(rows["encoder"])
        let gflop = try #require(Double(encoder[5]))
        #expect((30...45).contains(gflop), "encoder GFLOP for one window: \(gflop)")
        #expect((Double(encoder[6]) ?? 0) > 0)
    }

    @Test("json reports the language the pipeline detected, and --word-timestamps gives words on the recording's timeline")
    func languageAndWords() throws {
        let base = try CommandRunner.asset("models/whisper-base")
        let zh = try CommandRunner.asset("audio/zh/asr_example.wav")
        let detected = try CommandRunner.run(["transcribe", zh, "--model", base, "--output-format", "json", "--no-progress"])
        #expect(detected.status == 0, "\(detected.stderr)")
        let zhJSON = try #require(try JSONSerialization.jsonObject(with: Data(detected.stdout.utf8)) as? [String: Any])
        #expect(zhJSON["language"] as? String == "zh", "\(detected.stdout)")

        let result = try CommandRunner.run(["transcribe", clip, "--model", tiny, "--output-format", "json",
                                            "--word-timestamps", "--no-progress"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["language"] as? String == "en")
        let segments = try #require(json["segments"] as? [[String: Any]])
        let words = segments.flatMap { ($0["words"] as? [[String: Any]]) ?? [] }
        #expect(words.count >= 6, "\(result.stdout)")
        var previousEnd = 0.0
        for word in words {
            let start = try #require(word["start"] as? Double), end = try #require(word["end"] as? Double)
            #expect(start >= previousEnd - 1e-9 && end >= start && end <= 3.0, "word \(word)")
            previousEnd = end
        }
        let text = words.compactMap { $0["word"] as? String }.joined().lowercased()
        #expect(text.contains("young man"), "\(text)")
    }
}
