import Foundation
import Testing
import EarshotAudio
@testable import EarshotWhisper

/// Debug entry point for `scripts/oracle/ct2_int8_compare.py` (layer-by-layer comparison with CTranslate2):
/// runs only when `EARSHOT_INT8_DUMP` names a directory. For the first 30-s window of `EARSHOT_INT8_AUDIO`
/// (default: the first LibriVox recording), the model `EARSHOT_INT8_MODEL` (default tiny.en) and the decoder
/// prompt `EARSHOT_INT8_PROMPT` (space-separated token ids; default below) it writes, as
/// raw little-endian fp32:
///   mel.f32                       the window, `[melBands][3000]`
///   earshot-encoder-<p>.f32       encoder output, `[audioContext][width]`, p = int8 and fp32
///   earshot-logits-<p>.f32        decoder logits after the start sequence + <|notimestamps|> (`sot.txt`), one
///                                 row per decoding step (the start sequence, then each later prompt token)
///   earshot-logits-ct2enc-<p>.f32 the same decoder run on CTranslate2's encoder output (`ct2-encoder-<p>.f32`,
///                                 if the script has written it), which isolates the decoder
@Suite("int8 layer dump for the CTranslate2 comparison (EARSHOT_INT8_DUMP)")
struct Int8DumpTests {
    static var directory: String? { ProcessInfo.processInfo.environment["EARSHOT_INT8_DUMP"] }

    @Test(.enabled(if: directory != nil))
    func dump() throws {
        let dir = try #require(Self.directory)
        let env = ProcessInfo.processInfo.environment
        let audio = env["EARSHOT_INT8_AUDIO"] ?? "audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"
        let modelDir = env["EARSHOT_INT8_MODEL"] ?? "models/whisper-tiny.en"
        let samples = try AudioFileReader.readAll(path: TestAssets.path(audio))
        for precision in [WeightPrecision.int8, .float32] {
            let model = try WhisperModel(directory: TestAssets.path(modelDir), precision: precision)
            let tag = precision == .int8 ? "int8" : "fp32"
            let mel = WhisperMelSpectrogram(melBands: model.dimensions.melBands).compute(samples, padding: 160)
            let window = FloatBuffer(count: model.dimensions.melBands * model.windowFrames)
            model.copyWindow(from: mel.values, frames: mel.frames, start: 0,
                             count: min(model.windowFrames, max(mel.frames - 1, 0)), into: window)
            try write(window, count: model.dimensions.melBands * model.windowFrames, to: "\(dir)/mel.f32")
            let encoded = model.encoder.encode(mel: window.pointer, frames: model.windowFrames)
            let t = model.dimensions.audioContext, d = model.dimensions.width
            try write(encoded, count: t * d, to: "\(dir)/earshot-encoder-\(tag).f32")
            // <|notimestamps|> at the end, so CTranslate2 applies no timestamp rule to these logits; or the
            // tokens of EARSHOT_INT8_PROMPT (e.g. a start sequence plus the first tokens of a transcript).
            let sot = env["EARSHOT_INT8_PROMPT"].map { $0.split(separator: " ").compactMap { Int($0) } }
                ?? model.startSequence(language: "en", task: .transcribe) + [model.special.noTimestamps]
            try sot.map(String.init).joined(separator: " ").write(toFile: "\(dir)/sot.txt", atomically: true,
                                                                    encoding: .utf8)
            let own = logits(model, encoderOutput: encoded.pointer, tokens: sot)
            try write(own, count: own.count, to: "\(dir)/earshot-logits-\(tag).f32")
            let ct2 = "\(dir)/ct2-encoder-\(tag).f32"
            if let data = FileManager.default.contents(atPath: ct2) {
                try #require(data.count == t * d * 4, "\(ct2) has \(data.count) bytes, expected \(t * d * 4)")
                let buffer = FloatBuffer(count: t * d)
                data.withUnsafeBytes { raw in
                    for i in 0..<(t * d) { buffer[i] = raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
                }
                let decoded = logits(model, encoderOutput: buffer.pointer, tokens: sot)
                try write(decoded, count: decoded.count, to: "\(dir)/earshot-logits-ct2enc-\(tag).f32")
            }
        }
    }

    /// Logits after the last prompt token. As in CTranslate2's `generate` (and in decoding), the start sequence
    /// (up to `<|notimestamps|>`) goes through the decoder in one pass and every later token in a step of its own.
    func logits(_ model: WhisperModel, encoderOutput: UnsafePointer<Float>, tokens: [Int]) -> FloatBuffer {
        let memory = model.decoder.crossAttentionMemory(encoderOutput: encoderOutput)
        let cache = model.decoder.makeCache()
        var start = tokens.firstIndex(of: model.special.sot).map { $0 + 1 } ?? 1
        while start < tokens.count, tokens[start] > model.special.sot, tokens[start] <= model.special.noTimestamps {
            start += 1
        }
        var steps = [Array(tokens[..<start])]
        steps += tokens[start...].map { [$0] }
        let d = model.dimensions.width, vocabulary = model.dimensions.vocabularySize
        let all = FloatBuffer(count: steps.count * vocabulary)
        for (i, step) in steps.enumerated() {
            let hidden = model.decoder.forward([DecoderInput(tokens: step, cache: cache, memory: memory)])
            let logits = model.decoder.logits(hidden: hidden.pointer + (step.count - 1) * d, rows: 1)
            (all.pointer + i * vocabulary).update(from: logits.pointer, count: vocabulary)
        }
        return all
    }

    func write(_ buffer: FloatBuffer, count: Int, to path: String) throws {
        let data = Data(bytes: buffer.pointer, count: count * 4)
        try data.write(to: URL(fileURLWithPath: path))
    }
}
