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
    /// The ledger's view: input-scaled allocations by category.
    public var ledger: MemoryLedger.Snapshot?
    /// Bytes of model weights (mapped or owned).
    public var weightBytes = 0
    /// The limit in force, if any.
    public var memoryLimit: ByteCount?
}

/// An error that stops a pipeline run before or during work.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Transcribes a recording of any length in bounded memory: audio is read in blocks, FSMN-VAD finds the
/// speech as it streams past, neighbouring segments are grouped into ≤ 30-s chunks, chunks are sorted by
/// duration within a bounded look-ahead and packed into batches (FunASR's `batch_size_s` rule, shrunk to
/// what the memory limit allows), each batch is transcribed at once, and segments come out in
/// chronological order as soon as every earlier chunk is done.
public final class StreamingTranscriber {
    public let whisper: WhisperModel
    public let vad: FSMNVAD?
    public let options: PipelineOptions
    public let ledger: MemoryLedger
    private let batchCap: Int
    private let baseline: Int

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
        // Touch every weight once with a silent window so the baseline includes the resident weights.
        _ = try whisper.transcribeBatch([AudioChunk(samples: [Float](repeating: 0, count: 1600), startSeconds: 0, index: 0)],
                                        language: whisper.isMultilingual ? (options.language ?? "en") : "en",
                                        options: options.decoding)
        baseline = ResidentMemory.current
        let cost = whisper.batchCost
        let audioReserve = Self.audioBufferBytes(options: options)
        if let limit = options.memoryLimit {
            let available = limit.bytes - baseline - Self.safetyMargin - cost.fixed - audioReserve
            let cap = available / (cost.perChunk + Self.chunkSamples * 4)
            guard cap >= 1 else {
                let smallest = baseline + Self.safetyMargin + cost.fixed + audioReserve + cost.perChunk + Self.chunkSamples * 4
                throw PipelineError("memory limit \(limit) is below the smallest workable limit for this model: \(ByteCount(smallest)) (weights and runtime \(ByteCount(baseline)), one chunk \(ByteCount(cost.fixed + cost.perChunk))); raise --memory-limit or use a smaller model")
            }
            batchCap = min(cap, options.maxBatchSize)
            ledger = MemoryLedger(limit: ByteCount(limit.bytes - baseline - Self.safetyMargin))
        } else {
            batchCap = options.maxBatchSize
            ledger = MemoryLedger(limit: nil)
        }
    }

    /// Audio held while VAD decides: one window plus a few seconds, with block slack.
    static func audioBufferBytes(options: PipelineOptions) -> Int {
        (chunkSamples + 8 * sampleRate) * 4 * 2
    }

    /// Runs the pipeline over a file.
    /// - Parameter onSegment: receives segments in chronological order, as soon as they are final.
    public func run(path: String, onSegment: (TranscriptSegment) throws -> Void) throws -> PipelineReport {
        var report = PipelineReport()
        report.memoryBatchCap = batchCap
        report.baselineBytes = baseline
        report.weightBytes = whisper.weightBytes
        report.memoryLimit = options.memoryLimit
        let reader = try AudioFileReader(path: path, targetSampleRate: Self.sampleRate)
        defer { reader.close() }
        let audioReservation = try ledger.reserve(ByteCount(Self.audioBufferBytes(options: options)), category: .audio,
                                                  label: "audio window")
        defer { audioReservation.release() }

        var window = SampleWindow()
        var chunker = SpeechChunker(maxChunkSamples: Self.chunkSamples)
        var pending: [AudioChunk] = []
        var nextIndex = 0
        var openSpeechStart: Int?
        var language = whisper.isMultilingual ? options.language : "en"
        var segmentCount = 0

        var vadOptions = vad?.options ?? VADOptions()
        vadOptions.maxSingleSegmentTime = Int(min(options.maxSingleSegmentSeconds, 30) * 1000)
        let stream = try vad?.makeStream(options: vadOptions)

        func emit(_ spans: [SpeechChunker.Span]) {
            for span in spans {
                pending.append(AudioChunk(samples: window.slice(span), startSeconds: Double(span.lowerBound) / Double(Self.sampleRate),
                                          index: nextIndex))
                nextIndex += 1
            }
        }
        func flush(all: Bool) throws {
            while pending.count >= options.lookAheadChunks || (all && !pending.isEmpty) {
                let take = min(pending.count, options.lookAheadChunks)
                let group = Array(pending.prefix(take))
                pending.removeFirst(take)
                if language == nil { language = whisper.detectLanguage(of: group[0].samples).code }
                var results = [[TranscriptSegment]](repeating: [], count: group.count)
                for batch in BatchPlanning.plan(group, options: options, cap: batchCap) {
                    report.batchSizes.append(batch.count)
                    let cost = whisper.batchCost.bytes(batchSize: batch.count)
                    let reservation = try ledger.reserve(ByteCount(cost), category: .activations,
                                                         label: "batch of \(batch.count)")
                    let out = try whisper.transcribeBatch(batch.map { group[$0] }, language: language ?? "en",
                                                          options: options.decoding)
                    reservation.release()
                    for (position, member) in batch.enumerated() { results[member] = out[position] }
                }
                report.chunks += group.count
                for segments in results {
                    for var segment in segments {
                        segmentCount += 1
                        segment.id = segmentCount
                        try onSegment(segment)
                    }
                }
            }
        }

        while true {
            let block = try reader.read(maxSamples: Self.sampleRate)
            if block.isEmpty { break }
            let blockStart = window.end
            window.append(block)
            if let stream {
                var spans: [SpeechChunker.Span] = []
                block.withUnsafeBufferPointer { buffer in
                    stream.push(buffer) { event in
                        switch event {
                        case .start(let ms): openSpeechStart = ms * Self.sampleRate / 1000
                        case .end(let segment):
                            openSpeechStart = nil
                            spans += chunker.add((segment.startMs * Self.sampleRate / 1000)..<(segment.endMs * Self.sampleRate / 1000))
                        }
                    }
                }
                emit(spans)
                emit(chunker.advance(to: window.end))
                // Keep what an open chunk or an open speech segment may still need, plus a little history
                // for start points VAD decides late.
                let keepFrom = min(chunker.open?.lowerBound ?? Int.max, openSpeechStart ?? Int.max,
                                   window.end - 2 * Self.sampleRate)
                window.discard(before: max(keepFrom, 0))
            } else {
                _ = blockStart
                while window.end - window.start >= Self.chunkSamples {
                    emit([window.start..<(window.start + Self.chunkSamples)])
                    window.discard(before: window.start + Self.chunkSamples)
                }
            }
            try flush(all: false)
        }
        if let stream {
            var spans: [SpeechChunker.Span] = []
            stream.finish { event in
                if case .end(let segment) = event {
                    spans += chunker.add((segment.startMs * Self.sampleRate / 1000)..<(segment.endMs * Self.sampleRate / 1000))
                }
            }
            emit(spans)
            emit(chunker.finish())
        } else if window.end > window.start {
            emit([window.start..<window.end])
        }
        try flush(all: true)
        report.audioSeconds = Double(window.end) / Double(Self.sampleRate)
        report.ledger = ledger.snapshot()
        report.peakResidentBytes = ResidentMemory.peak
        return report
    }
}

/// FunASR's duration batching over a bounded group of chunks (funasr.md §1.3 and §1.5).
enum BatchPlanning {
    /// Sorts the group by duration (stable) and packs batches, never more than `cap` chunks each.
    ///
    /// - Default (FunASR `AutoModel`, since PR #1707): walking shortest to longest, chunk `j` joins the batch
    ///   and the batch stays open while `max(longest, L) × count < batch_size_s`, `L < threshold` and `j` is
    ///   not last; otherwise `j` joins and closes it — so a batch may overshoot the budget by one chunk, and a
    ///   chunk at or over the threshold closes the batch it lands in.
    /// - `strictCap` (FunASR's C++ runtime `Audio::FetchDynamic`): a chunk joins only while
    ///   `longest × (count + 1) ≤ batch_size_s`; a chunk at or over the threshold always runs alone.
    /// - Returns: batches as indices into `group`.
    static func plan(_ group: [AudioChunk], options: PipelineOptions, cap: Int) -> [[Int]] {
        let order = group.indices.sorted { (group[$0].durationSeconds, $0) < (group[$1].durationSeconds, $1) }
        let budget = options.batchSizeSeconds, threshold = options.batchSizeThresholdSeconds
        var batches: [[Int]] = []
        var current: [Int] = []
        var longest = 0.0
        func close() { if !current.isEmpty { batches.append(current) }; current = []; longest = 0 }
        for (position, i) in order.enumerated() {
            let length = group[i].durationSeconds
            if options.strictCap {
                if length >= threshold { close(); batches.append([i]); continue }
                if !current.isEmpty && (max(longest, length) * Double(current.count + 1) > budget || current.count >= cap) {
                    close()
                }
                current.append(i)
                longest = max(longest, length)
            } else {
                if current.count >= cap { close() }
                let padded = max(longest, length) * Double(current.count + 1)
                current.append(i)
                longest = max(longest, length)
                let isLast = position == order.count - 1
                if isLast || length >= threshold || padded >= budget { close() }
            }
        }
        close()
        return batches
    }
}
