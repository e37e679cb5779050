/// One stretch of the recording copied into a packed window.
public struct WindowPiece: Sendable, Equatable {
    /// Sample offset of the piece inside the window.
    public var offset: Int
    /// Sample index in the recording where the piece starts.
    public var start: Int
    /// Samples in the piece.
    public var count: Int
    /// The VAD's speech inside the piece (recording samples, before padding), when a VAD found it.
    public var speech: Range<Int>?

    public init(offset: Int, start: Int, count: Int, speech: Range<Int>? = nil) {
        self.offset = offset
        self.start = start
        self.count = count
        self.speech = speech.flatMap { Self.clamp($0, to: start..<(start + count)) }
    }

    /// `range ∩ bounds`, or `nil` when empty.
    static func clamp(_ range: Range<Int>, to bounds: Range<Int>) -> Range<Int>? {
        let lower = max(range.lowerBound, bounds.lowerBound), upper = min(range.upperBound, bounds.upperBound)
        return lower < upper ? lower..<upper : nil
    }
}

/// Where each part of a packed window came from: its pieces in window order, so that a time inside the
/// window (e.g. a word's) maps back to the recording's timeline (faster-whisper's `SpeechTimestampsMap`,
/// `faster_whisper/vad.py`, kept per window rather than per file).
public struct WindowTimeMap: Sendable, Equatable {
    /// Samples per second of both timelines.
    public static let sampleRate = 16_000
    /// Pieces in window order; offsets and recording starts both increase.
    public private(set) var pieces: [WindowPiece] = []

    public init(pieces: [WindowPiece] = []) {
        for piece in pieces { append(piece) }
    }

    /// Adds a piece after the last one; a piece that continues the previous one in both the window and
    /// the recording extends it instead (`split(atRecordingSample:)` marks utterance boundaries).
    public mutating func append(_ piece: WindowPiece) {
        guard piece.count > 0 else { return }
        if let last = pieces.last, last.offset + last.count == piece.offset, last.start + last.count == piece.start {
            pieces[pieces.count - 1].count += piece.count
            switch (last.speech, piece.speech) {
            case let (a?, b?): pieces[pieces.count - 1].speech = a.lowerBound..<b.upperBound
            case (nil, let b?): pieces[pieces.count - 1].speech = b
            default: break
            }
        } else {
            pieces.append(piece)
        }
    }

    /// The VAD's speech of piece `index` in seconds of the recording, when known.
    public func speechSeconds(piece index: Int) -> (start: Double, end: Double)? {
        pieces[index].speech.map { (Double($0.lowerBound) / Double(Self.sampleRate), Double($0.upperBound) / Double(Self.sampleRate)) }
    }

    /// Samples of the window that carry audio or inserted silence (end of the last piece).
    public var windowSamples: Int { pieces.last.map { $0.offset + $0.count } ?? 0 }

    /// The recording's start of the first piece and end of the last, in seconds.
    public var recordingStart: Double { Double(pieces.first?.start ?? 0) / Double(Self.sampleRate) }
    public var recordingEnd: Double {
        Double(pieces.last.map { $0.start + $0.count } ?? 0) / Double(Self.sampleRate)
    }

    /// The piece holding a window time (seconds), or the nearest one when the time falls in inserted
    /// silence or outside the pieces. At a boundary shared by two pieces, `preferEarlier` picks the
    /// one that ends there (for end times).
    public func pieceIndex(at windowTime: Double, preferEarlier: Bool = false) -> Int {
        precondition(!pieces.isEmpty, "an empty time map has no pieces")
        let sample = windowTime * Double(Self.sampleRate)
        var best = 0
        var bestDistance = Double.infinity
        for (i, piece) in pieces.enumerated() {
            let lower = Double(piece.offset), upper = Double(piece.offset + piece.count)
            let inside = preferEarlier ? (sample > lower && sample <= upper) : (sample >= lower && sample < upper)
            if inside { return i }
            let distance = sample < lower ? lower - sample : sample - upper
            if distance < bestDistance { best = i; bestDistance = distance }
        }
        return best
    }

    /// A window time (seconds) on the recording's timeline, through piece `index` and clamped to it.
    public func recordingTime(_ windowTime: Double, piece index: Int) -> Double {
        let piece = pieces[index]
        let rate = Double(Self.sampleRate)
        let inPiece = min(max(windowTime * rate - Double(piece.offset), 0), Double(piece.count))
        return (Double(piece.start) + inPiece) / rate
    }

    /// Splits the last piece at a recording sample strictly inside it (an utterance boundary within
    /// contiguous padded speech); anything else is ignored.
    public mutating func split(atRecordingSample sample: Int) {
        guard let last = pieces.last, sample > last.start, sample < last.start + last.count else { return }
        let head = sample - last.start
        pieces[pieces.count - 1] = WindowPiece(offset: last.offset, start: last.start, count: head, speech: last.speech)
        pieces.append(WindowPiece(offset: last.offset + head, start: sample, count: last.count - head, speech: last.speech))
    }

    /// A window time on the recording's timeline through the piece that holds it (or the nearest).
    public func recordingTime(_ windowTime: Double, isEnd: Bool = false) -> Double {
        recordingTime(windowTime, piece: pieceIndex(at: windowTime, preferEarlier: isEnd))
    }
}

/// Decides which padded speech goes into which ≤ 30-s window, as speech segments stream in.
///
/// Each VAD segment is widened by `pad` samples on both sides (never before the recording's start, never
/// back over audio already given to a piece, so padded pieces never overlap; the recording's end is
/// applied when audio is copied). When two padded segments touch in one window, the audio is one
/// contiguous stretch but the time map gets a boundary halfway through the silence between the
/// segments (where faster-whisper's `get_speech_timestamps` splits a silence shorter than two pads), so
/// utterances stay apart whatever the pad. Pieces are packed in order into the open window while they fit,
/// with `gap` samples of silence between pieces that are not contiguous in the recording; the window is
/// closed as soon as the next piece does not fit (faster-whisper `collect_chunks`, which concatenates
/// only speech, with no gap). A piece longer than a window is split into window-sized parts.
///
/// The packer only decides; the caller copies the audio, in the order of the steps it returns.
struct WindowPacker {
    /// What the caller must do next.
    enum Step: Equatable {
        /// Append this recording range to the open window; `speech` is the VAD segment inside it, unpadded.
        case piece(Range<Int>, speech: Range<Int>)
        /// Mark an utterance boundary at this recording sample: inside the stretch formed by the piece just
        /// appended and the contiguous piece before it.
        case boundary(Int)
        /// Close the open window (it becomes one Whisper chunk).
        case close
    }

    let capacity: Int
    let pad: Int
    let gap: Int
    /// Samples the open window holds if every piece is copied whole (gaps included).
    private(set) var used = 0
    /// End of the last piece given out (recording samples).
    private(set) var lastEnd = 0
    private var lastWasInWindow = false
    /// End of the last speech segment before padding.
    private var lastSpeechEnd: Int?
    /// Start of the stretch of contiguous pieces that the open window's last piece belongs to.
    private var stretchStart = 0

    init(capacity: Int, pad: Int, gap: Int) {
        precondition(capacity > 0 && pad >= 0 && gap >= 0 && gap < capacity)
        self.capacity = capacity
        self.pad = pad
        self.gap = gap
    }

    /// Adds a speech segment (recording samples, in chronological order).
    mutating func add(speech: Range<Int>) -> [Step] {
        let start = max(speech.lowerBound - pad, lastEnd, 0)
        let end = speech.upperBound + pad
        let previousSpeechEnd = lastSpeechEnd
        lastSpeechEnd = max(lastSpeechEnd ?? 0, speech.upperBound)
        guard start < end else { return [] }
        var steps: [Step] = []
        var pieceStart = start
        while pieceStart < end {
            let contiguous = lastWasInWindow && pieceStart == lastEnd
            let spacing = used == 0 || contiguous ? 0 : gap
            let room = capacity - used - spacing
            let length = end - pieceStart
            if length > room {
                if used > 0 {
                    steps.append(.close)
                    used = 0
                    lastWasInWindow = false
                    continue
                }
                // An empty window and still too long: split off a window-sized part.
            }
            let take = min(length, capacity - used - spacing)
            steps.append(.piece(pieceStart..<(pieceStart + take), speech: speech))
            // After the piece: the time map has merged it with the previous one, so the boundary (halfway
            // through the silence, or the seam itself when the segments touch) lies inside the stretch —
            // unless the midpoint fell in an earlier window, where the seam is the boundary.
            if contiguous, let previous = previousSpeechEnd {
                let midpoint = (previous + max(speech.lowerBound, previous)) / 2
                steps.append(.boundary(midpoint > stretchStart ? midpoint : pieceStart))
            } else {
                stretchStart = pieceStart
            }
            used += spacing + take
            pieceStart += take
            lastEnd = pieceStart
            lastWasInWindow = true
        }
        return steps
    }

    /// Closes the open window, if it holds anything (end of stream).
    mutating func finish() -> [Step] {
        defer { used = 0; lastWasInWindow = false }
        return used > 0 ? [.close] : []
    }
}

/// The window being filled: the concatenated samples and their time map.
struct OpenWindow {
    let capacity: Int
    let gap: Int
    private(set) var samples: [Float] = []
    private(set) var map = WindowTimeMap()

    init(capacity: Int, gap: Int) {
        self.capacity = capacity
        self.gap = gap
        samples.reserveCapacity(capacity)
    }

    var isEmpty: Bool { map.pieces.isEmpty }

    /// Marks an utterance boundary inside the last piece (see `WindowTimeMap.split(atRecordingSample:)`).
    mutating func boundary(at sample: Int) { map.split(atRecordingSample: sample) }

    /// Appends the samples of a recording range that starts at `start`, after `gap` samples of silence
    /// unless it continues the previous piece. Never grows past `capacity` (the packer plans within it;
    /// this only guards against a range clamped differently from the plan).
    mutating func append(start: Int, _ audio: ArraySlice<Float>, speech: Range<Int>? = nil) {
        let spacing = map.pieces.last.map { $0.start + $0.count != start ? gap : 0 } ?? 0
        let count = min(audio.count, capacity - samples.count - spacing)
        guard count > 0 else { return }
        samples.append(contentsOf: repeatElement(0, count: spacing))
        map.append(WindowPiece(offset: samples.count, start: start, count: count, speech: speech))
        samples.append(contentsOf: audio.prefix(count))
    }

    /// Hands out the window and starts an empty one with the same capacity.
    mutating func take() -> (samples: [Float], map: WindowTimeMap) {
        defer {
            samples = []
            samples.reserveCapacity(capacity)
            map = WindowTimeMap()
        }
        return (samples, map)
    }
}
