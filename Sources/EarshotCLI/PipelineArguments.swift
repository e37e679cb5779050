import ArgumentParser
import Foundation
import EarshotFunASR
import EarshotMemory
import EarshotPipeline
import EarshotSpeech
import EarshotTensor
import EarshotWhisper

/// The options that say what the batched pipeline runs — model, precision, VAD, batching, memory — shared by
/// `transcribe`, `tune` and `serve`, so that each runs exactly the same pipeline for the same flags.
struct PipelineArguments: ParsableArguments {
    @Option(help: "Model directory: CTranslate2 Whisper (config.json + model.bin) or FunASR (config.yaml + model.pt + am.mvn + tokens.json). Default: the cached tiny.en.")
    var model: String?

    @Option(help: "Weight precision in memory: int8 (default; CTranslate2's int8 rules, as faster-whisper compute_type=int8), fp32 (token-for-token equal to faster-whisper float32), fp16 (fp32 accumulation), or stored (as the checkpoint holds them).")
    var precision: String = "int8"

    @Option(help: "Voice activity detection for the batched pipeline: fsmn (FunASR FSMN-VAD) or none (fixed windows).")
    var vad: String?

    @Option(help: "FSMN-VAD model directory. Default: the cached fsmn-vad.")
    var vadModel: String?

    @Option(help: "VAD cuts speech segments longer than this many seconds (at most 30).")
    var maxSingleSegmentS: Double = 30

    @Option(help: "FunASR batch_size_s: a batch grows while longest chunk × count stays within this many seconds.")
    var batchSizeS: Double?

    @Option(help: "FunASR batch_size_threshold_s: chunks at least this long run alone.")
    var batchSizeThresholdS: Double?

    @Option(help: ArgumentHelp("Older name of --batch-size-threshold-s.", visibility: .hidden))
    var batchSizeTokenThresholdS: Double?

    @Option(help: "At most this many chunks per batch (the memory limit may lower it further).")
    var maxBatchSize: Int?

    @Flag(help: "Never let a batch overshoot --batch-size-s (FunASR's Python AutoModel lets one chunk overshoot).")
    var strictBatchCap = false

    @Option(help: "Hard limit on the process's peak resident memory, e.g. 300MB, 1.5GiB, 512MiB or bytes.")
    var memoryLimit: String?

    @Option(help: "Seconds of audio kept on each side of every VAD speech segment before speech is packed into windows.")
    var speechPadS: Double?

    @Option(help: "Hotwords for a SeacoParaformer model, e.g. \"阿里巴巴 达摩院\" (FunASR's weighted form \"阿里巴巴 20 …\" is accepted; weights are ignored, as FunASR's SeACo ignores them).")
    var hotwords: String?

    @Option(help: "Punctuation after recognition: a FunASR CT-Transformer directory (config.yaml with model: CTTransformer, model.pt, tokens.json), run once per recording on the joined text; segments become FunASR's sentences. Off unless given (Whisper punctuates by itself).")
    var punc: String?

    @Option(help: "Worker threads for the kernels.")
    var threads: Int = 2

    var vadMode: String { vad ?? "fsmn" }
    var modelDirectory: String { model ?? ModelLocations.defaultWhisperModel }

    func validate() throws {
        guard ["fsmn", "none"].contains(vadMode) else { throw ValidationError("--vad must be fsmn or none") }
        if let speechPadS, !(0...2).contains(speechPadS) {
            throw ValidationError("--speech-pad-s must be between 0 and 2 seconds")
        }
        guard maxSingleSegmentS > 0 else { throw ValidationError("--max-single-segment-s must be positive") }
        guard (batchSizeS ?? 1) > 0 else { throw ValidationError("--batch-size-s must be positive") }
        guard (maxBatchSize ?? 1) >= 1 else { throw ValidationError("--max-batch-size must be at least 1") }
        if let memoryLimit {
            do { _ = try ByteCount(parsing: memoryLimit) } catch { throw ValidationError("--memory-limit: \(error)") }
        }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64") }
        guard WeightPrecision(cliName: precision) != nil else {
            throw ValidationError("unsupported --precision '\(precision)'; supported: fp32, fp16, int8, stored")
        }
    }

    /// Pipeline options from the flags; `decoding` and `keepWords` come from the command.
    func pipelineOptions(decoding: WhisperDecodingOptions, language: String?, keepWords: Bool = false) throws -> PipelineOptions {
        var options = PipelineOptions()
        options.maxSingleSegmentSeconds = maxSingleSegmentS
        options.batchSizeSeconds = batchSizeS ?? options.batchSizeSeconds
        options.batchSizeThresholdSeconds = batchSizeThresholdS ?? batchSizeTokenThresholdS ?? 60
        options.strictCap = strictBatchCap
        options.maxBatchSize = maxBatchSize ?? options.maxBatchSize
        if maxBatchSize != nil { options.batchBytes = nil }   // an explicit batch size is taken as given
        options.memoryLimit = try memoryLimit.map { try ByteCount(parsing: $0) }
        options.language = language
        options.keepWords = keepWords
        if let speechPadS { options.speechPadSeconds = speechPadS }
        options.hotwords = hotwords
        options.decoding = PipelineOptions.windowDecoding(decoding)
        return options
    }

    /// The model directory's recognizer (checked to exist first, with a hint when it is missing).
    func loadRecognizer(decoding: WhisperDecodingOptions) throws -> any SpeechRecognizer {
        Kernels.threadCount = threads
        try ModelLocations.requireModel(modelDirectory, flag: "--model")
        return try ModelDirectory.load(modelDirectory, precision: WeightPrecision(cliName: precision)!, decoding: decoding)
    }

    /// The `--punc` model (at `--precision`), or nil without the flag: its weights load only when asked.
    func loadPunctuation() throws -> (any PunctuationModel)? {
        guard let punc else { return nil }
        return try ModelDirectory.loadPunctuation(punc, precision: WeightPrecision(cliName: precision)!)
    }

    /// FSMN-VAD, unless `--vad none`.
    func loadVAD() throws -> FSMNVAD? {
        guard vadMode == "fsmn" else { return nil }
        let directory = vadModel ?? ModelLocations.cache + "/models/fsmn-vad"
        try ModelLocations.requireModel(directory, flag: "--vad-model")
        return try FSMNVAD(directory: directory)
    }
}
