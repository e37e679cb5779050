import Foundation
import Testing
import EarshotText
import EarshotWhisper

/// The default pipeline (int8, speech packed into windows) against the peer users would pick instead:
/// faster-whisper 1.2.1's `BatchedInferencePipeline`, int8, batch 8, run from the venv of scripts/setup-venv.sh
/// by bench/fw_child.py on the same 10-min recording, scored by the same normaliser and WER.
@Suite("default pipeline against faster-whisper BatchedInferencePipeline", .serialized)
struct BatchedAgainstFasterWhisperTests {
    @Test("WER at most faster-whisper batched int8's + 0.3 points on the 10-min recording", .timeLimit(.minutes(10)))
    func accuracyAtLeastBatchedPeer() throws {
        let audio = try PipelineMemoryTests.recording(minutes: 10)
        let python = CommandRunner.cache + "/venv/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "the faster-whisper venv is missing at \(python): run scripts/setup-venv.sh (or set EARSHOT_CACHE)")
        let work = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bench/fw_child.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, audio, "--model", try CommandRunner.asset("models/whisper-tiny.en"),
                             "--compute-type", "int8", "--threads", "2", "--beam-size", "1", "--mode", "batched8",
                             "--transcribe-kwargs", "{}", "--out", work + "/fw.json"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "bench/fw_child.py failed")
        let fw = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: work + "/fw.json")))
                              as? [String: Any])
        let reference = try String(contentsOfFile: (audio as NSString).deletingPathExtension + ".txt", encoding: .utf8)
            .split(separator: "\n").joined(separator: " ")
        let peer = WordErrorRate(reference: reference, hypothesis: try #require(fw["text"] as? String))

        // Earshot's CLI, as a user runs it: defaults only.
        let result = try CommandRunner.run(["transcribe", audio, "--model", try CommandRunner.asset("models/whisper-tiny.en"),
                                            "--output-format", "json", "--no-progress"])
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let earshot = WordErrorRate(reference: reference, hypothesis: try #require(ours["text"] as? String))
        print("10-min recording, tiny.en: Earshot default \(earshot), faster-whisper batched int8 \(peer)")
        #expect(earshot.wer <= peer.wer + 0.003, "Earshot \(earshot) vs faster-whisper \(peer)")
    }
}
