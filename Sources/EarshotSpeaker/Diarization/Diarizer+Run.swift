import EarshotFunASR
import EarshotMemory
import EarshotSpeech

extension Diarizer {
    /// One recording through the diarizer: samples pushed in, speech regions cut as FSMN-VAD decides them,
    /// their windows embedded in batches, everything clustered at the end.
    final class Run {
        private let diarizer: Diarizer
        private let options: DiarizationOptions
        private let ledger: MemoryLedger?
        private let stream: FSMNVADStream
        /// Samples from `bufferStart` on (absolute sample index of `buffer[0]`).
        private var buffer: [Float] = []
        private var bufferStart = 0
        private var openStart: Int?
        private var regions: [SpeechSegment] = []
        private var windows: [(start: Double, end: Double)] = []
        private var embeddings: [[Float]] = []
        private var totalSamples = 0
        private var failure: (any Error)?
        /// The embedding matrix and the held samples.
        private let held: MemoryReservation?
        /// VAD start events lie at most this far before the frames decided (FSMN-VAD's look-back is < 1 s).
        private static let lookBackSamples = 5 * 16000

        init(diarizer: Diarizer, options: DiarizationOptions, ledger: MemoryLedger?) throws {
            if let n = options.speakers, n < 1 {
                throw SpeakerError(.invalidInput, message: "the number of speakers must be at least 1 (got \(n))")
            }
            self.diarizer = diarizer
            self.options = options
            self.ledger = ledger
            stream = try diarizer.vad.makeStream()
            held = try ledger?.reserve(.zero, category: .speaker, label: "speaker embeddings and held audio")
        }

        func push(_ samples: [Float]) throws {
            buffer.append(contentsOf: samples)
            totalSamples += samples.count
            try account()
            samples.withUnsafeBufferPointer { stream.push($0) { self.handle($0) } }
            if let failure { throw failure }
            // Keep what a region still open (or about to be reported as started) may need.
            let decided = stream.framesProcessed * 160
            let keepFrom = max(0, min(openStart ?? decided, decided) - Self.lookBackSamples)
            if keepFrom > bufferStart {
                buffer.removeFirst(min(buffer.count, keepFrom - bufferStart))
                bufferStart = keepFrom
            }
        }

        func finish() throws -> DiarizationResult {
            stream.finish { self.handle($0) }
            if let failure { throw failure }
            buffer = []
            let working = try ledger?.reserve(
                ByteCount(diarizer.clustering.workingBytes(count: embeddings.count, dimension: diarizer.embedder.dimension)),
                category: .speaker, label: "clustering")
            let labels = embeddings.isEmpty ? [] : try diarizer.clustering.cluster(embeddings, speakers: options.speakers)
            working?.release()
            guard labels.count == embeddings.count else {
                throw SpeakerError(.invalidInput, message: "the clustering returned \(labels.count) labels for \(embeddings.count) embeddings")
            }
            let turns = Diarizer.turns(windows: windows, labels: labels, minTurn: options.minTurnSeconds)
            held?.release()
            var result = DiarizationResult(turns: turns, speechRegions: regions, windows: windows.count,
                                           audioSeconds: Double(totalSamples) / 16000)
            if options.keepEmbeddings {
                result.embeddings = zip(windows, embeddings).map { ($0.start, $0.end, $1) }
            }
            return result
        }

        private func handle(_ event: VADEvent) {
            guard failure == nil else { return }
            switch event {
            case .start(let ms):
                openStart = ms * 16
            case .end(let segment):
                openStart = nil
                regions.append(segment)
                do { try embed(segment) } catch { failure = error }
            }
        }

        /// Embeds the windows of one speech region, in batches that fit the memory limit.
        private func embed(_ segment: SpeechSegment) throws {
            let start = max(segment.startMs * 16, bufferStart), end = min(segment.endMs * 16, bufferStart + buffer.count)
            guard end > start else { return }
            let embedder = diarizer.embedder
            let cuts = Diarizer.windows(count: end - start, window: embedder.windowSamples, hop: embedder.hopSamples)
            var i = 0
            while i < cuts.count {
                var batch = min(options.maxBatchWindows, cuts.count - i)
                var reservation: MemoryReservation?
                if let ledger {
                    while batch > 0 {
                        reservation = ledger.tryReserve(ByteCount(embedder.batchBytes(windows: batch)),
                                                        category: .speaker, label: "speaker embedding batch")
                        if reservation != nil { break }
                        batch /= 2
                    }
                    if reservation == nil {
                        throw SpeakerError(.memory, message: "the memory limit leaves no room to embed one speaker window (\(ByteCount(embedder.batchBytes(windows: 1)))); raise --memory-limit")
                    }
                }
                let slice = cuts[i ..< i + batch]
                let audio = slice.map { r in Array(buffer[(start - bufferStart + r.lowerBound) ..< (start - bufferStart + r.upperBound)]) }
                let vectors = try embedder.embed(audio)
                reservation?.release()
                for (r, v) in zip(slice, vectors) {
                    windows.append((Double(start + r.lowerBound) / 16000, Double(start + r.upperBound) / 16000))
                    embeddings.append(v)
                }
                try account()
                i += batch
            }
        }

        /// The embedding matrix and held samples, in the ledger.
        private func account() throws {
            guard let held else { return }
            let bytes = 4 * (buffer.count + embeddings.count * diarizer.embedder.dimension) + 16 * (windows.count + regions.count)
            try held.resize(to: ByteCount(bytes))
        }
    }
}
