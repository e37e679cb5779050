import EarshotFunASR

extension Diarizer {
    /// The speaker stage that works with real weights out of the box: FSMN-VAD regions, resemblyzer 0.1.4's
    /// d-vector per 1.6-s window, and the default clustering for it (``defaultClustering()``).
    /// - Throws: `CheckpointError` naming the file when `pretrained.pt` is missing or not resemblyzer's.
    public static func resemblyzer(vad: FSMNVAD, model path: String,
                                   clustering: (any SpeakerClusterer)? = nil) throws -> Diarizer {
        Diarizer(vad: vad, embedder: try ResemblyzerEncoder(path: path), clustering: clustering ?? defaultClustering())
    }

    /// The clustering used for resemblyzer d-vectors unless another is given.
    public static func defaultClustering() -> any SpeakerClusterer {
        AverageLinkageClustering()
    }
}
