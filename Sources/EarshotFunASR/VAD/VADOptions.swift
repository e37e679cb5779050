import EarshotCheckpoint

/// FSMN-VAD decision parameters: `model_conf` of config.yaml. Defaults are those of FunASR's
/// `VADXOptions` (`funasr/models/fsmn_vad_streaming/model.py`, same in `funasr_onnx/utils/e2e_vad.py`),
/// which equal the published config.yaml. Times are in ms.
public struct VADOptions: Sendable, Equatable {
    /// Sample rate of the audio (16000).
    public var sampleRate = 16_000
    /// 0 = single utterance (stop after the first end point), 1 = multiple utterances (FSMN-VAD's 1).
    public var detectMode = 1
    /// Unused by FunASR's decision code; kept for completeness.
    public var snrMode = 0
    /// Silence after speech that ends a segment (800 ms; FunASR subtracts `speechToSilTime` from it).
    public var maxEndSilenceTime = 800
    /// In single-utterance mode: silence before any speech after which detection gives up (3000 ms).
    public var maxStartSilenceTime = 3000
    /// Kept for completeness (FunASR reads but never branches on it).
    public var doStartPointDetection = true
    /// Kept for completeness (FunASR reads but never branches on it).
    public var doEndPointDetection = true
    /// Length of the smoothing window over frame decisions (200 ms → 20 frames).
    public var windowSizeMs = 200
    /// Speech frames in the window that switch silence → speech (150 ms → 15 frames).
    public var silToSpeechTime = 150
    /// Speech frames in the window at or below which speech → silence (150 ms → 15 frames).
    public var speechToSilTime = 150
    /// Exponent on P(silence) in the frame decision (1.0).
    public var speech2NoiseRatio = 1.0
    /// Non-zero: extend segments by the look-back/look-ahead times below (1).
    public var doExtend = 1
    /// How far before the detection point a segment starts (200 ms, plus the window).
    public var lookbackTimeStartPoint = 200
    /// Silence kept after speech before an end point (100 ms).
    public var lookaheadTimeEndPoint = 100
    /// Longest segment; longer speech is cut (60000 ms).
    public var maxSingleSegmentTime = 60_000
    /// Minimum SNR (dB) of a speech frame (−100: off).
    public var snrThres = -100.0
    /// Averaging length of the noise level used for SNR (100 frames).
    public var noiseFrameNumUsedForSnr = 100
    /// Minimum frame level (dB) of a speech frame (−100: off).
    public var decibelThres = -100.0
    /// A frame is speech when `(1 − p)` ≥ `p^ratio + speechNoiseThres`, p = P(silence) (0.6).
    public var speechNoiseThres = 0.6
    /// Prior threshold; frames are speech only while it is below 1 (1e-4).
    public var fePriorThres = 1e-4
    /// Number of silence classes; must equal `silPdfIds.count` (1).
    public var silencePdfNum = 1
    /// Encoder classes that mean silence ([0]).
    public var silPdfIds = [0]
    /// Unused by FunASR's decision code.
    public var speechNoiseThreshLow = -0.1
    /// Unused by FunASR's decision code.
    public var speechNoiseThreshHigh = 0.3
    /// FunASR can record per-frame probabilities; Earshot does not (accepted and ignored).
    public var outputFrameProbs = false
    /// Frame shift (10 ms).
    public var frameInMs = 10
    /// Frame length used for the frame level (25 ms).
    public var frameLengthMs = 25

    /// FunASR's defaults.
    public init() {}

    /// Reads `model_conf` from a parsed config.yaml; missing keys keep FunASR's defaults.
    /// - Throws: `FunASRError.invalidConfiguration` naming the file and key.
    public init(config: YAMLConfig) throws(FunASRError) {
        let k = "model_conf."
        do {
            sampleRate = try config.int(k + "sample_rate", default: sampleRate)
            detectMode = try config.int(k + "detect_mode", default: detectMode)
            snrMode = try config.int(k + "snr_mode", default: snrMode)
            maxEndSilenceTime = try config.int(k + "max_end_silence_time", default: maxEndSilenceTime)
            maxStartSilenceTime = try config.int(k + "max_start_silence_time", default: maxStartSilenceTime)
            doStartPointDetection = try config.bool(k + "do_start_point_detection", default: doStartPointDetection)
            doEndPointDetection = try config.bool(k + "do_end_point_detection", default: doEndPointDetection)
            windowSizeMs = try config.int(k + "window_size_ms", default: windowSizeMs)
            silToSpeechTime = try config.int(k + "sil_to_speech_time_thres", default: silToSpeechTime)
            speechToSilTime = try config.int(k + "speech_to_sil_time_thres", default: speechToSilTime)
            speech2NoiseRatio = try config.double(k + "speech_2_noise_ratio", default: speech2NoiseRatio)
            doExtend = try config.int(k + "do_extend", default: doExtend)
            lookbackTimeStartPoint = try config.int(k + "lookback_time_start_point", default: lookbackTimeStartPoint)
            lookaheadTimeEndPoint = try config.int(k + "lookahead_time_end_point", default: lookaheadTimeEndPoint)
            maxSingleSegmentTime = try config.int(k + "max_single_segment_time", default: maxSingleSegmentTime)
            snrThres = try config.double(k + "snr_thres", default: snrThres)
            noiseFrameNumUsedForSnr = try config.int(k + "noise_frame_num_used_for_snr", default: noiseFrameNumUsedForSnr)
            decibelThres = try config.double(k + "decibel_thres", default: decibelThres)
            speechNoiseThres = try config.double(k + "speech_noise_thres", default: speechNoiseThres)
            fePriorThres = try config.double(k + "fe_prior_thres", default: fePriorThres)
            silencePdfNum = try config.int(k + "silence_pdf_num", default: silencePdfNum)
            silPdfIds = try config.ints(k + "sil_pdf_ids", default: silPdfIds)
            speechNoiseThreshLow = try config.double(k + "speech_noise_thresh_low", default: speechNoiseThreshLow)
            speechNoiseThreshHigh = try config.double(k + "speech_noise_thresh_high", default: speechNoiseThreshHigh)
            outputFrameProbs = try config.bool(k + "output_frame_probs", default: outputFrameProbs)
            frameInMs = try config.int(k + "frame_in_ms", default: frameInMs)
            frameLengthMs = try config.int(k + "frame_length_ms", default: frameLengthMs)
        } catch {
            throw FunASRError(error)
        }
        try validate(path: config.path)
    }

    /// Checks values that would make the detector meaningless or crash FunASR.
    /// - Throws: `FunASRError.invalidConfiguration` naming the parameter.
    public func validate(path: String = "VAD options") throws(FunASRError) {
        func bad(_ key: String, _ why: String) -> FunASRError {
            FunASRError(.invalidConfiguration, "\(path): model_conf.\(key) \(why)")
        }
        guard frameInMs > 0 else { throw bad("frame_in_ms", "must be positive") }
        guard windowSizeMs >= frameInMs else { throw bad("window_size_ms", "must be at least one frame (\(frameInMs) ms)") }
        guard detectMode == 0 || detectMode == 1 else { throw bad("detect_mode", "must be 0 or 1") }
        guard silPdfIds.count == silencePdfNum, !silPdfIds.isEmpty else {
            throw bad("sil_pdf_ids", "must list silence_pdf_num (\(silencePdfNum)) class ids")
        }
        guard maxSingleSegmentTime > 0 else { throw bad("max_single_segment_time", "must be positive") }
        guard noiseFrameNumUsedForSnr > 0 else { throw bad("noise_frame_num_used_for_snr", "must be positive") }
        guard sampleRate > 0, frameLengthMs > 0 else { throw bad("sample_rate", "and frame_length_ms must be positive") }
    }
}
