import Foundation
import EarshotCheckpoint
import EarshotText

/// A loaded Whisper model: weights (memory-mapped where the stored layout is usable), tokenizer and
/// the token rules from `config.json`. Immutable and safe to share; each transcription allocates its
/// own activations and caches.
public final class WhisperModel: Sendable {
    /// The model directory.
    public let directory: String
    /// Dimensions read from the checkpoint.
    public let dimensions: WhisperDimensions
    /// The tokenizer.
    public let tokenizer: WhisperTokenizer
    /// Precision the weight matrices are kept in.
    public let precision: WeightPrecision

    let checkpoint: CTranslate2Checkpoint
    let weights: WhisperWeights
    let config: WhisperConfig
    let special: SpecialTokens
    let encoder: WhisperEncoder
    let decoder: WhisperDecoder

    /// Loads a CTranslate2 Whisper model directory (`model.bin`, `config.json`, vocabulary, `tokenizer.json`).
    /// - Parameter precision: `.float32` widens fp16/int8 weights at load time; `.stored` keeps them as stored.
    /// - Throws: `CheckpointError` naming the file (and tensor) when the directory is not a usable model.
    public init(directory: String, precision: WeightPrecision = .float32) throws {
        self.directory = directory
        self.precision = precision
        checkpoint = try CTranslate2Checkpoint.open(directory: directory)
        guard checkpoint.specName == "WhisperSpec" || checkpoint.specName.isEmpty else {
            throw CheckpointError(.notAModel, path: checkpoint.modelPath,
                                  message: "holds a '\(checkpoint.specName)' model, not Whisper (WhisperSpec)")
        }
        dimensions = try WhisperDimensions(checkpoint: checkpoint)
        config = try WhisperConfig.read(from: checkpoint)
        tokenizer = try WhisperTokenizer(directory: directory)
        guard tokenizer.vocabularySize == dimensions.vocabularySize else {
            throw CheckpointError(.invalidConfiguration, path: directory,
                                  message: "the vocabulary has \(tokenizer.vocabularySize) tokens but the model's embeddings have \(dimensions.vocabularySize) rows")
        }
        special = SpecialTokens(eot: tokenizer.eot, sot: tokenizer.sot, sotPrev: tokenizer.sotPrev,
                                sotLM: tokenizer.sotLM, noSpeech: tokenizer.noSpeech,
                                noTimestamps: tokenizer.noTimestamps, timestampBegin: tokenizer.timestampBegin,
                                transcribe: tokenizer.transcribe, translate: tokenizer.translate,
                                lastToken: dimensions.vocabularySize - 1)
        weights = try WhisperWeights(checkpoint: checkpoint, dimensions: dimensions, precision: precision)
        if precision == .int8 || precision == .float16 {
            // The converted matrices live in memory of their own; the mapped originals were only read once.
            // Tensors still used from the mapping (fp16: the embedding table; int8: fp16 convolution weights,
            // which stay float as in CTranslate2) fault back in on demand.
            checkpoint.file.dropResidentPages()
        }
        encoder = WhisperEncoder(weights: weights, dims: dimensions)
        decoder = WhisperDecoder(weights: weights, dims: dimensions)
    }

    /// Whether the model knows several languages (and so can detect language and translate).
    public var isMultilingual: Bool { dimensions.isMultilingual }

    /// Bytes of weights the model holds (memory-mapped tensors count at their stored size).
    public var weightBytes: Int { weights.byteCount }

    /// Samples per 30-s window (16 kHz).
    public static let windowSamples = 480_000 // whisper/audio.py N_SAMPLES = CHUNK_LENGTH * SAMPLE_RATE
    /// Mel frames per window.
    public var windowFrames: Int { 2 * dimensions.audioContext } // N_FRAMES = 3000

    /// Whether cross-attention keys/values are held as IEEE halves: at int8 and fp16 precision (half the
    /// memory per chunk and half the bytes each decoding step streams); fp32 keeps them in fp32, so its
    /// output stays equal to faster-whisper float32.
    var halfCrossAttention: Bool { precision == .int8 || precision == .float16 }

    /// Encodes one mel window (`melBands × windowFrames`, band-major).
    func encode(window: UnsafePointer<Float>) -> CrossAttentionMemory {
        let encoded = encoder.encode(mel: window, frames: windowFrames)
        return decoder.crossAttentionMemory(encoderOutput: encoded.pointer, half: halfCrossAttention)
    }

    /// Language probabilities for an encoded window, best first (CTranslate2 `detect_language`: the
    /// logits after `<|startoftranscript|>`, restricted to language tokens, softmaxed).
    func detectLanguage(memory: CrossAttentionMemory) -> [(code: String, probability: Double)] {
        let cache = decoder.makeCache()
        let hidden = decoder.forward([DecoderInput(tokens: [special.sot], cache: cache, memory: memory)])
        let logits = decoder.logits(hidden: hidden.pointer, rows: 1)
        let ids = config.langIds.isEmpty ? tokenizer.languageCodes.compactMap { tokenizer.languageToken(code: $0) }
                                         : config.langIds
        var best = -Float.infinity
        for id in ids { best = max(best, logits[id]) }
        var total: Double = 0
        for id in ids { total += Double(expf(logits[id] - best)) }
        return ids.compactMap { id -> (String, Double)? in
            guard let code = tokenizer.languageCode(token: id) else { return nil }
            return (code, Double(expf(logits[id] - best)) / total)
        }.sorted { $0.1 > $1.1 }
    }
}
