/// FunASR's `ts_prediction_lfr6_standard` (`funasr/utils/timestamp_tools.py`): token times from the fire
/// positions of a CIF (BiCif's upsampled one, 3 per 60-ms LFR frame, or plain Paraformer's, 1 per frame).
public enum ParaformerTimestamps {
    /// Per token (`<sil>` pieces left out), `[start, end]` in seconds as FunASR computes them before its
    /// `int(t·1000)`, including the `vadOffsetMs` FunASR adds in seconds. `alphas` and `peaks` are the
    /// arrays FunASR passes, in the order it passes them (see ``ParaformerModel`` for plain Paraformer's swap).
    /// Empty when `tokens` is empty or nothing fires.
    public static func predict(alphas: [Float], peaks: [Float], tokens: [String], vadOffsetMs: Int = 0,
                               upsampleRate: Int = 3) -> [[Double]] {
        var chars = tokens
        guard !chars.isEmpty else { return [] }
        let startEndThreshold = 5.0, maxTokenDuration = 12.0, forceTimeShift = -1.5
        let timeRate = 10.0 * 6 / 1000 / Double(upsampleRate)
        if chars.last == "</s>" { chars.removeLast() }
        let threshold = Float(1.0 - 1e-4)
        var firePlace = peaks.indices.filter { peaks[$0] >= threshold }.map { Double($0) + forceTimeShift }
        var numFrames = peaks.count
        if firePlace.count != chars.count + 1 {
            // alphas /= alphas.sum() / (len + 1); peaks = cif_wo_hidden(alphas, 1 − 1e-4)
            let sum = Float(alphas.reduce(0.0) { $0 + Double($1) })
            let divisor = sum / Float(chars.count + 1)
            let rescaled = alphas.map { $0 / divisor }
            let newPeaks = CIFPredictor.peaksWithoutHidden(rescaled, threshold: threshold)
            firePlace = newPeaks.indices.filter { newPeaks[$0] >= threshold }.map { Double($0) + forceTimeShift }
            numFrames = newPeaks.count
        }
        guard let first = firePlace.first, let last = firePlace.last else { return [] }
        var stamps: [[Double]] = []
        var names: [String] = []
        if first > startEndThreshold {
            stamps.append([0.0, first * timeRate])
            names.append("<sil>")
        }
        for i in 0..<(firePlace.count - 1) {
            // FunASR indexes char_list[i] here; a mismatch it would crash on is treated as the end.
            guard i < chars.count else { break }
            names.append(chars[i])
            if firePlace[i + 1] - firePlace[i] <= maxTokenDuration {
                stamps.append([firePlace[i] * timeRate, firePlace[i + 1] * timeRate])
            } else {
                let split = firePlace[i] + maxTokenDuration
                stamps.append([firePlace[i] * timeRate, split * timeRate])
                stamps.append([split * timeRate, firePlace[i + 1] * timeRate])
                names.append("<sil>")
            }
        }
        if Double(numFrames) - last > startEndThreshold {
            let end = (Double(numFrames) + last) * 0.5
            if !stamps.isEmpty { stamps[stamps.count - 1][1] = end * timeRate }
            stamps.append([end * timeRate, Double(numFrames) * timeRate])
            names.append("<sil>")
        } else if !stamps.isEmpty {
            stamps[stamps.count - 1][1] = Double(numFrames) * timeRate
        }
        if vadOffsetMs != 0 {
            for i in stamps.indices {
                stamps[i][0] += Double(vadOffsetMs) / 1000.0
                stamps[i][1] += Double(vadOffsetMs) / 1000.0
            }
        }
        var out: [[Double]] = []
        for (name, stamp) in zip(names, stamps) where name != "<sil>" { out.append(stamp) }
        return out
    }

    /// FunASR's `int(t·1000)` (truncation toward zero).
    public static func milliseconds(_ seconds: Double) -> Int { Int(seconds * 1000) }
}
