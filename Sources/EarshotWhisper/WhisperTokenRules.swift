import Foundation
import EarshotTensor

/// Token ids with a fixed role in Whisper decoding, resolved once from the tokenizer.
struct SpecialTokens: Sendable {
    let eot: Int
    let sot: Int
    let sotPrev: Int
    let sotLM: Int
    let noSpeech: Int
    let noTimestamps: Int
    let timestampBegin: Int
    let transcribe: Int
    let translate: Int
    /// Last vocabulary id (the last timestamp, `<|30.00|>`).
    let lastToken: Int
}

/// The logit filters applied before every sampled token, as CTranslate2 4.x applies them for Whisper
/// (`src/models/whisper.cc` `ApplyTimestampRules`, `src/decoding.cc` `SuppressTokens[Begin]`).
struct LogitFilters: Sendable {
    let special: SpecialTokens
    /// Ids suppressed at every step.
    let suppressed: [Int]
    /// Ids suppressed at the first step only (config.json `suppress_ids_begin`: a blank and end-of-text).
    let suppressedAtBegin: [Int]
    /// Whether timestamp tokens are being generated (the prompt does not end with `<|notimestamps|>`).
    let timestamps: Bool
    /// Last timestamp id allowed as the first token (`max_initial_timestamp`).
    let maxInitialTimestamp: Int

    /// Applies the filters in place to one hypothesis' logits (`count` = vocabulary size).
    /// - Parameters:
    ///   - generated: tokens sampled so far after the prompt (step = `generated.count`).
    func apply(to logits: UnsafeMutablePointer<Float>, count: Int, generated: [Int]) {
        let step = generated.count
        for id in suppressed where id < count { logits[id] = -.infinity }
        if step == 0 { for id in suppressedAtBegin where id < count { logits[id] = -.infinity } }
        guard timestamps else { return }

        let tsBegin = special.timestampBegin, tsEnd = min(special.lastToken, count - 1)
        func suppress(_ range: Range<Int>) {
            guard !range.isEmpty else { return }
            (logits + range.lowerBound).update(repeating: -.infinity, count: range.count)
        }
        logits[special.noTimestamps] = -.infinity
        var checkTimestampMass = false
        if step == 0 {
            // The first token is a timestamp, no later than max_initial_timestamp.
            suppress(0..<tsBegin)
            if maxInitialTimestamp + 1 <= tsEnd { suppress((maxInitialTimestamp + 1)..<(tsEnd + 1)) }
        } else {
            let last = generated[step - 1]
            if last >= tsBegin {
                let penultimate = step >= 2 ? generated[step - 2] : last
                if penultimate >= tsBegin {
                    suppress(tsBegin..<(tsEnd + 1))          // after a pair, text must follow
                } else {
                    suppress(0..<special.eot)               // close the pair (or end)
                    suppress(tsBegin..<last)                // not earlier than the opening timestamp
                    checkTimestampMass = true
                }
            } else {
                checkTimestampMass = true
                // Timestamps never decrease: forbid any up to the last one seen.
                if let lastTimestamp = generated.last(where: { $0 >= tsBegin }) {
                    suppress(tsBegin..<(lastTimestamp + 1))
                }
            }
        }
        if checkTimestampMass {
            // If the probability mass of all timestamps beats every single text token, force a timestamp.
            // log P(any timestamp) > log P(best text token), both relative to the same normaliser, which
            // cancels: compare log Σ_timestamps exp(x) with the best text logit (vectorised scans).
            let maxText = tsBegin > 0 ? logits[Kernels.argmax(logits, count: tsBegin)] : -Float.infinity
            let tsCount = tsEnd - tsBegin + 1
            let tsMax = logits[tsBegin + Kernels.argmax(logits + tsBegin, count: tsCount)]
            guard tsMax > -.infinity else { return }
            let tsSum = Kernels.sumExp(logits + tsBegin, count: tsCount, shift: tsMax)
            if Double(tsMax) + log(tsSum) > Double(maxText) { suppress(0..<tsBegin) }
        }
    }
}

/// Log-softmax of one row in place; returns nothing. Rows fully masked stay -inf.
func logSoftmaxInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    let mx = x[Kernels.argmax(x, count: count)]
    guard mx > -.infinity else { return }
    let logZ = mx + Float(log(Kernels.sumExp(x, count: count, shift: mx)))
    Kernels.add(-logZ, to: x, count: count)
}
