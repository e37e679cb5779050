import Foundation
import EarshotMemory
import EarshotSpeech
import EarshotWhisper

/// Admission, per-job window queues and the worker thread of a ``RecognitionEngine``.
///
/// All state is guarded by one condition lock; continuations are resumed outside it. The worker takes a
/// batch under the lock, recognises it without the lock, then hands results back under it.
final class EngineScheduler: @unchecked Sendable {
    /// What a job queues: a window of its recording, or audio to recognise now for a partial result.
    enum Item {
        case window(PackedWindow)
        case partial([Float], CheckedContinuation<[TranscriptSegment]?, any Error>)

        var isPartial: Bool { if case .partial = self { true } else { false } }

        var sampleCount: Int {
            switch self {
            case .window(let w): w.samples.count
            case .partial(let samples, _): samples.count
            }
        }
    }

    /// A running job's place in the scheduler.
    final class Entry {
        let job: RecognitionJob
        var queue: [Item] = []
        /// Windows queued or in a batch.
        var slotsUsed = 0
        var slotWaiters: [CheckedContinuation<Void, any Error>] = []
        var endWaiter: CheckedContinuation<JobSummary, any Error>?
        var inputEnded = false
        var failure: (any Error)?
        var language: String?
        // Worker only: results waiting for an earlier window, and the next window index to yield.
        var waitingResults: [Int: [TranscriptSegment]] = [:]
        var nextIndex = 0
        var segmentCount = 0
        var windowsDone = 0
        /// The batch (by `servedCount`) this job last had a window in; -1 before its first.
        var lastServed = -1

        init(job: RecognitionJob) {
            self.job = job
            language = job.engine.recognizer.needsLanguage ? job.options.language : job.engine.recognizer.fixedLanguage
        }
    }

    private let condition = NSCondition()
    private let maxWaiting: Int
    private let jobCapacity: Int
    private var admitted = 0
    private var nextID = 1
    private var waiting: [(id: Int, continuation: CheckedContinuation<Int, any Error>)] = []
    private var abandoned: Set<Int> = []
    private var entries: [Int: Entry] = [:]
    private var ring: [Int] = []
    /// Batches taken so far; each entry remembers the last one it was in (`Entry.lastServed`).
    private var servedCount = 0
    private var draining = false
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    private var batches = 0
    /// Batches run inside another batch's checkpoint.
    private var urgentBatches = 0
    private var windowsDone = 0
    private var inFlight = 0
    private var inFlightSamples = 0
    /// Moving average of a window's share of a batch's wall time, for `Retry-After`.
    private var secondsPerWindow = 1.0
    private weak var engine: RecognitionEngine?

    init(maxWaiting: Int, jobCapacity: Int) {
        self.maxWaiting = maxWaiting
        self.jobCapacity = jobCapacity
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    func start(engine: RecognitionEngine) {
        self.engine = engine
        let thread = Thread { [self] in self.workLoop() }
        thread.name = "earshot-engine"
        thread.stackSize = 8 << 20
        thread.start()
    }

    // MARK: Admission

    func admit() async throws -> Int {
        let id: Int = try locked {
            if draining { throw EngineError.shuttingDown }
            let id = nextID
            nextID += 1
            if admitted < jobCapacity && waiting.isEmpty {
                admitted += 1
                return id
            }
            if waiting.count >= maxWaiting { throw EngineError.busy(retryAfterSeconds: retryAfter()) }
            return -id   // must wait
        }
        if id > 0 { return id }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let gone: Bool = locked {
                    if abandoned.remove(-id) != nil { return true }
                    waiting.append((-id, continuation))
                    return false
                }
                if gone { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Int, any Error>? = locked {
                if let index = waiting.firstIndex(where: { $0.id == -id }) { return waiting.remove(at: index).continuation }
                abandoned.insert(-id)
                return nil
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Seconds until a slot is likely free: the work queued ahead, at the measured pace.
    private func retryAfter() -> Int {
        max(1, Int((Double(inFlight + waiting.count + 1) * secondsPerWindow).rounded(.up)))
    }

    /// A slot is given back (a job ended, or failed to start): the next waiting job gets it.
    func leave(_ id: Int) {
        let next: (Int, CheckedContinuation<Int, any Error>)? = locked {
            admitted -= 1
            return admitNextLocked()
        }
        next.map { $0.1.resume(returning: $0.0) }
        signalDrainIfIdle()
    }

    private func admitNextLocked() -> (Int, CheckedContinuation<Int, any Error>)? {
        guard !draining, admitted < jobCapacity, !waiting.isEmpty else { return nil }
        admitted += 1
        let next = waiting.removeFirst()
        return (next.id, next.continuation)
    }

    func register(_ job: RecognitionJob) {
        locked {
            entries[job.id] = Entry(job: job)
            ring.append(job.id)
        }
    }

    func drain() async {
        let refused: [CheckedContinuation<Int, any Error>] = locked {
            draining = true
            defer { waiting = [] }
            return waiting.map(\.continuation)
        }
        for continuation in refused { continuation.resume(throwing: EngineError.shuttingDown) }
        await withCheckedContinuation { continuation in
            let idle: Bool = locked {
                if admitted == 0 { return true }
                drainWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    private func signalDrainIfIdle() {
        let waiters: [CheckedContinuation<Void, Never>] = locked {
            guard draining, admitted == 0 else { return [] }
            defer { drainWaiters = [] }
            return drainWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func status(ledger: MemoryLedger, batchCap: Int, jobCapacity: Int) -> EngineStatus {
        locked {
            EngineStatus(runningJobs: admitted, waitingJobs: waiting.count, windowsInFlight: inFlight,
                         audioSecondsInFlight: Double(inFlightSamples) / 16_000, batchCap: batchCap,
                         jobCapacity: jobCapacity, batches: batches, urgentBatches: urgentBatches, windows: windowsDone,
                         draining: draining,
                         ledger: ledger.snapshot())
        }
    }

    // MARK: Jobs' side

    /// Queues an item of a job, waiting while the job has all its window slots in use.
    func submit(_ item: Item, to job: RecognitionJob) async throws {
        let perJob = max(1, job.engine.options.windowsPerJob)
        try await withTaskCancellationHandler {
            while true {
                let queued: Bool = try locked {
                    guard let entry = entries[job.id] else { throw EngineError.cancelled }
                    if let failure = entry.failure { throw failure }
                    guard entry.slotsUsed < perJob else { return false }
                    entry.slotsUsed += 1
                    if case .partial = item { entry.queue.insert(item, at: 0) } else { entry.queue.append(item) }
                    inFlight += 1
                    inFlightSamples += item.sampleCount
                    condition.signal()
                    return true
                }
                if queued { return }
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let now: Bool = locked {
                        guard let entry = entries[job.id], entry.failure == nil, entry.slotsUsed >= perJob else { return true }
                        entry.slotWaiters.append(continuation)
                        return false
                    }
                    if now { continuation.resume() }
                }
            }
        } onCancel: {
            cancel(job, error: CancellationError())
        }
    }

    /// Marks the end of a job's input and waits until its last segment has been yielded.
    func endInput(of job: RecognitionJob) async throws -> JobSummary {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let entry: Entry? = locked {
                    guard let entry = entries[job.id] else { return nil }
                    entry.inputEnded = true
                    entry.endWaiter = continuation
                    return entry
                }
                guard let entry else { return continuation.resume(throwing: EngineError.cancelled) }
                completeIfDone(entry)
            }
        } onCancel: {
            cancel(job, error: CancellationError())
        }
    }

    /// Fails a job: its queue is emptied and its waiters are woken with `error`; it leaves once nothing of it
    /// is in a batch.
    func cancel(_ job: RecognitionJob, error: any Error) {
        let (entry, dropped): (Entry?, [Item]) = locked {
            guard let entry = entries[job.id], entry.failure == nil else { return (nil, []) }
            entry.failure = error
            let dropped = entry.queue
            entry.queue = []
            entry.slotsUsed -= dropped.count
            inFlight -= dropped.count
            inFlightSamples -= dropped.reduce(0) { $0 + $1.sampleCount }
            return (entry, dropped)
        }
        guard let entry else { return }
        for case .partial(_, let continuation) in dropped { continuation.resume(throwing: error) }
        wakeSlotWaiters(entry)
        completeIfDone(entry)
    }

    private func wakeSlotWaiters(_ entry: Entry) {
        let waiters: [CheckedContinuation<Void, any Error>] = locked {
            defer { entry.slotWaiters = [] }
            return entry.slotWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// A job whose input has ended (or that failed) and has nothing in flight leaves: its stream ends,
    /// its memory is released and its slot goes to the next waiting job.
    private func completeIfDone(_ entry: Entry) {
        let done: Bool = locked {
            guard entry.slotsUsed == 0, entry.inputEnded || entry.failure != nil,
                  entries[entry.job.id] != nil else { return false }
            entries[entry.job.id] = nil
            ring.removeAll { $0 == entry.job.id }
            return true
        }
        guard done else { return }
        let job = entry.job
        job.reservation.release()
        let endWaiter = locked { () -> CheckedContinuation<JobSummary, any Error>? in
            defer { entry.endWaiter = nil }
            return entry.endWaiter
        }
        leave(job.id)   // before anyone is told, so the engine's status already counts the slot free
        let summary = JobSummary(audioSeconds: job.audioSeconds, language: entry.language, windows: entry.windowsDone)
        if let failure = entry.failure {
            job.continuation.finish(throwing: failure)
            endWaiter?.resume(throwing: failure)
        } else {
            job.continuation.finish()
            endWaiter?.resume(returning: summary)
        }
    }

    /// Why a job can take no more input: it failed, was cancelled or has ended; `nil` while it is running.
    func refusal(of job: RecognitionJob) -> EngineError? {
        locked {
            guard let entry = entries[job.id] else { return .cancelled }
            if entry.inputEnded { return .invalid("the job's input has already ended") }
            return entry.failure.map { $0 as? EngineError ?? .cancelled }
        }
    }
}

extension EngineScheduler {
    /// A batch taken from the queues: items with their jobs, all decoded with the same settings.
    struct Batch {
        var items: [(entry: Entry, item: Item)]
        var needsLanguage: Bool
    }

    // MARK: Worker

    private func workLoop() {
        while true {
            condition.lock()
            var batch = takeBatchLocked()
            while batch == nil {
                if draining && admitted == 0 && entries.isEmpty { condition.unlock(); return }
                condition.wait()
                batch = takeBatchLocked()
            }
            condition.unlock()
            if let batch, let engine { run(batch, engine: engine, reservations: nil) }
        }
    }

    /// Whether a job's next item should not wait for the batch in progress: a partial result (a live
    /// stream's text while someone speaks) or the first window of a job never served (a new request).
    private func isUrgent(_ entry: Entry) -> Bool {
        guard let head = entry.queue.first else { return false }
        return head.isPartial || entry.lastServed < 0
    }

    /// Called by the recognizer between the steps of a batch (see `SpeechRecognizer.recognize`): urgent
    /// items run now, as a batch of their own, so a short request waits for one decoder step of a long
    /// batch rather than the whole of it. Only when the ledger has room for the second batch (the hard
    /// limit holds; the engine's plan leaves room for a one-window urgent batch); urgent batches do not
    /// nest.
    private func runUrgentBatch(engine: RecognitionEngine) {
        // Runs after every decoder step: count without building arrays.
        let urgent: Int = locked { ring.reduce(0) { n, id in entries[id].map(isUrgent) == true ? n + 1 : n } }
        guard urgent > 0 else { return }
        var size = min(engine.batchCap, urgent)
        var reserved = try? engine.cost.reserve(batchSize: size, in: engine.ledger)
        if reserved == nil && size > 1 {
            size = 1
            reserved = try? engine.cost.reserve(batchSize: 1, in: engine.ledger)
        }
        guard let reserved, let batch = locked({ takeBatchLocked(urgentOnly: true, cap: size) }) else { return }
        locked { urgentBatches += 1 }
        run(batch, engine: engine, reservations: reserved)
    }

    /// The next batch. The job served least recently leads (partial results first; a job that has never
    /// been served comes before every other, so a new request waits only for the batch in progress); then the
    /// heads of the other queues join, least recently served first and round after round, if they are decoded
    /// with the same settings, their speech is of similar length (within a factor of 2 of the lead's: FunASR
    /// sorts items by duration before batching for the same reason — a short item batched with long ones
    /// waits for their decoding), and the batch stays under the cap and FunASR's `batch_size_s`
    /// (longest × count).
    private func takeBatchLocked(urgentOnly: Bool = false, cap: Int? = nil) -> Batch? {
        guard let engine, !ring.isEmpty else { return nil }
        let batchCap = min(cap ?? engine.batchCap, engine.batchCap)
        let ready = ring.compactMap { entries[$0] }.filter { urgentOnly ? isUrgent($0) : !$0.queue.isEmpty }
            .sorted { a, b in
                let pa = a.queue[0].isPartial, pb = b.queue[0].isPartial
                return pa != pb ? pa : a.lastServed < b.lastServed   // stable: ties keep admission order
            }
        guard let lead = ready.first else { return nil }
        servedCount += 1
        lead.lastServed = servedCount
        if engine.recognizer.needsLanguage, lead.language == nil {
            return Batch(items: [(lead, lead.queue.removeFirst())], needsLanguage: true)
        }
        let key = engine.settings(for: lead.job.options, language: lead.language)
        let budgetMs = Int(engine.options.pipeline.batchSizeSeconds * 1000)
        var items: [(entry: Entry, item: Item)] = [(lead, lead.queue.removeFirst())]
        let leadSamples = items[0].item.sampleCount
        var longest = leadSamples
        var progress = true
        while progress && items.count < batchCap {
            progress = false
            for entry in ready where items.count < batchCap && !entry.queue.isEmpty {
                guard engine.settings(for: entry.job.options, language: entry.language) == key else { continue }
                let samples = entry.queue[0].sampleCount
                guard samples <= 2 * leadSamples && 2 * samples >= leadSamples else { continue }
                let candidate = max(longest, samples)
                guard candidate * (items.count + 1) / 16 <= budgetMs else { continue }
                longest = candidate
                entry.lastServed = servedCount
                items.append((entry, entry.queue.removeFirst()))
                progress = true
            }
        }
        return Batch(items: items, needsLanguage: false)
    }

    /// Recognises a batch and delivers its results. `reservations`: the batch's memory, already reserved
    /// (an urgent batch); `nil` reserves it here. Only an outer batch offers checkpoints, so urgent
    /// batches do not nest (at most two batches are in memory). An urgent batch's time is counted in the
    /// stage of the outer batch it ran inside.
    private func run(_ batch: Batch, engine: RecognitionEngine, reservations: [MemoryReservation]?) {
        let started = Date()
        if batch.needsLanguage {
            let entry = batch.items[0].entry
            let samples: [Float] = switch batch.items[0].item {
            case .window(let w): w.samples
            case .partial(let s, _): s
            }
            let code = engine.recognizer.detectLanguage(of: samples)
            locked { entry.language = code }
        }
        let entry0 = batch.items[0].entry
        let settings = engine.settings(for: entry0.job.options, language: locked { entry0.language })
        let chunks = batch.items.enumerated().map { i, pair in
            switch pair.item {
            case .window(let w): AudioChunk(samples: w.samples, startSeconds: 0, index: i)
            case .partial(let s, _): AudioChunk(samples: s, startSeconds: 0, index: i)
            }
        }
        let nested = reservations != nil
        let result: Result<[[TranscriptSegment]], any Error> = Result {
            let reservations = try reservations ?? engine.cost.reserve(batchSize: chunks.count, in: engine.ledger)
            defer { for r in reservations { r.release() } }
            let checkpoint: (() -> Void)? = nested ? nil : { [self] in runUrgentBatch(engine: engine) }
            return try engine.recognizer.recognize(chunks, settings: settings, times: nested ? nil : engine.times,
                                                   checkpoint: checkpoint)
        }
        deliver(batch, result: result, seconds: Date().timeIntervalSince(started))
    }

    /// Hands a batch's results to its jobs: windows in each job's order, partials to their callers.
    private func deliver(_ batch: Batch, result: Result<[[TranscriptSegment]], any Error>, seconds: Double) {
        var touched: [ObjectIdentifier: Entry] = [:]
        for (i, pair) in batch.items.enumerated() {
            let entry = pair.entry
            touched[ObjectIdentifier(entry)] = entry
            switch (pair.item, result) {
            case (.partial(_, let continuation), .success(let out)):
                continuation.resume(returning: out[i])
            case (.partial(_, let continuation), .failure(let error)):
                continuation.resume(throwing: EngineError.failed("\(error)"))
            case (.window(let window), .success(let out)):
                let failed = locked { entry.failure != nil }
                guard !failed else { continue }
                entry.waitingResults[window.index] = entry.job.segmenter().segments(from: out[i], map: window.map)
                entry.windowsDone += 1
                while let ready = entry.waitingResults.removeValue(forKey: entry.nextIndex) {
                    entry.nextIndex += 1
                    for var segment in ready {
                        entry.segmentCount += 1
                        segment.id = entry.segmentCount
                        entry.job.continuation.yield(segment)
                    }
                }
            case (.window, .failure(let error)):
                cancel(entry.job, error: EngineError.failed("\(error)"))
            }
        }
        let samples = batch.items.reduce(0) { $0 + $1.item.sampleCount }
        locked {
            batches += 1
            windowsDone += batch.items.count
            inFlight -= batch.items.count
            inFlightSamples -= samples
            for pair in batch.items { pair.entry.slotsUsed -= 1 }
            secondsPerWindow = 0.8 * secondsPerWindow + 0.2 * seconds / Double(batch.items.count)
        }
        for entry in touched.values {
            wakeSlotWaiters(entry)
            completeIfDone(entry)
        }
        // Hand freed pages back to the OS once the engine is idle (RSS returns to the baseline after a burst).
        if locked({ inFlight == 0 }) { _ = ProcessMemory.trimHeap() }
    }
}
