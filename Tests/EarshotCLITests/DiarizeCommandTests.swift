import Foundation
import Testing

/// `earshot diarize` and `earshot transcribe --diarize` as processes, with the real FSMN-VAD and resemblyzer
/// weights: outputs, the memory report's speaker line, bad speaker models and bad flags.
@Suite("diarize and transcribe --diarize", .serialized)
struct DiarizeCommandTests {
    let call: String
    let work: String

    init() throws {
        _ = try CommandRunner.asset("models/resemblyzer/pretrained.pt")
        call = try CommandRunner.asset("audio/pyannote/sample.wav")
        work = try CommandRunner.temporaryDirectory()
    }

    @Test("diarize: RTTM and JSON agree; --num-speakers 2 gives 2 speakers; the memory report has a speaker line")
    func diarize() throws {
        let rttm = try CommandRunner.run(["diarize", call, "--num-speakers", "2", "--memory-report"])
        #expect(rttm.status == 0, "\(rttm.stderr)")
        let lines = rttm.stdout.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("SPEAKER sample 1 ") })
        #expect(Set(lines.map { $0.split(separator: " ")[7] }) == ["spk0", "spk1"])
        #expect(rttm.stderr.contains("\nspeaker ") && rttm.stderr.contains("speaker: resemblyzer"))
        let json = try CommandRunner.run(["diarize", call, "--num-speakers", "2", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["speakers"] as? Int == 2)
        #expect((object["turns"] as? [[String: Any]])?.count == lines.count)
    }

    @Test("transcribe --diarize: a speaker on every json segment, SRT cues prefixed with it")
    func transcribe() throws {
        let json = try CommandRunner.run(["transcribe", call, "--diarize", "--output-format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let segments = try #require(object["segments"] as? [[String: Any]])
        #expect(!segments.isEmpty && segments.allSatisfy { ($0["speaker"] as? String)?.hasPrefix("spk") == true })
        let srt = try CommandRunner.run(["transcribe", call, "--diarize", "--output-format", "srt", "--num-speakers", "2"])
        let cues = srt.stdout.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(!cues.isEmpty && cues.allSatisfy { $0.split(separator: "\n").last?.hasPrefix("spk") == true })
        let plain = try CommandRunner.run(["transcribe", call, "--output-format", "json"])
        #expect(!plain.stdout.contains("\"speaker\""))   // no speaker stage unless asked for
    }

    @Test("a wrong speaker model names the file and what is missing; bad flags are refused")
    func badInput() throws {
        let vadModel = try CommandRunner.asset("models/fsmn-vad/model.pt")
        let wrong = try CommandRunner.run(["diarize", call, "--speaker-model", vadModel])
        #expect(wrong.status != 0 && wrong.status < 128)
        #expect(wrong.stderr.contains("model.pt") && wrong.stderr.contains("lstm"), "\(wrong.stderr)")
        let garbage = work + "/garbage.pt"
        FileManager.default.createFile(atPath: garbage, contents: Data([0x80, 0x02, 1, 2, 3]))
        let bad = try CommandRunner.run(["diarize", call, "--speaker-model", garbage])
        #expect(bad.status != 0 && bad.status < 128 && bad.stderr.contains("garbage.pt"), "\(bad.stderr)")
        let missing = try CommandRunner.run(["diarize", call, "--speaker-model", work + "/none.pt"])
        #expect(missing.status != 0 && missing.stderr.contains("none.pt"))
        let zero = try CommandRunner.run(["diarize", call, "--num-speakers", "0"])
        #expect(zero.status != 0 && zero.stderr.contains("--num-speakers"))
    }
}
