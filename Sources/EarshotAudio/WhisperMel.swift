import Foundation

/// A log-mel spectrogram: `bands × frames` values, row-major `[band][frame]` — the layout of the numpy
/// array faster-whisper's `FeatureExtractor.__call__` returns.
public struct MelSpectrogram: Sendable, Equatable {
    /// Mel bands (rows): 80, or 128 for large-v3.
    public let bands: Int
    /// STFT frames (columns), one per 10 ms hop.
    public let frames: Int
    /// `values[band * frames + frame]`.
    public var values: [Float]

    /// Wraps row-major `[band][frame]` values.
    public init(bands: Int, frames: Int, values: [Float]) {
        precondition(values.count == bands * frames, "values must hold bands × frames elements")
        self.bands = bands
        self.frames = frames
        self.values = values
    }

    /// The value at `band`, `frame`.
    public subscript(band: Int, frame: Int) -> Float { values[band * frames + frame] }

    /// Largest value (−∞ when empty).
    public var maximum: Float { values.max() ?? -.infinity }
}

/// Whisper's log-mel front end, matching faster-whisper 1.2.1 `FeatureExtractor` (numpy) exactly:
/// periodic Hann window of 400 (`np.hanning(401)[:-1]`), `n_fft` 400, hop 160, centred STFT with reflect
/// padding of 200 on each side, power spectrum `|X|²` with the last STFT frame dropped, Slaney-style mel
/// filters (`get_mel_filters`, the same as librosa's `mel(sr=16000, n_fft=400, norm="slaney")` stored in
/// openai-whisper's `mel_filters.npz`), `log10(max(x, 1e-10))`, clamp to `max − 8`, then `(x + 4) / 4`.
///
/// Frame count: the waveform is first zero-padded with `padding` samples, giving `L = n + padding`;
/// there are `L / 160` (floor) frames, frame `f` centred on sample `160·f`.
///
/// For long streams, `logMelPower` computes the raw `log10` mel of any span of frames from a buffer
/// holding the span plus up to 200 samples of context on each side, and `normalize` applies the clamp
/// and scaling with a chosen maximum. faster-whisper takes that maximum over the *whole file's* raw
/// log-mel (it computes the features of the entire recording before cutting 30-s windows), so a
/// streaming caller either makes a first pass for the maximum or accepts a per-window maximum.
public struct WhisperMelSpectrogram: Sendable {
    /// Samples per second the filters are designed for (Whisper: 16 kHz).
    public static let sampleRate = 16000
    /// FFT size / window length (Whisper `N_FFT`).
    public static let fftSize = 400
    /// Hop between frames (Whisper `HOP_LENGTH`, 10 ms).
    public static let hopLength = 160

    /// Number of mel bands.
    public let melBands: Int
    /// Mel filter bank, sparse: for band `b`, weights for FFT bins `filterStart[b] ..< filterStart[b] + filterWeights[b].count`.
    let filterStart: [Int]
    let filterWeights: [[Float]]
    private let flatWeights: [Float]      // filterWeights concatenated
    private let flatOffset: [Int]         // band b's weights: flatWeights[flatOffset[b] ..< flatOffset[b + 1]]
    private let window: [Float]
    private let fft: ComplexFFT
    private let splitTwiddles: [Double]   // (cos, sin) of −2πk/400, k ≤ 200

    /// Builds the filter bank for `melBands` bands (80 for most Whisper models, 128 for large-v3).
    public init(melBands: Int = 80) {
        precondition(melBands > 0)
        self.melBands = melBands
        let dense = WhisperMelSpectrogram.melFilters(bands: melBands)
        let bins = WhisperMelSpectrogram.fftSize / 2 + 1
        var starts: [Int] = [], weights: [[Float]] = []
        for b in 0 ..< melBands {
            let row = dense[b * bins ..< (b + 1) * bins]
            let first = row.firstIndex { $0 != 0 } ?? row.startIndex
            let last = row.lastIndex { $0 != 0 } ?? row.startIndex - 1
            starts.append(first - row.startIndex)
            weights.append(first <= last ? Array(row[first ... last]) : [])
        }
        filterStart = starts
        filterWeights = weights
        flatWeights = weights.flatMap { $0 }
        flatOffset = weights.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        // np.hanning(401)[:-1] = 0.5 − 0.5·cos(2πn/400), computed in float64, cast to float32.
        window = (0 ..< WhisperMelSpectrogram.fftSize).map {
            Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(WhisperMelSpectrogram.fftSize)))
        }
        fft = ComplexFFT(count: WhisperMelSpectrogram.fftSize / 2)
        splitTwiddles = (0 ... WhisperMelSpectrogram.fftSize / 2).flatMap { k -> [Double] in
            let a = -2 * Double.pi * Double(k) / Double(WhisperMelSpectrogram.fftSize)
            return [cos(a), sin(a)]
        }
    }

    /// The dense `[band][bin]` filter matrix (`bands × 201`), computed as faster-whisper's
    /// `get_mel_filters` does in float64 and cast to float32. Constants from there: Slaney mel scale,
    /// linear below 1 kHz with 200/3 Hz per mel, logarithmic above with step `ln(6.4)/27`; top mel
    /// 45.245640471924965 (= 8 kHz); triangles normalised by `2 / (f[i+2] − f[i])`.
    public static func melFilters(bands: Int) -> [Float] {
        let nFFT = fftSize, sr = Double(sampleRate), bins = nFFT / 2 + 1
        let val = 1.0 / (Double(nFFT) * (1.0 / sr))             // np.fft.rfftfreq
        let fftFreqs = (0 ..< bins).map { Double($0) * val }
        let maxMel = 45.245640471924965, n = bands + 2
        let step = maxMel / Double(n - 1)                        // np.linspace
        var mels = (0 ..< n).map { Double($0) * step }
        mels[n - 1] = maxMel
        let fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp, logStep = log(6.4) / 27.0
        let freqs = mels.map { $0 >= minLogMel ? minLogHz * exp(logStep * ($0 - minLogMel)) : fSp * $0 }
        var out = [Float](repeating: 0, count: bands * bins)
        for i in 0 ..< bands {
            let enorm = 2.0 / (freqs[i + 2] - freqs[i])
            let d0 = freqs[i + 1] - freqs[i], d1 = freqs[i + 2] - freqs[i + 1]
            for k in 0 ..< bins {
                let lower = -(freqs[i] - fftFreqs[k]) / d0
                let upper = (freqs[i + 2] - fftFreqs[k]) / d1
                out[i * bins + k] = Float(max(0, min(lower, upper)) * enorm)
            }
        }
        return out
    }

    /// Frames `compute` returns for `sampleCount` samples and `padding`: `(sampleCount + padding) / 160`.
    public static func frameCount(sampleCount: Int, padding: Int = 160) -> Int {
        (sampleCount + padding) / hopLength
    }

    /// faster-whisper's `FeatureExtractor(feature_size: melBands)(samples, padding: padding)`: appends
    /// `padding` zeros, computes the raw log-mel of every frame and normalises with its maximum.
    /// Input is 16 kHz mono. Returns `frameCount(sampleCount:padding:)` frames (0 for very short input).
    public func compute(_ samples: [Float], padding: Int = 160) -> MelSpectrogram {
        precondition(padding >= 0, "padding must be ≥ 0")
        var padded = samples
        padded.append(contentsOf: repeatElement(0, count: padding))
        let raw = logMelPower(padded, span: 0 ..< padded.count)
        return WhisperMelSpectrogram.normalize(raw, maximum: raw.maximum)
    }

    /// Raw `log10(max(mel, 1e-10))` for the frames centred on `span.lowerBound + 160·i`,
    /// `i < span.count / 160`, taking context from the rest of `samples`. Where fewer than 200 samples
    /// of context exist on a side, `samples` is treated as the stream boundary there and reflected
    /// (numpy `reflect`, as the centred STFT does at the ends of the file). So for a stream `x`
    /// (already zero-padded by `padding` like `compute` does), frames `a ..< b` are
    /// `logMelPower(x[max(0, 160a − 200) ..< min(x.count, 160b + 200)], span: …)` with the span
    /// covering samples `160a ..< 160b` (and `160b` replaced by `x.count` for the last window).
    public func logMelPower(_ samples: [Float], span: Range<Int>) -> MelSpectrogram {
        precondition(span.lowerBound >= 0 && span.upperBound <= samples.count, "span outside samples")
        return samples.withUnsafeBufferPointer { logMelPower(samples: $0, span: span) }
    }

    /// `logMelPower(_:span:)` over a buffer (no copy).
    public func logMelPower(samples: UnsafeBufferPointer<Float>, span: Range<Int>) -> MelSpectrogram {
        let hop = WhisperMelSpectrogram.hopLength, n = WhisperMelSpectrogram.fftSize, half = n / 2
        let frames = span.count / hop
        guard frames > 0 else { return MelSpectrogram(bands: melBands, frames: 0, values: []) }
        var out = [Float](repeating: 0, count: melBands * frames)
        var frame = [Float](repeating: 0, count: n)
        var power = [Float](repeating: 0, count: half + 1)
        var buf = [Double](repeating: 0, count: n), work = [Double](repeating: 0, count: n)
        let count = samples.count
        for f in 0 ..< frames {
            let start = span.lowerBound + f * hop - half
            if start >= 0 && start + n <= count {
                for j in 0 ..< n { frame[j] = samples[start + j] * window[j] }
            } else {
                for j in 0 ..< n { frame[j] = samples[WhisperMelSpectrogram.reflect(start + j, count: count)] * window[j] }
            }
            powerSpectrum(frame, &buf, &work, into: &power)
            applyFilters(power, frame: f, frames: frames, into: &out)
        }
        return MelSpectrogram(bands: melBands, frames: frames, values: out)
    }

    /// `out[b][f] = log10(max(Σ_k w[b][k]·power[k], 1e-10))` over the sparse filter bank.
    private func applyFilters(_ power: [Float], frame f: Int, frames: Int, into out: inout [Float]) {
        flatWeights.withUnsafeBufferPointer { w in
            power.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { o in
                    for b in 0 ..< melBands {
                        let lo = flatOffset[b], k0 = filterStart[b]
                        var s: Float = 0
                        for k in 0 ..< flatOffset[b + 1] - lo { s += w[lo + k] * p[k0 + k] }
                        o[b * frames + f] = log10(max(s, 1e-10))
                    }
                }
            }
        }
    }

    /// numpy `reflect` indexing (no edge repeat), valid for any overshoot: period `2(count − 1)`.
    @inline(__always)
    static func reflect(_ i: Int, count: Int) -> Int {
        if i >= 0 && i < count { return i }
        if count == 1 { return 0 }
        let period = 2 * (count - 1)
        var k = i % period
        if k < 0 { k += period }
        return k < count ? k : period - k
    }

    /// `|rfft(frame)|²` for the 400-point real frame via a 200-point complex FFT of the even/odd pairs,
    /// then split: `X[k] = E[k] + e^(−2πik/400) O[k]`. Rounded through float32 like numpy's
    /// `astype(complex64)` before squaring.
    private func powerSpectrum(_ frame: [Float], _ z: inout [Double], _ work: inout [Double], into power: inout [Float]) {
        let n = WhisperMelSpectrogram.fftSize, h = n / 2
        for j in 0 ..< n { z[j] = Double(frame[j]) }   // interleaved (re = x[2m], im = x[2m+1])
        z.withUnsafeMutableBufferPointer { zp in
            work.withUnsafeMutableBufferPointer { wp in fft.forward(zp.baseAddress!, work: wp.baseAddress!) }
        }
        for k in 0 ... h {
            let a = k % h, b = (h - k) % h
            let zr = z[2 * a], zi = z[2 * a + 1], cr = z[2 * b], ci = -z[2 * b + 1]   // Z[k], conj(Z[h−k])
            let er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci)                          // E[k]
            let or = 0.5 * (zi - ci), oi = -0.5 * (zr - cr)                         // O[k] = (Z − conj)/(2i)
            let c = splitTwiddles[2 * k], s = splitTwiddles[2 * k + 1]
            let xr = Float(er + c * or - s * oi), xi = Float(ei + c * oi + s * or)
            let m = (xr * xr + xi * xi).squareRoot()
            power[k] = m * m
        }
    }

    /// Whisper's normalisation: `(max(x, maximum − 8) + 4) / 4` for every value.
    public static func normalize(_ raw: MelSpectrogram, maximum: Float) -> MelSpectrogram {
        var out = raw
        let floor = maximum - 8
        for i in out.values.indices { out.values[i] = (max(out.values[i], floor) + 4) / 4 }
        return out
    }
}
