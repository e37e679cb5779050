import Foundation
import EarshotFunASR
import EarshotMemory
import EarshotSpeech
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
    /// Hotwords (SeACo-Paraformer), `"word weight …"`.
    public var hotwords: String?
    /// Close a window at each end of speech instead of packing utterances into full windows: for live
    /// streams, where a result is wanted as soon as someone stops speaking.
    public var windowPerUtterance = false

    public init(language: String? = nil, translate: Bool = false, initialPrompt: String? = nil,
                wordTimestamps: Bool = false, windowPerUtterance: Bool = false, hotwords: String? = nil) {
        self.hotwords = hotwords
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
    /// Of those batches, how many ran inside another batch (urgent: a new job's first window or a partial).
    public var urgentBatches: Int
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
/// never waits for a long one to finish. Nor does it wait for the batch in progress: the recognizer offers a
/// checkpoint after each encoder window and decoder step, where a new job's first window (or a live
/// stream's partial) runs as an urgent batch of its own.
///
/// Memory is planned up front. The limit covers the resident baseline (weights, runtime), one batch of
/// `batchCap` windows, room for a one-window urgent batch when the limit can spare it, and `jobCapacity` jobs, each with its audio buffers and `windowsPerJob` windows; a job
/// is admitted only when a slot is free, waits in a bounded line otherwise, and is refused (`busy`) when
/// the line is full. Every byte is reserved in one ``MemoryLedger``.
public final class RecognitionEngine: @unchecked Sendable {
    public let recognizer: any SpeechRecognizer
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
    let cost: RecognizerBatchCost
    let scheduler: EngineScheduler
    private var residentReservations: [MemoryReservation] = []

    /// Whisper with the pipeline options' decoding under the batched policy (``PipelineOptions/windowDecoding(_:)``).
    public convenience init(whisper: WhisperModel, vad: FSMNVAD?, options: EngineOptions) throws {
        try self.init(recognizer: WhisperRecognizer(model: whisper, decoding: PipelineOptions.windowDecoding(options.pipeline.decoding)), vad: vad,
                      options: options)
    }

    /// Takes loaded models, warms them up, measures the baseline and plans the budget.
    /// - Throws: `PipelineError` when the memory limit cannot hold one job and one window's batch.
    public init(recognizer: any SpeechRecognizer, vad: FSMNVAD?, options: EngineOptions) throws {
        self.recognizer = recognizer
        self.vad = vad
        self.options = options
        let resident = try ResidentMemory.measure(recognizer: recognizer, vad: vad,
                                                  settings: RecognitionSettings(language: recognizer.fixedLanguage))
        let baseline = resident.bytes
        baselineBytes = baseline
        // Any job may carry a prompt or ask for words: plan for the costliest settings.
        let cost = recognizer.batchCost(nil)
        self.cost = cost
        let window = recognizer.windowSamples
        let jobBytes = SpeechWindowCutter.bufferBytes(capacity: window) + max(1, options.windowsPerJob) * window * 4
        self.jobBytes = jobBytes
        let margin = StreamingTranscriber.safetyMargin
        if let limit = options.pipeline.memoryLimit {
            var available = limit.bytes - baseline - margin - cost.fixed
            // Room for an urgent one-window batch beside the running one (a new request's first window, run
            // between the steps of a long batch), when the limit can spare it.
            let urgentRoom = cost.fixed + cost.perItem
            if available - urgentRoom >= cost.perItem + jobBytes { available -= urgentRoom }
            let smallest = baseline + margin + cost.fixed + cost.perItem + jobBytes
            guard available >= cost.perItem + jobBytes else {
                throw PipelineError("memory limit \(limit) is below the smallest workable limit for this model: \(ByteCount(smallest)) (weights and runtime \(ByteCount(baseline)), one window's batch \(ByteCount(cost.fixed + cost.perItem)), one job \(ByteCount(jobBytes))); raise --memory-limit or use a smaller model")
            }
            // Batches first (throughput), but never so big that fewer than two jobs fit when two could.
            let twoJobs = available - 2 * jobBytes >= cost.perItem ? 2 : 1
            batchCap = max(1, min(options.pipeline.maxBatchSize, (available - twoJobs * jobBytes) / cost.perItem))
            jobCapacity = max(1, min(options.maxRunningJobs, (available - batchCap * cost.perItem) / jobBytes))
            ledger = MemoryLedger(limit: ByteCount(limit.bytes - margin))
        } else {
            let perItem = cost.perItem
            let byBudget = options.pipeline.batchBytes.map { max(1, $0 / max(perItem, 1)) } ?? Int.max
            batchCap = max(1, min(options.pipeline.maxBatchSize, byBudget))
            jobCapacity = max(1, options.maxRunningJobs)
            ledger = MemoryLedger(limit: nil)
        }
        scheduler = EngineScheduler(maxWaiting: options.maxWaitingJobs, jobCapacity: jobCapacity)
        residentReservations = try resident.reserve(in: ledger)
        scheduler.start(engine: self)
    }

    /// Starts a job: returns at once when a slot is free, waits in line when all are taken, and throws
    /// `busy` when the line is full or `shuttingDown` while draining. Cancelling the waiting task leaves
    /// the line.
    public func startJob(_ job: JobOptions = JobOptions()) async throws -> RecognitionJob {
        do { try recognizer.validate(settings(for: job, language: job.language)) } catch {
            throw EngineError.invalid("\(error)")
        }
        let id = try await scheduler.admit()
        do {
            let reservation = try ledger.reserve(ByteCount(jobBytes), category: .audio, label: "job \(id)")
            let cutter = try SpeechWindowCutter(vad: vad, capacity: recognizer.windowSamples, options: options.pipeline,
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

    /// What a job's windows are recognised with. Segments are always cut per utterance, so word timings
    /// are always on; probabilities only when the job keeps its words.
    func settings(for job: JobOptions, language: String?) -> RecognitionSettings {
        RecognitionSettings(language: recognizer.needsLanguage ? language : recognizer.fixedLanguage,
                            translate: job.translate, prompt: job.initialPrompt, hotwords: job.hotwords,
                            wordTimings: true, wordProbabilities: job.wordTimestamps)
    }
}
