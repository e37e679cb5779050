import EarshotFunASR

extension Diarizer {
    /// FunASR's own speaker stage: FSMN-VAD regions, a CAM++ embedding (192-d) per 1.5-s window every 0.75 s
    /// (FunASR's `sv_chunk`), and FunASR's clustering back end with its own `merge_thr` (0.78).
    /// - Throws: `FunASRError` naming the file when the directory is not a CAM++ model.
    public static func campplus(vad: FSMNVAD, directory: String,
                                clustering: (any SpeakerClusterer)? = nil) throws -> Diarizer {
        Diarizer(vad: vad, embedder: try CAMPPlusEmbedder(directory: directory),
                 clustering: clustering ?? SpeakerClustering())
    }

    /// Whether `path` is a CAM++ model directory as ModelScope ships it (its config.yaml names `CAMPPlus`).
    public static func isCAMPPlusDirectory(_ path: String) -> Bool {
        guard let config = try? String(contentsOfFile: path + "/config.yaml", encoding: .utf8) else { return false }
        return config.split(separator: "\n").contains { line in
            let t = line.trimmingCharacters(in: .whitespaces)
            return t.hasPrefix("model:") && t.contains("CAMPPlus")
        }
    }
}
