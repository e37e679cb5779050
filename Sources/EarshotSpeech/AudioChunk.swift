/// A piece of a recording short enough for one recognizer window (Whisper: ≤ 30 s), with its place on the
/// timeline.
public struct AudioChunk: Sendable {
    /// 16 kHz mono samples in [-1, 1]; at most the recognizer's `windowSamples`.
    public var samples: [Float]
    /// Where the chunk starts in the recording, in seconds.
    public var startSeconds: Double
    /// Position of the chunk in the recording's order (used to restore chronological order after sorting).
    public var index: Int

    public init(samples: [Float], startSeconds: Double, index: Int) {
        self.samples = samples
        self.startSeconds = startSeconds
        self.index = index
    }

    public var durationSeconds: Double { Double(samples.count) / 16_000 }
}
