import Foundation
import Testing
@testable import EarshotCheckpoint
import EarshotTensor

/// A small model exercising every dtype, a conv weight, scalars and an alias.
private func sampleWriter(version: Int = 6) -> CT2TestWriter {
    var w = CT2TestWriter()
    w.version = version
    w.add("encoder/conv1/weight", float32: (0..<12).map { Float($0) * 0.5 }, shape: [2, 3, 2])
    w.add("encoder/layer_0/ffn/linear_0/weight", float32: [1, 2, 3, 4, 5, 6], shape: [2, 3])
    w.add("encoder/layer_0/ffn/linear_0/bias", float32: [0.5, -0.5], shape: [2])
    w.add("encoder/num_heads", int16: [6], shape: [])
    w.add("decoder/q/weight", int8: [127, -127, 64, 10, 20, -30], shape: [2, 3])
    w.add("decoder/q/weight_scale", float32: [127, 10], shape: [2])
    w.add("decoder/k/weight", int16: [1024, -512, 256, 0], shape: [2, 2])
    w.add("decoder/k/weight_scale", float32: [1024], shape: [])
    w.add("decoder/embeddings/weight", int8: [1, 2, 3, 4], shape: [2, 2])
    w.add("decoder/embeddings/weight_scale", float32: [2, 4], shape: [2])
    w.add("decoder/count", int32: [51864], shape: [])
    w.add("decoder/pre_norm", int8: [1], shape: [])
    if version >= 4 {
        w.add("decoder/ln/gamma", float16: [halfBits(1.5), halfBits(-2), halfBits(0.25)], shape: [3])
        w.add("decoder/bf/weight", bfloat16: [0x3FC0, 0xC000], shape: [1, 2])  // 1.5, -2
        w.add("decoder/h/weight", float16: [halfBits(1), halfBits(2), halfBits(3), halfBits(4)], shape: [2, 2])
    }
    if version >= 3 {
        w.aliases = [("decoder/projection/weight", "decoder/embeddings/weight")]
    }
    return w
}

private func open(_ bytes: [UInt8], files: [String: String] = [:]) throws(CheckpointError) -> (CTranslate2Checkpoint, TemporaryModelDirectory) {
    let dir = TemporaryModelDirectory()
    dir.write(model: bytes, files: files)
    return (try CTranslate2Checkpoint.open(directory: dir.path), dir)
}

private func expectError(_ code: CheckpointError.Code, containing fragments: [String] = [],
                         _ body: () throws(CheckpointError) -> Void,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(error.description.contains(fragment), "'\(fragment)' not in: \(error)", sourceLocation: sourceLocation)
        }
    }
}

@Suite("CTranslate2 reader: synthetic files")
struct CTranslate2ReaderTests {
    @Test("v6 header, names, shapes, dtypes, sidecar files")
    func header() throws {
        let (ckpt, dir) = try open(sampleWriter().bytes(), files: ["config.json": "{\"a\": 1}", "vocabulary.txt": "x\n"])
        #expect(ckpt.binaryVersion == 6)
        #expect(ckpt.specName == "WhisperSpec")
        #expect(ckpt.specRevision == 3)
        #expect(ckpt.variableNames == ckpt.variableNames.sorted())
        #expect(ckpt.variableNames.count == 15)
        #expect(!ckpt.variableNames.contains("decoder/projection/weight"))
        #expect(ckpt.aliases["decoder/projection/weight"] == "decoder/embeddings/weight")
        #expect(ckpt.aliases["decoder/projection/weight_scale"] == "decoder/embeddings/weight_scale")
        #expect(ckpt.configJSON == Array("{\"a\": 1}".utf8))
        #expect(ckpt.vocabularyFile == .text(path: dir.path + "/vocabulary.txt"))
        #expect(ckpt.tokenizerJSONPath == nil)
        let conv = try #require(ckpt.variable("encoder/conv1/weight"))
        #expect(conv.dtype == .float32 && conv.shape == [2, 3, 2] && conv.bytes.count == 48)
        // The variable's bytes are inside the mapping, not a copy.
        let map = ckpt.file.bytes
        #expect(conv.bytes.baseAddress! >= map.baseAddress! && conv.bytes.baseAddress! + 48 <= map.baseAddress! + map.count)
        #expect(ckpt.variable("nope") == nil)
    }

    @Test("no config.json / vocabulary.json preferred over .txt")
    func sidecars() throws {
        let (a, _) = try open(sampleWriter().bytes())
        #expect(a.configJSON == nil && a.vocabularyFile == nil)
        let (b, dirB) = try open(sampleWriter().bytes(), files: ["vocabulary.json": "[]", "vocabulary.txt": "", "tokenizer.json": "{}"])
        #expect(b.vocabularyFile == .json(path: dirB.path + "/vocabulary.json"))
        #expect(b.tokenizerJSONPath == dirB.path + "/tokenizer.json")
    }

    @Test("weight matrices: float32 in place, conv flattened, float16 in place, bf16 widened")
    func floatMatrices() throws {
        let (ckpt, _) = try open(sampleWriter().bytes())
        let m = try ckpt.weightMatrix("encoder/layer_0/ffn/linear_0/weight", expectedShape: [2, 3])
        #expect(m.outputs == 2 && m.inputs == 3 && m.dtype == .float32)
        guard case .float32(let p) = m.storage else { Issue.record("not float32"); return }
        #expect(Array(UnsafeBufferPointer(start: p, count: 6)) == [1, 2, 3, 4, 5, 6])
        // Zero-copy: the matrix points at the payload inside the mapping, owned by the mapping.
        #expect(UnsafeRawPointer(p) == ckpt.variable("encoder/layer_0/ffn/linear_0/weight")!.bytes.baseAddress!)
        #expect(m.owner === ckpt.file)
        // On request, a misaligned payload is copied to aligned memory (same values).
        let copy = try ckpt.weightMatrix("encoder/layer_0/ffn/linear_0/weight", copyIfMisaligned: true)
        guard case .float32(let cp) = copy.storage else { Issue.record("not float32"); return }
        #expect(Int(bitPattern: cp) % 4 == 0)
        #expect(Array(UnsafeBufferPointer(start: cp, count: 6)) == [1, 2, 3, 4, 5, 6])
        #expect((copy.owner === ckpt.file) == (Int(bitPattern: p) % 4 == 0))

        let conv = try ckpt.weightMatrix("encoder/conv1/weight", expectedShape: [2, 3, 2])
        #expect(conv.outputs == 2 && conv.inputs == 6)
        _ = try ckpt.weightMatrix("encoder/conv1/weight", expectedShape: [2, 6])

        let h = try ckpt.weightMatrix("decoder/h/weight")
        guard case .float16(let hp) = h.storage else { Issue.record("not float16"); return }
        #expect(Array(UnsafeBufferPointer(start: hp, count: 4)) == [halfBits(1), halfBits(2), halfBits(3), halfBits(4)])

        let bf = try ckpt.weightMatrix("decoder/bf/weight")
        guard case .float32(let bp) = bf.storage else { Issue.record("bf16 not widened"); return }
        #expect(bp[0] == 1.5 && bp[1] == -2)
    }

    @Test("int8 with per-row scale, int16 with scalar scale, alias shares scale")
    func quantized() throws {
        let (ckpt, _) = try open(sampleWriter().bytes())
        let q = try ckpt.weightMatrix("decoder/q/weight", expectedShape: [2, 3])
        guard case .int8(let values, let scales) = q.storage else { Issue.record("not int8"); return }
        #expect(Array(UnsafeBufferPointer(start: values, count: 6)) == [127, -127, 64, 10, 20, -30])
        #expect(scales[0] == 127 && scales[1] == 10)

        let k = try ckpt.weightMatrix("decoder/k/weight")
        guard case .float32(let kp) = k.storage else { Issue.record("int16 not widened"); return }
        #expect(Array(UnsafeBufferPointer(start: kp, count: 4)) == [1, -0.5, 0.25, 0])

        let proj = try ckpt.weightMatrix("decoder/projection/weight")
        guard case .int8(let pv, let ps) = proj.storage else { Issue.record("alias not int8"); return }
        #expect(pv[3] == 4 && ps[0] == 2 && ps[1] == 4)
        #expect(try ckpt.floats("decoder/projection/weight_scale") == [2, 4])
    }

    @Test("floats and scalars")
    func floatsAndScalars() throws {
        let (ckpt, _) = try open(sampleWriter().bytes())
        #expect(try ckpt.floats("encoder/layer_0/ffn/linear_0/bias", expectedCount: 2) == [0.5, -0.5])
        #expect(try ckpt.floats("decoder/ln/gamma") == [1.5, -2, 0.25])
        #expect(try ckpt.floats("decoder/bf/weight") == [1.5, -2])
        #expect(try ckpt.scalar("encoder/num_heads") == 6)
        #expect(try ckpt.scalar("decoder/count") == 51864)
        #expect(try ckpt.scalar("decoder/pre_norm") == 1)
    }

    @Test("half → float conversion is exact for special values")
    func halfConversion() {
        for f: Float in [0, -0, 1, -1, 0.5, 65504, -65504, 6.1035156e-05, 5.9604645e-08, 3.0517578e-05, .infinity, -.infinity] {
            #expect(CT2Convert.halfToFloat(halfBits(f)) == f, "\(f)")
        }
        #expect(CT2Convert.halfToFloat(0x7E00).isNaN)
        for bits in stride(from: 0, through: 0xFFFF, by: 7) where (bits & 0x7C00) != 0x7C00 {
            #expect(CT2Convert.halfToFloat(UInt16(bits)) == Float(Float16(bitPattern: UInt16(bits))))
        }
    }

    @Test("binary versions 1 to 6", arguments: 1...6)
    func versions(_ version: Int) throws {
        let (ckpt, _) = try open(sampleWriter(version: version).bytes())
        #expect(ckpt.binaryVersion == version)
        #expect(ckpt.specName == (version >= 2 ? "WhisperSpec" : ""))
        #expect(ckpt.specRevision == (version >= 2 ? 3 : 1))
        #expect(ckpt.aliases.isEmpty == (version < 3))
        #expect(try ckpt.floats("encoder/layer_0/ffn/linear_0/bias") == [0.5, -0.5])
        #expect(try ckpt.scalar("encoder/num_heads") == 6)
        // Pre-v4 files guess dtypes from the item size: 4 → float32, 2 → int16, 1 → int8.
        #expect(ckpt.variable("decoder/count")?.dtype == .float32 || version >= 4)
        let q = try ckpt.weightMatrix("decoder/q/weight")
        #expect(q.dtype == .int8)
    }

    @Test("missing tensor names file and tensor")
    func missingTensor() throws {
        let (ckpt, dir) = try open(sampleWriter().bytes())
        expectError(.missingTensor, containing: [dir.path + "/model.bin", "decoder/nothing"]) { () throws(CheckpointError) in
            _ = try ckpt.weightMatrix("decoder/nothing")
        }
        expectError(.missingTensor, containing: ["x/y"]) { () throws(CheckpointError) in _ = try ckpt.floats("x/y") }
        expectError(.missingTensor, containing: ["x/z"]) { () throws(CheckpointError) in _ = try ckpt.scalar("x/z") }
    }

    @Test("wrong shape and wrong dtype")
    func shapeAndDtype() throws {
        let (ckpt, _) = try open(sampleWriter().bytes())
        expectError(.shapeMismatch, containing: ["linear_0/weight", "[3, 2]", "[2, 3]"]) { () throws(CheckpointError) in
            _ = try ckpt.weightMatrix("encoder/layer_0/ffn/linear_0/weight", expectedShape: [3, 2])
        }
        expectError(.shapeMismatch, containing: ["bias"]) { () throws(CheckpointError) in
            _ = try ckpt.weightMatrix("encoder/layer_0/ffn/linear_0/bias")
        }
        expectError(.shapeMismatch) { () throws(CheckpointError) in
            _ = try ckpt.floats("encoder/layer_0/ffn/linear_0/bias", expectedCount: 3)
        }
        expectError(.shapeMismatch) { () throws(CheckpointError) in _ = try ckpt.scalar("encoder/layer_0/ffn/linear_0/bias") }
        expectError(.dtypeMismatch, containing: ["int16", "num_heads"]) { () throws(CheckpointError) in
            _ = try ckpt.floats("encoder/num_heads")
        }
        expectError(.dtypeMismatch, containing: ["float32", "eps"]) { () throws(CheckpointError) in
            var w = CT2TestWriter()
            w.add("eps", float32: [1e-5], shape: [])
            let (c, _) = try open(w.bytes())
            _ = try c.scalar("eps")
        }
        expectError(.dtypeMismatch, containing: ["int32"]) { () throws(CheckpointError) in
            var w = CT2TestWriter()
            w.add("m", int32: [1, 2, 3, 4], shape: [2, 2])
            let (c, _) = try open(w.bytes())
            _ = try c.weightMatrix("m")
        }
    }

    @Test("int8 weight without its scale")
    func int8WithoutScale() throws {
        var w = CT2TestWriter()
        w.add("a/weight", int8: [1, 2], shape: [1, 2])
        let (ckpt, _) = try open(w.bytes())
        expectError(.missingTensor, containing: ["a/weight_scale"]) { () throws(CheckpointError) in _ = try ckpt.weightMatrix("a/weight") }
    }

    @Test("a file cut at any byte fails cleanly with .truncated")
    func truncatedEverywhere() throws {
        let full = sampleWriter().bytes()
        let dir = TemporaryModelDirectory()
        // The alias table is the last part; a cut inside it is still truncation.
        for cut in 0..<full.count {
            dir.write(model: Array(full[0..<cut]))
            do {
                _ = try CTranslate2Checkpoint.open(directory: dir.path)
                Issue.record("cut at \(cut) of \(full.count) was accepted")
            } catch {
                #expect(error.code == .truncated, "cut at \(cut): \(error)")
                #expect(error.path.hasSuffix("model.bin"))
            }
        }
    }

    @Test("payload size disagreeing with shape × dtype", arguments: [3, 6])
    func payloadSize(_ version: Int) throws {
        var w = CT2TestWriter()
        w.version = version
        w.add("t/weight", float32: [1, 2, 3, 4], shape: [2, 2])
        w.tensors[0].storedSizeOverride = version >= 4 ? 12 : 3
        expectError(.corrupt, containing: ["t/weight", "invalid payload size"]) { () throws(CheckpointError) in _ = try open(w.bytes()) }
    }

    @Test("unknown dtype id, bad string, dangling alias, duplicate tensor")
    func corrupt() throws {
        var w = CT2TestWriter()
        w.add("t", float32: [1], shape: [1])
        var bytes = w.bytes()
        let dtypeAt = 4 + 2 + 12 + 4 + 4 + 2 + 2 + 1 + 4   // version, spec, revision, count, name "t", rank, dim
        #expect(bytes[dtypeAt] == 0)
        bytes[dtypeAt] = 9
        expectError(.corrupt, containing: ["dtype id 9"]) { () throws(CheckpointError) in _ = try open(bytes) }

        var noNul = w.bytes()
        noNul[4 + 2 + 11] = 0x41  // the NUL of "WhisperSpec"
        expectError(.corrupt, containing: ["NUL"]) { () throws(CheckpointError) in _ = try open(noNul) }

        var dangling = w
        dangling.aliases = [("a", "missing")]
        expectError(.corrupt, containing: ["missing"]) { () throws(CheckpointError) in _ = try open(dangling.bytes()) }

        var twice = w
        twice.add("t", float32: [2], shape: [1])
        expectError(.corrupt, containing: ["twice"]) { () throws(CheckpointError) in _ = try open(twice.bytes()) }
    }

    @Test("garbage bytes are rejected, never crash")
    func garbage() throws {
        var generator = SystemRandomNumberGenerator()
        let dir = TemporaryModelDirectory()
        for trial in 0..<300 {
            var bytes = (0..<Int.random(in: 0..<400, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if trial % 2 == 0 && bytes.count > 4 { bytes[0] = 6; bytes[1] = 0; bytes[2] = 0; bytes[3] = 0 }  // plausible version
            dir.write(model: bytes)
            do {
                _ = try CTranslate2Checkpoint.open(directory: dir.path)
            } catch {
                #expect([.truncated, .corrupt, .notAModel, .unsupportedVersion].contains(error.code))
            }
        }
        // All-ASCII text is not a model.
        dir.write(model: Array("hello, this is not a model at all".utf8))
        expectError(.notAModel) { () throws(CheckpointError) in _ = try CTranslate2Checkpoint.open(directory: dir.path) }
    }

    @Test("newer binary version")
    func newerVersion() throws {
        var w = sampleWriter()
        w.version = 7
        expectError(.unsupportedVersion, containing: ["binary version 7", "model.bin"]) { () throws(CheckpointError) in _ = try open(w.bytes()) }
    }

    @Test("directory without model.bin, missing directory, other model kinds")
    func notAModel() throws {
        let dir = TemporaryModelDirectory()
        dir.write(model: nil)
        expectError(.notAModel, containing: ["not a CTranslate2 model directory: no model.bin in \(dir.path)"]) { () throws(CheckpointError) in
            _ = try CTranslate2Checkpoint.open(directory: dir.path)
        }
        dir.write(model: nil, files: ["model.pt": "x", "am.mvn": ""])
        expectError(.notAModel, containing: ["no model.bin", "PyTorch"]) { () throws(CheckpointError) in
            _ = try CTranslate2Checkpoint.open(directory: dir.path)
        }
        expectError(.fileNotFound) { () throws(CheckpointError) in _ = try CTranslate2Checkpoint.open(directory: dir.path + "/nope") }
        // A model.bin that is really a zip (PyTorch) archive.
        dir.write(model: [0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 60))
        expectError(.notAModel, containing: ["zip"]) { () throws(CheckpointError) in _ = try CTranslate2Checkpoint.open(directory: dir.path) }
        // A file given instead of a directory.
        expectError(.notAModel) { () throws(CheckpointError) in _ = try CTranslate2Checkpoint.open(directory: dir.path + "/model.bin") }
    }

    @Test("matrices keep the mapping alive after the checkpoint is released")
    func ownerKeepsMapping() throws {
        var w = CT2TestWriter()
        w.add("w", float32: (0..<64).map(Float.init), shape: [8, 8])
        let dir = TemporaryModelDirectory()
        dir.write(model: w.bytes())
        var matrix: WeightMatrix?
        do {
            let ckpt = try CTranslate2Checkpoint.open(directory: dir.path)
            matrix = try ckpt.weightMatrix("w")
        }
        guard case .float32(let p) = matrix!.storage else { Issue.record("not float32"); return }
        #expect(p[63] == 63)
        #expect(matrix!.owner != nil)
    }
}
