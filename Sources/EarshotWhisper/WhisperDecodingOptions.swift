/// What Whisper is asked to do with the audio.
public enum WhisperTask: String, Sendable, CaseIterable {
    /// Transcribe in the spoken language.
    case transcribe
    /// Translate into English.
    case translate
}

/// Decoding options. The defaults are faster-whisper 1.2.1's `WhisperModel.transcribe` defaults
/// (`faster_whisper/transcribe.py`), so the same call gives the same behaviour.
public struct WhisperDecodingOptions: Sendable {
    /// Spoken language code ("en", "zh", …); `nil` detects it from the first 30 s (multilingual models).
    public var language: String?
    public var task: WhisperTask = .transcribe
    /// Beam width at temperature 0; 1 means greedy decoding.
    public var beamSize = 5
    /// Sampled candidates per window at temperature > 0.
    public var bestOf = 5
    /// Beam-search patience: stop after `beamSize × patience` finished hypotheses.
    public var patience: Float = 1
    /// Hypothesis scores are divided by `length ^ lengthPenalty`.
    public var lengthPenalty: Float = 1
    /// Temperatures tried in order until a result passes the thresholds (temperature fallback).
    public var temperatures: [Float] = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    /// A window whose text compresses (zlib) better than this is too repetitive: fall back.
    public var compressionRatioThreshold: Double? = 2.4
    /// A window whose average token log-probability is below this falls back.
    public var logProbThreshold: Double? = -1.0
    /// A window with P(no speech) above this (and a low log-probability) is skipped as silence.
    public var noSpeechThreshold: Double? = 0.6
    /// Feed the previous window's text as the prompt of the next.
    public var conditionOnPreviousText = true
    /// Above this temperature the prompt is reset.
    public var promptResetOnTemperature: Float = 0.5
    /// Text prepended as context before the first window.
    public var initialPrompt: String?
    /// Suppress a blank or end-of-text as the first sampled token.
    public var suppressBlank = true
    /// Token ids never sampled; `-1` stands for the tokenizer's non-speech symbols.
    public var suppressTokens: [Int] = [-1]
    /// Decode without timestamp tokens (one segment per window).
    public var withoutTimestamps = false
    /// The first timestamp may not be later than this many seconds.
    public var maxInitialTimestamp: Double = 1.0
    /// Attach word timings to every segment (cross-attention alignment, as faster-whisper's
    /// `word_timestamps=True`).
    public var wordTimestamps = false
    /// With word timestamps, also compute each word's probability (a vocabulary projection of every text
    /// token). Callers that only need word times (the pipeline cutting segments) turn it off; words then
    /// carry probability 0.
    public var wordProbabilities = true
    /// With word timestamps, these symbols (a word of their own, after a space) join the following word.
    public var prependPunctuations = "\"'“¿([{-"
    /// With word timestamps, these symbols join the preceding word.
    public var appendPunctuations = "\"'.。,，!！?？:：”)]}、"
    /// Seed for temperature sampling, so runs are repeatable.
    public var samplingSeed: UInt64 = 0

    public init() {}

    /// Greedy decoding with otherwise default options (faster-whisper `beam_size=1`).
    public static var greedy: WhisperDecodingOptions {
        var options = WhisperDecodingOptions()
        options.beamSize = 1
        return options
    }
}
