import Foundation
import Testing
import EarshotMemory

/// `earshot serve` speaks FunASR's websocket protocol: FunASR's own client (`funasr_wss_client.py` from the
/// funasr 1.3.9 sdist, unchanged; scripts/fetch-funasr-client.sh) gets the text `earshot transcribe` gives,
/// in offline and 2pass modes, and misbehaving clients get clear errors without disturbing the server.
@Suite("FunASR websocket protocol", .serialized)
struct FunASRWebSocketTests {
    static let clip = "audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"

    /// The text `earshot transcribe` prints for `wav` (one line per segment), as one line.
    static func transcribeText(_ wav: String) throws -> String {
        let result = try CommandRunner.run(["transcribe", wav])
        try #require(result.status == 0, "transcribe failed: \(result.stderr)")
        return result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    /// Runs FunASR's client against `port` and returns its output directory's text file lines and its
    /// per-message log (`events.jsonl`: mode, is_final, text of every message, in arrival order).
    static func runClient(port: Int, mode: String, wav: String, directory: String) throws -> (lines: [String], events: [[String: Any]]) {
        let client = try CommandRunner.asset("funasr-client/funasr_wss_client.py")
        let result = try ServeTestSupport.run(try ServeTestSupport.python(), [
            client, "--host", "127.0.0.1", "--port", String(port), "--ssl", "0", "--mode", mode,
            "--audio_in", wav, "--output_dir", directory + "/out", "--log_dir", directory + "/logs",
        ], directory: directory)
        try #require(result.status == 0, "funasr_wss_client.py failed:\n\(result.stdout)\n\(result.stderr)")
        #expect(!result.stdout.contains("Exception"), "the client reported an exception:\n\(result.stdout)")
        try #require(FileManager.default.fileExists(atPath: directory + "/out/text.0_0"),
                     "the client wrote no result:\n\(result.stdout)\n\(result.stderr)")
        let text = try String(contentsOfFile: directory + "/out/text.0_0", encoding: .utf8)
        let log = try String(contentsOfFile: directory + "/logs/meeting_0_0/events.jsonl", encoding: .utf8)
        let events = try log.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        return (text.split(separator: "\n").map(String.init), events)
    }

    @Test("offline: FunASR's client gets one result with the transcribe text and word timestamps")
    func offlineClient() throws {
        let wav = try CommandRunner.asset(Self.clip)
        let expected = try Self.transcribeText(wav)
        let server = try ServerProcess([])
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (lines, events) = try Self.runClient(port: server.port, mode: "offline", wav: wav, directory: directory)
        #expect(events.count == 1 && events[0]["mode"] as? String == "offline" && events[0]["is_final"] as? Bool == true,
                "one offline message with is_final, got \(events)")
        try #require(lines.count == 1, "the client wrote \(lines)")
        let fields = lines[0].components(separatedBy: "\t")
        try #require(fields.count == 3, "wav_name, text, timestamp: \(fields)")
        #expect(fields[0] == "demo")
        #expect(fields[1] == expected)
        // One [start, end] pair in ms per word, in order, inside the 7.1-s clip.
        let stamps = try #require(try JSONSerialization.jsonObject(with: Data(fields[2].utf8)) as? [[Int]])
        #expect(stamps.count == expected.split(separator: " ").count)
        #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0[1] <= $1[0] } && stamps.allSatisfy { $0[0] <= $0[1] })
        #expect((stamps.last?[1] ?? 0) <= 7_200)
        #expect(server.runningJobs == 0)
    }

    @Test("2pass: partial text while speaking, each utterance's final text as it ends, is_final on the last",
          .disabled(if: ProcessMemory.sanitizer != nil, "the order of finals and partials assumes recognition keeps up with the real-time stream; under ASan at load 6 it did not"))
    func twoPassClient() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Two LibriVox sentences with 1.5 s of silence between them: VAD ends the first mid-stream.
        let wav = directory + "/two.wav"
        let first = try CommandRunner.asset(Self.clip)
        let second = try CommandRunner.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")
        let joined = try ServeTestSupport.run(try ServeTestSupport.python(), ["-c", """
            import sys, wave
            frames = []
            for path in sys.argv[2:]:
                with wave.open(path) as w: frames.append(w.readframes(w.getnframes()))
            with wave.open(sys.argv[1], "wb") as out:
                out.setnchannels(1); out.setsampwidth(2); out.setframerate(16000)
                out.writeframes(frames[0] + bytes(2 * 24000) + frames[1])
            """, wav, first, second])
        try #require(joined.status == 0, "\(joined.stderr)")
        let expected = try Self.transcribeText(wav)
        let server = try ServerProcess([])
        let (lines, events) = try Self.runClient(port: server.port, mode: "2pass", wav: wav, directory: directory)
        let modes = events.map { $0["mode"] as? String ?? "" }
        let finals = events.enumerated().filter { modes[$0.offset] == "2pass-offline" }
        let firstFinal = try #require(modes.firstIndex(of: "2pass-offline"), "no 2pass-offline message: \(events)")
        #expect(modes[..<firstFinal].contains("2pass-online"), "partial text before the first final: \(modes)")
        #expect(modes[firstFinal...].contains("2pass-online"), "partials of the second sentence after the first's final: \(modes)")
        #expect(Set(modes) == ["2pass-online", "2pass-offline"])
        #expect(finals.count >= 2)
        // is_final only on the last message, the answer to the end of audio.
        #expect(events.last?["is_final"] as? Bool == true && modes.last == "2pass-offline")
        #expect(events.dropLast().allSatisfy { $0["is_final"] as? Bool == false })
        let finalText = finals.compactMap { $0.element["text"] as? String }.filter { !$0.isEmpty }.joined(separator: " ")
        // Utterance-sized windows need not decode exactly like packed ones: near, not equal.
        let errors = WordDistance.rate(reference: expected, hypothesis: finalText)
        #expect(errors <= 0.1, "2pass final text \(finalText) against transcribe's \(expected): word error rate \(errors)")
        #expect(lines.count == events.filter { !($0["text"] as? String ?? "").isEmpty }.count)
        #expect(server.runningJobs == 0)
    }

    @Test("misbehaving clients get an error message and a close; the server keeps serving and frees their jobs")
    func misbehavingClients() throws {
        let wav = try CommandRunner.asset(Self.clip)
        let expected = try Self.transcribeText(wav)
        let server = try ServerProcess(["--idle-timeout", "3"])
        let probe = ServeTestSupport.repositoryRoot + "/scripts/server/funasr_ws_probe.py"
        let cases = ["malformed", "audio_first", "bad_mode", "bad_fs", "idle", "disconnect", "offline", "resampled", "container"]
        let result = try ServeTestSupport.run(try ServeTestSupport.python(), [probe, String(server.port), wav] + cases)
        try #require(result.status == 0, "\(result.stderr)")
        var outcome: [String: [String: Any]] = [:]
        for line in result.stdout.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            outcome[object["case"] as! String] = object
        }
        for name in ["malformed", "audio_first", "bad_mode", "bad_fs", "idle"] {
            let o = try #require(outcome[name])
            let messages = o["messages"] as? [[String: Any]] ?? []
            #expect(messages.count == 1 && (messages.first?["error"] as? String)?.isEmpty == false, "\(name): \(o)")
            #expect(o["close_code"] as? Int == 1008, "\(name): closed with a policy-violation code: \(o)")
        }
        #expect(((outcome["idle"]?["messages"] as? [[String: Any]])?.first?["error"] as? String)?.contains("idle") == true)
        // The dropped connection's job is cancelled and its slot freed.
        var running = server.runningJobs
        for _ in 0..<100 where running != 0 {
            usleep(100_000)
            running = server.runningJobs
        }
        #expect(running == 0, "the disconnected client's job was not freed")
        // Well-behaved clients are still served: raw PCM, PCM at 8 kHz, and the WAV file's own bytes.
        for name in ["offline", "container"] {
            let message = (outcome[name]?["messages"] as? [[String: Any]])?.last
            #expect(message?["text"] as? String == expected, "\(name): \(String(describing: outcome[name]))")
        }
        let resampled = (outcome["resampled"]?["messages"] as? [[String: Any]])?.last?["text"] as? String ?? ""
        #expect(WordDistance.rate(reference: expected, hypothesis: resampled) <= 0.15, "8 kHz: \(resampled)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
            .filter { $0.hasPrefix("earshot-funasr-") }
        #expect(leftovers.isEmpty, "temporary upload files left: \(leftovers)")
        #expect(server.process.isRunning)
    }
}

/// Word error rate on lower-cased words without punctuation (Levenshtein over words).
enum WordDistance {
    static func words(_ text: String) -> [String] {
        text.lowercased().split(whereSeparator: { $0.isWhitespace }).map { word in
            String(word.filter { $0.isLetter || $0.isNumber || $0 == "'" })
        }.filter { !$0.isEmpty }
    }

    static func rate(reference: String, hypothesis: String) -> Double {
        let r = words(reference), h = words(hypothesis)
        guard !r.isEmpty else { return h.isEmpty ? 0 : 1 }
        var previous = Array(0...h.count)
        for i in 1...r.count {
            var current = [i] + Array(repeating: 0, count: h.count)
            for j in stride(from: 1, through: h.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r[i - 1] == h[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return Double(previous[h.count]) / Double(r.count)
    }
}
