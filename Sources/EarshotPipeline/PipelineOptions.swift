import EarshotMemory
import EarshotWhisper

/// How the VAD → batched-Whisper pipeline cuts, groups and bounds its work.
///
/// The batching parameters keep FunASR's names and defaults (`funasr/auto/auto_model.py`,
/// `inference_with_vad`): `batch_size_s` = 300, `batch_size_threshold_s` = 60.
public struct PipelineOptions: Sendable {
    /// VAD cuts speech longer than this (FunASR `max_single_segment_time`; here capped at one window).
    public var maxSingleSegmentSeconds: Double = 30
    /// A batch grows while `longest chunk × count` stays within this many seconds (FunASR `batch_size_s`).
    public var batchSizeSeconds: Double = 300
    /// Chunks at least this long run alone (FunASR `batch_size_threshold_s`, formerly
    /// `batch_size_token_threshold_s`).
    public var batchSizeThresholdSeconds: Double = 60
    /// Never let a batch exceed `batchSizeSeconds` (FunASR admits the chunk that crosses it).
    public var strictCap = false
    /// Upper bound on chunks per batch, whatever the budget allows. 4 keeps the peak independent of the
    /// recording's length and under a fifth of faster-whisper's batched peak, while sharing each decoder
    /// step's weight reads across 4 chunks; larger batches were not faster on 2 cores, because each chunk's
    /// cross-attention keys/values are streamed every step whatever the batch (docs/performance.md).
    public var maxBatchSize = 4
    /// Without a memory limit, a batch also holds at most this many bytes of per-chunk memory (each chunk's
    /// cross-attention keys/values, self-attention cache and logits): 64 MiB allows 4 chunks of tiny.en and
    /// 2 of base, so the default peak stays under a fifth of faster-whisper's batched one. `nil`: only
    /// `maxBatchSize` counts. Ignored under `memoryLimit`, which plans exactly.
    public var batchBytes: Int? = 64 << 20
    /// Chunks gathered before they are sorted by duration and planned (bounded; not the whole file);
    /// `nil` is twice the batch size. Packed windows are nearly all 25–30 s long, so sorting a longer
    /// look-ahead buys little and each waiting chunk holds 1.9 MB of audio.
    public var lookAheadChunks: Int?
    /// The process's peak resident memory must stay at or under this (weights included).
    public var memoryLimit: ByteCount?
    /// Spoken language; detected from the first chunk when `nil` (multilingual models).
    public var language: String?
    /// Stop after this much audio (e.g. to tune on a sample of a long recording); `nil` reads everything.
    public var maxAudioSeconds: Double?
    /// Decoding options for each chunk (greedy; chunks are decoded independently).
    public var decoding: WhisperDecodingOptions = .greedy
    /// Each VAD segment is widened by this much on both sides before packing (FSMN-VAD's edges clip word
    /// onsets and ends; faster-whisper's Silero default is `speech_pad_ms=400`). See docs/memory.md §9 for
    /// the measurement behind the default.
    public var speechPadSeconds: Double = 0.4
    /// Silence inserted between pieces of speech that are not contiguous in the recording when they are
    /// packed into one window (faster-whisper's `collect_chunks` inserts none).
    public var pieceGapSeconds: Double = 0
    /// Ask Whisper for word timings and cut each window into one segment per utterance (piece of speech,
    /// and sentences in long pieces); otherwise one segment per window.
    public var segmentsPerUtterance = true
    /// Output segments keep their words (times on the recording's timeline), for `--word-timestamps`.
    public var keepWords = false
    /// Hotwords for a SeACo-Paraformer (`"阿里巴巴 达摩院"`, or FunASR's weighted `"阿里巴巴 20 达摩院 1.5"`).
    public var hotwords: String?
    /// Inside one piece of speech whose text spans longer than this (seconds), segments end at sentence ends.
    public var maxUtteranceSeconds: Double = 15

    public init() {}

    /// The batched pipeline's decoding policy applied to a user's options: greedy at temperature 0 (windows
    /// are decoded independently, with no fallback), and no timestamp tokens — one segment per window, as
    /// faster-whisper's `BatchedInferencePipeline` does by default: with timestamp tokens, tiny.en ended
    /// windows early and lost 3.5 % of the words on the 10-min benchmark recording (docs/performance.md).
    public static func windowDecoding(_ options: WhisperDecodingOptions) -> WhisperDecodingOptions {
        var decoding = options
        decoding.beamSize = 1
        decoding.temperatures = [0]
        decoding.withoutTimestamps = true
        return decoding
    }
}
