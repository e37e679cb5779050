import Foundation
import Testing
import EarshotAudio
import EarshotFunASR
import EarshotMemory
import EarshotPipeline
import EarshotWhisper

/// The shared engine the server runs on: jobs of different recordings batched together give what the
/// one-recording pipeline gives; admission waits, then refuses; cancelling frees the job's memory.
@Suite("RecognitionEngine: jobs batched together under one ledger", .serialized)
struct RecognitionEngineTests {
    static func models() throws -> (WhisperModel, FSMNVAD) {
        (try WhisperModel(directory: try CommandRunner.asset("models/whisper-tiny.en"), precision: .int8),
         try FSMNVAD(directory: try CommandRunner.asset("models/fsmn-vad")))
    }

    /// A recording of real clips with short pauses (several windows), made once per run.
    static let recording: Result<String, any Error> = Result {
        let directory = try CommandRunner.temporaryDirectory()
        return try PipelineWindowsTests.shortUtterances(minutes: 2, in: directory)
    }

    /// Feeds a file to a job in 1-s blocks while another task collects its segments.
    static func run(_ job: RecognitionJob, path: String) async throws -> [TranscriptSegment] {
        let collector = Task {
            var out: [TranscriptSegment] = []
            for try await segment in job.segments { out.append(segment) }
            return out
        }
        let reader = try AudioFileReader(path: path, targetSampleRate: 16_000)
        defer { reader.close() }
        while true {
            let block = try reader.read(maxSamples: 16_000)
            if block.isEmpty { break }
            try await job.push(block)
        }
        _ = try await job.finish()
        return try await collector.value
    }

    @Test("three jobs at once: each equals the single-recording pipeline, and batches mix jobs",
          .timeLimit(.minutes(10)))
    func jobsShareBatches() async throws {
        let (whisper, vad) = try Self.models()
        let long = try Self.recording.get()
        let clip = try CommandRunner.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")
        let paths = [long, clip, long]
        var expected: [String: [TranscriptSegment]] = [:]
        var options = PipelineOptions()
        options.decoding = PipelineOptions.windowDecoding(.greedy)
        for path in Set(paths) {
            var segments: [TranscriptSegment] = []
            _ = try StreamingTranscriber(whisper: whisper, vad: vad, options: options).run(path: path) { segments.append($0) }
            expected[path] = segments
        }
        var engineOptions = EngineOptions()
        engineOptions.pipeline = options
        let engine = try RecognitionEngine(whisper: whisper, vad: vad, options: engineOptions)
        let jobs = try await withThrowingTaskGroup(of: (Int, [TranscriptSegment]).self) { group in
            for (i, path) in paths.enumerated() {
                group.addTask { (i, try await Self.run(try await engine.startJob(), path: path)) }
            }
            var out = [[TranscriptSegment]](repeating: [], count: paths.count)
            for try await (i, segments) in group { out[i] = segments }
            return out
        }
        for (path, segments) in zip(paths, jobs) {
            let want = try #require(expected[path])
            #expect(segments.map(\.text) == want.map(\.text), "\(path)")
            #expect(segments.map(\.start) == want.map(\.start))
            #expect(segments.map(\.end) == want.map(\.end))
        }
        let status = engine.status
        #expect(status.windows > 0)
        // Whether windows of different jobs meet in the queue depends on decoding being slower than feeding;
        // under ThreadSanitizer feeding (Swift, heavily instrumented) was the slower side: 9 windows, 9 batches.
        if ProcessMemory.sanitizer == nil {
            #expect(status.batches < status.windows, "windows of different jobs were never batched together")
        }
        #expect(status.runningJobs == 0 && status.windowsInFlight == 0)
        // Every job's memory went back: only the resident reservations (weights, runtime) remain.
        #expect(status.ledger.liveReservations == 2)
    }

    @Test("a full engine makes jobs wait, then refuses with busy; cancelling a waiting job leaves the line")
    func admission() async throws {
        let (whisper, vad) = try Self.models()
        var options = EngineOptions()
        options.maxRunningJobs = 1
        options.maxWaitingJobs = 1
        let engine = try RecognitionEngine(whisper: whisper, vad: vad, options: options)
        let first = try await engine.startJob()
        let second = Task { try await engine.startJob() }
        while engine.status.waitingJobs < 1 { try await Task.sleep(for: .milliseconds(5)) }
        await #expect(throws: EngineError.self) { _ = try await engine.startJob() }
        do {
            _ = try await engine.startJob()
        } catch let error as EngineError {
            guard case .busy(let seconds) = error else { Issue.record("expected busy, got \(error)"); return }
            #expect(seconds >= 1)
        }
        _ = try await first.finish()
        let admitted = try await second.value
        #expect(engine.status.runningJobs == 1)
        // A job waiting in line that is cancelled leaves it.
        let third = Task { try await engine.startJob() }
        while engine.status.waitingJobs < 1 { try await Task.sleep(for: .milliseconds(5)) }
        third.cancel()
        await #expect(throws: CancellationError.self) { _ = try await third.value }
        #expect(engine.status.waitingJobs == 0)
        _ = try await admitted.finish()
        #expect(engine.status.runningJobs == 0)
    }

    @Test("cancelling a job ends its stream with cancelled and frees its memory")
    func cancel() async throws {
        let (whisper, vad) = try Self.models()
        let engine = try RecognitionEngine(whisper: whisper, vad: vad, options: EngineOptions())
        let resident = engine.ledger.currentTotal
        let job = try await engine.startJob()
        #expect(engine.ledger.currentTotal > resident)
        let samples = try AudioFileReader.readAll(path: try Self.recording.get())
        try await job.push(Array(samples.prefix(16_000 * 70)))
        job.cancel()
        await #expect(throws: EngineError.cancelled) { for try await _ in job.segments {} }
        while engine.status.runningJobs > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(engine.ledger.currentTotal == resident)
        await #expect(throws: EngineError.self) { try await job.push([0, 0, 0]) }
    }

    @Test("a memory limit plans batch and job capacity; one below the smallest workable is refused")
    func memoryPlan() throws {
        let (whisper, vad) = try Self.models()
        var options = EngineOptions()
        options.pipeline.memoryLimit = ByteCount(60 << 20)
        #expect(throws: PipelineError.self) { _ = try RecognitionEngine(whisper: whisper, vad: vad, options: options) }
        // The baseline is this test process's resident set, which other suites running beside it move: plan
        // relative to it, with room for a few jobs and a batch.
        let unlimited = try RecognitionEngine(whisper: whisper, vad: vad, options: EngineOptions())
        let limit = unlimited.baselineBytes + (400 << 20)
        options.pipeline.memoryLimit = ByteCount(limit)
        let engine = try RecognitionEngine(whisper: whisper, vad: vad, options: options)
        #expect(engine.batchCap >= 1 && engine.jobCapacity >= 2)
        let planned = engine.baselineBytes + engine.jobCapacity * engine.jobBytes
        #expect(planned <= limit)
    }
}
