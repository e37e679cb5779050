import EarshotFunASR
import EarshotMemory

/// A packed window ready for recognition: at most one window of samples (only speech and its padding, when a
/// VAD runs), the map from window time back to the recording, and its place in the recording's order.
public struct PackedWindow: Sendable {
    /// 16-kHz mono samples.
    public var samples: [Float]
    /// Where each piece of the window came from in the recording.
    public var map: WindowTimeMap
    /// 0, 1, 2, … in the order windows were cut (chronological).
    public var index: Int

    public var durationMs: Int { samples.count * 1000 / PackedWindow.sampleRate }
    static let sampleRate = 16_000
}

/// The pipeline's front half, for any audio source: 16-kHz samples are pushed in blocks as they arrive (from
/// a file, an upload or a live stream); FSMN-VAD finds the speech as it streams past; each speech segment is
/// padded, and the padded speech is packed into windows of at most `capacity` samples (or, with
/// `windowPerUtterance`, each utterance is closed into its own window as soon as VAD ends it, for live
/// streams). Without a VAD, the audio is cut into consecutive full windows.
///
/// Memory is bounded whatever the stream's length: the cutter keeps only the samples a pending piece or an
/// open speech segment may still need, plus a little history (at most `bufferBytes`).
public final class SpeechWindowCutter {
    private let stream: FSMNVADStream?
    private let capacity: Int
    private let pad: Int
    private let windowPerUtterance: Bool
    private let times: StageTimes
    private var window = SampleWindow()
    private var packer: WindowPacker
    private var pending: [WindowPacker.Step] = []   // packing steps waiting for their audio to arrive
    private var open: OpenWindow
    private var nextIndex = 0
    private var openSpeechStart: Int?
    private var finished = false

    private static let sampleRate = PackedWindow.sampleRate

    /// Bytes the cutter holds at most: one window plus a few seconds of history (with block slack, twice for
    /// the array's growth) and the packed window being filled.
    public static func bufferBytes(capacity: Int) -> Int { sampleWindowBytes(capacity: capacity) + capacity * 4 }
    static func sampleWindowBytes(capacity: Int) -> Int { (capacity + 8 * sampleRate) * 4 * 2 }

    /// - Parameters:
    ///   - vad: FSMN-VAD, or `nil` to cut the audio into consecutive windows.
    ///   - capacity: samples per window (Whisper: 30 s).
    ///   - options: pad, gap between pieces and the longest VAD segment.
    ///   - windowPerUtterance: close a window at every speech end instead of packing utterances together.
    ///   - times: where VAD time accumulates.
    public init(vad: FSMNVAD?, capacity: Int, options: PipelineOptions, windowPerUtterance: Bool = false,
                times: StageTimes = StageTimes()) throws {
        guard (0...2).contains(options.speechPadSeconds), (0...1).contains(options.pieceGapSeconds) else {
            throw PipelineError("speech pad must be 0–2 s and the gap between pieces 0–1 s (got \(options.speechPadSeconds) s, \(options.pieceGapSeconds) s)")
        }
        let rate = Double(Self.sampleRate)
        pad = Int((options.speechPadSeconds * rate).rounded())
        let gap = Int((options.pieceGapSeconds * rate).rounded())
        self.capacity = capacity
        self.windowPerUtterance = windowPerUtterance
        self.times = times
        packer = WindowPacker(capacity: capacity, pad: pad, gap: gap)
        open = OpenWindow(capacity: capacity, gap: gap)
        if let vad {
            var vadOptions = vad.options
            // Padded segments must fit one window (faster-whisper's VAD likewise subtracts 2 × speech_pad).
            vadOptions.maxSingleSegmentTime = Int(min(options.maxSingleSegmentSeconds, Double(capacity) / rate) * 1000)
            vadOptions.maxSingleSegmentTime = min(vadOptions.maxSingleSegmentTime, (capacity - 2 * pad) * 1000 / Self.sampleRate)
            stream = try vad.makeStream(options: vadOptions)
        } else {
            stream = nil
        }
    }

    /// Samples pushed so far.
    public var samplesRead: Int { window.end }
    /// Whether VAD is inside a speech segment that has not ended yet.
    public var inSpeech: Bool { openSpeechStart != nil }

    /// The audio of the speech segment VAD has opened but not yet ended (from its start, padded, to the newest
    /// sample; at most one window), for partial results while someone is still speaking.
    public func openSpeechAudio() -> [Float]? {
        guard let start = openSpeechStart else { return nil }
        let from = max(start - pad, window.end - capacity, 0)
        let audio = window.slice(from..<window.end)
        return audio.isEmpty ? nil : audio
    }

    /// Feeds the next block of samples; `emit` receives each window the block completes, in order.
    public func push(_ block: [Float], emit: (PackedWindow) throws -> Void) throws {
        precondition(!finished, "SpeechWindowCutter: push after finish")
        guard !block.isEmpty else { return }
        window.append(block)
        guard let stream else {
            while window.end - window.start >= capacity {
                let held = window.view(window.start..<(window.start + capacity))
                open.append(start: held.start, held.samples)
                try close(emit)
                window.discard(before: window.start + capacity)
            }
            return
        }
        var steps: [WindowPacker.Step] = []
        times.measure(.vad) { block.withUnsafeBufferPointer { buffer in
            stream.push(buffer) { event in
                switch event {
                case .start(let ms): openSpeechStart = ms * Self.sampleRate / 1000
                case .end(let segment):
                    openSpeechStart = nil
                    steps += speech(segment)
                }
            }
        } }
        pending += steps
        try drain(final: false, emit)
        // Keep what a waiting piece or an open speech segment (with its pad) may still need, plus a little
        // history for start points VAD decides late.
        let waitingStart = pending.lazy.compactMap { step -> Int? in
            if case .piece(let range, _) = step { return range.lowerBound } else { return nil }
        }.first
        let keepFrom = min(waitingStart ?? Int.max, (openSpeechStart ?? Int.max) - pad,
                           window.end - 2 * Self.sampleRate - pad)
        window.discard(before: max(keepFrom, 0))
    }

    /// Ends the stream: closes the open speech segment and the last window.
    public func finish(emit: (PackedWindow) throws -> Void) throws {
        guard !finished else { return }
        finished = true
        if let stream {
            var steps: [WindowPacker.Step] = []
            stream.finish { event in
                if case .end(let segment) = event { steps += speech(segment) }
            }
            openSpeechStart = nil
            pending += steps + packer.finish()
            try drain(final: true, emit)
        } else if window.end > window.start {
            let held = window.view(window.start..<window.end)
            open.append(start: held.start, held.samples)
            try close(emit)
        }
    }

    private func speech(_ segment: SpeechSegment) -> [WindowPacker.Step] {
        let range = (segment.startMs * Self.sampleRate / 1000)..<(segment.endMs * Self.sampleRate / 1000)
        let steps = packer.add(speech: range)
        return windowPerUtterance ? steps + packer.finish() : steps
    }

    /// The open window becomes a packed window.
    private func close(_ emit: (PackedWindow) throws -> Void) throws {
        guard !open.isEmpty else { return }
        let (samples, map) = open.take()
        let packed = PackedWindow(samples: samples, map: map, index: nextIndex)
        nextIndex += 1
        try emit(packed)
    }

    /// Carries out packing steps in order, as far as the audio pushed so far allows (all of them at the end).
    private func drain(final: Bool, _ emit: (PackedWindow) throws -> Void) throws {
        var done = 0
        defer { pending.removeFirst(done) }
        for step in pending {
            switch step {
            case .piece(let range, let speech):
                guard final || window.end >= range.upperBound else { return }
                let held = window.view(range)
                open.append(start: held.start, held.samples, speech: speech)
            case .boundary(let sample):
                open.boundary(at: sample)
            case .close:
                try close(emit)
            }
            done += 1
        }
    }
}
