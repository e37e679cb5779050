#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A detected speech segment, in ms from the start of the stream (FunASR's `[start_ms, end_ms]`).
public struct SpeechSegment: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Start, a multiple of the frame shift.
    public var startMs: Int
    /// End (exclusive), a multiple of the frame shift.
    public var endMs: Int
    /// Creates a segment.
    public init(startMs: Int, endMs: Int) { self.startMs = startMs; self.endMs = endMs }
    public var description: String { "[\(startMs), \(endMs)]" }
}

/// What the streaming detector reports, as soon as it is decided.
public enum VADEvent: Equatable, Sendable {
    /// A segment starts at this time (FunASR online `[[beg, -1]]`).
    case start(ms: Int)
    /// The open segment ends (FunASR online `[[-1, end]]`); carries the whole segment.
    case end(SpeechSegment)
}

/// The smoothing window over frame decisions (`WindowDetector` in FunASR's `e2e_vad.py`): a ring of the
/// last `size` decisions; silence→speech when at least `toSpeech` are speech, speech→silence when at most
/// `toSilence` are.
struct WindowDetector {
    enum Change { case speechToSpeech, speechToSil, silToSil, silToSpeech }
    let size: Int, toSpeech: Int, toSilence: Int
    private var ring: [UInt8]
    private var position = 0, sum = 0
    private var inSpeech = false

    init(size: Int, toSpeech: Int, toSilence: Int) {
        self.size = size; self.toSpeech = toSpeech; self.toSilence = toSilence
        ring = [UInt8](repeating: 0, count: size)
    }

    mutating func reset() {
        for i in 0..<size { ring[i] = 0 }
        position = 0; sum = 0; inSpeech = false
    }

    mutating func push(speech: Bool) -> Change {
        let v: UInt8 = speech ? 1 : 0
        sum += Int(v) - Int(ring[position])
        ring[position] = v
        position = (position + 1) % size
        if !inSpeech && sum >= toSpeech { inSpeech = true; return .silToSpeech }
        if inSpeech && sum <= toSilence { inSpeech = false; return .speechToSil }
        return inSpeech ? .speechToSpeech : .silToSil
    }
}

/// FunASR's FSMN-VAD end-point state machine (`E2EVadModel` in `funasr_onnx/utils/e2e_vad.py`, same
/// logic as `funasr/models/fsmn_vad_streaming/model.py:DetectOneFrame`) with the classic fixed
/// end-silence rule (see funasr.md §2.4–2.6 and §2.8). Fed one frame at a time with the frame's silence
/// posterior and level; reports segment starts and ends through `emit`. Its state is a handful of
/// integers and the 20-frame window, whatever the stream length.
///
/// FunASR's bookkeeping of waveform sample counts (which never changes the reported times) is reduced to
/// the frame index it drives (`data_buf_start_frame`).
struct VADStateMachine {
    private enum State { case startPointNotDetected, inSpeechSegment, endPointDetected }

    let options: VADOptions
    private var window: WindowDetector
    private let latencyFrames: Int
    private let maxSingleSegmentFrames: Double
    private let maxEndSilenceMs: Int

    private var state = State.startPointNotDetected
    private var dataBufStartFrame = 0
    private var latestConfirmedSpeechFrame = 0
    private var latestConfirmedSilenceFrame = -1
    private var continuousSilenceFrames = 0
    private var confirmedStartFrame = -1
    private var confirmedEndFrame = -1
    private var endPointsDetected = 0
    private var noiseAverageDecibel = -100.0
    /// The open segment (reported start, current end) once a start point was found.
    private(set) var open: SpeechSegment?

    init(options o: VADOptions) {
        options = o
        window = WindowDetector(size: o.windowSizeMs / o.frameInMs, toSpeech: o.silToSpeechTime / o.frameInMs,
                                toSilence: o.speechToSilTime / o.frameInMs)
        latencyFrames = o.windowSizeMs / o.frameInMs + (o.doExtend != 0 ? o.lookbackTimeStartPoint / o.frameInMs : 0)
        maxSingleSegmentFrames = Double(o.maxSingleSegmentTime) / Double(o.frameInMs)
        maxEndSilenceMs = o.maxEndSilenceTime - o.speechToSilTime
    }

    /// Whether a single-utterance detector has finished (later frames are ignored, as in FunASR).
    var isDone: Bool { state == .endPointDetected }

    /// Processes frame `t` with its silence posterior (FunASR sums float32 class scores in double) and
    /// its level `Σx²` of unscaled samples. `isFinal` marks the last frame of the stream.
    mutating func process(frame t: Int, silence: Float, energy: Double, isFinal: Bool, emit: (VADEvent) -> Void) {
        if state == .endPointDetected { return }   // only reachable in single-utterance mode
        let speech = frameIsSpeech(frame: t, silence: silence, energy: energy, emit: emit)
        detect(frame: t, speech: speech, isFinal: isFinal, emit: emit)
    }

    /// `GetFrameState`: the per-frame decision, with FunASR's noise-level tracking.
    private mutating func frameIsSpeech(frame t: Int, silence: Float, energy: Double, emit: (VADEvent) -> Void) -> Bool {
        let decibel = 10 * log10(energy + 0.000001)
        let snr = decibel - noiseAverageDecibel
        if decibel < options.decibelThres {
            // FunASR runs the window detector on such a frame here *and* again in its caller.
            detect(frame: t, speech: false, isFinal: false, emit: emit)
            return false
        }
        let sil = Double(silence)
        let noiseProb = log(sil) * options.speech2NoiseRatio
        let speechProb = log(1.0 - sil)
        if exp(speechProb) >= exp(noiseProb) + options.speechNoiseThres {
            return snr >= options.snrThres && decibel >= options.decibelThres
        }
        if noiseAverageDecibel < -99.9 {
            noiseAverageDecibel = decibel
        } else {
            let n = Double(options.noiseFrameNumUsedForSnr)
            noiseAverageDecibel = (decibel + noiseAverageDecibel * (n - 1)) / n
        }
        return false
    }

    /// `DetectOneFrame`.
    private mutating func detect(frame t: Int, speech: Bool, isFinal: Bool, emit: (VADEvent) -> Void) {
        let change = window.push(speech: speech && abs(1.0) > options.fePriorThres)
        let shift = options.frameInMs
        switch change {
        case .silToSpeech:
            continuousSilenceFrames = 0
            if state == .startPointNotDetected {
                let start = max(dataBufStartFrame, t - latencyFrames)
                voiceStart(start, fake: false, emit: emit)
                state = .inSpeechSegment
                if start + 1 <= t { for f in (start + 1)...t { voiceDetected(f) } }
            } else if state == .inSpeechSegment {
                if latestConfirmedSpeechFrame + 1 < t { for f in (latestConfirmedSpeechFrame + 1)..<t { voiceDetected(f) } }
                continueSpeech(t, isFinal: isFinal, emit: emit)
            }
        case .speechToSil, .speechToSpeech:
            continuousSilenceFrames = 0
            if state == .inSpeechSegment { continueSpeech(t, isFinal: isFinal, emit: emit) }
        case .silToSil:
            continuousSilenceFrames += 1
            if state == .startPointNotDetected {
                let startTimeout = options.detectMode == 0 && continuousSilenceFrames * shift > options.maxStartSilenceTime
                if startTimeout || (isFinal && endPointsDetected == 0) {
                    if latestConfirmedSilenceFrame + 1 < t {
                        for f in (latestConfirmedSilenceFrame + 1)..<t { silenceDetected(f) }
                    }
                    voiceStart(0, fake: true, emit: emit)
                    voiceEnd(0, fake: true, isLast: false, emit: emit)
                    state = .endPointDetected
                } else if t >= latencyFrames {
                    silenceDetected(t - latencyFrames)
                }
            } else if state == .inSpeechSegment {
                if continuousSilenceFrames * shift >= maxEndSilenceMs {
                    var lookback = maxEndSilenceMs / shift
                    if options.doExtend != 0 {
                        lookback -= options.lookaheadTimeEndPoint / shift
                        lookback -= 1
                        lookback = max(0, lookback)
                    }
                    voiceEnd(t - lookback, fake: false, isLast: false, emit: emit)
                    state = .endPointDetected
                } else if Double(t - confirmedStartFrame + 1) > maxSingleSegmentFrames {
                    voiceEnd(t, fake: false, isLast: false, emit: emit)
                    state = .endPointDetected
                } else if options.doExtend != 0 && !isFinal {
                    if continuousSilenceFrames <= options.lookaheadTimeEndPoint / shift { voiceDetected(t) }
                } else if isFinal {
                    voiceEnd(t, fake: false, isLast: true, emit: emit)
                    state = .endPointDetected
                }
            }
        }
        if state == .endPointDetected && options.detectMode == 1 { resetDetection() }
    }

    /// Shared tail of the speech branches: forced cut at the longest segment, else frame `t` is speech.
    private mutating func continueSpeech(_ t: Int, isFinal: Bool, emit: (VADEvent) -> Void) {
        if Double(t - confirmedStartFrame + 1) > maxSingleSegmentFrames {
            voiceEnd(t, fake: false, isLast: false, emit: emit)
            state = .endPointDetected
        } else if !isFinal {
            voiceDetected(t)
        } else {
            voiceEnd(t, fake: false, isLast: true, emit: emit)
            state = .endPointDetected
        }
    }

    private mutating func resetDetection() {
        continuousSilenceFrames = 0
        latestConfirmedSpeechFrame = 0
        latestConfirmedSilenceFrame = -1
        confirmedStartFrame = -1
        confirmedEndFrame = -1
        state = .startPointNotDetected
        window.reset()
    }

    private mutating func silenceDetected(_ f: Int) {
        latestConfirmedSilenceFrame = f
        if state == .startPointNotDetected { dataBufStartFrame = max(dataBufStartFrame, f) }
    }

    private mutating func voiceDetected(_ f: Int) {
        latestConfirmedSpeechFrame = f
        output(frame: f, isStart: false, isEnd: false, emit: { _ in })
    }

    private mutating func voiceStart(_ f: Int, fake: Bool, emit: (VADEvent) -> Void) {
        if confirmedStartFrame == -1 { confirmedStartFrame = f }
        if !fake && state == .startPointNotDetected {
            output(frame: confirmedStartFrame, isStart: true, isEnd: false, emit: emit)
        }
    }

    private mutating func voiceEnd(_ f: Int, fake: Bool, isLast: Bool, emit: (VADEvent) -> Void) {
        if latestConfirmedSpeechFrame + 1 < f {
            for g in (latestConfirmedSpeechFrame + 1)..<f { voiceDetected(g) }
        }
        if confirmedEndFrame == -1 { confirmedEndFrame = f }
        if !fake { output(frame: confirmedEndFrame, isStart: false, isEnd: true, emit: emit) }
        endPointsDetected += 1
    }

    /// `PopDataToOutputBuf` for one frame: opens a segment at a start point, moves its end to the frame's
    /// end, and reports start/end events.
    private mutating func output(frame f: Int, isStart: Bool, isEnd: Bool, emit: (VADEvent) -> Void) {
        dataBufStartFrame = max(dataBufStartFrame, f)
        let shift = options.frameInMs
        if open == nil || isStart {
            open = SpeechSegment(startMs: f * shift, endMs: f * shift)
            if isStart { emit(.start(ms: f * shift)) }
        }
        dataBufStartFrame += 1
        open!.endMs = (f + 1) * shift
        if isEnd {
            emit(.end(open!))
            open = nil
        }
    }

    /// End of stream with no final frame to process: closes an open segment where it stands
    /// (FunASR's offline output lists it with its current end).
    mutating func closeOpenSegment(emit: (VADEvent) -> Void) {
        if let segment = open {
            emit(.end(segment))
            open = nil
        }
    }
}
