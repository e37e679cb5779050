import EarshotAudio
import FuzzSupport

/// The WAV reader (RIFF/RIFX/RF64/BW64; 8/16/24/32-bit PCM, 32/64-bit float, extensible) through its public
/// API, decoding to 16 kHz mono as the pipeline does (so the header's sample rate also designs a resampler).
/// Inputs that are not WAV are refused without ffmpeg (PATH is emptied).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWAV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Scratch.write(data, size, name: "input.wav")
    guard let reader = try? AudioFileReader(path: path, targetSampleRate: 16_000) else { return 0 }
    _ = reader.sourceSampleRate + reader.sourceChannels
    _ = reader.estimatedDurationSeconds
    // A fuzz input is small; the loop still stops after a bounded amount of output.
    var produced = 0
    while produced < 1 << 20, let chunk = try? reader.read(maxSamples: 4096), !chunk.isEmpty {
        produced += chunk.count
    }
    reader.close()
    return 0
}
