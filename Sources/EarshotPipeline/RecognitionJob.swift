import Foundation
import EarshotMemory
import EarshotSpeech
import EarshotWhisper

/// What a finished job read and decided.
public struct JobSummary: Sendable {
    /// Seconds of audio pushed.
    public var audioSeconds: Double
    /// Language the job was decoded in (given or detected); `nil` when no speech was found.
    public var language: String?
    /// Windows recognised.
    public var windows: Int
}

/// One recording going through a shared ``RecognitionEngine``: push its audio as it arrives, read its
/// segments (chronological, each as soon as it is final) from `segments`, then `finish()`.
///
/// One task feeds a job: `push`, `partial` and `finish` must not overlap. `segments` may be read from
/// another task. A job that is not finished holds its slot: call `finish()` or `cancel()`.
public final class RecognitionJob: @unchecked Sendable {
    public let id: Int
    public let options: JobOptions
    /// The job's segments on the recording's timeline, in order; ends when the job is finished, with an
    /// error if it failed or was cancelled.
    public let segments: AsyncThrowingStream<TranscriptSegment, any Error>
    let continuation: AsyncThrowingStream<TranscriptSegment, any Error>.Continuation
    let engine: RecognitionEngine
    let reservation: MemoryReservation
    private let cutter: SpeechWindowCutter
    private let samplesPushed = Locked(0)

    /// Samples the front half takes in one step; bigger pushes are split, so the cutter never holds more
    /// than its bound.
    public static let blockSamples = 16_000

    init(id: Int, options: JobOptions, engine: RecognitionEngine, cutter: SpeechWindowCutter,
         reservation: MemoryReservation) {
        self.id = id
        self.options = options
        self.engine = engine
        self.cutter = cutter
        self.reservation = reservation
        (segments, continuation) = AsyncThrowingStream.makeStream(of: TranscriptSegment.self, throwing: (any Error).self,
                                                                  bufferingPolicy: .unbounded)
    }

    /// Seconds of audio pushed so far.
    public var audioSeconds: Double { Double(samplesPushed.withLock { $0 }) / 16_000 }

    /// Feeds 16-kHz mono samples in [-1, 1]. Returns once the windows they complete are queued; waits while
    /// the job already has its share of windows in the engine (backpressure).
    public func push(_ samples: [Float]) async throws {
        if let refusal = engine.scheduler.refusal(of: self) { throw refusal }
        var offset = 0
        while offset < samples.count {
            let end = min(offset + Self.blockSamples, samples.count)
            var windows: [PackedWindow] = []
            try cutter.push(Array(samples[offset..<end])) { windows.append($0) }
            samplesPushed.withLock { $0 += end - offset }
            for window in windows { try await engine.scheduler.submit(.window(window), to: self) }
            offset = end
        }
    }

    /// Recognises the speech VAD has opened but not yet closed, ahead of queued windows: partial text while
    /// someone is still speaking (FunASR's `2pass-online`). `nil` when no speech is open. Times are relative
    /// to the start of that audio.
    public func partial() async throws -> [TranscriptSegment]? {
        if let refusal = engine.scheduler.refusal(of: self) { throw refusal }
        guard let audio = openSpeechAudio() else { return nil }
        return try await partial(of: audio)
    }

    /// Whether VAD is inside a speech segment that has not ended yet (feeding task only, like `push`).
    public var inSpeech: Bool { cutter.inSpeech }

    /// The open speech segment's audio (at least 0.1 s), or `nil`: the first half of ``partial()``, for a
    /// feeder that recognises it on another task (feeding task only, like `push`).
    public func openSpeechAudio() -> [Float]? {
        guard let audio = cutter.openSpeechAudio(), audio.count >= 1_600 else { return nil }
        return audio
    }

    /// Recognises audio taken with ``openSpeechAudio()`` ahead of queued windows (any task; it takes one of
    /// the job's window slots while queued or decoded).
    public func partial(of audio: [Float]) async throws -> [TranscriptSegment]? {
        if let refusal = engine.scheduler.refusal(of: self) { throw refusal }
        return try await withCheckedThrowingContinuation { continuation in
            Task {
                do { try await engine.scheduler.submit(.partial(audio, continuation), to: self) } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Ends the input: the last windows are cut and queued, and this returns when every segment has been
    /// yielded to `segments` (which then ends).
    public func finish() async throws -> JobSummary {
        if let refusal = engine.scheduler.refusal(of: self) { throw refusal }
        var windows: [PackedWindow] = []
        try cutter.finish { windows.append($0) }
        for window in windows { try await engine.scheduler.submit(.window(window), to: self) }
        return try await engine.scheduler.endInput(of: self)
    }

    /// Drops the job: queued windows are discarded, results of windows in flight are ignored, the slot and
    /// memory are freed once nothing of the job is in flight, and `segments` ends with `EngineError.cancelled`.
    public func cancel() {
        engine.scheduler.cancel(self, error: EngineError.cancelled)
    }

    /// Cut a window's segments on the recording's timeline, one per utterance.
    func segmenter() -> UtteranceSegmenter {
        let recognizer = engine.recognizer
        return UtteranceSegmenter(maxSentenceSpan: engine.options.pipeline.maxUtteranceSeconds,
                                  keepWords: options.wordTimestamps, tokenize: { recognizer.tokenize($0) })
    }
}
