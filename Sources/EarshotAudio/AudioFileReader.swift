#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads an audio file incrementally as mono `Float` samples at a target rate (16 kHz by default).
///
/// - WAV (detected by its magic bytes, not the extension) is decoded natively and streamed: RIFF/RIFX/
///   RF64, PCM 8/16/24/32-bit, float 32/64-bit, `WAVE_FORMAT_EXTENSIBLE`, any rate and channel count.
///   Channels are averaged to mono (as FunASR's and Whisper's loaders do) and the result resampled with
///   `Resampler` when the rate differs from `targetSampleRate`.
/// - Anything else (and WAV codecs such as ADPCM/µ-law) goes through an `ffmpeg` subprocess that
///   outputs mono float at the target rate; without ffmpeg on `PATH` that is `AudioError.decoderMissing`.
///
/// Memory is bounded by the read request size plus a 64 KiB read buffer and the resampler's history,
/// whatever the file length; the file is never loaded whole (except by `readAll`, by definition).
///
/// ```swift
/// let reader = try AudioFileReader(path: "talk.mp3")
/// while case let chunk = try reader.read(maxSamples: 16_000), !chunk.isEmpty { … }
/// ```
public final class AudioFileReader {
    /// The file being read.
    public let path: String
    /// Rate of the samples `read` returns, in Hz.
    public let targetSampleRate: Int
    /// Sample rate of the file, in Hz (0 if ffmpeg did not report it).
    public private(set) var sourceSampleRate: Int
    /// Channels in the file (0 if ffmpeg did not report it); `read` always returns their average.
    public private(set) var sourceChannels: Int
    /// Duration from the header (WAV data size, or the file size for a WAV with an open-ended data
    /// chunk) or ffmpeg's report; `nil` when unknown (e.g. a pipe).
    public private(set) var estimatedDurationSeconds: Double?
    /// `true` when the file is decoded by the ffmpeg subprocess rather than natively.
    public let usesFFmpeg: Bool

    let source: any MonoSource
    /// Designed at the first `read`, not when the file is opened: a caller that only wants the header
    /// (duration, rate — a corpus run's `--dry-run` and shard dealing open every file) does not pay for a
    /// filter design (up to ~20 MB and a noticeable time for unusual rates).
    private var resampler: Resampler?
    private let needsResampler: Bool
    private var pending: [Float] = []     // resampled output not yet returned
    private var pendingStart = 0
    private var scratch: [Float] = []     // decoded source-rate samples
    private var sourceDone = false

    /// Opens `path`, reads its header and prepares decoding to mono at `targetSampleRate`.
    ///
    /// - Throws: `.fileNotFound`, `.unreadable`, `.truncated` (0-byte file or a header cut short),
    ///   `.notAudio`, `.unsupportedFormat`, `.decoderMissing` (needs ffmpeg, which is not on `PATH`),
    ///   `.decoderFailed`. Each error's message names the file.
    public convenience init(path: String, targetSampleRate: Int = 16000) throws(AudioError) {
        let searchPath = getenv("PATH").map { String(cString: $0) }
        try self.init(path: path, targetSampleRate: targetSampleRate, ffmpegSearchPath: searchPath)
    }

    /// As `init(path:targetSampleRate:)` but looking for ffmpeg in `ffmpegSearchPath` (tests use this to
    /// simulate a machine without ffmpeg).
    init(path: String, targetSampleRate: Int, ffmpegSearchPath: String?) throws(AudioError) {
        precondition(targetSampleRate > 0, "targetSampleRate must be positive")
        self.path = path
        self.targetSampleRate = targetSampleRate
        let input = try ByteInput(path: path)
        let got = try input.fill(atLeast: 12)
        if got == 0 {
            throw AudioError(.truncated, path: path, "file is empty (0 bytes); it holds no audio — re-export or re-download it")
        }
        let head = input.take(12)
        if head.count < 12 && ["RIFF", "RIFX", "RF64"].contains(where: { Array($0.utf8).starts(with: head.prefix(4)) }) {
            throw AudioError(.truncated, path: path, "file is only \(head.count) bytes, a WAV header cut off before its 'WAVE' tag; the file is incomplete")
        }
        let kind = ContainerKind.sniff(head)
        var fallbackReason: String
        switch kind {
        case .wav:
            switch try WAVDecoder.open(input, header: head) {
            case .success(let wav):
                source = wav
                usesFFmpeg = false
                sourceSampleRate = wav.sampleRate
                sourceChannels = wav.channels
                estimatedDurationSeconds = wav.estimatedFrames.map { Double($0) / Double(wav.sampleRate) }
                needsResampler = wav.sampleRate != targetSampleRate
                if wav.sampleRate > Resampler.maxDownsamplingRatio * targetSampleRate {
                    input.closeNow()
                    throw AudioError(.unsupportedFormat, path: path, "the file's sample rate, \(wav.sampleRate) Hz, is more than \(Resampler.maxDownsamplingRatio) times the \(targetSampleRate) Hz asked for; resample it first (e.g. ffmpeg -i IN -ar \(targetSampleRate) OUT.wav)")
                }
                return
            case .failure(let codec):
                input.closeNow()
                fallbackReason = "a WAV in \(codec.description), which is only decoded through ffmpeg"
            }
        case .knownOther(let name):
            input.closeNow()
            fallbackReason = "a \(name) file, which is decoded through ffmpeg"
        case .unknown:
            input.closeNow()
            fallbackReason = "not a WAV file (first bytes \(head.prefix(4).map { String($0, radix: 16) }.joined(separator: " "))) and only ffmpeg could tell whether it is audio"
        }
        guard let ffmpeg = FFmpegDecoder.locate(searchPath: ffmpegSearchPath) else {
            if kind == .unknown {
                throw AudioError(.notAudio, path: path, "\(fallbackReason); it is not a recognised audio file. If it is audio in another format, install ffmpeg (apt-get install ffmpeg)")
            }
            let code: AudioError.Code = kind == .wav ? .unsupportedFormat : .decoderMissing
            throw AudioError(code, path: path, "\(fallbackReason), and ffmpeg is not on PATH: install ffmpeg (apt-get install ffmpeg)")
        }
        let decoder = try FFmpegDecoder(executable: ffmpeg, path: path, outputRate: targetSampleRate)
        source = decoder
        usesFFmpeg = true
        needsResampler = false
        sourceSampleRate = decoder.sourceRate
        sourceChannels = decoder.sourceChannels
        estimatedDurationSeconds = decoder.durationSeconds
    }

    deinit { source.close() }

    /// Returns up to `maxSamples` (> 0) mono samples at `targetSampleRate`, nominally in [−1, 1]
    /// (integer PCM is; float files and resampler overshoot on full-scale input may exceed it slightly).
    /// Returns fewer only at the end of the file, and `[]` once everything has been returned.
    public func read(maxSamples: Int) throws(AudioError) -> [Float] {
        precondition(maxSamples > 0, "maxSamples must be positive")
        var out: [Float] = []
        out.reserveCapacity(min(maxSamples, 1 << 20))
        while out.count < maxSamples {
            if pendingStart < pending.count {
                let n = min(maxSamples - out.count, pending.count - pendingStart)
                out.append(contentsOf: pending[pendingStart ..< pendingStart + n])
                pendingStart += n
                continue
            }
            if sourceDone { break }
            if needsResampler && resampler == nil {
                resampler = Resampler(inputRate: sourceSampleRate, outputRate: targetSampleRate)
            }
            guard let resampler else {
                if try source.read(maxFrames: maxSamples - out.count, into: &out) == 0 { sourceDone = true }
                continue
            }
            // Resampling: decode a block at the source rate, then keep the surplus output for later.
            let block = min(1 << 14, max(256, (maxSamples - out.count) * sourceSampleRate / targetSampleRate + 1))
            scratch.removeAll(keepingCapacity: true)
            let got = try source.read(maxFrames: block, into: &scratch)
            pending.removeAll(keepingCapacity: true)
            pendingStart = 0
            if got == 0 {
                sourceDone = true
                pending.append(contentsOf: resampler.finish())
            } else {
                pending.append(contentsOf: resampler.process(scratch))
            }
        }
        return out
    }

    /// Reads the whole of `path` as mono samples at `targetSampleRate` (convenience over `read`).
    public static func readAll(path: String, targetSampleRate: Int = 16000) throws(AudioError) -> [Float] {
        let reader = try AudioFileReader(path: path, targetSampleRate: targetSampleRate)
        var all: [Float] = []
        if let d = reader.estimatedDurationSeconds, d > 0, d < 86_400 {
            all.reserveCapacity(Int(d * Double(targetSampleRate)) + 16)
        }
        while true {
            let chunk = try reader.read(maxSamples: 1 << 16)
            if chunk.isEmpty { break }
            all.append(contentsOf: chunk)
        }
        return all
    }

    /// Releases the file (and stops ffmpeg, if running) before the reader is deallocated.
    public func close() {
        source.close()
        sourceDone = true
        pending.removeAll()
        pendingStart = 0
    }

    /// Bytes held by the reader's internal buffers (read buffer, decoded block, resampler history and
    /// pending output) — independent of file length; checked by the memory-boundedness test.
    var bufferFootprintBytes: Int {
        source.bufferBytes + 4 * (scratch.capacity + pending.capacity + (resampler?.historyCapacity ?? 0))
    }
}
