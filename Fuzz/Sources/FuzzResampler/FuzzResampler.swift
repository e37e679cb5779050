import EarshotAudio
import FuzzSupport

/// The resampler on arbitrary rates: input = u32 input rate, u32 output rate, u32 chunk size, then float32
/// samples (any bit pattern, NaN and infinities included). Rates are taken in 1...768_000 Hz, the range the
/// WAV reader accepts, within the resampler's contract (downsampling ratio ≤ 64); inputs whose output would
/// exceed 4 M samples (1 Hz → 768 kHz) are skipped. The stream is fed in chunks and finished, and the output
/// length is checked against `ceil(n · out / in)`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResampler(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var bytes = FuzzBytes(data, size)
    let inputRate = Int(bytes.uint32() % 768_000) + 1
    let outputRate = Int(bytes.uint32() % 768_000) + 1
    let chunk = Int(bytes.uint32() % 4096) + 1
    let samples = bytes.floats()
    guard inputRate <= Resampler.maxDownsamplingRatio * outputRate,
          samples.count * outputRate / inputRate < 1 << 22 else { return 0 }
    let resampler = Resampler(inputRate: inputRate, outputRate: outputRate)
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
