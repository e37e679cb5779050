import Foundation
import Testing
@testable import EarshotCheckpoint
import EarshotTensor

/// `CTranslate2ModelWriter`: byte layout of binary version 6, round trips through the reader, and the real
/// models (written by ctranslate2's Python writer) reproduced byte for byte.
@Suite("CTranslate2 writer")
struct CTranslate2WriterTests {
    func payload(_ name: String, _ dtype: DType, _ shape: [Int], _ bytes: [UInt8]) -> CTranslate2TensorPayload {
        CTranslate2TensorPayload(name: name, dtype: dtype, shape: shape, copying: bytes)
    }

    /// A small model with every dtype, a scalar, an alias, added out of order.
    func sampleWriter() throws -> CTranslate2ModelWriter {
        var w = CTranslate2ModelWriter(specName: "WhisperSpec", specRevision: 3)
        try w.add(payload("decoder/embeddings/weight", .float16, [2, 3], [1.0, -2.5, 0, 65504, 1e-3, -0.0].flatMap { le(halfBits($0)) }))
        try w.add(.int16Scalar("encoder/num_heads", 6))
        try w.add(payload("a/linear_0/weight", .int8, [2, 2], [1, 255, 127, 128]))
        try w.add(payload("a/linear_0/weight_scale", .float32, [2], [Float(3.5), 127].flatMap { le($0.bitPattern) }))
        try w.add(payload("a/bias", .float32, [3], [Float(1), 2, 3].flatMap { le($0.bitPattern) }))
        try w.add(payload("a/bf", .bfloat16, [1], [0x80, 0x3F]))
        try w.add(payload("a/i32", .int32, [2], le(UInt32(7)) + le(UInt32(bitPattern: -1))))
        try w.add(payload("A/upper", .int8, [1], [5]))
        try w.add(payload("a/empty", .float32, [0], []))
        try w.addAlias("decoder/projection/weight", target: "decoder/embeddings/weight")
        try w.addAlias("a/alias", target: "a/bias")
        return w
    }

    @Test("the byte layout is ModelSpec._serialize's (sorted by code point, u16 length with NUL)")
    func layout() throws {
        let bytes = try sampleWriter().serialized()
        // The same content through the tests' independent writer, in Python's sorted order.
        var reference = CT2TestWriter()
        reference.add("A/upper", int8: [5], shape: [1])
        reference.add("a/bf", bfloat16: [0x3F80], shape: [1])
        reference.add("a/bias", float32: [1, 2, 3], shape: [3])
        reference.add("a/empty", float32: [], shape: [0])
        reference.add("a/i32", int32: [7, -1], shape: [2])
        reference.add("a/linear_0/weight", int8: [1, -1, 127, -128], shape: [2, 2])
        reference.add("a/linear_0/weight_scale", float32: [3.5, 127], shape: [2])
        reference.add("decoder/embeddings/weight", float16: [1.0, -2.5, 0, 65504, 1e-3, -0.0].map(halfBits), shape: [2, 3])
        reference.add("encoder/num_heads", int16: [6], shape: [])
        reference.aliases = [("a/alias", "a/bias"), ("decoder/projection/weight", "decoder/embeddings/weight")]
        #expect(bytes == reference.bytes())
        // Header spelled out: version 6, "WhisperSpec" (12 with NUL), revision 3, 9 variables, first "A/upper".
        #expect(Array(bytes.prefix(4)) == [6, 0, 0, 0])
        #expect(Array(bytes[4..<6]) == [12, 0])
        #expect(String(decoding: bytes[6..<17], as: UTF8.self) == "WhisperSpec" && bytes[17] == 0)
        #expect(Array(bytes[18..<26]) == [3, 0, 0, 0, 9, 0, 0, 0])
        #expect(Array(bytes[26..<28]) == [8, 0] && String(decoding: bytes[28..<35], as: UTF8.self) == "A/upper")
    }

    @Test("round trip through the reader: names, dtypes, shapes, payloads, aliases")
    func roundTrip() throws {
        let w = try sampleWriter()
        let dir = TemporaryModelDirectory()
        try w.write(to: dir.path + "/model.bin")
        let c = try CTranslate2Checkpoint.open(directory: dir.path)
        #expect(c.binaryVersion == 6 && c.specName == "WhisperSpec" && c.specRevision == 3)
        #expect(c.variableNames.count == w.tensors.count)
        for t in w.tensors {
            let v = try #require(c.variable(t.name))
            #expect(v.dtype == t.dtype && v.shape == t.shape && Array(v.bytes) == Array(t.bytes), "\(t.name)")
        }
        #expect(try c.scalar("encoder/num_heads") == 6)
        #expect(c.aliases["decoder/projection/weight"] == "decoder/embeddings/weight")
        #expect(c.storedAliases.map(\.alias) == ["a/alias", "decoder/projection/weight"])
        // Rewriting what was read gives the same file.
        #expect(try c.writerCopy().serialized() == w.serialized())
        #expect(w.fileSize == w.serialized().count)
        // No temporary file is left beside model.bin.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.bin"])
    }

    @Test("an implied alias_scale is not written back; a quantized alias round-trips")
    func impliedScaleAlias() throws {
        var w = CTranslate2ModelWriter(specName: "WhisperSpec", specRevision: 3)
        try w.add(payload("e/weight", .int8, [1, 2], [1, 2]))
        try w.add(payload("e/weight_scale", .float32, [1], le(Float(2).bitPattern)))
        try w.addAlias("p/weight", target: "e/weight")
        let dir = TemporaryModelDirectory()
        try w.write(to: dir.path + "/model.bin")
        let c = try CTranslate2Checkpoint.open(directory: dir.path)
        #expect(c.aliases["p/weight_scale"] == "e/weight_scale")
        #expect(c.storedAliases.count == 1)
        #expect(try c.writerCopy().serialized() == w.serialized())
    }

    @Test("bad additions are refused, naming the tensor")
    func refusals() throws {
        var w = CTranslate2ModelWriter(specName: "S", specRevision: 1)
        #expect(throws: CheckpointError.self) { try w.add(payload("x", .float32, [2], [0, 0, 0])) }
        try w.add(payload("x", .float32, [1], [0, 0, 0, 0]))
        #expect(throws: CheckpointError.self) { try w.add(payload("x", .float32, [1], [0, 0, 0, 0])) }
        #expect(throws: CheckpointError.self) { try w.addAlias("y", target: "nope") }
        do {
            try w.add(payload("bad/w", .float16, [3], [0, 0]))
            Issue.record("accepted a short payload")
        } catch {
            #expect(error.tensor == "bad/w")
        }
    }

    @Test("int8 rule: per-row 127/amax, round half to even, zero rows, conv weights flattened")
    func int8Rule() throws {
        // Row 0: amax 127/64 → scale exactly 64, so 0.5/64, 1.5/64, -2.5/64 land on ties (→ 0, 2, -2).
        // Row 1: all zero → scale 1. Row 2: amax 4 → scale 31.75; 2·31.75 = 63.5 → 64.
        let values: [Float] = [1.984375, 0.5 / 64, 1.5 / 64, -2.5 / 64, 0, 0, 0, 0, -4, 4, 2, 0.5]
        let out = CTranslate2Quantizer.quantizeInt8(values, shape: [3, 2, 2], name: "c/weight")
        #expect(out.map(\.name) == ["c/weight", "c/weight_scale"])
        #expect(out[0].shape == [3, 2, 2] && out[0].dtype == .int8 && out[1].shape == [3])
        // The payloads are borrowed from their owners: keep `out` alive while reading them.
        let (q, s) = withExtendedLifetime(out) {
            (out[0].bytes.map { Int8(bitPattern: $0) }, (0..<3).map { out[1].bytes.load(fromByteOffset: $0 * 4, as: Float.self) })
        }
        #expect(s == [64, 1, 31.75])
        #expect(q == [127, 0, 2, -2, 0, 0, 0, 0, -127, 127, 64, 16])
    }

    @Test("float16 cast rounds to nearest even like numpy's astype")
    func halfCast() throws {
        let t = CTranslate2Quantizer.cast([1 + 1.0 / 2048, 1 + 3.0 / 2048, 70000, -1e-8], shape: [4], to: .float16, name: "x")
        let bits = withExtendedLifetime(t) { (0..<4).map { t.bytes.load(fromByteOffset: $0 * 2, as: UInt16.self) } }
        #expect(bits == [0x3C00, 0x3C02, 0x7C00, 0x8000])
    }

    @Test("unsupported quantization types are refused with the supported list")
    func unsupportedType() throws {
        for name in ["int4", "int16", "bfloat16", ""] {
            do {
                _ = try CTranslate2Quantization(name: name)
                Issue.record("accepted \(name)")
            } catch {
                #expect(error.message.contains("int8, int8_float32, int8_float16, float16 (fp16), float32 (fp32)"))
            }
        }
        #expect(try CTranslate2Quantization(name: "fp16") == .float16)
        #expect(try CTranslate2Quantization(name: "INT8") == .int8)
    }

    @Test("real models (written by ctranslate2's Python writer) are reproduced byte for byte",
          arguments: ["whisper-tiny.en", "whisper-base"])
    func realModelRoundTrip(_ name: String) throws {
        let (dir, missing) = realModelDirectory(name)
        if let missing { Issue.record(Comment(rawValue: missing)); return }
        let c = try CTranslate2Checkpoint.open(directory: dir)
        let out = TemporaryModelDirectory()
        try c.writerCopy().write(to: out.path + "/model.bin")
        let original = try Data(contentsOf: URL(fileURLWithPath: dir + "/model.bin"))
        let written = try Data(contentsOf: URL(fileURLWithPath: out.path + "/model.bin"))
        #expect(written.count == original.count)
        #expect(written == original, "the rewritten \(name) model.bin differs from the original")
    }
}
