import Foundation
import Testing

/// `earshot quantize` and `earshot prune` on the real tiny.en model, with CTranslate2 / faster-whisper (the
/// venv of scripts/setup-venv.sh) as the oracle: the int8 model.bin equals ctranslate2's own Python writer's
/// byte for byte, and faster-whisper loads and transcribes every directory these commands write.
@Suite("quantize and prune", .serialized)
struct QuantizePruneTests {
    let tiny: String
    let clip: String
    /// The LibriVox transcript of clip 0920 (tiny.en fp32 in faster-whisper: 1 error in 19 words).
    let reference = "had he married a more a amiable woman he might have been made still more respectable than he was"
    let work: String

    init() throws {
        tiny = try CommandRunner.asset("models/whisper-tiny.en")
        clip = try CommandRunner.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-0920.wav")
        work = try CommandRunner.temporaryDirectory()
    }

    var python: String {
        get throws {
            let path = CommandRunner.cache + "/venv/bin/python"
            try #require(FileManager.default.isExecutableFile(atPath: path),
                         "the faster-whisper venv is missing at \(path): run scripts/setup-venv.sh (or set EARSHOT_CACHE)")
            return path
        }
    }

    static var oracleScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/oracle/check_ct2_loads.py").path
    }

    /// Runs the oracle script with the venv's python.
    func oracle(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try python)
        process.arguments = [Self.oracleScript] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// faster-whisper loads `model` and transcribes the clip: returns (text, compute type, WER).
    func fasterWhisper(_ model: String) throws -> (text: String, computeType: String, wer: Double) {
        let r = try oracle(["load", model, clip, "--reference", reference])
        try #require(r.status == 0, "faster-whisper could not load \(model): \(r.stderr.suffix(1500))")
        let line = try #require(r.stdout.split(separator: "\n").last.map(String.init))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return (json["text"] as? String ?? "", json["model_compute_type"] as? String ?? "", json["wer"] as? Double ?? 1)
    }

    func earshot(_ arguments: [String]) throws -> CommandRunner.Result {
        try CommandRunner.run(arguments)
    }

    func expectFailure(_ arguments: [String], mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try earshot(arguments)
        #expect(r.status != 0 && r.status < 128, "status \(r.status)", sourceLocation: sourceLocation)
        for word in mentions {
            #expect(r.stderr.contains(word), "stderr should mention '\(word)': \(r.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test("quantize --to int8: byte-identical to ctranslate2's writer; faster-whisper and Earshot transcribe it")
    func int8() throws {
        let out = work + "/tiny-int8"
        let r = try earshot(["quantize", tiny, out, "--to", "int8"])
        try #require(r.status == 0, "quantize failed: \(r.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"])
        let ref = work + "/reference-int8.bin"
        let c = try oracle(["convert", tiny, ref, "int8"])
        try #require(c.status == 0, "ctranslate2 reference conversion failed: \(c.stderr.suffix(1500))")
        let ours = try Data(contentsOf: URL(fileURLWithPath: out + "/model.bin"))
        let theirs = try Data(contentsOf: URL(fileURLWithPath: ref))
        #expect(ours.count == theirs.count && ours == theirs, "int8 model.bin differs from ctranslate2's (\(ours.count) vs \(theirs.count) bytes)")
        let original = try FileManager.default.attributesOfItem(atPath: tiny + "/model.bin")[.size] as! Int
        #expect(Double(ours.count) <= 0.27 * 2 * Double(original), "int8 file should be ≤ 27 % of the fp32 weights")

        let fw = try fasterWhisper(out)
        #expect(fw.computeType.hasPrefix("int8"), "CTranslate2 runs \(fw.computeType)")
        #expect(fw.wer <= 0.1, "faster-whisper on the int8 model: '\(fw.text)' (WER \(fw.wer))")

        let t = try earshot(["transcribe", clip, "--model", out, "--output-format", "json", "--beam-size", "1",
                             "--precision", "stored", "--output-dir", work + "/t-int8"])
        #expect(t.status == 0, "earshot transcribe on the int8 model: \(t.stderr)")
    }

    @Test("quantize --to fp16 and int8_float32: faster-whisper loads them")
    func otherTypes() throws {
        for type in ["fp16", "int8_float32"] {
            let out = work + "/tiny-\(type)"
            let r = try earshot(["quantize", tiny, out, "--to", type])
            try #require(r.status == 0, "quantize --to \(type) failed: \(r.stderr)")
            let fw = try fasterWhisper(out)
            #expect(fw.wer <= 0.1, "faster-whisper on the \(type) model: '\(fw.text)' (WER \(fw.wer))")
        }
        // fp16 of an fp16 model is the same file (the float16 path of ctranslate2 changes nothing).
        let a = try Data(contentsOf: URL(fileURLWithPath: work + "/tiny-fp16/model.bin"))
        let b = try Data(contentsOf: URL(fileURLWithPath: tiny + "/model.bin"))
        #expect(a == b)
    }

    @Test("prune keeps K renumbered layers; faster-whisper and Earshot load the result")
    func prune() throws {
        let out = work + "/tiny-e3d2"
        let r = try earshot(["prune", tiny, out, "--encoder-layers", "3", "--decoder-layers", "2"])
        try #require(r.status == 0, "prune failed: \(r.stderr)")
        let inspect = try earshot(["inspect", out, "--format", "json"])
        try #require(inspect.status == 0, "inspect failed: \(inspect.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        let names = Set(((json["tensors"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String })
        #expect(names.contains("encoder/layer_2/ffn/linear_0/weight") && !names.contains("encoder/layer_3/ffn/linear_0/weight"))
        #expect(names.contains("decoder/layer_1/ffn/linear_0/weight") && !names.contains("decoder/layer_2/ffn/linear_0/weight"))
        // alignment_heads keeps only heads of decoder layers 0 and 1.
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as? [String: Any])
        let heads = (config["alignment_heads"] as? [[Int]]) ?? []
        #expect(!heads.isEmpty && heads.allSatisfy { $0[0] < 2 }, "alignment_heads \(heads)")
        _ = try fasterWhisper(out)
        let t = try earshot(["transcribe", clip, "--model", out, "--output-format", "json", "--beam-size", "1",
                             "--output-dir", work + "/t-pruned"])
        #expect(t.status == 0, "earshot transcribe on the pruned model: \(t.stderr)")
        // Keeping every layer reproduces the source model.bin.
        let full = work + "/tiny-full"
        #expect(try earshot(["prune", tiny, full, "--encoder-layers", "4", "--decoder-layers", "4"]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: full + "/model.bin")) == Data(contentsOf: URL(fileURLWithPath: tiny + "/model.bin")))
    }

    @Test("bad requests: unsupported type, impossible K, existing output")
    func badRequests() throws {
        try expectFailure(["quantize", tiny, work + "/x1", "--to", "int4"],
                          mentions: ["int4", "supported", "int8", "float16", "float32"])
        try expectFailure(["quantize", tiny, work + "/x2", "--to", "int16"], mentions: ["int16", "supported", "int8"])
        try expectFailure(["prune", tiny, work + "/x3", "--encoder-layers", "9"], mentions: ["9", "encoder", "1...4"])
        try expectFailure(["prune", tiny, work + "/x4", "--decoder-layers", "0"], mentions: ["decoder", "1...4"])
        try FileManager.default.createDirectory(atPath: work + "/full", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: work + "/full/keep.txt", contents: Data("x".utf8))
        try expectFailure(["quantize", tiny, work + "/full", "--to", "int8"], mentions: ["not empty"])
        for name in ["x1", "x2", "x3", "x4"] { #expect(!FileManager.default.fileExists(atPath: work + "/" + name)) }
    }

    /// A copy of tiny.en whose `model.bin` header is patched at the tensor `name`.
    func patchedModel(_ name: String, _ patch: (inout [UInt8], Int) -> Void) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: tiny + "/model.bin")))
        let needle = Array(name.utf8) + [0]
        func matches(_ i: Int) -> Bool {
            guard i >= 2, bytes[i] == needle[0], bytes[i - 2] == UInt8(needle.count) else { return false }
            return bytes[i..<(i + needle.count)].elementsEqual(needle)
        }
        let found = (0..<(bytes.count - needle.count)).first(where: matches)
        let start = try #require(found, "tensor \(name) not found in tiny.en's model.bin")
        patch(&bytes, start + needle.count) // offset of the rank byte
        let dir = work + "/bad-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for file in ["config.json", "tokenizer.json", "vocabulary.txt"] {
            try FileManager.default.copyItem(atPath: tiny + "/" + file, toPath: dir + "/" + file)
        }
        _ = FileManager.default.createFile(atPath: dir + "/model.bin", contents: Data(bytes))
        return dir
    }

    @Test("a model whose shapes or dtypes disagree with its dimensions: the error names the tensor")
    func inconsistentModel() throws {
        // [1536, 384] stored as [384, 1536] (same byte count, so the file itself parses).
        let swapped = try patchedModel("encoder/layer_1/ffn/linear_0/weight") { b, rank in
            b.replaceSubrange((rank + 1)..<(rank + 9), with: [0x80, 1, 0, 0, 0, 6, 0, 0])
        }
        for command in [["quantize", swapped, work + "/y1", "--to", "int8"],
                        ["prune", swapped, work + "/y2", "--decoder-layers", "2"]] {
            try expectFailure(command, mentions: ["encoder/layer_1/ffn/linear_0/weight", "[1536, 384]", "[384, 1536]"])
        }
        // A float16 bias relabelled int16 (same width).
        let relabelled = try patchedModel("decoder/layer_0/ffn/linear_1/bias") { b, rank in
            b[rank + 1 + 4] = 2
        }
        try expectFailure(["quantize", relabelled, work + "/y3", "--to", "fp16"],
                          mentions: ["decoder/layer_0/ffn/linear_1/bias", "int16"])
        for name in ["y1", "y2", "y3"] { #expect(!FileManager.default.fileExists(atPath: work + "/" + name)) }
    }
}
