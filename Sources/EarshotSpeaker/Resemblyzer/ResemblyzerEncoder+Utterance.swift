import EarshotAudio
import Foundation

/// resemblyzer's utterance-level path: `preprocess_wav` (volume normalisation and `trim_long_silences`) and
/// `VoiceEncoder.embed_utterance` (partials at `rate` per second, the last kept when it covers at least
/// `min_coverage`, mel of the whole zero-padded utterance sliced per partial, mean of the partial embeddings,
/// L2-normalised).
///
/// `trim_long_silences` asks webrtcvad (WebRTC's GMM voice detector, mode 3) for a speech flag per 30-ms
/// window; that detector is not reimplemented here. ``trimLongSilences(_:voiceFlags:)`` takes the flags as
/// input and does everything resemblyzer does with them (moving average of width 8, rounding, dilation by
/// 6 windows, cutting); the oracle test feeds it webrtcvad's own flags. In diarization the speech regions
/// come from FSMN-VAD instead and no trimming is done.
extension ResemblyzerEncoder {
    /// hparams.py `vad_window_length` (30 ms), `vad_moving_average_width`, `vad_max_silence_length`.
    public static let vadWindowSamples = 480
    static let vadMovingAverageWidth = 8, vadMaxSilenceLength = 6

    /// resemblyzer `audio.trim_long_silences` given webrtcvad's flag for each 30-ms window of `wav`
    /// (`wav.count / 480` flags): keeps the windows whose smoothed, dilated flag is set.
    /// - Precondition: `voiceFlags.count == wav.count / 480`.
    public static func trimLongSilences(_ wav: [Float], voiceFlags: [Bool]) -> [Float] {
        let n = voiceFlags.count, width = vadMovingAverageWidth
        precondition(n == wav.count / vadWindowSamples, "one voice flag per 30-ms window")
        // moving_average: zeros (width−1)/2 before and width/2 after, window sums of `width`, / width, then
        // np.round (half to even: 4/8 → 0).
        let before = (width - 1) / 2
        var smoothed = [Bool](repeating: false, count: n)
        for i in 0 ..< n {
            var count = 0
            for j in i - before ..< i - before + width where j >= 0 && j < n && voiceFlags[j] { count += 1 }
            smoothed[i] = count * 2 > width
        }
        // binary_dilation with np.ones(vad_max_silence_length + 1): any flag within ±3 windows.
        let reach = (vadMaxSilenceLength + 1) / 2
        var keep = [Bool](repeating: false, count: n)
        for i in 0 ..< n where smoothed[i] {
            for j in max(0, i - reach) ... min(n - 1, i + reach) { keep[j] = true }
        }
        var out: [Float] = []
        out.reserveCapacity(wav.count)
        for i in 0 ..< n where keep[i] {
            out.append(contentsOf: wav[i * vadWindowSamples ..< (i + 1) * vadWindowSamples])
        }
        return out
    }

    /// resemblyzer `preprocess_wav` for 16-kHz samples: `normalize_volume(-30 dBFS, increase_only)`, then
    /// `trim_long_silences` when webrtcvad's flags are given (otherwise no trimming).
    public static func preprocess(_ wav: [Float], voiceFlags: [Bool]? = nil) -> [Float] {
        let normalized = normalizeVolume(wav)
        guard let voiceFlags else { return normalized }
        return trimLongSilences(normalized, voiceFlags: voiceFlags)
    }

    /// `VoiceEncoder.compute_partial_slices(n_samples, rate, min_coverage)`: the first mel frame of each
    /// partial (its samples start at 160× that).
    public static func partialStarts(samples: Int, rate: Double = 1.3, minCoverage: Double = 0.75) -> [Int] {
        precondition(rate > 0 && minCoverage > 0 && minCoverage <= 1)
        let hop = PowerMelSpectrogram.hopLength
        let frames = Int((Double(samples + 1) / Double(hop)).rounded(.up))
        let frameStep = Int((16000 / rate / Double(hop)).rounded(.toNearestOrEven))
        precondition(frameStep > 0 && frameStep <= partialFrames, "rate out of range")
        let steps = max(1, frames - partialFrames + frameStep + 1)
        var starts = Array(stride(from: 0, to: steps, by: frameStep))
        let last = starts[starts.count - 1] * hop
        let coverage = Double(samples - last) / Double(partialSamples)
        if coverage < minCoverage && starts.count > 1 { starts.removeLast() }
        return starts
    }

    /// `VoiceEncoder.embed_utterance(wav, return_partials=True, rate, min_coverage)` on an already
    /// preprocessed wav: the utterance embedding and the partial embeddings.
    public func embedUtterance(_ wav: [Float], rate: Double = 1.3,
                               minCoverage: Double = 0.75) -> (embedding: [Float], partials: [[Float]]) {
        let starts = Self.partialStarts(samples: wav.count, rate: rate, minCoverage: minCoverage)
        let stop = (starts[starts.count - 1] + Self.partialFrames) * PowerMelSpectrogram.hopLength
        var padded = wav
        if stop >= wav.count { padded.append(contentsOf: repeatElement(0, count: stop - wav.count)) }
        let melAll = PowerMelSpectrogram(bands: Self.melBands).compute(padded)
        let bands = Self.melBands, t = Self.partialFrames
        var mels: [Float] = []
        mels.reserveCapacity(starts.count * t * bands)
        for s in starts { mels.append(contentsOf: melAll[s * bands ..< (s + t) * bands]) }
        let partials = forward(mels: mels, batch: starts.count)
        var mean = [Float](repeating: 0, count: Self.embeddingSize)
        for p in partials { for i in mean.indices { mean[i] += p[i] } }
        for i in mean.indices { mean[i] /= Float(partials.count) }
        let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return (norm > 0 ? mean.map { $0 / norm } : mean, partials)
    }
}
