import ArgumentParser
import EarshotFunASR
import EarshotTensor
import Foundation

/// `earshot vad`: FunASR's FSMN-VAD speech segments of an audio file, streamed in constant memory.
struct VADCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vad",
        abstract: "Find speech segments with FunASR's FSMN-VAD (same segments as FunASR's ONNX runtime).",
        discussion: """
            Decodes the audio ten seconds at a time and prints each segment as soon as it is decided, so \
            memory does not depend on the recording's length. json prints FunASR's result shape, a list of \
            [start_ms, end_ms] pairs; rttm prints one SPEAKER line per segment (speaker "speech"); txt \
            prints "start<TAB>end" in seconds. Empty audio gives no segments. The decision rule is the \
            classic fixed end silence of FunASR's C++/ONNX runtimes (config.yaml's max_end_silence_time).
            """)

    @Argument(help: "Audio file (WAV, or any format ffmpeg decodes).")
    var audio: String

    @Option(help: "FSMN-VAD model directory (config.yaml, am.mvn, model.pt). Default: the cached fsmn-vad.")
    var model: String?

    @Option(help: "Output format: json, rttm or txt.")
    var format: String = "json"

    @Option(name: .customLong("max-end-silence-time"), help: "Override model_conf.max_end_silence_time (ms of silence that end a segment).")
    var maxEndSilenceTime: Int?

    @Option(name: .customLong("max-single-segment-time"), help: "Override model_conf.max_single_segment_time (ms; longer speech is cut).")
    var maxSingleSegmentTime: Int?

    @Option(name: .customLong("speech-noise-thres"), help: "Override model_conf.speech_noise_thres (a frame is speech when 1-p ≥ p + this, p = P(silence)).")
    var speechNoiseThres: Double?

    @Option(help: "Worker threads for the kernels.")
    var threads: Int = 1

    func validate() throws {
        guard ["json", "rttm", "txt"].contains(format) else {
            throw ValidationError("unknown --format '\(format)'; use json, rttm or txt")
        }
        if let maxEndSilenceTime, maxEndSilenceTime < 0 { throw ValidationError("--max-end-silence-time must be ≥ 0 ms") }
        if let maxSingleSegmentTime, maxSingleSegmentTime <= 0 { throw ValidationError("--max-single-segment-time must be > 0 ms") }
        if let speechNoiseThres, !(speechNoiseThres.isFinite) { throw ValidationError("--speech-noise-thres must be a number") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64") }
    }

    func run() throws {
        Kernels.threadCount = threads
        let directory = model ?? ModelLocations.cache + "/models/fsmn-vad"
        let vad = try FSMNVAD(directory: directory)
        var options = vad.options
        if let maxEndSilenceTime { options.maxEndSilenceTime = maxEndSilenceTime }
        if let maxSingleSegmentTime { options.maxSingleSegmentTime = maxSingleSegmentTime }
        if let speechNoiseThres { options.speechNoiseThres = speechNoiseThres }

        let fileID = ((audio as NSString).lastPathComponent as NSString).deletingPathExtension
        var count = 0
        var failure: (any Error)?
        if format == "json" { try OutputFile.writeToStandardOutput("[") }
        try vad.detect(file: audio, options: options) { event in
            guard case .end(let s) = event, failure == nil else { return }
            let line: String
            switch format {
            case "json": line = (count == 0 ? "" : ",") + "[\(s.startMs),\(s.endMs)]"
            case "rttm": line = "SPEAKER \(fileID) 1 \(Self.seconds(s.startMs)) \(Self.seconds(s.endMs - s.startMs)) <NA> <NA> speech <NA> <NA>\n"
            default: line = "\(Self.seconds(s.startMs))\t\(Self.seconds(s.endMs))\n"
            }
            count += 1
            do { try OutputFile.writeToStandardOutput(line) } catch { failure = error }
        }
        if let failure { throw failure }
        if format == "json" { try OutputFile.writeToStandardOutput("]\n") }
    }

    /// Milliseconds as seconds with three decimals.
    static func seconds(_ ms: Int) -> String {
        let sign = ms < 0 ? "-" : ""
        let a = abs(ms)
        let frac = String(a % 1000)
        return "\(sign)\(a / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
    }
}
