import EarshotAudio
import FuzzSupport

/// The WAV reader (RIFF/RIFX/RF64/BW64; 8/16/24/32-bit PCM, 32/64-bit float, extensible) through its public
/// API. Every input is decoded to mono at its own rate (the decoder alone); an input whose header gives one of
/// the rates real files use is also decoded to 16 kHz as the pipeline does (the reader's block arithmetic and
/// its resampler), one in four of them by input length, since each such decode designs a filter. Arbitrary
/// rates through the resampler are FuzzResampler's job. Inputs that are not WAV are refused without ffmpeg
/// (PATH is emptied).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWAV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Scratch.write(data, size, name: "input.wav")
    guard let probe = try? AudioFileReader(path: path, targetSampleRate: 16_000) else { return 0 }
    let rate = probe.sourceSampleRate
    _ = probe.sourceChannels
    _ = probe.estimatedDurationSeconds
    probe.close()
    guard rate > 0, let native = try? AudioFileReader(path: path, targetSampleRate: rate) else { return 0 }
    drain(native)
    let commonRates = [8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000]
    if commonRates.contains(rate), size % 4 == 0, let resampled = try? AudioFileReader(path: path, targetSampleRate: 16_000) {
        drain(resampled)
    }
    return 0
}

/// Reads everything (a fuzz input is small; the loop still stops after a bounded amount of output).
private func drain(_ reader: AudioFileReader) {
    var produced = 0
    while produced < 1 << 20, let chunk = try? reader.read(maxSamples: 4096), !chunk.isEmpty {
        produced += chunk.count
    }
    reader.close()
}
