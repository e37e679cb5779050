import Foundation
import Testing

/// Bad input to `earshot transcribe`: a clear message naming the file and the problem, a non-zero exit,
/// no crash and no partial output file.
@Suite("transcribe rejects bad input cleanly", .serialized)
struct TranscribeBadInputTests {
    let tiny: String
    let clip: String
    let work: String

    init() throws {
        tiny = try CommandRunner.asset("models/whisper-tiny.en")
        clip = try CommandRunner.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")
        work = try CommandRunner.temporaryDirectory()
    }

    /// Runs transcribe into an output directory and checks the failure contract.
    func expectFailure(audio: String, model: String? = nil, mentions: [String],
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let out = work + "/out-\(UUID().uuidString)"
        let result = try CommandRunner.run(["transcribe", audio, "--model", model ?? tiny,
                                            "--output-dir", out, "--output-format", "json", "--beam-size", "1"])
        #expect(result.status != 0, "exit status should be non-zero", sourceLocation: sourceLocation)
        #expect(result.status < 128, "the process crashed (status \(result.status))", sourceLocation: sourceLocation)
        for word in mentions {
            #expect(result.stderr.contains(word), "stderr should mention '\(word)': \(result.stderr)",
                    sourceLocation: sourceLocation)
        }
        let written = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        #expect(written.isEmpty, "no output file may be left behind, found \(written)", sourceLocation: sourceLocation)
    }

    func file(_ name: String, _ bytes: [UInt8]) -> String {
        let path = work + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// A canonical 16-bit mono WAV header announcing `dataBytes` bytes.
    func wavHeader(dataBytes: UInt32, sampleRate: UInt32 = 16_000) -> [UInt8] {
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        return Array("RIFF".utf8) + le32(36 + dataBytes) + Array("WAVE".utf8) + Array("fmt ".utf8) + le32(16)
            + le16(1) + le16(1) + le32(sampleRate) + le32(sampleRate * 2) + le16(2) + le16(16)
            + Array("data".utf8) + le32(dataBytes)
    }

    @Test("a missing audio file") func missingFile() throws {
        try expectFailure(audio: work + "/no-such.wav", mentions: ["no-such.wav"])
    }

    @Test("an empty (0-byte) file") func emptyFile() throws {
        try expectFailure(audio: file("empty.wav", []), mentions: ["empty.wav"])
    }

    @Test("a WAV cut off inside its header") func truncatedHeader() throws {
        try expectFailure(audio: file("cut.wav", Array(wavHeader(dataBytes: 32000).prefix(20))), mentions: ["cut.wav"])
    }

    @Test("bytes that are not audio") func notAudio() throws {
        let text = Array("This is a shopping list, not a recording.\nmilk\neggs\n".utf8)
        try expectFailure(audio: file("list.wav", text), mentions: ["list.wav"])
    }

    @Test("a valid WAV holding zero samples") func zeroLength() throws {
        try expectFailure(audio: file("silence0.wav", wavHeader(dataBytes: 0)), mentions: ["silence0.wav", "no audio"])
    }

    @Test("a model directory without model.bin") func notAModel() throws {
        let directory = work + "/not-a-model"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory + "/README", contents: Data("hello".utf8))
        try expectFailure(audio: clip, model: directory, mentions: ["not-a-model", "model.bin"])
    }

    /// Copies tiny.en's side files and writes a damaged model.bin next to them.
    func damagedModel(_ name: String, _ damage: (Data) -> Data) throws -> String {
        let directory = work + "/" + name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for side in ["config.json", "tokenizer.json", "vocabulary.txt"] {
            try FileManager.default.copyItem(atPath: tiny + "/" + side, toPath: directory + "/" + side)
        }
        let original = try Data(contentsOf: URL(fileURLWithPath: tiny + "/model.bin"))
        try damage(original).write(to: URL(fileURLWithPath: directory + "/model.bin"))
        return directory
    }

    @Test("a truncated model.bin") func truncatedModel() throws {
        let directory = try damagedModel("truncated-model") { $0.prefix($0.count / 3) }
        try expectFailure(audio: clip, model: directory, mentions: ["model.bin"])
    }

    @Test("a model.bin with garbage in its header") func corruptModel() throws {
        let directory = try damagedModel("corrupt-model") { data in
            var bytes = [UInt8](data.prefix(4096))
            for i in 4..<64 { bytes[i] = UInt8(truncatingIfNeeded: i * 37 + 11) }
            return Data(bytes)
        }
        try expectFailure(audio: clip, model: directory, mentions: ["model.bin"])
    }

    @Test("an unknown output format is refused before any work")
    func badFormat() throws {
        let result = try CommandRunner.run(["transcribe", clip, "--model", tiny, "--output-format", "docx"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("docx"))
    }

    @Test("one bad file among good ones: the good ones are written, the exit is non-zero")
    func mixedInputs() throws {
        let out = work + "/mixed"
        let result = try CommandRunner.run(["transcribe", clip, work + "/missing.wav", "--model", tiny,
                                            "--output-dir", out, "--output-format", "txt", "--beam-size", "1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("missing.wav"))
        let text = try String(contentsOfFile: out + "/sense_and_sensibility_01_austen_64kb-0880.txt", encoding: .utf8)
        #expect(text.lowercased().contains("young man"))
        let written = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(written == ["sense_and_sensibility_01_austen_64kb-0880.txt"], "only complete files: \(written)")
    }

    @Test("a full disk on standard output is reported, not ignored")
    func outputWriteFailure() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CommandRunner.executable)
        process.arguments = ["transcribe", clip, "--model", tiny]
        let full = try #require(FileHandle(forWritingAtPath: "/dev/full"), "/dev/full is needed for this test")
        process.standardOutput = full
        let err = Pipe()
        process.standardError = err
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "exit status \(process.terminationStatus)")
        #expect(message.contains("cannot write to standard output"), "\(message)")
    }
}
