import Foundation
import Testing

/// `earshot serve` driven by the official `openai` Python SDK (pinned in scripts/setup-venv.sh), unchanged, with
/// `base_url` pointed at the server (scripts/oracle/openai_client_check.py): every response format, word
/// timestamps, streaming, translation (refused by an English-only model), errors — and the results equal
/// what `earshot transcribe` writes for the same files.
@Suite(.serialized) struct OpenAIClientTests {
    static let clips = ["sense_and_sensibility_01_austen_64kb-0870.wav", "sense_and_sensibility_01_austen_64kb-0880.wav"]

    @Test func openAISDKGetsWhatTranscribeWrites() throws {
        let python = CommandRunner.cache + "/venv/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python), "no venv at \(python): run scripts/setup-venv.sh")
        let model = try CommandRunner.asset("models/whisper-tiny.en")
        let paths = try Self.clips.map { try CommandRunner.asset("audio/librivox/\($0)") }
        let server = try ServerProcess(["--model", model, "--api-key", "sdk-test-key"])
        let scratch = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/oracle/openai_client_check.py").path
        let run = try Self.runProcess(python, [script, "--base-url", server.baseURL + "/v1", "--api-key", "sdk-test-key",
                                               "--scratch", scratch] + paths)
        try #require(run.status == 0, "the SDK script failed:\n\(run.stderr)\nserver log:\n\(server.log)")
        let out = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(out["models"] as? [String] == ["whisper-tiny.en", "whisper-1"])

        let files = try #require(out["files"] as? [String: [String: Any]])
        for (clip, path) in zip(Self.clips, paths) {
            let got = try #require(files[clip])
            func transcribe(_ format: String, _ extra: [String] = []) throws -> String {
                let r = try CommandRunner.run(["transcribe", path, "--model", model, "--output-format", format] + extra)
                try #require(r.status == 0, "earshot transcribe failed: \(r.stderr)")
                return r.stdout
            }
            // Subtitles: byte for byte.
            #expect(got["srt"] as? String == (try transcribe("srt")))
            #expect(got["vtt"] as? String == (try transcribe("vtt")))
            // verbose_json (with and without words): the same JSON object.
            for (key, extra) in [("verbose_json", [String]()), ("verbose_json_words", ["--word-timestamps"])] {
                let expected = try JSONSerialization.jsonObject(with: Data(try transcribe("verbose_json", extra).utf8)) as? NSDictionary
                let actual = got[key] as? NSDictionary
                #expect(actual != nil && actual == expected, "\(clip) \(key): SDK got \(String(describing: actual)), transcribe wrote \(String(describing: expected))")
            }
            // text: the transcript as one paragraph, which is transcribe's lines joined.
            let lines = try transcribe("txt").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            let paragraph = lines.joined(separator: " ")
            #expect(!paragraph.isEmpty)
            #expect(got["text"] as? String == paragraph + "\n")
            let json = try #require(got["json"] as? [String: Any])
            #expect(json["text"] as? String == paragraph)
            let usage = json["usage"] as? [String: Any]
            #expect(usage?["type"] as? String == "duration")
            #expect((usage?["seconds"] as? Double ?? 0) >= 1)
            // Streaming: deltas, then done; together they are the text.
            let stream = try #require(got["stream"] as? [String: Any])
            let events = try #require(stream["events"] as? [String])
            #expect(events.last == "transcript.text.done")
            #expect(events.dropLast().allSatisfy { $0 == "transcript.text.delta" } && events.count >= 2)
            #expect(stream["deltas"] as? String == paragraph)
            #expect(stream["done"] as? String == paragraph)
            // tiny.en cannot translate: 400 with OpenAI's error object.
            let translation = try #require(got["translation"] as? [String: Any])
            #expect(translation["status"] as? Int == 400)
            #expect(translation["code"] as? String == "translation_unsupported")
        }

        let errors = try #require(out["errors"] as? [String: [String: Any]])
        #expect(errors["unknown_model"]?["status"] as? Int == 404)
        #expect(errors["unknown_model"]?["code"] as? String == "model_not_found")
        #expect(errors["unknown_format"]?["status"] as? Int == 400)
        #expect(errors["unknown_format"]?["param"] as? String == "response_format")
        #expect(errors["not_audio"]?["status"] as? Int == 400)
        #expect(errors["not_audio"]?["code"] as? String == "invalid_audio")
        #expect((errors["not_audio"]?["message"] as? String)?.contains("not-audio.txt") == true)
        #expect(errors["empty"]?["status"] as? Int == 400)
        #expect((errors["empty"]?["message"] as? String)?.contains("empty") == true)
        // …and the server kept serving.
        #expect((out["after_errors"] as? String)?.isEmpty == false)
        #expect(server.stop() == 0, "server log:\n\(server.log)")
    }

    static func runProcess(_ executable: String, _ arguments: [String]) throws -> CommandRunner.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandRunner.Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                                    stderr: String(decoding: errData, as: UTF8.self))
    }
}
