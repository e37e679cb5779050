import EarshotAudio
import FuzzSupport

/// The resampler on arbitrary rates: input = u32 input rate, u32 output rate, u32 chunk size, then float32
/// samples (any bit pattern, NaN and infinities included). Rates are taken in 1...768_000 Hz, the range the
/// WAV reader accepts, within the resampler's contract (downsampling ratio ≤ 64); inputs whose output would
/// exceed 4 M samples (1 Hz → 768 kHz) are skipped. The stream is fed in chunks and finished, and the output
/// length is checked against `ceil(n · out / in)`.
///
/// Designing a filter costs far more than running it (up to ~5 500 taps × 1 025 branches, about a second under
/// ASan for the largest), and most mutations change the samples, not the rates; so resamplers are kept by rate
/// pair, up to 768 MB of tables in all, and `reset()` between inputs. `ResamplerTests.resetStartsAnew` checks
/// that a reset resampler gives a fresh one's output.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResampler(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var bytes = FuzzBytes(data, size)
    let inputRate = Int(bytes.uint32() % 768_000) + 1
    let outputRate = Int(bytes.uint32() % 768_000) + 1
    let chunk = Int(bytes.uint32() % 4096) + 1
    let samples = bytes.floats()
    guard inputRate <= Resampler.maxDownsamplingRatio * outputRate,
          samples.count * outputRate / inputRate < 1 << 22 else { return 0 }
    let resampler = cachedResampler(inputRate, outputRate)
    var produced = 0
    var start = 0
    while start < samples.count {
        let end = min(samples.count, start + chunk)
        produced += resampler.process(Array(samples[start ..< end])).count
        start = end
    }
    produced += resampler.finish().count
    let expected = (samples.count * outputRate + inputRate - 1) / inputRate
    precondition(produced == expected, "resampler \(inputRate)→\(outputRate) produced \(produced) samples for \(samples.count), expected \(expected)")
    return 0
}

private nonisolated(unsafe) var cache: [Int: Resampler] = [:]
private nonisolated(unsafe) var cachedBytes = 0

/// A reset resampler for the pair, from the cache when it was made before.
private func cachedResampler(_ inputRate: Int, _ outputRate: Int) -> Resampler {
    let key = inputRate << 20 | outputRate
    if let kept = cache[key] {
        kept.reset()
        return kept
    }
    let made = Resampler(inputRate: inputRate, outputRate: outputRate)
    if cachedBytes + made.tableBytes > 768 << 20 {
        cache.removeAll()
        cachedBytes = 0
    }
    cache[key] = made
    cachedBytes += made.tableBytes
    return made
}
