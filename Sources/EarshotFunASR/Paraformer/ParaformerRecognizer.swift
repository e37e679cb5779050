import EarshotMemory
@_exported import EarshotSpeech
import Foundation

/// Paraformer as a ``SpeechRecognizer``: each window is one item of ``ParaformerModel/transcribe(_:vadOffsetsMs:hotwords:)``
/// (the batch runs stacked, each window's result equals transcribing it alone), one segment per window with
/// FunASR's text, token ids, score and — for BiCif / SeACo, or plain Paraformer loaded with
/// `predictTimestamps` — its words with FunASR's timestamps.
public final class ParaformerRecognizer: SpeechRecognizer {
    /// The loaded model.
    public let model: ParaformerModel
    /// Longest window: FunASR's VAD cuts speech at `max_single_segment_time` (60 s), and Paraformer runs each
    /// segment whole.
    public let windowSamples: Int
    private let prepared = Locked<(text: String, hotwords: SeacoHotwords)?>(nil)

    /// Wraps a loaded model; `windowSeconds` bounds a window (FunASR: one VAD segment, at most 60 s).
    public init(model: ParaformerModel, windowSeconds: Double = 60) {
        self.model = model
        windowSamples = Int(windowSeconds * 16_000)
    }

    public var name: String { (model.directory as NSString).lastPathComponent }
    public var weightBytes: Int { model.batchCost.weightBytes + model.batchCost.mappedWeightBytes }
    public var needsLanguage: Bool { false }
    /// paraformer-zh recognises Mandarin (and English words); it takes no language.
    public var fixedLanguage: String? { "zh" }

    public func validate(_ settings: RecognitionSettings) throws {
        if settings.translate {
            throw FunASRError(.invalidArgument, "\(name) (\(model.config.kind.rawValue)) cannot translate")
        }
        if let language = settings.language, !["zh", "en"].contains(language) {
            throw FunASRError(.invalidArgument, "\(name) (\(model.config.kind.rawValue)) recognises Mandarin and English; language '\(language)' is not available")
        }
        if let prompt = settings.prompt, !prompt.isEmpty {
            throw FunASRError(.invalidArgument, "\(name) (\(model.config.kind.rawValue)) takes no prompt; SeACo models take hotwords instead")
        }
        if let hotwords = settings.hotwords, !hotwords.isEmpty {
            _ = try self.hotwords(hotwords)
        }
    }

    public func detectLanguage(of samples: [Float]) -> String { "zh" }

    public func batchCost(_ settings: RecognitionSettings?) -> RecognizerBatchCost {
        let cost = model.batchCost
        let frames = cost.frames(samples: windowSamples)
        let parts = cost.itemParts(frames: frames)
        var outputs = parts.outputs
        if model.config.seaco != nil, settings == nil || !(settings?.hotwords ?? "").isEmpty {
            // Hotword head: its log-probabilities and two seaco-decoder passes per window.
            let n = frames + 1, d = model.config.encoder.outputSize, units = model.config.seaco?.decoder.linearUnits ?? 0
            outputs += n * model.tokenList.count * 4 * 2 + 2 * n * (4 * d + units) * 4
        }
        return RecognizerBatchCost(features: 0, activations: cost.transientBytes(frames: frames),
                                   activationsPerItem: parts.features + parts.activations, cachePerItem: 0,
                                   outputsPerItem: outputs)
    }

    public func recognize(_ chunks: [AudioChunk], settings: RecognitionSettings, times: StageTimes?) throws -> [[TranscriptSegment]] {
        let hotwords = try (settings.hotwords?.isEmpty == false) ? self.hotwords(settings.hotwords!) : nil
        let run = { try self.model.transcribe(chunks.map(\.samples), hotwords: hotwords) }
        let results = try times.map { try $0.measure(.decoder, run) } ?? run()
        return zip(chunks, results).map { chunk, r in
            guard !r.tokenIDs.isEmpty else { return [] }
            var words: [WordTiming]? = nil
            if model.givesTimestamps, settings.wordTimings {
                words = zip(r.words, r.timestamps).map { word, t in
                    WordTiming(word: word, start: Double(t[0]) / 1000, end: Double(t[1]) / 1000, probability: 1)
                }
            }
            let start = words?.first?.start ?? 0, end = words?.last?.end ?? chunk.durationSeconds
            return [TranscriptSegment(id: 0, seek: Int((chunk.startSeconds * 100).rounded()), start: start, end: end,
                                      text: r.text, tokens: r.tokenIDs, temperature: 0,
                                      avgLogProb: r.positions > 0 ? r.logProbability / Double(r.positions) : 0,
                                      compressionRatio: 0, noSpeechProb: 0, words: words)]
        }
    }

    public func tokenize(_ text: String) -> [Int] { (try? model.tokenize(text)) ?? [] }

    /// Hotwords prepared once per distinct string (seg_dict is read and the bias encoder runs only then).
    private func hotwords(_ text: String) throws -> SeacoHotwords {
        if let cached = prepared.withLock({ $0 }), cached.text == text { return cached.hotwords }
        let hotwords = try model.prepareHotwords(ParaformerModel.hotwordWords(weighted: text))
        prepared.withLock { $0 = (text, hotwords) }
        return hotwords
    }
}
