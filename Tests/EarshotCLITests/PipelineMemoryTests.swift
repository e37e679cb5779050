import Foundation
import Testing
import EarshotMemory

/// The bounded-memory pipeline, measured from outside the process: `/usr/bin/time` reports the child's
/// peak resident set (ru_maxrss), which is what a user's machine sees.
@Suite("transcribe: batching and memory bounds", .serialized)
struct PipelineMemoryTests {
    let tiny: String
    let work: String

    init() throws {
        tiny = try CommandRunner.asset("models/whisper-tiny.en")
        _ = try CommandRunner.asset("models/fsmn-vad/model.pt")
        work = try CommandRunner.temporaryDirectory()
    }

    /// Builds (once, into the cache) a deterministic recording of real clips, `minutes` long.
    static func recording(minutes: Int) throws -> String {
        let out = CommandRunner.cache + "/long/english-\(minutes)min-seed0.wav"
        if FileManager.default.fileExists(atPath: out) { return out }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/make-long-recording.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--minutes", "\(minutes)", "--out", out]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "make-long-recording.py failed for \(minutes) min")
        return out
    }

    /// Runs `earshot transcribe` under GNU time; returns the result and the peak RSS in bytes.
    func measured(_ arguments: [String]) throws -> (CommandRunner.Result, Int) {
        try measured(command: "transcribe", arguments)
    }

    /// Runs an `earshot` subcommand under GNU time; returns the result and the peak RSS in bytes.
    func measured(command: String, _ arguments: [String]) throws -> (CommandRunner.Result, Int) {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/time"),
                     "GNU time is needed (apt-get install time; scripts/install-deps.sh does it)")
        let report = work + "/time-\(UUID().uuidString).txt"
        let result = try CommandRunner.run([command] + arguments,
                                           launcher: ["/usr/bin/time", "-f", "%M", "-o", report])
        let kilobytes = Int((try String(contentsOfFile: report, encoding: .utf8))
            .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last ?? "") ?? 0
        return (result, kilobytes * 1024)
    }

    struct Output: Decodable {
        struct Segment: Decodable, Equatable { var start: Double; var end: Double; var text: String }
        var text: String
        var segments: [Segment]
    }

    @Test("greedy output is the same for every batch size")
    func batchSizeInvariance() throws {
        let audio = try Self.recording(minutes: 3)
        var outputs: [Int: Output] = [:]
        for size in [1, 3, 16] {
            let result = try CommandRunner.run(["transcribe", audio, "--model", tiny, "--output-format", "json",
                                                "--max-batch-size", "\(size)"])
            #expect(result.status == 0, "\(result.stderr)")
            outputs[size] = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
        }
        #expect(outputs[1]!.segments.count >= 6, "a 3-minute recording should make several chunks")
        #expect(outputs[1]!.segments == outputs[3]!.segments)
        #expect(outputs[1]!.segments == outputs[16]!.segments)
        let starts = outputs[16]!.segments.map(\.start)
        #expect(starts == starts.sorted(), "segments must come out in chronological order")
    }

    @Test("peak RSS stays at or under the memory limit at three limits", .disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates"))
    func memoryLimits() throws {
        let audio = try Self.recording(minutes: 10)
        var batchCaps: [String] = []
        for limit in ["260MB", "320MB", "450MB"] {
            let (result, peak) = try measured([audio, "--model", tiny, "--memory-limit", limit, "--memory-report",
                                               "--output-format", "txt"])
            #expect(result.status == 0, "\(limit): \(result.stderr)")
            let limitBytes = Int(limit.dropLast(2))! * 1_000_000
            #expect(peak <= limitBytes, "peak RSS \(peak) bytes exceeds --memory-limit \(limit)")
            #expect(result.stdout.lowercased().contains("dashwood"), "the transcript should contain the LibriVox text")
            let cap = result.stderr.split(separator: "\n").first { $0.contains("memory cap") } ?? ""
            batchCaps.append("\(limit): peak \(peak / 1_000_000) MB, \(cap)")
        }
        print(batchCaps.joined(separator: "\n"))
    }

    @Test("a limit below the smallest workable one fails up front with the figure to use")
    func limitTooLow() throws {
        let audio = try Self.recording(minutes: 3)
        let out = work + "/low"
        let result = try CommandRunner.run(["transcribe", audio, "--model", tiny, "--memory-limit", "100MB",
                                            "--output-dir", out])
        #expect(result.status != 0)
        #expect(result.stderr.contains("smallest workable limit"), "\(result.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).isEmpty)
    }

    @Test("peak RSS for a 2-hour recording is within 1.1× that for a 5-minute one", .timeLimit(.minutes(30)), .disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates"))
    func constantMemory() throws {
        let short = try Self.recording(minutes: 5)
        let long = try Self.recording(minutes: 120)
        let (shortResult, shortPeak) = try measured([short, "--model", tiny, "--output-format", "txt"])
        let (longResult, longPeak) = try measured([long, "--model", tiny, "--output-format", "txt"])
        #expect(shortResult.status == 0 && longResult.status == 0, "\(shortResult.stderr) \(longResult.stderr)")
        print("peak RSS: 5 min \(shortPeak / 1_000_000) MB, 2 h \(longPeak / 1_000_000) MB")
        #expect(Double(longPeak) <= 1.1 * Double(shortPeak))
        #expect(longResult.stdout.count > 20 * shortResult.stdout.count / 2, "the 2-hour transcript looks too short")
    }

    /// FSMN-VAD alone over the same two recordings: its stream keeps a fixed window of frames and caches,
    /// so the child's peak RSS must not grow with the recording (measured 38.0 MB for both).
    @Test("earshot vad: peak RSS for a 2-hour recording is within 8 MB of that for a 5-minute one", .disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates"))
    func vadConstantMemory() throws {
        let short = try Self.recording(minutes: 5)
        let long = try Self.recording(minutes: 120)
        let (shortResult, shortPeak) = try measured(command: "vad", [short, "--format", "txt"])
        let (longResult, longPeak) = try measured(command: "vad", [long, "--format", "txt"])
        #expect(shortResult.status == 0 && longResult.status == 0, "\(shortResult.stderr) \(longResult.stderr)")
        let segments = longResult.stdout.split(separator: "\n").count
        print("earshot vad peak RSS: 5 min \(shortPeak >> 10) KB, 2 h \(longPeak >> 10) KB, \(segments) segments")
        #expect(segments > 20 * shortResult.stdout.split(separator: "\n").count / 2, "too few segments in 2 hours")
        #expect(longPeak - shortPeak < 8 << 20, "VAD peak RSS grew by \((longPeak - shortPeak) >> 10) KB")
    }

    @Test("two minutes without speech produce no segments and no error")
    func longSilence() throws {
        let first = try CommandRunner.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")
        let second = try CommandRunner.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")
        let out = work + "/silence-gap.wav"
        let python = """
            import sys, wave
            a, b, out = sys.argv[1:4]
            with wave.open(a) as x: fa = x.readframes(x.getnframes()); rate = x.getframerate()
            with wave.open(b) as y: fb = y.readframes(y.getnframes())
            with wave.open(out, "wb") as w:
                w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
                w.writeframes(fa + b"\\x00\\x00" * rate * 120 + fb)
            print(len(fa) / 2 / rate)
            """
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", python, first, second, out]
        process.standardOutput = pipe
        try process.run()
        let firstSeconds = Double(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        process.waitUntilExit()
        try #require(process.terminationStatus == 0 && firstSeconds > 1)
        let result = try CommandRunner.run(["transcribe", out, "--model", tiny, "--output-format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let output = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
        let gap = (firstSeconds + 2)..<(firstSeconds + 118)
        #expect(!output.segments.isEmpty)
        for segment in output.segments {
            #expect(!gap.contains(segment.start) && !gap.contains(segment.end), "segment inside the silence: \(segment)")
        }
        #expect(output.text.lowercased().contains("dashwood") && output.text.lowercased().contains("young man"))
    }
}
