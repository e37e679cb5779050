/// Groups neighbouring speech segments into chunks that fit one Whisper window.
///
/// A chunk spans from its first segment's start to its last segment's end (the pauses between them stay
/// in, so Whisper hears natural context); a segment joins the open chunk while the whole span stays within
/// `maxChunkSamples`. A chunk is closed as soon as no later segment could join it.
struct SpeechChunker {
    /// A closed chunk: absolute sample range in the recording.
    typealias Span = Range<Int>

    let maxChunkSamples: Int
    private(set) var open: Span?

    init(maxChunkSamples: Int) {
        self.maxChunkSamples = maxChunkSamples
    }

    /// Adds a speech segment (absolute samples); returns a chunk closed by it, if any.
    /// Segments longer than a window are split into window-sized pieces.
    mutating func add(_ segment: Span) -> [Span] {
        var closed: [Span] = []
        var pieceStart = segment.lowerBound
        while pieceStart < segment.upperBound {
            let piece = pieceStart..<min(segment.upperBound, pieceStart + maxChunkSamples)
            if let current = open, piece.upperBound - current.lowerBound <= maxChunkSamples {
                open = current.lowerBound..<piece.upperBound
            } else {
                if let current = open { closed.append(current) }
                open = piece
            }
            pieceStart = piece.upperBound
        }
        return closed
    }

    /// Closes the open chunk if the stream has moved so far past its start that nothing more can join.
    mutating func advance(to position: Int) -> [Span] {
        guard let current = open, position - current.lowerBound >= maxChunkSamples else { return [] }
        open = nil
        return [current]
    }

    /// Closes whatever is open (end of stream).
    mutating func finish() -> [Span] {
        defer { open = nil }
        return open.map { [$0] } ?? []
    }
}

/// The most recent samples of a stream, addressed by absolute sample index; older samples are dropped
/// when no pending chunk needs them, so memory stays bounded whatever the stream's length.
struct SampleWindow {
    private var samples: [Float] = []
    /// Absolute index of `samples[0]`.
    private(set) var start = 0

    /// Absolute index one past the newest sample.
    var end: Int { start + samples.count }

    /// Bytes currently held (capacity, since that is what is allocated).
    var byteCount: Int { samples.capacity * MemoryLayout<Float>.size }

    mutating func append(_ new: [Float]) { samples.append(contentsOf: new) }

    /// Copies an absolute range (clamped to what is held).
    func slice(_ range: Range<Int>) -> [Float] {
        let lower = max(range.lowerBound, start) - start
        let upper = min(range.upperBound, end) - start
        guard lower < upper else { return [] }
        return Array(samples[lower..<upper])
    }

    /// Forgets everything before absolute index `index`.
    mutating func discard(before index: Int) {
        let count = min(max(index - start, 0), samples.count)
        guard count > 0 else { return }
        // Shift down in place rather than reallocating, so capacity (and memory) stays put.
        samples.removeFirst(count)
        start += count
    }
}
