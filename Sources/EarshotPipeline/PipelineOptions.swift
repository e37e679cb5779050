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
    /// Upper bound on chunks per batch, whatever the budget allows. 8 keeps the peak independent of the
    /// recording's length (a 5-minute file already fills batches of 8) while still sharing each decoder step's
    /// weight reads across 8 chunks.
    public var maxBatchSize = 8
    /// Chunks gathered before they are sorted by duration and planned (bounded; not the whole file).
    public var lookAheadChunks = 16
    /// The process's peak resident memory must stay at or under this (weights included).
    public var memoryLimit: ByteCount?
    /// Spoken language; detected from the first chunk when `nil` (multilingual models).
    public var language: String?
    /// Stop after this much audio (e.g. to tune on a sample of a long recording); `nil` reads everything.
    public var maxAudioSeconds: Double?
    /// Decoding options for each chunk (greedy; chunks are decoded independently).
    public var decoding: WhisperDecodingOptions = .greedy

    public init() {}
}
