import Foundation
import EarshotFunASR
import EarshotMemory
import EarshotWhisper

/// How a shared engine admits jobs and bounds their memory.
public struct EngineOptions: Sendable {
    /// Batching rule, padding, the memory limit (the whole process: weights and every job), default decoding.
    public var pipeline = PipelineOptions()
    /// Jobs that may wait for admission when the running ones fill the budget; beyond this,
    /// ``RecognitionEngine/startJob(_:)`` throws ``EngineError/busy(retryAfterSeconds:)``.
    public var maxWaitingJobs = 16
    /// Jobs running at once at most, whatever the memory allows (each holds its audio buffers and windows).
    public var maxRunningJobs = 32
    /// Windows a job may have waiting for, or in, recognition; its producer waits for a free one. Two keep
    /// a job's next window ready while its last one is decoded.
    public var windowsPerJob = 2

    public init() {}
}

/// What one job asks of the recognizer.
public struct JobOptions: Sendable, Hashable {
    /// Spoken language; detected from the job's first window when `nil` (multilingual models).
    public var language: String?
    /// Translate into English instead of transcribing (multilingual models).
    public var translate = false
    /// Text given to the decoder before each window (Whisper's `initial_prompt`).
    public var initialPrompt: String?
    /// Keep word timings (with probabilities) in the output segments.
    public var wordTimestamps = false
    /// Close a window at each end of speech instead of packing utterances into full windows: for live
    /// streams, where a result is wanted as soon as someone stops speaking.
    public var windowPerUtterance = false

    public init(language: String? = nil, translate: Bool = false, initialPrompt: String? = nil,
                wordTimestamps: Bool = false, windowPerUtterance: Bool = false) {
        self.language = language
        self.translate = translate
        self.initialPrompt = initialPrompt
        self.wordTimestamps = wordTimestamps
        self.windowPerUtterance = windowPerUtterance
    }
}

/// Why the engine did not take or finish a job.
public enum EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Every running slot is taken and the waiting line is full: come back after about this long.
    case busy(retryAfterSeconds: Int)
    /// The engine is draining (shutting down) and takes no new jobs.
    case shuttingDown
    /// The job was cancelled (its client went away, or ``RecognitionJob/cancel()`` was called).
    case cancelled
    /// The job's input or options cannot be recognised (unknown language, …).
    case invalid(String)
    /// Recognition itself failed.
    case failed(String)

    public var description: String {
        switch self {
        case .busy(let seconds): "the server is at its memory limit and its queue is full; retry after \(seconds) s"
        case .shuttingDown: "the server is shutting down"
        case .cancelled: "the job was cancelled"
        case .invalid(let why): why
        case .failed(let why): "recognition failed: \(why)"
        }
    }
}

/// What the engine is doing now: jobs, windows and memory.
public struct EngineStatus: Sendable {
    public var runningJobs: Int
    public var waitingJobs: Int
    /// Windows queued or being recognised.
    public var windowsInFlight: Int
    /// Seconds of audio in those windows.
    public var audioSecondsInFlight: Double
    /// Largest batch, and most jobs running at once, that the memory budget allows.
    public var batchCap: Int
    public var jobCapacity: Int
    /// Batches run and windows recognised since start.
    public var batches: Int
    public var windows: Int
    public var draining: Bool
    public var ledger: MemoryLedger.Snapshot
}

/// One recognizer shared by many jobs under one memory budget: the server's engine.
///
/// Each job (an upload, a websocket stream) runs the pipeline's front half itself (``SpeechWindowCutter``:
/// VAD and packing, on the caller's task) and hands its windows to the engine; one worker thread takes
/// windows from every job, round-robin, and recognises them in batches (FunASR's `batch_size_s` rule and the
/// memory cap, windows of different jobs together — the dynamic batching Triton does), so a short request
/// never waits for a long one to finish: it waits for at most the batch in progress.
///
/// Memory is planned up front. The limit covers the resident baseline (weights, runtime), one batch of
/// `batchCap` windows, and `jobCapacity` jobs, each with its audio buffers and `windowsPerJob` windows; a job
/// is admitted only when a slot is free, waits in a bounded line otherwise, and is refused (`busy`) when
/// the line is full. Every byte is reserved in one ``MemoryLedger``.
public final class RecognitionEngine: @unchecked Sendable {
    public let whisper: WhisperModel
    public let vad: FSMNVAD?
    public let options: EngineOptions
    /// The ledger every job and batch reserves in.
    public let ledger: MemoryLedger
    /// Largest batch the budget allows.
    public let batchCap: Int
    /// Most jobs running at once.
    public let jobCapacity: Int
    /// Resident memory after loading and warm-up.
    public let baselineBytes: Int
    /// Bytes one running job holds (audio buffers and its windows).
    public let jobBytes: Int
    /// Wall and CPU time per stage, over every batch.
    public let times = StageTimes()
    let cost: WhisperBatchCost
    let decoding: WhisperDecodingOptions
    let segmenterSpan: Double
    let scheduler: EngineScheduler
    private var residentReservations: [MemoryReservation] = []

    static let windowSamples = WhisperModel.windowSamples
    static let windowBytes = windowSamples * 4

    /// Loads nothing: takes loaded models, warms them up, measures the baseline and plans the budget.
    /// - Throws: `PipelineError` when the memory limit cannot hold one job and one window's batch.
    public init(whisper: WhisperModel, vad: FSMNVAD?, options: EngineOptions) throws {
        self.whisper = whisper
        self.vad = vad
        self.options = options
        var decoding = PipelineOptions.windowDecoding(options.pipeline.decoding)
        decoding.wordTimestamps = true   // segments are cut per utterance by word times
        self.decoding = decoding
        segmenterSpan = options.pipeline.maxUtteranceSeconds
        _ = ProcessMemory.configureAllocator()
        _ = try whisper.transcribeBatch([AudioChunk(samples: [Float](repeating: 0, count: 1600), startSeconds: 0, index: 0)],
                                        language: "en", options: decoding)
        _ = ProcessMemory.trimHeap()
        let baseline = ProcessMemory.currentRSS()?.bytes ?? 0
        baselineBytes = baseline
        // Any job may carry a prompt, so plan for the whole text context.
        let cost = whisper.batchCost(wordTimestamps: true, promptLength: nil)
        self.cost = cost
        let jobBytes = SpeechWindowCutter.bufferBytes(capacity: Self.windowSamples) + max(1, options.windowsPerJob) * Self.windowBytes
        self.jobBytes = jobBytes
        let margin = StreamingTranscriber.safetyMargin
        if let limit = options.pipeline.memoryLimit {
            let available = limit.bytes - baseline - margin - cost.fixed
            let smallest = baseline + margin + cost.fixed + cost.perChunk + jobBytes
            guard available >= cost.perChunk + jobBytes else {
                throw PipelineError("memory limit \(limit) is below the smallest workable limit for this model: \(ByteCount(smallest)) (weights and runtime \(ByteCount(baseline)), one window's batch \(ByteCount(cost.fixed + cost.perChunk)), one job \(ByteCount(jobBytes))); raise --memory-limit or use a smaller model")
            }
            // Batches first (throughput), but never so big that fewer than two jobs fit when two could.
            let twoJobs = available - 2 * jobBytes >= cost.perChunk ? 2 : 1
            batchCap = max(1, min(options.pipeline.maxBatchSize, (available - twoJobs * jobBytes) / cost.perChunk))
            jobCapacity = max(1, min(options.maxRunningJobs, (available - batchCap * cost.perChunk) / jobBytes))
            ledger = MemoryLedger(limit: ByteCount(limit.bytes - margin))
        } else {
            let perChunk = cost.perChunk
            let byBudget = options.pipeline.batchBytes.map { max(1, $0 / max(perChunk, 1)) } ?? Int.max
            batchCap = max(1, min(options.pipeline.maxBatchSize, byBudget))
            jobCapacity = max(1, options.maxRunningJobs)
            ledger = MemoryLedger(limit: nil)
        }
        let vadBytes = vad.flatMap { v in
            (try? FileManager.default.attributesOfItem(atPath: v.directory + "/model.pt"))?[.size] as? Int
        } ?? 0
        let weights = min(whisper.weightBytes + vadBytes, baseline)
        scheduler = EngineScheduler(maxWaiting: options.maxWaitingJobs, jobCapacity: jobCapacity)
        residentReservations = [
            try ledger.reserve(ByteCount(weights), category: .weights, label: "Whisper + VAD weights"),
            try ledger.reserve(ByteCount(baseline - weights), category: .other, label: "runtime, tokenizer"),
        ]
        scheduler.start(engine: self)
    }

    /// Starts a job: returns at once when a slot is free, waits in line when all are taken, and throws
    /// `busy` when the line is full or `shuttingDown` while draining. Cancelling the waiting task leaves
    /// the line.
    public func startJob(_ job: JobOptions = JobOptions()) async throws -> RecognitionJob {
        if whisper.isMultilingual, let language = job.language, whisper.tokenizer.languageToken(code: language) == nil {
            throw EngineError.invalid("unknown language '\(language)'")
        }
        if !whisper.isMultilingual, job.translate {
            throw EngineError.invalid("this model is English-only and cannot translate")
        }
        let id = try await scheduler.admit()
        do {
            let reservation = try ledger.reserve(ByteCount(jobBytes), category: .audio, label: "job \(id)")
            let cutter = try SpeechWindowCutter(vad: vad, capacity: Self.windowSamples, options: options.pipeline,
                                                windowPerUtterance: job.windowPerUtterance, times: times)
            let handle = RecognitionJob(id: id, options: job, engine: self, cutter: cutter, reservation: reservation)
            scheduler.register(handle)
            return handle
        } catch {
            scheduler.leave(id)
            throw error
        }
    }

    /// Stops admitting jobs (new ones get `shuttingDown`, waiting ones are refused) and returns when every
    /// running job has finished.
    public func drain() async {
        await scheduler.drain()
    }

    /// Jobs, windows and memory now.
    public var status: EngineStatus { scheduler.status(ledger: ledger, batchCap: batchCap, jobCapacity: jobCapacity) }

    /// Decoding options for a job's windows.
    func decoding(for job: JobOptions, language: String) -> WhisperDecodingOptions {
        var d = decoding
        d.language = language
        d.task = job.translate ? .translate : .transcribe
        d.initialPrompt = job.initialPrompt ?? decoding.initialPrompt
        d.wordProbabilities = job.wordTimestamps
        return d
    }
}
