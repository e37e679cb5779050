import Foundation
import EarshotAudio
import EarshotFunASR
import EarshotMemory
import EarshotWhisper

/// What a pipeline run did: batch sizes, memory by category, and the process peak.
public struct PipelineReport: Sendable {
    /// Chunks per batch, in the order batches ran.
    public var batchSizes: [Int] = []
    /// Chunks transcribed.
    public var chunks = 0
    /// Seconds of audio read.
    public var audioSeconds: Double = 0
    /// The largest batch the memory limit allowed.
    public var memoryBatchCap = 0
    /// Resident memory after the models were loaded and warmed up.
    public var baselineBytes = 0
    /// Peak resident memory of the process (VmHWM).
    public var peakResidentBytes = 0
    /// The ledger's view: allocations by category (weights and runtime included).
    public var ledger: MemoryLedger.Snapshot?
    /// The ledger's full report (stages, batch sizes, timeline).
    public var memory: MemoryReport?
    /// Bytes of Whisper weights (mapped or owned).
    public var weightBytes = 0
    /// Bytes of the VAD model (0 when no VAD runs).
    public var vadWeightBytes = 0
    /// The limit in force, if any.
    public var memoryLimit: ByteCount?
    /// Language the chunks were decoded in (given, or detected from the first chunk).
    public var language: String?
    /// Wall and CPU time per stage (read, VAD, log-mel, encoder, decoder) with the encoder's and decoder's
    /// arithmetic.
    public var times = StageTimes()
}

/// An error that stops a pipeline run before or during work.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Transcribes a recording of any length in bounded memory: audio is read in blocks, FSMN-VAD finds the
/// speech as it streams past, each speech segment is padded and only the padded speech is packed,
/// concatenated, into ≤ 30-s windows (each with a time map back to the recording), windows are sorted by
/// duration within a bounded look-ahead and packed into batches (FunASR's `batch_size_s` rule, shrunk to
/// what the memory limit allows), each batch is transcribed at once, each window's text is cut into one
/// segment per utterance on the recording's timeline, and segments come out in chronological order as
/// soon as every earlier window is done.
public final class StreamingTranscriber {
    public let whisper: WhisperModel
    public let vad: FSMNVAD?
    public let options: PipelineOptions
    public let ledger: MemoryLedger
    private let batchCap: Int
    private let lookAhead: Int
    private let baseline: Int
    private var residentReservations: [MemoryReservation] = []
    private var vadWeightBytes = 0
    /// What each window is decoded with: the caller's options, plus word timings when segments are cut
    /// per utterance.
    private let decoding: WhisperDecodingOptions

    private static let sampleRate = 16_000
    private static let chunkSamples = WhisperModel.windowSamples
    /// Resident memory the planner leaves free for the allocator's slack and thread stacks.
    static let safetyMargin = 24 << 20

    /// Prepares a run: warms the model up (so every weight page is resident), measures the baseline and
    /// works out the largest batch the memory limit allows.
    /// - Throws: `PipelineError` when the limit is below the smallest workable one for this model.
    public init(whisper: WhisperModel, vad: FSMNVAD?, options: PipelineOptions) throws {
        self.whisper = whisper
        self.vad = vad
        self.options = options
        guard (0...2).contains(options.speechPadSeconds), (0...1).contains(options.pieceGapSeconds) else {
            throw PipelineError("speech pad must be 0–2 s and the gap between pieces 0–1 s (got \(options.speechPadSeconds) s, \(options.pieceGapSeconds) s)")
        }
        var decoding = options.decoding
        if options.segmentsPerUtterance || options.keepWords { decoding.wordTimestamps = true }
        // Cutting segments needs word times only; probabilities cost a vocabulary projection per token.
        if !options.keepWords { decoding.wordProbabilities = false }
        self.decoding = decoding
        _ = ProcessMemory.configureAllocator()   // big buffers are mmapped and returned to the OS on free
        // Touch every weight once with a silent window so the baseline includes the resident weights.
        _ = try whisper.transcribeBatch([AudioChunk(samples: [Float](repeating: 0, count: 1600), startSeconds: 0, index: 0)],
                                        language: whisper.isMultilingual ? (options.language ?? "en") : "en",
                                        options: decoding)
        _ = ProcessMemory.trimHeap()
        baseline = ProcessMemory.currentRSS()?.bytes ?? 0
        let cost = whisper.batchCost(wordTimestamps: decoding.wordTimestamps,
                                     promptLength: whisper.batchPromptLength(options: decoding))
        let audioReserve = Self.audioBufferBytes
        let chunkAudio = Self.chunkSamples * 4
        if let limit = options.memoryLimit {
            // Room for batches (cost.perChunk each) and for the look-ahead's waiting audio (chunkAudio each).
            let available = limit.bytes - baseline - Self.safetyMargin - cost.fixed - audioReserve
            let cap = available / (cost.perChunk + 2 * chunkAudio)
            guard cap >= 1 else {
                let smallest = baseline + Self.safetyMargin + cost.fixed + audioReserve + cost.perChunk + Self.chunkSamples * 4
                throw PipelineError("memory limit \(limit) is below the smallest workable limit for this model: \(ByteCount(smallest)) (weights and runtime \(ByteCount(baseline)), one chunk \(ByteCount(cost.fixed + cost.perChunk))); raise --memory-limit or use a smaller model")
            }
            batchCap = min(cap, options.maxBatchSize)
            lookAhead = max(batchCap, min(options.lookAheadChunks ?? 2 * batchCap, (available - batchCap * cost.perChunk) / chunkAudio))
            ledger = MemoryLedger(limit: ByteCount(limit.bytes - Self.safetyMargin))
        } else {
            // Without a limit, batches still stay within `batchBytes` of per-chunk memory (caches, logits).
            let byBudget = options.batchBytes.map { max(1, $0 / max(cost.perChunk, 1)) } ?? Int.max
            batchCap = min(options.maxBatchSize, byBudget)
            lookAhead = max(batchCap, options.lookAheadChunks ?? 2 * batchCap)
            ledger = MemoryLedger(limit: nil)
        }
        // The resident baseline is held for the whole run: the weights (mapped and owned) and the rest
        // (runtime, tokenizer, VAD model, allocator).
        let vadBytes = vad.flatMap { v in
            (try? FileManager.default.attributesOfItem(atPath: v.directory + "/model.pt"))?[.size] as? Int
        } ?? 0
        vadWeightBytes = vadBytes
        let weights = min(whisper.weightBytes + vadBytes, baseline)
        residentReservations = [
            try ledger.reserve(ByteCount(weights), category: .weights, label: "Whisper + VAD weights"),
            try ledger.reserve(ByteCount(baseline - weights), category: .other, label: "runtime, tokenizer"),
        ]
    }

    /// Audio held while VAD decides (one window plus a few seconds, with block slack, twice for the
    /// array's growth) and the packed window being filled (one window).
    static let audioBufferBytes = SpeechWindowCutter.bufferBytes(capacity: chunkSamples)
    static let sampleWindowBytes = SpeechWindowCutter.sampleWindowBytes(capacity: chunkSamples)

    /// Runs the pipeline over a file.
    /// - Parameters:
    ///   - onProgress: called after each block read with the seconds read so far and the recording's length
    ///     (`nil` when the container does not say).
    ///   - onSegment: receives segments in chronological order, as soon as they are final.
    ///   - times: where stage times accumulate (also `PipelineReport.times`); a new one when `nil`.
    public func run(path: String, times: StageTimes? = nil, onProgress: ((Double, Double?) -> Void)? = nil,
                    onSegment: (TranscriptSegment) throws -> Void) throws -> PipelineReport {
        var report = PipelineReport()
        let times = times ?? StageTimes()
        report.times = times
        report.memoryBatchCap = batchCap
        report.baselineBytes = baseline
        report.weightBytes = whisper.weightBytes
        report.vadWeightBytes = vadWeightBytes
        report.memoryLimit = options.memoryLimit
        let reader = try AudioFileReader(path: path, targetSampleRate: Self.sampleRate)
        defer { reader.close() }
        let audioReservations = [
            try ledger.reserve(ByteCount(Self.sampleWindowBytes), category: .audio, label: "audio window"),
            try ledger.reserve(ByteCount(Self.chunkSamples * 4), category: .audio, label: "open packed window"),
        ]
        defer { for reservation in audioReservations { reservation.release() } }

        let cutter = try SpeechWindowCutter(vad: vad, capacity: Self.chunkSamples, options: options, times: times)
        var waiting: [Int: (chunk: AudioChunk, map: WindowTimeMap, reservation: MemoryReservation)] = [:]
        var language = whisper.isMultilingual ? options.language : "en"
        var segmentCount = 0
        let cost = whisper.batchCost(wordTimestamps: decoding.wordTimestamps,
                                     promptLength: whisper.batchPromptLength(options: decoding))
        var planner = BatchPlanner(
            configuration: .init(batchSizeS: options.batchSizeSeconds, batchSizeThresholdS: options.batchSizeThresholdSeconds,
                                 strictCap: options.strictCap, maxBatchSize: batchCap, lookAhead: .items(lookAhead)),
            cost: { count, _ in ByteCount(cost.bytes(batchSize: count)) },
            available: ledger.limit.map { $0 - ByteCount(baseline + Self.audioBufferBytes + lookAhead * Self.chunkSamples * 4) })
        var reorderer = ChronologicalReorderer<[TranscriptSegment]>()
        let tokenizer = whisper.tokenizer
        let segmenter = UtteranceSegmenter(maxSentenceSpan: options.maxUtteranceSeconds, keepWords: options.keepWords,
                                           tokenize: { tokenizer.encode($0) })

        func runBatches(_ batches: [PlannedBatch]) throws {
            for batch in batches {
                let chunks = batch.items.map { waiting[$0.id]!.chunk }
                if language == nil { language = whisper.detectLanguage(of: chunks[0].samples).code }
                report.batchSizes.append(batch.count)
                let n = batch.count
                let reservations = [
                    try ledger.reserve(ByteCount(cost.features), category: .features, label: "mel window"),
                    try ledger.reserve(ByteCount(cost.encoderActivations + n * cost.decoderActivationsPerChunk),
                                       category: .activations, label: "batch of \(n)"),
                    try ledger.reserve(ByteCount(n * cost.kvCachePerChunk), category: .kvCache, label: "KV caches"),
                    try ledger.reserve(ByteCount(n * cost.outputsPerChunk), category: .outputs, label: "logits"),
                ]
                let out = try whisper.transcribeBatch(chunks, language: language ?? "en", options: decoding,
                                                      times: times)
                for reservation in reservations { reservation.release() }
                let results = zip(batch.items, out).map { item, segments in
                    segmenter.segments(from: segments, map: waiting[item.id]!.map)
                }
                for item in batch.items { waiting.removeValue(forKey: item.id)?.reservation.release() }
                report.chunks += batch.count
                for ordered in reorderer.complete(batch, results: results) {
                    for var segment in ordered.result {
                        segmentCount += 1
                        segment.id = segmentCount
                        try onSegment(segment)
                    }
                }
            }
        }
        /// A packed window becomes a chunk and joins the planner's look-ahead.
        func enqueue(_ packed: PackedWindow) throws {
            let reservation = try ledger.reserve(ByteCount(packed.samples.count * 4), category: .audio, label: "chunk \(packed.index)")
            waiting[packed.index] = (AudioChunk(samples: packed.samples, startSeconds: 0, index: packed.index), packed.map, reservation)
            try runBatches(planner.push(id: packed.index, durationMs: packed.durationMs))
        }

        while true {
            if let limit = options.maxAudioSeconds, Double(cutter.samplesRead) >= limit * Double(Self.sampleRate) { break }
            let block = try times.measure(.read) { try reader.read(maxSamples: Self.sampleRate) }
            if block.isEmpty { break }
            try cutter.push(block, emit: enqueue)
            onProgress?(Double(cutter.samplesRead) / Double(Self.sampleRate), reader.estimatedDurationSeconds)
        }
        try cutter.finish(emit: enqueue)
        try runBatches(planner.finish())
        report.audioSeconds = Double(cutter.samplesRead) / Double(Self.sampleRate)
        report.language = language
        report.ledger = ledger.snapshot()
        report.peakResidentBytes = ProcessMemory.peakRSS()?.bytes ?? 0
        var histogram: [Int: Int] = [:]
        for size in report.batchSizes { histogram[size, default: 0] += 1 }
        report.memory = MemoryReport(ledger: ledger, batchSizes: histogram, processPeakRSS: ByteCount(report.peakResidentBytes))
        return report
    }
}

