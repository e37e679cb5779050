/// One piece of transcribed text with its place on the recording's timeline.
public struct TranscriptSegment: Sendable, Codable, Equatable {
    /// 1-based position in the transcript.
    public var id: Int
    /// Frame (10 ms) at which the window that produced this segment started.
    public var seek: Int
    /// Start and end, in seconds from the start of the recording.
    public var start: Double
    public var end: Double
    /// The decoded text (Whisper keeps the leading space of each segment).
    public var text: String
    /// Token ids, timestamp tokens included.
    public var tokens: [Int]
    /// Decoding temperature that produced the window.
    public var temperature: Float
    /// Average log-probability per token of the window (faster-whisper's `avg_logprob`).
    public var avgLogProb: Double
    /// zlib compression ratio of the window's text.
    public var compressionRatio: Double
    /// P(no speech) of the window.
    public var noSpeechProb: Double
    /// The segment's words with their times on the same timeline as `start`/`end`, when word timestamps
    /// were asked for (``WhisperDecodingOptions/wordTimestamps``); `nil` otherwise.
    public var words: [WordTiming]?
    /// Who spoke it (`spk0`, `spk1`, …), when the transcript was diarized; `nil` otherwise.
    public var speaker: String?

    public init(id: Int, seek: Int, start: Double, end: Double, text: String, tokens: [Int], temperature: Float,
                avgLogProb: Double, compressionRatio: Double, noSpeechProb: Double, words: [WordTiming]? = nil) {
        self.id = id
        self.seek = seek
        self.start = start
        self.end = end
        self.text = text
        self.tokens = tokens
        self.temperature = temperature
        self.avgLogProb = avgLogProb
        self.compressionRatio = compressionRatio
        self.noSpeechProb = noSpeechProb
        self.words = words
    }
}

/// One word and when it was spoken, from cross-attention alignment (faster-whisper `word_timestamps=True`).
public struct WordTiming: Sendable, Codable, Equatable {
    /// The word as decoded, with Whisper's leading space and any attached punctuation (" Hello,").
    public var word: String
    /// Start and end in seconds, on the timeline of the segment that holds the word.
    public var start: Double
    public var end: Double
    /// Mean probability of the word's tokens.
    public var probability: Double

    public init(word: String, start: Double, end: Double, probability: Double) {
        self.word = word
        self.start = start
        self.end = end
        self.probability = probability
    }
}

/// The result of transcribing one recording.
public struct Transcript: Sendable, Equatable {
    /// Language code used for decoding ("en", "zh", …).
    public var language: String
    /// Probability of that language (1 when it was given, not detected).
    public var languageProbability: Double
    /// Duration of the audio, in seconds.
    public var duration: Double
    /// The segments, in time order.
    public var segments: [TranscriptSegment]

    public init(language: String, languageProbability: Double, duration: Double, segments: [TranscriptSegment]) {
        self.language = language
        self.languageProbability = languageProbability
        self.duration = duration
        self.segments = segments
    }

    /// All segment texts joined, as faster-whisper users do with `"".join(s.text for s in segments)`.
    public var text: String { segments.map(\.text).joined() }
}
