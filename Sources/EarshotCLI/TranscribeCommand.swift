import ArgumentParser
import Foundation
import EarshotAudio
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
            """)

    @Argument(help: "Audio files to transcribe.")
    var audio: [String]

    @Option(help: "Whisper model directory (CTranslate2 format). Default: the cached tiny.en.")
    var model: String?

    @Option(help: "Output format: txt, srt, vtt, json or verbose_json.")
    var outputFormat: String = "txt"

    @Option(help: "Write one file per input here instead of printing to standard output.")
    var outputDir: String?

    @Option(help: "Beam width; 1 is greedy decoding.")
    var beamSize: Int = 5

    @Option(help: "Worker threads for the kernels.")
    var threads: Int = 2

    @Option(help: "Spoken language code (e.g. en, zh); detected when omitted (multilingual models).")
    var language: String?

    @Option(help: "transcribe or translate (into English; multilingual models only).")
    var task: String = "transcribe"

    @Option(help: "Weight precision in memory: fp32, fp16 (fp32 accumulation), int8 (quantized per output row), or stored (as the checkpoint holds them).")
    var precision: String = "fp32"

    @Option(help: "Text to condition the first window on.")
    var initialPrompt: String?

    @Flag(help: "Decode without timestamp tokens.")
    var withoutTimestamps = false

    func validate() throws {
        guard !audio.isEmpty else { throw ValidationError("give at least one audio file") }
        guard TranscriptFormat(rawValue: outputFormat) != nil else {
            throw ValidationError("unknown --output-format '\(outputFormat)'; use one of: \(TranscriptFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard beamSize >= 1 else { throw ValidationError("--beam-size must be at least 1") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64") }
        guard WhisperTask(rawValue: task) != nil else { throw ValidationError("--task must be transcribe or translate") }
        guard WeightPrecision(cliName: precision) != nil else {
            throw ValidationError("unsupported --precision '\(precision)'; supported: fp32, fp16, int8, stored")
        }
    }

    func run() throws {
        Kernels.threadCount = threads
        let format = TranscriptFormat(rawValue: outputFormat)!
        let modelDirectory = model ?? ModelLocations.defaultWhisperModel
        let whisper = try WhisperModel(directory: modelDirectory, precision: WeightPrecision(cliName: precision)!)
        var options = WhisperDecodingOptions()
        options.beamSize = beamSize
        options.language = language
        options.task = WhisperTask(rawValue: task)!
        options.initialPrompt = initialPrompt
        options.withoutTimestamps = withoutTimestamps

        if let outputDir {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: outputDir, isDirectory: &isDirectory) {
                try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
            } else if !isDirectory.boolValue {
                throw CLIError("--output-dir \(outputDir) exists and is not a directory")
            }
        }

        var failures = 0
        for path in audio {
            do {
                let samples = try AudioFileReader.readAll(path: path)
                guard !samples.isEmpty else {
                    throw CLIError("\(path): holds no audio samples (a zero-length recording); nothing to transcribe")
                }
                let progress = ProgressBar(label: (path as NSString).lastPathComponent)
                let transcript = try whisper.transcribe(audio: samples, options: options,
                                                        onProgress: { done, total in progress.update(done, total) })
                progress.finish()
                let rendered = format.render(transcript, task: options.task)
                if let outputDir {
                    let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                    let target = (outputDir as NSString).appendingPathComponent("\(base).\(format.fileExtension)")
                    try OutputFile.writeAtomically(rendered, to: target)
                } else {
                    try OutputFile.writeToStandardOutput(rendered)
                }
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
