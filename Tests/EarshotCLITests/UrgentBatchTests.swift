import Foundation
import Testing
import EarshotMemory
import EarshotPipeline
import EarshotSpeech

/// A recognizer whose batches of "long" windows (samples of 0.5) stay in progress, calling their
/// checkpoint every 2 ms, until the test says a short job has its result (or 120 s pass: in a full parallel
/// test run the short job's tasks can wait long for a cooperative thread; only a broken checkpoint waits it out). Windows of other
/// audio are recognised at once. Each window gives one segment, "long" or "short", with one word.
private final class HeldBatchRecognizer: SpeechRecognizer, @unchecked Sendable {
    struct State {
        var longBatchRunning = false
        /// Long batches started so far; the one running when the short job started.
        var longBatches = 0
        var longBatchAtShortStart = -1
        var shortDelivered = false
        var shortDeliveredDuringLongBatch = false
    }
    let state = Locked(State())

    var name: String { "held-batch" }
    var windowSamples: Int { 30 * 16_000 }
    var weightBytes: Int { 0 }
    var needsLanguage: Bool { false }
    var fixedLanguage: String? { "en" }
    func validate(_ settings: RecognitionSettings) throws {}
    func detectLanguage(of samples: [Float]) -> String { "en" }
    func batchCost(_ settings: RecognitionSettings?) -> RecognizerBatchCost {
        RecognizerBatchCost(features: 1 << 10, activations: 1 << 10, activationsPerItem: 1 << 10, cachePerItem: 1 << 10,
                            outputsPerItem: 1 << 10)
    }
    func tokenize(_ text: String) -> [Int] { Array(text.utf8).map(Int.init) }

    func recognize(_ chunks: [AudioChunk], settings: RecognitionSettings, times: StageTimes?,
                   checkpoint: (() -> Void)?) throws -> [[TranscriptSegment]] {
        let long = chunks.contains { $0.samples.first == 0.5 }
        if long {
            state.withLock { $0.longBatchRunning = true; $0.longBatches += 1 }
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline && !state.withLock({ $0.shortDelivered }) {
                checkpoint?()
                Thread.sleep(forTimeInterval: 0.002)
            }
            state.withLock { $0.longBatchRunning = false }
        }
        return chunks.map { chunk in
            let text = chunk.samples.first == 0.5 ? " long" : " short"
            let end = Double(chunk.samples.count) / 16_000
            return [TranscriptSegment(id: 0, seek: 0, start: 0, end: end, text: text, tokens: tokenize(text),
                                      temperature: 0, avgLogProb: -0.1, compressionRatio: 1, noSpeechProb: 0,
                                      words: [WordTiming(word: text, start: 0, end: end, probability: 1)])]
        }
    }

    /// The short job starts: remember which long batch is in progress.
    func markShortStarted() {
        state.withLock { $0.longBatchAtShortStart = $0.longBatchRunning ? $0.longBatches : -1 }
    }

    /// The test received the short job's result: was the same long batch still in progress?
    func markShortDelivered() {
        state.withLock { s in
            s.shortDelivered = true
            s.shortDeliveredDuringLongBatch = s.longBatchRunning && s.longBatches == s.longBatchAtShortStart
        }
    }
}

/// The server's head-of-line rule: a new job's first window does not wait for the batch in progress; it
/// runs at that batch's next checkpoint (between decoder steps), as an urgent batch of its own.
@Suite("RecognitionEngine: a new job runs inside a long batch's checkpoint")
struct UrgentBatchTests {
    static func feed(_ job: RecognitionJob, value: Float, seconds: Int) async throws -> [String] {
        let collector = Task {
            var texts: [String] = []
            for try await segment in job.segments { texts.append(segment.text) }
            return texts
        }
        for _ in 0..<seconds { try await job.push([Float](repeating: value, count: 16_000)) }
        _ = try await job.finish()
        return try await collector.value
    }

    @Test("a short job's result arrives while the long job's batch is still in progress", .timeLimit(.minutes(10)))
    func shortJobPreemptsLongBatch() async throws {
        let recognizer = HeldBatchRecognizer()
        let engine = try RecognitionEngine(recognizer: recognizer, vad: nil, options: EngineOptions())
        let longJob = try await engine.startJob()
        let long = Task { try await Self.feed(longJob, value: 0.5, seconds: 60) }
        while !recognizer.state.withLock({ $0.longBatchRunning }) { try await Task.sleep(for: .milliseconds(5)) }

        recognizer.markShortStarted()
        let shortTexts = try await Self.feed(try await engine.startJob(), value: 0.25, seconds: 2)
        recognizer.markShortDelivered()
        let longTexts = try await long.value

        #expect(shortTexts == [" short"])
        #expect(longTexts.allSatisfy { $0 == " long" } && longTexts.count >= 2)
        #expect(recognizer.state.withLock { $0.shortDeliveredDuringLongBatch },
                "the short job waited for the long batch to finish")
        let status = engine.status
        #expect(status.urgentBatches >= 1)
        #expect(status.ledger.liveReservations == 2, "every batch's memory went back")
    }

}
