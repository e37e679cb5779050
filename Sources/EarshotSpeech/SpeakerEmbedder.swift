/// A speaker-embedding model as the diarizer sees it: fixed-length windows of 16-kHz audio in, one vector per
/// window out, and what a batch of windows costs in memory. FunASR's CAM++ (192-d) and resemblyzer's GE2E
/// d-vector (256-d) each implement it; clustering and diarization know nothing else about them.
public protocol SpeakerEmbedder: AnyObject, Sendable {
    /// Short name for reports (the model directory's or file's name).
    var name: String { get }
    /// Length of the vectors `embed` returns.
    var dimension: Int { get }
    /// Bytes of weights (mapped or owned).
    var weightBytes: Int { get }
    /// The window the model is trained on and the hop between windows over a speech region, in samples at
    /// 16 kHz (CAM++ in FunASR: 1.5 s and 0.75 s; resemblyzer: 1.6 s partials with 50 % overlap).
    var windowSamples: Int { get }
    var hopSamples: Int { get }
    /// Bytes that embedding `windows` windows at once allocates beyond the weights and the audio (features,
    /// activations, outputs): an upper bound the planner sizes batches with.
    func batchBytes(windows: Int) -> Int
    /// One vector per window, in order; windows shorter than `windowSamples` are accepted (the end of a
    /// region). Output does not depend on how windows are grouped into calls.
    func embed(_ windows: [[Float]]) throws -> [[Float]]
}
