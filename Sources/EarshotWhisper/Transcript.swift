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

    public init(id: Int, seek: Int, start: Double, end: Double, text: String, tokens: [Int], temperature: Float,
                avgLogProb: Double, compressionRatio: Double, noSpeechProb: Double) {
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
