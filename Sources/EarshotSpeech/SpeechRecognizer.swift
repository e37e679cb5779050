import EarshotMemory

/// What a batch of windows is recognised with: the same for every window of the batch.
public struct RecognitionSettings: Sendable, Hashable {
    /// Language code ("en", "zh", …); `nil` for a recognizer that does not take one.
    public var language: String?
    /// Translate into English (Whisper's `translate` task).
    public var translate = false
    /// Text the decoder is primed with (Whisper's initial prompt); `nil` uses the recognizer's default.
    public var prompt: String?
    /// Hotwords to bias recognition towards (SeACo-Paraformer: `"word weight word weight …"`).
    public var hotwords: String?
    /// Give each segment its words with times (the pipeline cuts windows per utterance with them).
    public var wordTimings = true
    /// Also give each word's probability (costs a vocabulary projection per token on Whisper).
    public var wordProbabilities = false

    public init(language: String? = nil, translate: Bool = false, prompt: String? = nil, hotwords: String? = nil,
                wordTimings: Bool = true, wordProbabilities: Bool = false) {
        self.language = language
        self.translate = translate
        self.prompt = prompt
        self.hotwords = hotwords
        self.wordTimings = wordTimings
        self.wordProbabilities = wordProbabilities
    }
}

/// Bytes one batch costs beyond the weights and the windows' audio, by kind of allocation: the model's cost
/// model, which the planner sizes batches with. Every term is an upper bound of what `recognize` allocates.
public struct RecognizerBatchCost: Sendable, Equatable {
    /// Features of the window being processed (paid once per batch).
    public var features: Int
    /// Activations paid once per batch (e.g. an encoder that runs one window at a time).
    public var activations: Int
    /// Activations per window of the batch.
    public var activationsPerItem: Int
    /// Caches per window (decoder keys/values).
    public var cachePerItem: Int
    /// Outputs per window (logits, tokens).
    public var outputsPerItem: Int
    /// Word alignment or timestamp work, paid once per batch.
    public var alignment: Int

    public init(features: Int, activations: Int, activationsPerItem: Int, cachePerItem: Int, outputsPerItem: Int,
                alignment: Int = 0) {
        self.features = features
        self.activations = activations
        self.activationsPerItem = activationsPerItem
        self.cachePerItem = cachePerItem
        self.outputsPerItem = outputsPerItem
        self.alignment = alignment
    }

    /// Everything that scales with the batch, per window.
    public var perItem: Int { activationsPerItem + cachePerItem + outputsPerItem }
    /// Everything paid once per batch.
    public var fixed: Int { features + activations + alignment }
    /// Total for `count` windows.
    public func bytes(batchSize count: Int) -> Int { fixed + perItem * count }
}

/// A recognizer family as the pipeline sees it: windows of 16-kHz audio in, segments out, and what a batch
/// costs in memory. Whisper and Paraformer each implement it; the pipeline (VAD, packing, batching under a
/// memory limit, per-utterance segments, the server's engine) knows nothing else about them.
public protocol SpeechRecognizer: AnyObject, Sendable {
    /// Short name for reports and the server's model list (the model directory's name).
    var name: String { get }
    /// Longest window, in samples at 16 kHz.
    var windowSamples: Int { get }
    /// Bytes of weights (mapped or owned).
    var weightBytes: Int { get }
    /// Whether windows need a language, detected from the audio when none is given.
    var needsLanguage: Bool { get }
    /// The one language a model that takes none recognises (English-only Whisper: "en"), for reports.
    var fixedLanguage: String? { get }
    /// Refuses settings the model cannot honour (an unknown language, translation on an English-only
    /// model), with a message that says what to change.
    func validate(_ settings: RecognitionSettings) throws
    /// The most likely spoken language of a window (only called when `needsLanguage`).
    func detectLanguage(of samples: [Float]) -> String
    /// The memory a batch costs with these settings; `nil` settings: the most any settings can cost.
    func batchCost(_ settings: RecognitionSettings?) -> RecognizerBatchCost
    /// Recognises a batch of windows at once; result `i` belongs to `chunks[i]`, times relative to the
    /// chunk's `startSeconds`. Output does not depend on how windows are grouped into batches.
    ///
    /// `checkpoint`, when given, is called between the steps of the batch (after each window's encoder, after
    /// each decoder step), where nothing of the batch is in the middle of a kernel: the caller may recognise
    /// another, urgent batch in it (the server's engine does, so a new short request does not wait for a long
    /// batch to finish). A recognizer whose batch is one short pass may never call it.
    func recognize(_ chunks: [AudioChunk], settings: RecognitionSettings, times: StageTimes?,
                   checkpoint: (() -> Void)?) throws -> [[TranscriptSegment]]
    /// Token ids for a piece of text (for segments cut out of a window's text).
    func tokenize(_ text: String) -> [Int]
}

extension SpeechRecognizer {
    /// Recognises a batch without checkpoints (see ``recognize(_:settings:times:checkpoint:)``).
    public func recognize(_ chunks: [AudioChunk], settings: RecognitionSettings, times: StageTimes?) throws -> [[TranscriptSegment]] {
        try recognize(chunks, settings: settings, times: times, checkpoint: nil)
    }
}
