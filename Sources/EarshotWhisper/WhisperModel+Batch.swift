import Foundation
import EarshotAudio
import EarshotMemory
import EarshotTensor

/// Bytes one batch needs beyond the weights and the chunks' audio, by kind of allocation (the model's
/// cost model). Every term is an upper bound of what `transcribeBatch` allocates.
public struct WhisperBatchCost: Sendable {
    /// Log-mel of the chunk being encoded and the padded 30-s window (one chunk at a time).
    public var features: Int
    /// Encoder activations (one window at a time) plus, per chunk, decoder step activations.
    public var encoderActivations: Int
    public var decoderActivationsPerChunk: Int
    /// Cross-attention keys/values and the self-attention cache, per chunk.
    public var kvCachePerChunk: Int
    /// Logits per chunk per step.
    public var outputsPerChunk: Int
    /// Word alignment (0 without word timestamps): after decoding, each chunk in turn gets a decoder pass
    /// over its whole text keeping the alignment heads' attention, then DTW (``WhisperAligner``); one
    /// chunk at a time, so it is paid once per batch.
    public var wordAlignment = 0

    /// Everything that scales with the batch, per chunk.
    public var perChunk: Int { decoderActivationsPerChunk + kvCachePerChunk + outputsPerChunk }
    /// Everything paid once per batch.
    public var fixed: Int { features + encoderActivations + wordAlignment }
    /// Total for `batchSize` chunks.
    public func bytes(batchSize: Int) -> Int { fixed + perChunk * batchSize }
}

extension WhisperModel {
    /// The memory a batch of chunks costs, by category of allocation (see `transcribeBatch`), without
    /// word timestamps.
    public var batchCost: WhisperBatchCost { batchCost(wordTimestamps: false) }

    /// Prompt tokens `transcribeBatch` feeds before generating with these options, at most: the start
    /// sequence (with language and task on multilingual models), `<|notimestamps|>` and the initial prompt.
    public func batchPromptLength(options: WhisperDecodingOptions) -> Int {
        var count = isMultilingual ? 3 : 1
        if options.withoutTimestamps { count += 1 }
        if let initial = options.initialPrompt, !initial.isEmpty {
            count += 1 + min(tokenizer.encode(initial).count, dimensions.textContext / 2 - 1)
        }
        return count
    }

    /// The memory a batch of chunks costs with or without word timestamps. With `promptLength` (see
    /// `batchPromptLength`), each sequence's self-attention cache holds only the positions a generation
    /// can reach (prompt + textContext/2); without it, the whole text context.
    public func batchCost(wordTimestamps: Bool, promptLength: Int? = nil) -> WhisperBatchCost {
        let d = dimensions.width, t = dimensions.audioContext, bands = dimensions.melBands
        let window = bands * windowFrames * 4
        // The chunk's own mel (frames + 1) and the FFT's double-precision frame spectra.
        let chunkFeatures = bands * (windowFrames + 1) * 4 + (windowFrames + 1) * 201 * 2 * 8
        let encoderOutput = t * d * 4
        let crossKV = dimensions.decoderLayers * t * 2 * d * (halfCrossAttention ? 2 : 4)
        let positions = min(dimensions.textContext, (promptLength ?? dimensions.textContext) + dimensions.textContext / 2)
        let selfKV = 2 * dimensions.decoderLayers * positions * d * 4
        let logits = dimensions.vocabularySize * 4
        let decoderScratch = (6 * d + dimensions.ffnWidth) * 4 * 4
        var cost = WhisperBatchCost(features: window + chunkFeatures,
                                    encoderActivations: encoder.scratchBytes + encoderOutput
                                        + (halfCrossAttention ? t * 2 * d * 4 : 0),   // fp32 K/V before rounding
                                    decoderActivationsPerChunk: decoderScratch, kvCachePerChunk: crossKV + selfKV,
                                    outputsPerChunk: logits)
        if wordTimestamps {
            cost.wordAlignment = WhisperAligner.scratchBytes(dimensions, tokens: WhisperAligner.maxSequence(dimensions),
                                                             frames: t, threads: Kernels.threadCount)
        }
        return cost
    }

    /// Transcribes up to a batch of chunks at once: each is encoded, then all are decoded greedily
    /// together (one decoder pass per step for every unfinished chunk; chunks finish at different steps).
    /// Chunks are independent (no previous-text prompt), as faster-whisper's `BatchedInferencePipeline`
    /// does. The result for chunk `i` is at index `i`; timestamps are on the recording's timeline.
    ///
    /// With `options.wordTimestamps`, each segment's `words` are filled (see `attachWords`): times on the
    /// same timeline as the segment, inside the chunk's audio; segment start/end move to the first/last word.
    ///
    /// Greedy output does not depend on how chunks are grouped into batches. With `times`, the log-mel,
    /// encoder, decoder and alignment stages are timed into it (with their arithmetic, for GFLOP/s).
    /// `checkpoint` is called after each chunk's encoder, after each decoder step and before each chunk's
    /// alignment (see ``SpeechRecognizer/recognize(_:settings:times:checkpoint:)``); the stage being timed
    /// then includes what the checkpoint did.
    public func transcribeBatch(_ chunks: [AudioChunk], language: String,
                                options: WhisperDecodingOptions = .greedy,
                                times: StageTimes? = nil,
                                checkpoint: (() -> Void)? = nil) throws -> [[TranscriptSegment]] {
        let times = times ?? StageTimes()
        guard !chunks.isEmpty else { return [] }
        if isMultilingual, tokenizer.languageToken(code: language) == nil {
            throw WhisperError("unknown language '\(language)'")
        }
        let aligner = options.wordTimestamps ? try makeAligner() : nil
        let bands = dimensions.melBands, windowFrames = self.windowFrames
        let window = FloatBuffer(count: bands * windowFrames)
        let melExtractor = WhisperMelSpectrogram(melBands: bands)
        let memories: [CrossAttentionMemory] = chunks.map { chunk in
            precondition(chunk.samples.count <= Self.windowSamples, "a chunk must fit one 30-s window")
            times.measure(.mel) {
                let mel = melExtractor.compute(chunk.samples, padding: 160)
                copyWindow(from: mel.values, frames: mel.frames, start: 0, count: min(max(mel.frames - 1, 0), windowFrames),
                           into: window)
            }
            let memory = times.measure(.encoder, operations: dimensions.encoderOperations) { encode(window: window.pointer) }
            checkpoint?()
            return memory
        }

        // faster-whisper's BatchedInferencePipeline: `<|startofprev|>` + the encoded initial prompt (its last
        // textContext/2 − 1 tokens) before the start sequence, the same for every chunk (`get_prompt`).
        var prompt: [Int] = []
        if let initial = options.initialPrompt, !initial.isEmpty {
            prompt.append(special.sotPrev)
            prompt.append(contentsOf: tokenizer.encode(initial).suffix(dimensions.textContext / 2 - 1))
        }
        prompt += startSequence(language: language, task: options.task)
        if options.withoutTimestamps { prompt.append(special.noTimestamps) }
        let generator = makeGenerator(options: options)
        let results = times.measure(.decoder) { generator.generateGreedyBatch(prompt: prompt, memories: memories, checkpoint: checkpoint) }
        times.addOperations(results.reduce(0) { total, result in
            total + dimensions.decoderOperations(steps: prompt.count + result.tokens.count, startingAt: 0)
        }, to: .decoder)

        return zip(chunks.indices, results).map { index, result in
            let chunk = chunks[index]
            let length = Double(result.tokens.count)
            let avgLogProb = result.sumLogProb / (length + 1)
            if let threshold = options.noSpeechThreshold, result.noSpeechProbability > threshold,
               !(options.logProbThreshold.map { avgLogProb > $0 } ?? false) {
                return []
            }
            let text = tokenizer.decode(result.tokens.filter { $0 < special.eot })
            let segments = splitChunk(tokens: result.tokens, chunk: chunk, text: text, avgLogProb: avgLogProb,
                                      noSpeech: result.noSpeechProbability)
            guard let aligner else { return segments }
            checkpoint?()
            return times.measure(.alignment) {
                attachWords(to: segments, chunk: chunk, memory: memories[index], language: language,
                            aligner: aligner, options: options)
            }
        }
    }

    /// Cuts a chunk's tokens at timestamp pairs into segments; a trailing piece without a closing timestamp
    /// ends at the chunk's end (nothing is dropped, since a chunk is never decoded twice).
    private func splitChunk(tokens: [Int], chunk: AudioChunk, text: String, avgLogProb: Double,
                            noSpeech: Double) -> [TranscriptSegment] {
        let tsBegin = special.timestampBegin
        var pieces: [(start: Double, end: Double, tokens: [Int])] = []
        var current: [Int] = []
        var openStart: Double?
        for token in tokens {
            if token >= tsBegin {
                let time = Double(token - tsBegin) * 0.02
                if openStart == nil {
                    openStart = time
                    current = [token]
                } else {
                    current.append(token)
                    pieces.append((openStart!, time, current))
                    openStart = nil
                    current = []
                }
            } else {
                if openStart == nil && current.isEmpty { openStart = pieces.last?.end ?? 0 }
                current.append(token)
            }
        }
        if !current.isEmpty { pieces.append((openStart ?? 0, min(chunk.durationSeconds, 30), current)) }
        let ratio = Self.compressionRatio(text)
        return pieces.compactMap { piece in
            let pieceText = tokenizer.decode(piece.tokens.filter { $0 < special.eot })
            guard !pieceText.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
            return TranscriptSegment(id: 0, seek: Int((chunk.startSeconds * 100).rounded()),
                                     start: chunk.startSeconds + piece.start,
                                     end: chunk.startSeconds + max(piece.end, piece.start),
                                     text: pieceText, tokens: piece.tokens, temperature: 0,
                                     avgLogProb: avgLogProb, compressionRatio: ratio, noSpeechProb: noSpeech)
        }
    }

    /// Detects the language of a chunk (its first 30 s).
    public func detectLanguage(of samples: [Float]) -> (code: String, probability: Double) {
        guard isMultilingual else { return ("en", 1) }
        let bands = dimensions.melBands, windowFrames = self.windowFrames
        let mel = WhisperMelSpectrogram(melBands: bands).compute(Array(samples.prefix(Self.windowSamples)), padding: 160)
        let window = FloatBuffer(count: bands * windowFrames)
        copyWindow(from: mel.values, frames: mel.frames, start: 0, count: min(max(mel.frames - 1, 0), windowFrames),
                   into: window)
        let best = detectLanguage(memory: encode(window: window.pointer)).first
        return (best?.code ?? "en", best?.probability ?? 0)
    }

    /// `<|startoftranscript|>`, then for multilingual models the language and task tokens
    /// (faster-whisper `Tokenizer.sot_sequence`).
    func startSequence(language: String, task: WhisperTask) -> [Int] {
        var sequence = [special.sot]
        if isMultilingual, let token = tokenizer.languageToken(code: language) {
            sequence.append(token)
            sequence.append(task == .translate ? special.translate : special.transcribe)
        }
        return sequence
    }

    /// Copies mel frames `start ..< start+count` of a band-major `[bands][frames]` array into a zero-padded
    /// 30-s window (faster-whisper `pad_or_trim`).
    func copyWindow(from mel: [Float], frames: Int, start: Int, count: Int, into window: FloatBuffer) {
        let bands = dimensions.melBands, windowFrames = self.windowFrames
        window.pointer.initialize(repeating: 0, count: bands * windowFrames)
        mel.withPointer { m in
            for b in 0..<bands { (window.pointer + b * windowFrames).update(from: m + b * frames + start, count: count) }
        }
    }

    /// The decoding loop for these options: suppressed tokens (faster-whisper `get_suppressed_tokens`),
    /// blank suppression and timestamp rules.
    func makeGenerator(options: WhisperDecodingOptions) -> WhisperGenerator {
        var suppressed = Set(options.suppressTokens.filter { $0 >= 0 })
        if options.suppressTokens.contains(-1) { suppressed.formUnion(tokenizer.nonSpeechTokens) }
        if !options.suppressTokens.isEmpty {
            suppressed.formUnion([special.transcribe, special.translate, special.sot, special.sotPrev,
                                  special.sotLM, special.noSpeech])
        }
        let filters = LogitFilters(special: special, suppressed: suppressed.sorted(),
                                   suppressedAtBegin: options.suppressBlank ? config.suppressIdsBegin : [],
                                   timestamps: !options.withoutTimestamps,
                                   maxInitialTimestamp: special.timestampBegin
                                       + Int((options.maxInitialTimestamp / 0.02).rounded()))
        return WhisperGenerator(decoder: decoder, special: special, filters: filters)
    }
}

extension WhisperGenerator {
    /// Greedy decoding of several windows with the same prompt, one decoder pass per step for all
    /// unfinished sequences. Each sequence gives exactly what `generate` would give it alone. `checkpoint`
    /// is called after every step.
    func generateGreedyBatch(prompt: [Int], memories: [CrossAttentionMemory],
                             checkpoint: (() -> Void)? = nil) -> [GenerationResult] {
        let vocab = decoder.dims.vocabularySize, width = decoder.dims.width
        let sotIndex = prompt.firstIndex(of: special.sot)!
        var promptLength = sotIndex
        while promptLength < prompt.count && prompt[promptLength] >= special.sot
                && prompt[promptLength] <= special.noTimestamps { promptLength += 1 }
        let forwarded = Array(prompt[0..<(promptLength - 1)])
        let start = prompt[promptLength - 1]
        let maxLength = min(decoder.dims.textContext / 2, decoder.dims.textContext - forwarded.count)
        // Positions a sequence can reach: the forwarded prompt, the start token and maxLength − 1 fed tokens.
        let caches = memories.map { _ in decoder.makeCache(capacity: forwarded.count + maxLength + 1) }
        var noSpeech = [Double](repeating: 0, count: memories.count)
        if !forwarded.isEmpty {
            let inputs = zip(caches, memories).map { DecoderInput(tokens: forwarded, cache: $0, memory: $1) }
            let hidden = decoder.forward(inputs)
            if sotIndex < forwarded.count {
                for i in 0..<memories.count {
                    let logits = decoder.logits(hidden: hidden.pointer + (i * forwarded.count + sotIndex) * width, rows: 1)
                    noSpeech[i] = Self.probability(of: special.noSpeech, logits: logits.pointer, count: vocab)
                }
            }
        }
        let sotIsStart = forwarded.count <= sotIndex
        var generated = [[Int]](repeating: [], count: memories.count)
        var sums = [Double](repeating: 0, count: memories.count)
        var active = Array(0..<memories.count)
        var next = [Int](repeating: start, count: memories.count)
        let logits = FloatBuffer(count: memories.count * vocab)  // reused by every step
        for step in 0..<maxLength where !active.isEmpty {
            let inputs = active.map { DecoderInput(tokens: [next[$0]], cache: caches[$0], memory: memories[$0]) }
            let hidden = decoder.forward(inputs)
            decoder.logits(hidden: hidden.pointer, rows: active.count, into: logits.pointer)
            var stillActive: [Int] = []
            for (row, i) in active.enumerated() {
                let rowLogits = logits.pointer + row * vocab
                if step == 0 && sotIsStart {
                    noSpeech[i] = Self.probability(of: special.noSpeech, logits: rowLogits, count: vocab)
                }
                filters.apply(to: rowLogits, count: vocab, generated: generated[i])
                let (token, logProb) = Self.greedyPick(rowLogits, count: vocab)
                sums[i] += Double(logProb)
                if token == special.eot { continue }
                generated[i].append(token)
                next[i] = token
                if step < maxLength - 1 { stillActive.append(i) }
            }
            active = stillActive
            checkpoint?()
        }
        return (0..<memories.count).map { i in
            let length = Double(max(generated[i].count, 1))
            return GenerationResult(tokens: generated[i], sumLogProb: sums[i], score: sums[i] / length,
                                    noSpeechProbability: noSpeech[i])
        }
    }
}
