import Foundation
import EarshotAudio
import CZlib

/// An error in a transcription request (as opposed to a bad model or bad audio).
public struct WhisperError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension WhisperModel {
    /// Transcribes 16 kHz mono audio with faster-whisper's long-form algorithm: 30-s windows over the
    /// log-mel of the whole recording, seeking to the last complete timestamp, the previous text as prompt,
    /// temperature fallback, and no-speech skipping (`faster_whisper/transcribe.py` `generate_segments`).
    /// With `options.wordTimestamps` every segment gets its words (cross-attention alignment of each
    /// window, faster-whisper `word_timestamps=True`): segment start/end move to their first/last word and the
    /// next window starts at the last word's end unless the window ended on a single timestamp, as in
    /// faster-whisper (so the windows, and possibly the text, can differ from a run without word timestamps).
    ///
    /// - Parameters:
    ///   - audio: samples in [-1, 1] at 16 kHz.
    ///   - onSegment: called with each segment as soon as its window is decoded.
    ///   - onProgress: called with (seconds processed, total seconds) after each window.
    /// - Throws: `WhisperError` for an unsupported request (e.g. a language the model does not know, or word
    ///   timestamps from a model whose `config.json` has no `alignment_heads`).
    public func transcribe(audio: [Float], options: WhisperDecodingOptions = WhisperDecodingOptions(),
                           onSegment: (TranscriptSegment) -> Void = { _ in },
                           onProgress: (Double, Double) -> Void = { _, _ in }) throws -> Transcript {
        let mel = WhisperMelSpectrogram(melBands: dimensions.melBands).compute(audio, padding: 160)
        let duration = Double(audio.count) / 16_000
        return try transcribe(mel: mel.values, frames: mel.frames, duration: duration, options: options,
                              onSegment: onSegment, onProgress: onProgress)
    }

    /// Transcribes precomputed features (`melBands × frames`, band-major, faster-whisper's layout).
    func transcribe(mel: [Float], frames: Int, duration: Double, options: WhisperDecodingOptions,
                    onSegment: (TranscriptSegment) -> Void,
                    onProgress: (Double, Double) -> Void) throws -> Transcript {
        let bands = dimensions.melBands, windowFrames = self.windowFrames
        let contentFrames = max(frames - 1, 0)
        let timePerFrame = 0.01              // HOP_LENGTH / SAMPLE_RATE
        let inputStride = 2                  // mel frames per encoder position
        let timePrecision = 0.02             // seconds per timestamp token

        let window = FloatBuffer(count: bands * windowFrames)
        func fillWindow(seek: Int, size: Int) {
            copyWindow(from: mel, frames: frames, start: seek, count: size, into: window)
        }

        // Language.
        var language = options.language ?? (isMultilingual ? nil : "en")
        var languageProbability = 1.0
        if let code = language, isMultilingual, tokenizer.languageToken(code: code) == nil {
            throw WhisperError("unknown language '\(code)'; this model knows: \(tokenizer.languageCodes.joined(separator: ", "))")
        }
        if !isMultilingual && options.language != nil && options.language != "en" {
            language = "en"   // faster-whisper: an English-only model is always decoded as English
        }
        if !isMultilingual && options.task == .translate {
            throw WhisperError("this model is English-only and cannot translate; use a multilingual model such as whisper-base")
        }
        let aligner = options.wordTimestamps ? try makeAligner() : nil
        var firstMemory: CrossAttentionMemory?
        if language == nil {
            fillWindow(seek: 0, size: min(windowFrames, contentFrames))
            let memory = encode(window: window.pointer)
            let ranked = detectLanguage(memory: memory)
            language = ranked.first?.code ?? "en"
            languageProbability = ranked.first?.probability ?? 0
            firstMemory = memory
        }
        let code = language ?? "en"

        let sotSequence = startSequence(language: code, task: options.task)
        let generator = makeGenerator(options: options)
        var random = SplitMix64(state: options.samplingSeed)
        var lastSpeechTimestamp = 0.0

        var allTokens: [Int] = []
        if let prompt = options.initialPrompt {
            allTokens = tokenizer.encode(" " + prompt.trimmingCharacters(in: .whitespaces))
        }
        var promptResetSince = 0
        var segments: [TranscriptSegment] = []
        var seek = 0
        let maxPrompt = dimensions.textContext / 2 - 1

        while seek < contentFrames {
            let timeOffset = Double(seek) * timePerFrame
            let segmentSize = min(windowFrames, contentFrames - seek)
            let segmentDuration = Double(segmentSize) * timePerFrame
            let memory: CrossAttentionMemory
            if seek == 0, let first = firstMemory {
                memory = first
            } else {
                fillWindow(seek: seek, size: segmentSize)
                memory = encode(window: window.pointer)
            }
            firstMemory = nil

            var prompt: [Int] = []
            let previous = Array(allTokens[promptResetSince...])
            if !previous.isEmpty {
                prompt.append(special.sotPrev)
                prompt.append(contentsOf: previous.suffix(maxPrompt))
            }
            prompt.append(contentsOf: sotSequence)
            if options.withoutTimestamps { prompt.append(special.noTimestamps) }

            let decoded = decodeWithFallback(generator: generator, prompt: prompt, memory: memory,
                                             options: options, random: &random)
            if let threshold = options.noSpeechThreshold, decoded.result.noSpeechProbability > threshold,
               !(options.logProbThreshold.map { decoded.avgLogProb > $0 } ?? false) {
                seek += segmentSize
                onProgress(min(Double(seek) * timePerFrame, duration), duration)
                continue
            }

            let previousSeek = seek
            let tokens = decoded.result.tokens
            var pieces: [(start: Double, end: Double, tokens: [Int])] = []
            let tsBegin = special.timestampBegin
            let singleTimestampEnding = tokens.count >= 2 && tokens[tokens.count - 2] < tsBegin && tokens.last! >= tsBegin
            let consecutive = (1..<max(tokens.count, 1)).filter { tokens[$0] >= tsBegin && tokens[$0 - 1] >= tsBegin }
            if !consecutive.isEmpty {
                var slices = consecutive
                if singleTimestampEnding { slices.append(tokens.count) }
                var lastSlice = 0
                for current in slices {
                    let sliced = Array(tokens[lastSlice..<current])
                    let startPosition = sliced.first! - tsBegin, endPosition = sliced.last! - tsBegin
                    pieces.append((timeOffset + Double(startPosition) * timePrecision,
                                   timeOffset + Double(endPosition) * timePrecision, sliced))
                    lastSlice = current
                }
                if singleTimestampEnding {
                    seek += segmentSize
                } else {
                    seek += (tokens[lastSlice - 1] - tsBegin) * inputStride
                }
            } else {
                var pieceDuration = segmentDuration
                let stamps = tokens.filter { $0 >= tsBegin }
                if let last = stamps.last, last != tsBegin { pieceDuration = Double(last - tsBegin) * timePrecision }
                pieces.append((timeOffset, timeOffset + pieceDuration, tokens))
                seek += segmentSize
            }

            var pieceWords: [[WordTiming]]?
            if let aligner {
                // faster-whisper `generate_segments` with word_timestamps=True: align the window's text, then
                // seek to the last word's end unless the window ended on a single timestamp.
                var aligned = pieces.map { WordAlignmentPiece(start: $0.start, end: $0.end, tokens: $0.tokens) }
                let words = addWordTimestamps(to: &aligned, aligner: aligner, startSequence: sotSequence,
                                              memory: memory, numFrames: segmentSize, language: code,
                                              timeOffset: Double(previousSeek) / 100,
                                              lastSpeechTimestamp: lastSpeechTimestamp, options: options)
                pieces = aligned.map { ($0.start, $0.end, $0.tokens) }
                pieceWords = words.words
                let lastWordEnd = words.words.reversed().lazy.compactMap(\.last).first?.end ?? pieces.last?.end
                if !singleTimestampEnding, let end = lastWordEnd, end > timeOffset {
                    seek = Int((end * 100).rounded(.toNearestOrEven))
                }
                if let end = lastWordEnd { lastSpeechTimestamp = end }
            }

            for (index, piece) in pieces.enumerated() {
                let text = tokenizer.decode(piece.tokens.filter { $0 < special.eot })
                if piece.start == piece.end || text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { continue }
                allTokens.append(contentsOf: piece.tokens)
                let segment = TranscriptSegment(id: segments.count + 1, seek: previousSeek, start: piece.start,
                                                end: piece.end, text: text, tokens: piece.tokens,
                                                temperature: decoded.temperature, avgLogProb: decoded.avgLogProb,
                                                compressionRatio: decoded.compressionRatio,
                                                noSpeechProb: decoded.result.noSpeechProbability,
                                                words: pieceWords?[index])
                segments.append(segment)
                onSegment(segment)
            }
            if !options.conditionOnPreviousText || decoded.temperature > options.promptResetOnTemperature {
                promptResetSince = allTokens.count
            }
            onProgress(min(Double(seek) * timePerFrame, duration), duration)
        }
        return Transcript(language: code, languageProbability: languageProbability, duration: duration,
                          segments: segments)
    }

    struct FallbackResult {
        var result: GenerationResult
        var avgLogProb: Double
        var temperature: Float
        var compressionRatio: Double
    }

    /// Decodes a window at increasing temperatures until the result is neither too repetitive nor too
    /// improbable (faster-whisper `generate_with_fallback`).
    func decodeWithFallback(generator: WhisperGenerator, prompt: [Int], memory: CrossAttentionMemory,
                            options: WhisperDecodingOptions, random: inout SplitMix64) -> FallbackResult {
        var all: [FallbackResult] = []
        var belowCompressionThreshold: [FallbackResult] = []
        let temperatures = options.temperatures.isEmpty ? [0] : options.temperatures
        for temperature in temperatures {
            let settings = WhisperGenerator.Settings(temperature: temperature, beamSize: options.beamSize,
                                                     candidates: options.bestOf, patience: options.patience,
                                                     lengthPenalty: options.lengthPenalty)
            let result = generator.generate(prompt: prompt, memory: memory, settings: settings, random: &random)
            let length = Double(result.tokens.count)
            let cumulative = result.score * pow(length, Double(options.lengthPenalty))
            let avgLogProb = cumulative / (length + 1)
            let text = tokenizer.decode(result.tokens.filter { $0 < special.eot })
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let candidate = FallbackResult(result: result, avgLogProb: avgLogProb, temperature: temperature,
                                           compressionRatio: Self.compressionRatio(text))
            all.append(candidate)
            var needsFallback = false
            if let threshold = options.compressionRatioThreshold {
                if candidate.compressionRatio > threshold { needsFallback = true }
                else { belowCompressionThreshold.append(candidate) }
            }
            if let threshold = options.logProbThreshold, avgLogProb < threshold { needsFallback = true }
            if let noSpeech = options.noSpeechThreshold, result.noSpeechProbability > noSpeech,
               let threshold = options.logProbThreshold, avgLogProb < threshold {
                needsFallback = false   // silence: no point in retrying
            }
            if !needsFallback { return candidate }
        }
        var best = (belowCompressionThreshold.isEmpty ? all : belowCompressionThreshold)
            .max { $0.avgLogProb < $1.avgLogProb }!
        best.temperature = temperatures.last!
        return best
    }

    /// UTF-8 bytes over zlib-compressed bytes (faster-whisper `get_compression_ratio`, default level).
    static func compressionRatio(_ text: String) -> Double {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return 0 }
        var destinationLength = compressBound(uLong(bytes.count))
        var destination = [UInt8](repeating: 0, count: Int(destinationLength))
        let status = destination.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &destinationLength, src.baseAddress, uLong(bytes.count), Z_DEFAULT_COMPRESSION)
            }
        }
        guard status == Z_OK, destinationLength > 0 else { return 0 }
        return Double(bytes.count) / Double(destinationLength)
    }
}
