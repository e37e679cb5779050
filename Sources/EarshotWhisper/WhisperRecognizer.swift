import Foundation
import EarshotMemory
@_exported import EarshotSpeech

/// Whisper as a ``SpeechRecognizer``: windows are decoded in batches with `transcribeBatch` (greedy, each
/// window on its own) under a base set of decoding options (suppressed tokens, punctuation rules, a default
/// prompt) that each batch's ``RecognitionSettings`` refine.
public final class WhisperRecognizer: SpeechRecognizer {
    public let model: WhisperModel
    /// Options every window is decoded with, before the batch's settings are applied.
    public let decoding: WhisperDecodingOptions

    public init(model: WhisperModel, decoding: WhisperDecodingOptions) {
        self.model = model
        self.decoding = decoding
    }

    public var name: String { (model.directory as NSString).lastPathComponent }
    public var windowSamples: Int { WhisperModel.windowSamples }
    public var weightBytes: Int { model.weightBytes }
    public var needsLanguage: Bool { model.isMultilingual }
    public var fixedLanguage: String? { model.isMultilingual ? nil : "en" }

    public func validate(_ settings: RecognitionSettings) throws {
        if settings.hotwords != nil {
            throw WhisperError("hotwords bias a SeacoParaformer model; Whisper has none: give the words as --initial-prompt instead")
        }
        if model.isMultilingual, let language = settings.language, model.tokenizer.languageToken(code: language) == nil {
            throw WhisperError("unknown language '\(language)': use an ISO 639-1 code Whisper knows (en, zh, de, …)")
        }
        if !model.isMultilingual, settings.translate {
            throw WhisperError("\(name) is an English-only model and cannot translate: use a multilingual model (e.g. whisper-base)")
        }
        if !model.isMultilingual, let language = settings.language, language != "en" {
            throw WhisperError("\(name) is an English-only model: language '\(language)' is not available")
        }
    }

    public func detectLanguage(of samples: [Float]) -> String { model.detectLanguage(of: samples).code }

    public func batchCost(_ settings: RecognitionSettings?) -> RecognizerBatchCost {
        let cost: WhisperBatchCost
        if let settings {
            cost = model.batchCost(wordTimestamps: settings.wordTimings,
                                   promptLength: model.batchPromptLength(options: options(for: settings)))
        } else {
            cost = model.batchCost(wordTimestamps: true, promptLength: nil)   // any prompt: the whole text context
        }
        return RecognizerBatchCost(features: cost.features, activations: cost.encoderActivations,
                                   activationsPerItem: cost.decoderActivationsPerChunk,
                                   cachePerItem: cost.kvCachePerChunk, outputsPerItem: cost.outputsPerChunk,
                                   alignment: cost.wordAlignment)
    }

    public func recognize(_ chunks: [AudioChunk], settings: RecognitionSettings, times: StageTimes?,
                          checkpoint: (() -> Void)?) throws -> [[TranscriptSegment]] {
        try model.transcribeBatch(chunks, language: settings.language ?? "en", options: options(for: settings), times: times,
                                  checkpoint: checkpoint)
    }

    public func tokenize(_ text: String) -> [Int] { model.tokenizer.encode(text) }

    /// The base options refined by a batch's settings.
    public func options(for settings: RecognitionSettings) -> WhisperDecodingOptions {
        var options = decoding
        options.language = settings.language
        options.task = settings.translate ? .translate : .transcribe
        if let prompt = settings.prompt { options.initialPrompt = prompt }
        options.wordTimestamps = settings.wordTimings
        options.wordProbabilities = settings.wordProbabilities
        return options
    }
}
