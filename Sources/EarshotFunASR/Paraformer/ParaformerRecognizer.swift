import Foundation
import EarshotMemory
import EarshotSpeech

/// FunASR's Paraformer as a ``SpeechRecognizer``: each window is one Paraformer item (FunASR transcribes each
/// VAD segment as an item; here a window holds one or more padded speech pieces), a batch runs its items
/// together (`ParaformerModel.transcribe`), and models that give timestamps (BiCif, SeACo) give each word its
/// times, so the pipeline can cut windows back into utterances as it does for Whisper.
public final class ParaformerRecognizer: SpeechRecognizer {
    public let model: ParaformerModel
    public let windowSamples: Int
    /// "zh" when the token list holds CJK characters (paraformer-zh), else "en": what reports and the
    /// server's json say; Paraformer itself takes no language.
    public let fixedLanguage: String?
    private let hotwordCache = Locked<[String: SeacoHotwords]>([:])

    /// - Parameter windowSeconds: the longest window; 30 s by default, as Whisper's (FunASR's VAD cuts speech
    ///   at `max_single_segment_time` = 60 s; 30 s keeps a batch item's memory at half of that).
    public init(model: ParaformerModel, windowSeconds: Double = 30) {
        self.model = model
        windowSamples = Int(windowSeconds * 16_000)
        let cjk = model.tokenList.tokens.contains { token in
            token.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) }
        }
        fixedLanguage = cjk ? "zh" : "en"
    }

    public var name: String { (model.directory as NSString).lastPathComponent }
    public var weightBytes: Int { model.batchCost.weightBytes + model.batchCost.mappedWeightBytes }
    public var needsLanguage: Bool { false }

    public func validate(_ settings: RecognitionSettings) throws {
        if settings.translate {
            throw FunASRError(.invalidArgument, "\(name): Paraformer transcribes only; translation needs a multilingual Whisper model")
        }
        if let language = settings.language, language != fixedLanguage {
            throw FunASRError(.invalidArgument, "\(name) recognises \(fixedLanguage ?? "one language") only; language '\(language)' is not available")
        }
        if settings.prompt != nil {
            throw FunASRError(.invalidArgument, "\(name): Paraformer takes no prompt (for biasing towards words, give hotwords to a SeacoParaformer)")
        }
        if let hotwords = settings.hotwords { _ = try prepared(hotwords) }
    }

    public func detectLanguage(of samples: [Float]) -> String { fixedLanguage ?? "zh" }

    public func batchCost(_ settings: RecognitionSettings?) -> RecognizerBatchCost {
        let cost = model.batchCost
        let frames = cost.frames(samples: windowSamples)
        return RecognizerBatchCost(features: 0, activations: cost.transientBytes(frames: frames),
                                   activationsPerItem: cost.itemBytes(frames: frames), cachePerItem: 0, outputsPerItem: 0)
    }

    public func recognize(_ chunks: [AudioChunk], settings: RecognitionSettings, times: StageTimes?,
                          checkpoint: (() -> Void)?) throws -> [[TranscriptSegment]] {
        let hotwords = try settings.hotwords.map { try prepared($0) }
        let results = try (times ?? StageTimes()).measure(.encoder) {
            try model.transcribe(chunks.map(\.samples), hotwords: hotwords)
        }
        return zip(chunks, results).map { chunk, result in
            Self.segments(result, chunk: chunk, words: settings.wordTimings)
        }
    }

    /// Paraformer does not re-tokenise text cut out of a window; split segments carry no token ids.
    public func tokenize(_ text: String) -> [Int] { [] }

    private func prepared(_ hotwords: String) throws -> SeacoHotwords {
        if let cached = hotwordCache.withLock({ $0[hotwords] }) { return cached }
        // FunASR's weighted form ("阿里巴巴 20 达摩院 1.5") keeps only the words for SeACo.
        let prepared = try model.prepareHotwords(ParaformerModel.hotwordWords(weighted: hotwords))
        hotwordCache.withLock { $0[hotwords] = prepared }
        return prepared
    }

    /// One segment for the window; with timestamps, its words (CJK characters joined without spaces, other
    /// words with a leading space, as Whisper's words are) with their times.
    static func segments(_ result: ParaformerResult, chunk: AudioChunk, words wanted: Bool) -> [TranscriptSegment] {
        var words: [WordTiming]?
        var text = result.text
        if !result.timestamps.isEmpty, result.words.count == result.timestamps.count {
            let timed = zip(result.words, result.timestamps).map { word, stamp in
                WordTiming(word: isCJK(word) ? word : " " + word, start: chunk.startSeconds + Double(stamp[0]) / 1000,
                           end: chunk.startSeconds + Double(stamp[1]) / 1000, probability: 1)
            }
            text = timed.map(\.word).joined()
            words = wanted ? timed : nil
        }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
        let start = words?.first?.start ?? chunk.startSeconds
        let end = words?.last?.end ?? chunk.startSeconds + chunk.durationSeconds
        return [TranscriptSegment(id: 0, seek: Int((chunk.startSeconds * 100).rounded()), start: start, end: end,
                                  text: text, tokens: result.tokenIDs, temperature: 0,
                                  avgLogProb: result.positions > 0 ? result.logProbability / Double(result.positions) : 0,
                                  compressionRatio: 0, noSpeechProb: 0, words: words)]
    }

    static func isCJK(_ word: String) -> Bool {
        word.unicodeScalars.first.map { (0x3000...0x9FFF).contains($0.value) || (0xF900...0xFAFF).contains($0.value) } ?? false
    }
}
