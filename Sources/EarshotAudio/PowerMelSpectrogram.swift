import Foundation

/// librosa's `feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=bands)` with its defaults
/// (librosa 0.10/0.11): periodic Hann window, centred frames with `n_fft / 2` zeros of padding on both sides
/// (`pad_mode="constant"`), power spectrum (`power=2`), Slaney mel filters normalised with `norm="slaney"`,
/// no logarithm. resemblyzer's `audio.wav_to_mel_spectrogram` is this with 40 bands.
///
/// Numerics follow librosa's dtypes: the window product and the FFT in float64 (numpy's `rfft`), the spectrum
/// stored as complex64, `|X|²` and the filter product in float32.
public struct PowerMelSpectrogram: Sendable {
    /// FFT size and window length (25 ms at 16 kHz; resemblyzer `mel_window_length`).
    public static let fftSize = 400
    /// Hop between frames (10 ms; resemblyzer `mel_window_step`).
    public static let hopLength = 160
    /// Number of mel bands.
    public let bands: Int
    private let filterStart: [Int]
    private let filterOffset: [Int]
    private let filterWeights: [Float]
    private let window: [Double]
    private let fft: ComplexFFT
    private let twiddles: [Double]

    /// Builds the filter bank (`librosa.filters.mel(sr=16000, n_fft=400, n_mels=bands)`, the same formula
    /// Whisper's filters come from).
    public init(bands: Int) {
        precondition(bands > 0)
        self.bands = bands
        let dense = WhisperMelSpectrogram.melFilters(bands: bands)
        let bins = Self.fftSize / 2 + 1
        var starts: [Int] = [], offsets = [0], weights: [Float] = []
        for b in 0 ..< bands {
            let row = dense[b * bins ..< (b + 1) * bins]
            let first = row.firstIndex { $0 != 0 } ?? row.startIndex
            let last = row.lastIndex { $0 != 0 } ?? row.startIndex - 1
            starts.append(first - row.startIndex)
            if first <= last { weights.append(contentsOf: row[first ... last]) }
            offsets.append(weights.count)
        }
        filterStart = starts
        filterOffset = offsets
        filterWeights = weights
        // scipy.signal.get_window("hann", 400, fftbins=True): 0.5 − 0.5·cos(2πn/400), float64.
        window = (0 ..< Self.fftSize).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(Self.fftSize)) }
        fft = ComplexFFT(count: Self.fftSize / 2)
        twiddles = (0 ... Self.fftSize / 2).flatMap { k -> [Double] in
            let a = -2 * Double.pi * Double(k) / Double(Self.fftSize)
            return [cos(a), sin(a)]
        }
    }

    /// Frames librosa returns for `sampleCount` samples with centring: `1 + sampleCount / 160`.
    public static func frameCount(sampleCount: Int) -> Int { 1 + sampleCount / hopLength }

    /// The first `frames` frames (at most `frameCount(sampleCount:)`) of `samples`' power mel spectrogram,
    /// frame-major: `frames × bands` (resemblyzer's `mel.T` layout).
    public func compute(_ samples: [Float], frames: Int? = nil) -> [Float] {
        let frames = min(frames ?? Self.frameCount(sampleCount: samples.count), Self.frameCount(sampleCount: samples.count))
        let n = Self.fftSize, half = n / 2, hop = Self.hopLength
        var out = [Float](repeating: 0, count: frames * bands)
        var z = [Double](repeating: 0, count: n), work = [Double](repeating: 0, count: n)
        var power = [Float](repeating: 0, count: half + 1)
        for f in 0 ..< frames {
            let start = f * hop - half
            for j in 0 ..< n {
                let i = start + j
                z[j] = i >= 0 && i < samples.count ? Double(samples[i]) * window[j] : 0
            }
            spectrum(&z, &work, into: &power)
            for b in 0 ..< bands {
                let lo = filterOffset[b], k0 = filterStart[b]
                var s: Float = 0
                for k in 0 ..< filterOffset[b + 1] - lo { s += filterWeights[lo + k] * power[k0 + k] }
                out[f * bands + b] = s
            }
        }
        return out
    }

    /// `|rfft(frame)|²` of the 400-point real frame in `z`, via a 200-point complex FFT of even/odd pairs;
    /// each bin is rounded to complex64 and squared in float32 as librosa does.
    private func spectrum(_ z: inout [Double], _ work: inout [Double], into power: inout [Float]) {
        let h = Self.fftSize / 2
        z.withUnsafeMutableBufferPointer { zp in
            work.withUnsafeMutableBufferPointer { wp in fft.forward(zp.baseAddress!, work: wp.baseAddress!) }
        }
        for k in 0 ... h {
            let a = k % h, b = (h - k) % h
            let zr = z[2 * a], zi = z[2 * a + 1], cr = z[2 * b], ci = -z[2 * b + 1]
            let er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci)
            let or = 0.5 * (zi - ci), oi = -0.5 * (zr - cr)
            let c = twiddles[2 * k], s = twiddles[2 * k + 1]
            let xr = Float(er + c * or - s * oi), xi = Float(ei + c * oi + s * or)
            let m = (xr * xr + xi * xi).squareRoot()
            power[k] = m * m
        }
    }
}
