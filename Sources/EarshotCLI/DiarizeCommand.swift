import ArgumentParser
import EarshotFunASR
import EarshotMemory
import EarshotSpeaker
import EarshotTensor
import Foundation

/// The speaker-stage flags shared by `diarize` and `transcribe --diarize`.
struct SpeakerArguments: ParsableArguments {
    @Option(help: "Speaker embedding model: resemblyzer's pretrained.pt (or its directory), or a CAM++ directory as ModelScope ships it (config.yaml naming CAMPPlus, campplus_cn_common.bin). Default: the cached resemblyzer.")
    var speakerModel: String?

    @Option(help: "Number of speakers, when known (default: decided by the clustering).")
    var numSpeakers: Int?

    @Option(help: ArgumentHelp("Centroid cosine at which FunASR's back end merges two speakers (merge_thr; default 0.87 for resemblyzer, FunASR's 0.78 for CAM++).", visibility: .hidden))
    var mergeThreshold: Double?

    @Option(help: ArgumentHelp("Also write every window's embedding as JSON lines {start, end, label-free vector} to this file.", visibility: .hidden))
    var dumpEmbeddings: String?

    func validate() throws {
        if let numSpeakers, numSpeakers < 1 { throw ValidationError("--num-speakers must be at least 1") }
        if let mergeThreshold, !(mergeThreshold > 0 && mergeThreshold <= 1) {
            throw ValidationError("--merge-threshold must be in (0, 1]")
        }
    }

    var speakerModelPath: String { speakerModel ?? ModelLocations.cache + "/models/resemblyzer/pretrained.pt" }

    /// Loads the embedder (only when a speaker stage is asked for) and builds the diarizer over `vad`:
    /// CAM++ with FunASR's clustering when the model is a CAM++ directory, resemblyzer otherwise.
    func loadDiarizer(vad: FSMNVAD) throws -> Diarizer {
        if Diarizer.isCAMPPlusDirectory(speakerModelPath) {
            return try Diarizer.campplus(vad: vad, directory: speakerModelPath,
                                         clustering: mergeThreshold.map { SpeakerClustering(mergeThreshold: $0) })
        }
        guard FileManager.default.fileExists(atPath: speakerModelPath) else {
            throw CLIError("\(speakerModelPath): speaker model not found; run scripts/fetch-assets.sh models (resemblyzer 0.1.4's pretrained.pt) or give --speaker-model")
        }
        return try Diarizer.resemblyzer(vad: vad, model: speakerModelPath,
                                        clustering: mergeThreshold.map { SpeakerClustering(mergeThreshold: $0) })
    }

    var options: DiarizationOptions {
        var o = DiarizationOptions(speakers: numSpeakers)
        o.keepEmbeddings = dumpEmbeddings != nil
        return o
    }
}

/// `earshot diarize`: who spoke when.
struct DiarizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diarize",
        abstract: "Who spoke when: FSMN-VAD speech regions, speaker embeddings over sliding windows, clustering.",
        discussion: """
            Streams the audio through FSMN-VAD; every speech region is cut into the embedder's windows \
            (resemblyzer: 1.6 s every 0.8 s, as FunASR's sv_chunk cuts CAM++'s 1.5-s windows), each window \
            gets a d-vector, all windows are clustered (--num-speakers N, or automatic) and adjacent windows \
            of one speaker become turns (FunASR's postprocess rules). rttm prints NIST RTTM (speakers spk0, \
            spk1, …); json prints {"speakers", "turns": [{"start", "end", "speaker"}], "speech"}.
            """)

    @Argument(help: "Audio file (WAV, or any format ffmpeg decodes).")
    var audio: String

    @Option(help: "FSMN-VAD model directory. Default: the cached fsmn-vad.")
    var vad: String?

    @OptionGroup(title: "Speakers") var speakers: SpeakerArguments

    @Option(help: "Output format: rttm or json.")
    var format: String = "rttm"

    @Option(help: "Hard limit on the memory the run reserves (weights, held audio, embedding batches and matrix), e.g. 200MB.")
    var memoryLimit: String?

    @Flag(help: "Print per-stage memory to standard error.")
    var memoryReport = false

    @Option(help: "Worker threads for the kernels.")
    var threads: Int = 2

    func validate() throws {
        guard ["rttm", "json"].contains(format) else { throw ValidationError("unknown --format '\(format)'; use rttm or json") }
        if let memoryLimit {
            do { _ = try ByteCount(parsing: memoryLimit) } catch { throw ValidationError("--memory-limit: \(error)") }
        }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64") }
    }

    func run() throws {
        Kernels.threadCount = threads
        let directory = vad ?? ModelLocations.cache + "/models/fsmn-vad"
        try ModelLocations.requireModel(directory, flag: "--vad")
        let vadModel = try FSMNVAD(directory: directory)
        let diarizer = try speakers.loadDiarizer(vad: vadModel)
        let ledger = MemoryLedger(limit: try memoryLimit.map { try ByteCount(parsing: $0) })
        let vadBytes = (try? FileManager.default.attributesOfItem(atPath: directory + "/model.pt"))?[.size] as? Int ?? 0
        let weights = [try ledger.reserve(ByteCount(vadBytes), category: .weights, label: "FSMN-VAD"),
                       try ledger.reserve(ByteCount(diarizer.embedder.weightBytes), category: .weights,
                                          label: "speaker embedder")]
        let result = try diarizer.diarize(file: audio, options: speakers.options, ledger: ledger)
        if let dump = speakers.dumpEmbeddings {
            let lines = result.embeddings.map { e in
                "{\"start\":\(e.start),\"end\":\(e.end),\"vector\":[\(e.vector.map { "\($0)" }.joined(separator: ","))]}\n"
            }.joined()
            try lines.write(toFile: dump, atomically: true, encoding: .utf8)
        }
        let fileID = ((audio as NSString).lastPathComponent as NSString).deletingPathExtension
        try OutputFile.writeToStandardOutput(format == "json" ? result.json() : result.rttm(fileID: fileID))
        if memoryReport {
            var text = MemoryReport(ledger: ledger).render(format: .text)
            text += SpeakerReportText.line(diarizer: diarizer, result: result)
            FileHandle.standardError.write(Data(text.utf8))
        }
        withExtendedLifetime(weights) {}
    }
}

/// The memory report's speaker line.
enum SpeakerReportText {
    static func line(diarizer: Diarizer, result: DiarizationResult) -> String {
        String(format: "speaker: %@ weights %@, %d windows of %.1f s, %d speakers in %.1f s of audio\n",
               diarizer.embedder.name, "\(ByteCount(diarizer.embedder.weightBytes))", result.windows,
               Double(diarizer.embedder.windowSamples) / 16000, result.speakers, result.audioSeconds)
    }
}
