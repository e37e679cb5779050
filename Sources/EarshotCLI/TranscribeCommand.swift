import ArgumentParser
import Foundation
import EarshotAudio
import EarshotFunASR
import EarshotMemory
import EarshotPipeline
import EarshotSpeaker
import EarshotTensor
import EarshotWhisper

/// `earshot transcribe`: audio files in, transcripts out.
struct TranscribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcribe",
        abstract: "Transcribe (or translate) audio files with a Whisper model.",
        discussion: """
            Reads WAV directly (any PCM/float format, rate and channel count) and other containers \
            (mp3, flac, ogg, m4a, opus, …) through ffmpeg. Without --output-dir the transcript goes to \
            standard output; with it, one file per input is written atomically (never half-written).

            By default the audio is streamed through FSMN-VAD; the speech (each segment padded by \
            --speech-pad-s) is packed into ≤ 30-s windows that are transcribed in batches (FunASR's \
            batch_size_s / batch_size_threshold_s), each window cut back into one segment per utterance on \
            the recording's timeline, in memory that does not grow with the recording's length and never \
            crosses --memory-limit. --sequential instead runs faster-whisper's \
            long-form algorithm (30-s windows with seeking, previous text as prompt, beam search, \
            temperature fallback) over the whole file held in memory.

            --manifest FILE|DIR|- runs a whole corpus in one process on one shared engine: outputs mirror \
            the input tree under --output-dir, a journal there makes reruns skip finished files, --shard I/N \
            takes a duration-balanced share, --output-format jsonl writes teacher labels (docs/corpus.md).
            """)

    @Argument(help: "Audio files to transcribe (or none, with --manifest).")
    var audio: [String] = []

    @OptionGroup(title: "Corpus (many files)") var corpus: CorpusArguments

    @OptionGroup var pipeline: PipelineArguments

    @Option(help: "Output format: txt, srt, vtt, json or verbose_json.")
    var outputFormat: String = "txt"

    @Option(help: "Write one file per input here instead of printing to standard output.")
    var outputDir: String?

    @Option(help: "Beam width (--sequential only; default 5 there, as faster-whisper). Batched mode is greedy.")
    var beamSize: Int?

    @Flag(help: "Run faster-whisper's sequential long-form algorithm over the whole file instead of the batched pipeline.")
    var sequential = false

    @Option(help: "Temperatures for --sequential's fallback, comma-separated (default 0,0.2,0.4,0.6,0.8,1.0, faster-whisper's); 0 alone disables the fallback. The batched pipeline decodes at 0 only.")
    var temperature: String?

    @Flag(help: "Print per-stage memory, batch sizes and peak RSS to standard error.")
    var memoryReport = false

    @Flag(help: "Print wall and CPU time per stage (read, VAD, log-mel, encoder, decoder, output) and the encoder's and decoder's GFLOP/s to standard error.")
    var profile = false

    @Flag(inversion: .prefixedNo, help: "Show a progress bar on standard error (default: only when it is a terminal).")
    var progress: Bool?

    @Option(help: "Spoken language code (e.g. en, zh); detected when omitted (multilingual models).")
    var language: String?

    @Option(help: "transcribe or translate (into English; multilingual models only).")
    var task: String = "transcribe"

    @Option(help: "Text to condition the first window on.")
    var initialPrompt: String?

    @Flag(help: "Decode without timestamp tokens.")
    var withoutTimestamps = false

    @Flag(help: "Word start/end times (cross-attention alignment, as faster-whisper's word_timestamps=True), in json and verbose_json.")
    var wordTimestamps = false

    @Flag(help: "Label each segment with its speaker (FSMN-VAD + resemblyzer d-vectors + clustering, as `earshot diarize`): `speaker` in json/verbose_json, a `spkN: ` prefix in txt/srt/vtt.")
    var diarize = false

    @OptionGroup(title: "Speakers (with --diarize)") var speakers: SpeakerArguments

    func validate() throws {
        if corpus.manifest != nil {
            if pipeline.punc != nil { throw ValidationError("--punc runs in the single-recording pipeline; corpus jobs (--manifest) do not punctuate yet") }
            if diarize { throw ValidationError("--diarize labels one file's segments; corpus runs (--manifest) do not diarize") }
            return try validateCorpus()
        }
        guard !audio.isEmpty else { throw ValidationError("give at least one audio file (or --manifest FILE|DIR|-)") }
        try corpus.refuseWithoutManifest()
        guard TranscriptFormat(rawValue: outputFormat) != nil else {
            throw ValidationError("unknown --output-format '\(outputFormat)'; use one of: \(TranscriptFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let beamSize {
            guard beamSize >= 1 else { throw ValidationError("--beam-size must be at least 1") }
            guard sequential || beamSize == 1 else {
                throw ValidationError("beam search runs in --sequential mode; the batched pipeline decodes greedily (--beam-size 1)")
            }
        }
        guard !temperatures.isEmpty, temperatures.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
            throw ValidationError("--temperature takes comma-separated values between 0 and 1, e.g. 0 or 0,0.2,0.4")
        }
        if !sequential, temperatures != [0] {
            throw ValidationError("the batched pipeline decodes greedily at temperature 0 (as faster-whisper's BatchedInferencePipeline); --temperature \(temperature ?? "") needs --sequential, or drop it")
        }
        if sequential {
            // Flags that only the bounded pipeline honours are refused rather than silently ignored.
            let pipelineOnly: [(String, Bool)] = [
                ("--memory-limit", pipeline.memoryLimit != nil), ("--memory-report", memoryReport),
                ("--max-batch-size", pipeline.maxBatchSize != nil), ("--batch-size-s", pipeline.batchSizeS != nil),
                ("--batch-size-threshold-s", pipeline.batchSizeThresholdS != nil || pipeline.batchSizeTokenThresholdS != nil),
                ("--strict-batch-cap", pipeline.strictBatchCap), ("--vad", pipeline.vad != nil),
                ("--speech-pad-s", pipeline.speechPadS != nil), ("--punc", pipeline.punc != nil),
            ]
            if let flag = pipelineOnly.first(where: \.1)?.0 {
                throw ValidationError("\(flag) applies to the batched pipeline; --sequential holds the whole recording in memory and plans nothing. Drop \(flag) or --sequential")
            }
        }
        guard WhisperTask(rawValue: task) != nil else { throw ValidationError("--task must be transcribe or translate") }
    }

    func run() throws {
        if corpus.manifest != nil { return try runCorpus() }
        let format = TranscriptFormat(rawValue: outputFormat)!
        var options = WhisperDecodingOptions()
        options.beamSize = beamSize ?? (sequential ? 5 : 1)
        options.language = language
        options.task = WhisperTask(rawValue: task)!
        options.initialPrompt = initialPrompt
        options.withoutTimestamps = withoutTimestamps
        options.wordTimestamps = sequential && wordTimestamps
        options.temperatures = temperatures
        // The speaker stage loads only when asked for, before the pipeline measures its resident baseline (so
        // the plan for --memory-limit includes its weights); its batches and embeddings go in the pipeline's ledger.
        let diarizer = try diarize ? speakers.loadDiarizer(vad: FSMNVAD(
            directory: pipeline.vadModel ?? ModelLocations.cache + "/models/fsmn-vad")) : nil
        let whisper: WhisperModel?
        let batched: StreamingTranscriber?
        try ModelLocations.requireModel(pipeline.modelDirectory, flag: "--model")
        if sequential {
            Kernels.threadCount = pipeline.threads
            guard try ModelDirectory.detect(pipeline.modelDirectory) == .whisper else {
                throw CLIError("--sequential runs faster-whisper's long-form algorithm and needs a Whisper model; \(pipeline.modelDirectory) is not one")
            }
            whisper = try WhisperModel(directory: pipeline.modelDirectory, precision: WeightPrecision(cliName: pipeline.precision)!)
            batched = nil
        } else {
            if pipeline.vadMode == "fsmn" {
                try ModelLocations.requireModel(pipeline.vadModel ?? ModelLocations.cache + "/models/fsmn-vad", flag: "--vad-model")
            }
            let recognizer = try pipeline.loadRecognizer(decoding: options)
            let pipelineOptions = try pipeline.pipelineOptions(decoding: options, language: language, keepWords: wordTimestamps)
            batched = try StreamingTranscriber(recognizer: recognizer, vad: try pipeline.loadVAD(), options: pipelineOptions,
                                               punctuation: try pipeline.loadPunctuation())
            whisper = nil
        }

        if let outputDir {
            try Self.refuseClashingOutputs(audio, format: format)
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: outputDir, isDirectory: &isDirectory) {
                try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
            } else if !isDirectory.boolValue {
                throw CLIError("--output-dir \(outputDir) exists and is not a directory")
            }
        }
        var failures = 0
        for path in audio {
            let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            let sink = TranscriptSink(format: format, task: options.task,
                                      path: outputDir.map { ($0 as NSString).appendingPathComponent("\(base).\(format.fileExtension)") })
            do {
                let turns = try diarizer?.diarize(file: path, options: speakers.options, ledger: batched?.ledger)
                let labelled: (TranscriptSegment) -> TranscriptSegment = { segment in
                    var s = segment
                    s.speaker = turns?.speaker(start: s.start, end: s.end)?.label
                    return s
                }
                if let batched {
                    let progressBar = ProgressBar(label: (path as NSString).lastPathComponent, enabled: progress)
                    let times = StageTimes()
                    let report = try batched.run(path: path, times: times, onProgress: { done, total in
                        if let total { progressBar.update(done, total) }
                    }, onSegment: { segment in
                        try times.measure(.output) { try sink.append(labelled(segment)) }
                    })
                    progressBar.finish()
                    guard report.audioSeconds > 0 else {
                        throw CLIError("\(path): holds no audio samples (a zero-length recording); nothing to transcribe")
                    }
                    try times.measure(.output) {
                        try sink.finish(language: report.language ?? options.language ?? "",
                                        duration: report.audioSeconds)
                    }
                    if memoryReport {
                        var text = MemoryReportText.render(report)
                        if let diarizer, let turns { text += SpeakerReportText.line(diarizer: diarizer, result: turns) }
                        FileHandle.standardError.write(Data(text.utf8))
                    }
                    if profile {
                        FileHandle.standardError.write(Data(ProfileText.render(times, audioSeconds: report.audioSeconds).utf8))
                    }
                } else if let whisper {
                    let samples = try AudioFileReader.readAll(path: path)
                    guard !samples.isEmpty else {
                        throw CLIError("\(path): holds no audio samples (a zero-length recording); nothing to transcribe")
                    }
                    let progress = ProgressBar(label: (path as NSString).lastPathComponent, enabled: self.progress)
                    let transcript = try whisper.transcribe(audio: samples, options: options,
                                                            onProgress: { done, total in progress.update(done, total) })
                    progress.finish()
                    for segment in transcript.segments { try sink.append(labelled(segment)) }
                    try sink.finish(language: transcript.language, duration: transcript.duration)
                }
            } catch {
                sink.abort()
                failures += 1
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// Files whose outputs would land on the same name in --output-dir (`a/x.wav`, `b/x.wav`) are refused
    /// up front rather than the second silently replacing the first.
    static func refuseClashingOutputs(_ paths: [String], format: TranscriptFormat) throws {
        let byName = Dictionary(grouping: paths) { ((($0 as NSString).lastPathComponent as NSString).deletingPathExtension) + "." + format.fileExtension }
        let clashes = byName.filter { Set($0.value).count > 1 }.sorted { $0.key < $1.key }
        guard clashes.isEmpty else {
            let lines = clashes.prefix(20).map { "  \($0.key) ← \(Set($0.value).sorted().joined(separator: ", "))" }.joined(separator: "\n")
            throw CLIError("\(clashes.count) output name(s) in --output-dir would be written by more than one input; nothing was transcribed. Use --manifest DIR (outputs mirror the input tree) or rename:\n\(lines)")
        }
    }

    private var temperatures: [Float] {
        guard let temperature else { return sequential ? [0, 0.2, 0.4, 0.6, 0.8, 1.0] : [0] }
        let values = temperature.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        return values.contains(nil) ? [] : values.compactMap { $0 }
    }
}
