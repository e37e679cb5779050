import EarshotFunASR

extension Diarizer {
    /// The speaker stage that works with real weights out of the box: FSMN-VAD regions, resemblyzer 0.1.4's
    /// d-vector per 1.6-s window, and the default clustering for it (``defaultClustering()``).
    /// - Throws: `CheckpointError` naming the file when `pretrained.pt` is missing or not resemblyzer's.
    public static func resemblyzer(vad: FSMNVAD, model path: String,
                                   clustering: (any SpeakerClusterer)? = nil) throws -> Diarizer {
        Diarizer(vad: vad, embedder: try ResemblyzerEncoder(path: path), clustering: clustering ?? defaultClustering())
    }

    /// The clustering used for resemblyzer d-vectors unless another is given: FunASR's back end
    /// (``SpeakerClustering``) with the centroid merge threshold at 0.87 instead of FunASR's 0.78 (chosen for
    /// CAM++): resemblyzer's d-vectors are non-negative, so every cosine is high, and at 0.78 the two callers of
    /// pyannote's call merge into one (bench/diarization_funasr_backend.py, docs/diarization.md).
    public static func defaultClustering() -> any SpeakerClusterer {
        SpeakerClustering(mergeThreshold: resemblyzerMergeThreshold)
    }

    /// `merge_thr` for resemblyzer d-vectors.
    public static let resemblyzerMergeThreshold = 0.87
}
