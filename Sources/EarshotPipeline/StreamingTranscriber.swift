import Foundation
import EarshotAudio
import EarshotFunASR
import EarshotMemory
import EarshotSpeech
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
    /// Bytes of the punctuation model's weights, mapped embedding table included (0 without one).
    public var punctuationWeightBytes = 0
    /// The part of them resident once it has run (the mapped embedding table left out).
    public var punctuationResidentWeightBytes = 0
    /// Punctuation units of the recording's joined text and the bytes the stage reserved for them (0 without
    /// a punctuation model).
    public var punctuationUnits = 0
    public var punctuationWorkingBytes = 0
    /// The punctuation units could not be matched to the recognised words: segments kept their own text.
    public var punctuationAlignmentFailed = false
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
    public let recognizer: any SpeechRecognizer
    public let vad: FSMNVAD?
    /// Punctuation after recognition (`--punc`): segments become FunASR's sentences (``PunctuationStage``).
    public let punctuation: (any PunctuationModel)?
    public let options: PipelineOptions
    public let ledger: MemoryLedger
    private let batchCap: Int
    private let lookAhead: Int
    private let resident: ResidentMemory
    private var residentReservations: [MemoryReservation] = []
    /// What each window is recognised with: the caller's language and task, plus word timings when segments
    /// are cut per utterance.
    private let settings: RecognitionSettings
    private let chunkSamples: Int

    private static let sampleRate = 16_000
    /// Resident memory the planner leaves free for the allocator's slack and thread stacks.
    static let safetyMargin = 24 << 20

    /// Whisper with the options' decoding (see ``WhisperRecognizer``).
    public convenience init(whisper: WhisperModel, vad: FSMNVAD?, options: PipelineOptions) throws {
        try self.init(recognizer: WhisperRecognizer(model: whisper, decoding: options.decoding), vad: vad, options: options)
    }

    /// Prepares a run: warms the model up (so every weight page is resident), measures the baseline and
    /// works out the largest batch the memory limit allows.
    /// - Throws: `PipelineError` when the limit is below the smallest workable one for this model.
    public init(recognizer: any SpeechRecognizer, vad: FSMNVAD?, options: PipelineOptions,
                punctuation: (any PunctuationModel)? = nil) throws {
        self.recognizer = recognizer
        self.vad = vad
        self.punctuation = punctuation
        self.options = options
        guard (0...2).contains(options.speechPadSeconds), (0...1).contains(options.pieceGapSeconds) else {
            throw PipelineError("speech pad must be 0–2 s and the gap between pieces 0–1 s (got \(options.speechPadSeconds) s, \(options.pieceGapSeconds) s)")
        }
        chunkSamples = recognizer.windowSamples
        // Cutting segments needs word times only; probabilities cost a vocabulary projection per token.
        settings = RecognitionSettings(language: recognizer.needsLanguage ? options.language : recognizer.fixedLanguage,
                                       translate: options.decoding.task == .translate, hotwords: options.hotwords,
                                       wordTimings: options.segmentsPerUtterance || options.keepWords,
                                       wordProbabilities: options.keepWords)
        try recognizer.validate(settings)
        resident = try ResidentMemory.measure(recognizer: recognizer, vad: vad, settings: settings, punctuation: punctuation)
        let baseline = resident.bytes
        let cost = recognizer.batchCost(settings)
        let audioReserve = SpeechWindowCutter.bufferBytes(capacity: chunkSamples)
        let chunkAudio = chunkSamples * 4
        if let limit = options.memoryLimit {
            // Room for batches (cost.perItem each) and for the look-ahead's waiting audio (chunkAudio each).
            let available = limit.bytes - baseline - Self.safetyMargin - cost.fixed - audioReserve
            let cap = available / (cost.perItem + 2 * chunkAudio)
            guard cap >= 1 else {
                let smallest = baseline + Self.safetyMargin + cost.fixed + audioReserve + cost.perItem + chunkAudio
                throw PipelineError("memory limit \(limit) is below the smallest workable limit for this model: \(ByteCount(smallest)) (weights and runtime \(ByteCount(baseline)), one chunk \(ByteCount(cost.fixed + cost.perItem))); raise --memory-limit or use a smaller model")
            }
            batchCap = min(cap, options.maxBatchSize)
            lookAhead = max(batchCap, min(options.lookAheadChunks ?? 2 * batchCap, (available - batchCap * cost.perItem) / chunkAudio))
            ledger = MemoryLedger(limit: ByteCount(limit.bytes - Self.safetyMargin))
        } else {
            // Without a limit, batches still stay within `batchBytes` of per-chunk memory (caches, logits).
            let byBudget = options.batchBytes.map { max(1, $0 / max(cost.perItem, 1)) } ?? Int.max
            batchCap = min(options.maxBatchSize, byBudget)
            lookAhead = max(batchCap, options.lookAheadChunks ?? 2 * batchCap)
            ledger = MemoryLedger(limit: nil)
        }
        residentReservations = try resident.reserve(in: ledger)
    }

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
        report.baselineBytes = resident.bytes
        report.weightBytes = recognizer.weightBytes
        report.vadWeightBytes = resident.vadWeightBytes
        report.punctuationWeightBytes = punctuation?.weightBytes ?? 0
        report.punctuationResidentWeightBytes = punctuation?.residentWeightBytes ?? 0
        report.memoryLimit = options.memoryLimit
        let reader = try AudioFileReader(path: path, targetSampleRate: Self.sampleRate)
        defer { reader.close() }
        let audioReservations = [
            try ledger.reserve(ByteCount(SpeechWindowCutter.sampleWindowBytes(capacity: chunkSamples)), category: .audio,
                               label: "audio window"),
            try ledger.reserve(ByteCount(chunkSamples * 4), category: .audio, label: "open packed window"),
        ]
        defer { for reservation in audioReservations { reservation.release() } }

        let cutter = try SpeechWindowCutter(vad: vad, capacity: chunkSamples, options: options, times: times)
        var waiting: [Int: (chunk: AudioChunk, map: WindowTimeMap, reservation: MemoryReservation)] = [:]
        var settings = self.settings
        var segmentCount = 0
        let cost = recognizer.batchCost(settings)
        var planner = BatchPlanner(
            configuration: .init(batchSizeS: options.batchSizeSeconds, batchSizeThresholdS: options.batchSizeThresholdSeconds,
                                 strictCap: options.strictCap, maxBatchSize: batchCap, lookAhead: .items(lookAhead)),
            cost: { count, _ in ByteCount(cost.bytes(batchSize: count)) },
            available: ledger.limit.map {
                $0 - ByteCount(resident.bytes + SpeechWindowCutter.bufferBytes(capacity: chunkSamples) + lookAhead * chunkSamples * 4)
            })
        var reorderer = ChronologicalReorderer<[TranscriptSegment]>()
        let recognizer = self.recognizer
        // With punctuation the recording's segments (with their words) are held until the end, as FunASR
        // punctuates the joined text of the whole recording.
        let segmenter = UtteranceSegmenter(maxSentenceSpan: options.maxUtteranceSeconds,
                                           keepWords: options.keepWords || punctuation != nil,
                                           tokenize: { recognizer.tokenize($0) })
        var held: [TranscriptSegment] = []
        var heldReservations: [MemoryReservation] = []
        defer { for reservation in heldReservations { reservation.release() } }
        func emit(_ segment: TranscriptSegment) throws {
            guard punctuation != nil else { return try onSegment(segment) }
            heldReservations.append(try ledger.reserve(ByteCount(PunctuationStage.heldBytes(segment)), category: .outputs,
                                                       label: "held for punctuation"))
            held.append(segment)
        }

        func runBatches(_ batches: [PlannedBatch]) throws {
            for batch in batches {
                let chunks = batch.items.map { waiting[$0.id]!.chunk }
                if recognizer.needsLanguage, settings.language == nil {
                    settings.language = recognizer.detectLanguage(of: chunks[0].samples)
                }
                report.batchSizes.append(batch.count)
                let reservations = try cost.reserve(batchSize: batch.count, in: ledger)
                let out = try recognizer.recognize(chunks, settings: settings, times: times)
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
                        try emit(segment)
                    }
                }
            }
        }
        /// A packed window becomes a chunk and joins the planner's look-ahead.
        func enqueue(_ packed: PackedWindow) throws {
            let reservation = try ledger.reserve(ByteCount(packed.samples.count * 4), category: .audio,
                                                 label: "chunk \(packed.index)")
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
        if let punctuation {
            let outcome = try PunctuationStage(model: punctuation, keepWords: options.keepWords).run(held, ledger: ledger)
            report.punctuationUnits = outcome.units
            report.punctuationWorkingBytes = outcome.workingBytes
            report.punctuationAlignmentFailed = outcome.alignmentFailed
            for segment in outcome.segments { try onSegment(segment) }
        }
        report.audioSeconds = Double(cutter.samplesRead) / Double(Self.sampleRate)
        report.language = settings.language
        report.ledger = ledger.snapshot()
        report.peakResidentBytes = ProcessMemory.peakRSS()?.bytes ?? 0
        var histogram: [Int: Int] = [:]
        for size in report.batchSizes { histogram[size, default: 0] += 1 }
        report.memory = MemoryReport(ledger: ledger, batchSizes: histogram, processPeakRSS: ByteCount(report.peakResidentBytes))
        return report
    }
}

