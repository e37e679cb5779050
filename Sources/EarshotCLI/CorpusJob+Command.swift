import ArgumentParser
import Foundation
import EarshotPipeline
import EarshotWhisper

/// `transcribe`'s flags for running a whole corpus in one process (``CorpusJob``).
struct CorpusArguments: ParsableArguments {
    @Option(help: "Transcribe many files in one process: a text file with one path per line (relative to its folder), - for that list on standard input, or a folder walked recursively. Needs --output-dir; outputs mirror the input tree.")
    var manifest: String?

    @Option(help: "Folder the outputs' tree mirrors (default: the --manifest folder, or the deepest folder holding every listed file).")
    var manifestRoot: String?

    @Option(help: "Take share I of N (0-based, e.g. 2/4) of the manifest, balanced by audio duration; N processes with I = 0…N-1 cover it exactly once.")
    var shard: String?

    @Flag(help: "With --manifest: redo files already recorded as done in the output folder's journal.")
    var overwrite = false

    @Flag(help: "With --manifest: stop at the first file that fails (default: report it and go on).")
    var failFast = false

    @Option(help: "With --manifest: files in flight at once (default: enough to fill two batches, within the memory plan).")
    var jobs: Int?

    @Flag(help: "With --manifest: list this shard's files (relative path, seconds, todo or done) and totals, then stop; no model is loaded.")
    var dryRun = false

    @Option(help: "With --output-format jsonl: drop labels whose window's average token log-probability is below this (e.g. -1.0).")
    var minAvgLogprob: Double?

    @Option(help: "With --output-format jsonl: drop labels whose text's zlib compression ratio is above this (e.g. 2.4: repetition loops).")
    var maxCompressionRatio: Double?

    @Option(help: "With --output-format jsonl: drop labels whose window's no-speech probability is above this (e.g. 0.6).")
    var maxNoSpeechProb: Double?

    @Flag(help: "With --output-format jsonl: cut each kept utterance out as a 16-kHz WAV (one label per utterance, plus an audiofolder metadata.jsonl).")
    var cutAudio = false

    var labelFilter: LabelFilter {
        LabelFilter(minAvgLogProb: minAvgLogprob, maxCompressionRatio: maxCompressionRatio, maxNoSpeechProb: maxNoSpeechProb)
    }

    /// Label flags without `--output-format jsonl` are refused rather than ignored.
    func refuseLabelFlags(format: String) throws {
        guard format != "jsonl" else { return }
        let given: [(String, Bool)] = [("--min-avg-logprob", minAvgLogprob != nil), ("--max-compression-ratio", maxCompressionRatio != nil),
                                       ("--max-no-speech-prob", maxNoSpeechProb != nil), ("--cut-audio", cutAudio)]
        if let flag = given.first(where: \.1)?.0 { throw ValidationError("\(flag) applies to teacher labels: add --output-format jsonl") }
    }

    /// Corpus flags given without `--manifest` are refused rather than ignored.
    func refuseWithoutManifest() throws {
        let given: [(String, Bool)] = [("--manifest-root", manifestRoot != nil), ("--shard", shard != nil),
                                       ("--overwrite", overwrite), ("--fail-fast", failFast), ("--jobs", jobs != nil),
                                       ("--dry-run", dryRun), ("--cut-audio", cutAudio),
                                       ("--min-avg-logprob", minAvgLogprob != nil), ("--max-compression-ratio", maxCompressionRatio != nil),
                                       ("--max-no-speech-prob", maxNoSpeechProb != nil)]
        if let flag = given.first(where: \.1)?.0 { throw ValidationError("\(flag) applies to a corpus run; add --manifest FILE|DIR|-") }
    }
}

extension TranscribeCommand {
    func validateCorpus() throws {
        guard audio.isEmpty else {
            throw ValidationError("give audio files or --manifest, not both (\(audio.count) file argument(s) given with --manifest)")
        }
        guard outputDir != nil else { throw ValidationError("--manifest needs --output-dir: one output per input, mirroring the input tree") }
        guard CorpusOutputFormat(name: outputFormat) != nil else {
            throw ValidationError("unknown --output-format '\(outputFormat)'; use one of: \(TranscriptFormat.allCases.map(\.rawValue).joined(separator: ", ")), jsonl (teacher labels)")
        }
        try corpus.refuseLabelFlags(format: outputFormat)
        let refused: [(String, Bool)] = [("--sequential", sequential), ("--memory-report", memoryReport), ("--profile", profile),
                                         ("--beam-size", (beamSize ?? 1) != 1), ("--temperature", temperature != nil)]
        if let flag = refused.first(where: \.1)?.0 {
            throw ValidationError("\(flag) is not available with --manifest: a corpus runs the batched pipeline on one shared engine (greedy, temperature 0); the summary reports time and peak RSS")
        }
        if let shard = corpus.shard {
            do { _ = try ShardSpec(parsing: shard) } catch { throw ValidationError("\(error)") }
        }
        if let jobs = corpus.jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        guard WhisperTask(rawValue: task) != nil else { throw ValidationError("--task must be transcribe or translate") }
    }

    /// `--manifest`: the whole corpus (or this shard of it) through one engine; the summary on standard error.
    func runCorpus() throws {
        let format = CorpusOutputFormat(name: outputFormat, filter: corpus.labelFilter, cutAudio: corpus.cutAudio)!
        let shard = try corpus.shard.map { try ShardSpec(parsing: $0) }
        // The manifest and its outputs are checked before any model loads.
        let manifest = try CorpusManifest(source: corpus.manifest!, root: corpus.manifestRoot, excluding: outputDir)
        try CorpusJob.checkCollisions(manifest.entries, format: format)
        if corpus.dryRun {
            try OutputFile.writeToStandardOutput(try CorpusJob.plan(manifest: manifest, format: format, shard: shard,
                                                                    outputDirectory: outputDir!, overwrite: corpus.overwrite))
            return
        }
        var options = WhisperDecodingOptions()
        options.beamSize = 1
        options.language = language
        options.task = WhisperTask(rawValue: task)!
        options.initialPrompt = initialPrompt
        options.withoutTimestamps = withoutTimestamps
        options.temperatures = [0]
        try ModelLocations.requireModel(pipeline.modelDirectory, flag: "--model")
        let recognizer = try pipeline.loadRecognizer(decoding: options)
        var engineOptions = EngineOptions()
        engineOptions.pipeline = try pipeline.pipelineOptions(decoding: options, language: language, keepWords: wordTimestamps)
        let engine = try RecognitionEngine(recognizer: recognizer, vad: try pipeline.loadVAD(), options: engineOptions)
        let settings = CorpusSettings(
            outputDirectory: CorpusManifest.absolute(outputDir!, base: FileManager.default.currentDirectoryPath), format: format, task: options.task,
            job: JobOptions(language: language, translate: options.task == .translate, initialPrompt: initialPrompt,
                            wordTimestamps: wordTimestamps),
            overwrite: corpus.overwrite, failFast: corpus.failFast, concurrency: corpus.jobs, progress: progress,
            shard: shard)
        let job = try CorpusJob(engine: engine, manifest: manifest, settings: settings)
        let outcome = job.run()
        FileHandle.standardError.write(Data(CorpusJob.summary(outcome, shard: shard).utf8))
        if !outcome.failures.isEmpty || outcome.notStarted > 0 { throw ExitCode(1) }
    }
}
