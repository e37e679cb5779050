#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Options of Kaldi's `compute-fbank-feats`, restricted to what FunASR's `WavFrontend` sets
/// (`funasr/frontends/wav_frontend.py`, `funasr_onnx/utils/frontend.py`); defaults are Kaldi's
/// (`feature-window.h`, `mel-computations.h`, `feature-fbank.h`).
public struct FbankOptions: Sendable, Equatable {
    /// Sample rate in Hz (FunASR `fs`).
    public var sampleRate: Int = 16_000
    /// Frame length in ms (FunASR `frame_length`, 25).
    public var frameLengthMs: Double = 25
    /// Frame shift in ms (FunASR `frame_shift`, 10).
    public var frameShiftMs: Double = 10
    /// Mel bins (FunASR `n_mels`, 80).
    public var melBins: Int = 80
    /// Window: "hamming" (FunASR), "hanning", "povey", "rectangular" or "blackman".
    public var window: String = "hamming"
    /// Pre-emphasis coefficient (Kaldi default 0.97).
    public var preemphasis: Float = 0.97
    /// Subtract each frame's mean before pre-emphasis (Kaldi default true).
    public var removeDCOffset: Bool = true
    /// Lowest mel frequency in Hz (Kaldi default 20).
    public var lowFrequency: Double = 20
    /// Highest mel frequency; ≤ 0 means Nyquist plus this value (Kaldi default 0).
    public var highFrequency: Double = 0
    /// Multiplier applied to [-1, 1] samples before analysis: FunASR scales by 2¹⁵ (`waveform * (1 << 15)`).
    public var inputScale: Float = 32_768

    /// FunASR's defaults.
    public init() {}

    /// Samples per frame (400 at 16 kHz, 25 ms).
    public var frameLength: Int { Int(Double(sampleRate) * 0.001 * frameLengthMs) }
    /// Samples between frame starts (160).
    public var frameShift: Int { Int(Double(sampleRate) * 0.001 * frameShiftMs) }
    /// FFT length: the frame length rounded up to a power of two (Kaldi `round_to_power_of_two`).
    public var fftLength: Int { var n = 1; while n < frameLength { n <<= 1 }; return n }
}

/// Kaldi-compatible log-mel filterbank of single frames (snip-edges framing, dither 0, no energy column):
/// DC removal, pre-emphasis with the first sample pre-emphasised against itself, window, zero padding to
/// a power of two, power spectrum, triangular mel filters on Kaldi's mel scale `1127·ln(1 + f/700)`,
/// then `log(max(e, FLT_EPSILON))`. Behaviour follows Kaldi `feature-window.cc:ProcessWindow`,
/// `mel-computations.cc:MelBanks`, `feature-fbank.cc:FbankComputer::Compute`.
public struct KaldiFbank: Sendable {
    /// The options in use.
    public let options: FbankOptions
    private let windowTable: [Float]
    private let fft: RealFFT
    /// Per mel bin: first FFT bin and its weights.
    private let melFirst: [Int]
    private let melWeights: [[Float]]

    /// Precomputes the window and the mel filters.
    /// - Throws: `FunASRError.invalidConfiguration` for an unknown window or impossible frequencies.
    public init(options: FbankOptions = FbankOptions()) throws(FunASRError) {
        self.options = options
        let length = options.frameLength
        guard length > 1, options.frameShift > 0, options.melBins > 0 else {
            throw FunASRError(.invalidConfiguration, "frame length \(options.frameLengthMs) ms / shift \(options.frameShiftMs) ms / \(options.melBins) mel bins at \(options.sampleRate) Hz give no usable frames")
        }
        windowTable = try Self.makeWindow(options.window, length: length)
        fft = RealFFT(length: options.fftLength)
        (melFirst, melWeights) = try Self.makeMelBanks(options)
    }

    private static func makeWindow(_ kind: String, length: Int) throws(FunASRError) -> [Float] {
        let a = 2 * Double.pi / Double(length - 1)
        return try (0..<length).map { (i: Int) throws(FunASRError) -> Float in
            let x = Double(i)
            switch kind {
            case "hamming": return Float(0.54 - 0.46 * cos(a * x))
            case "hanning": return Float(0.5 - 0.5 * cos(a * x))
            case "povey": return Float(pow(0.5 - 0.5 * cos(a * x), 0.85))
            case "rectangular": return 1
            case "blackman": return Float(0.42 - 0.5 * cos(a * x) + 0.08 * cos(2 * a * x))
            default:
                throw FunASRError(.invalidConfiguration, "window '\(kind)' is not one of hamming, hanning, povey, rectangular, blackman")
            }
        }
    }

    private static func melScale(_ f: Float) -> Float { 1127 * logf(1 + f / 700) }

    private static func makeMelBanks(_ o: FbankOptions) throws(FunASRError) -> ([Int], [[Float]]) {
        let fftBins = o.fftLength / 2
        let nyquist = 0.5 * Double(o.sampleRate)
        let high = o.highFrequency > 0 ? o.highFrequency : nyquist + o.highFrequency
        guard o.lowFrequency >= 0, high <= nyquist, high > o.lowFrequency else {
            throw FunASRError(.invalidConfiguration, "mel range \(o.lowFrequency)–\(high) Hz is not inside 0–\(nyquist) Hz")
        }
        let binWidth = Float(Double(o.sampleRate) / Double(o.fftLength))
        let melLow = melScale(Float(o.lowFrequency)), melHigh = melScale(Float(high))
        let delta = (melHigh - melLow) / Float(o.melBins + 1)
        var firsts: [Int] = [], weights: [[Float]] = []
        for bin in 0..<o.melBins {
            let left = melLow + Float(bin) * delta, center = melLow + Float(bin + 1) * delta
            let right = melLow + Float(bin + 2) * delta
            var first = -1
            var w: [Float] = []
            for i in 0..<fftBins {
                let mel = melScale(binWidth * Float(i))
                guard mel > left && mel < right else { continue }
                let v = mel <= center ? (mel - left) / (center - left) : (right - mel) / (right - center)
                if first < 0 { first = i }
                // Bins between first and i that fell outside get zero weight (cannot happen for a triangle).
                while first + w.count < i { w.append(0) }
                w.append(v)
            }
            firsts.append(max(first, 0))
            weights.append(w)
        }
        return (firsts, weights)
    }

    /// Scratch memory `compute` needs: `4·fftLength + fftLength/2 + 1` floats.
    public var scratchCount: Int { options.fftLength * 4 + options.fftLength / 2 + 1 }

    /// Computes one frame's log-mel energies from `options.frameLength` samples in [-1, 1].
    /// - Returns: the frame's raw energy `Σx²` of the *unscaled* samples (FunASR's VAD decibel input).
    @discardableResult
    public func compute(frame samples: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                        into output: UnsafeMutablePointer<Float>) -> Double {
        let length = options.frameLength, n = options.fftLength
        let buffer = scratch
        let fftScratch = UnsafeMutableRawPointer(scratch + n).bindMemory(to: Double.self, capacity: n)
        var energy: Double = 0
        var sum: Float = 0
        let scale = options.inputScale
        for i in 0..<length {
            let x = samples[i]
            energy += Double(x * x)
            let v = x * scale
            buffer[i] = v
            sum += v
        }
        if options.removeDCOffset {
            let mean = sum / Float(length)
            for i in 0..<length { buffer[i] -= mean }
        }
        let p = options.preemphasis
        if p != 0 {
            var i = length - 1
            while i > 0 { buffer[i] -= p * buffer[i - 1]; i -= 1 }
            buffer[0] -= p * buffer[0]
        }
        windowTable.withUnsafeBufferPointer { w in
            for i in 0..<length { buffer[i] *= w[i] }
        }
        for i in length..<n { buffer[i] = 0 }
        let power = scratch + 3 * n   // after the FFT's n doubles of scratch
        fft.powerSpectrum(buffer, scratch: fftScratch, power: power)
        applyMel(power: power, into: output)
        return energy
    }

    private func applyMel(power: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let floor = Float.ulpOfOne
        for bin in 0..<options.melBins {
            let first = melFirst[bin]
            var e: Float = 0
            melWeights[bin].withUnsafeBufferPointer { w in
                for j in 0..<w.count { e += w[j] * power[first + j] }
            }
            output[bin] = logf(max(e, floor))
        }
    }
}
