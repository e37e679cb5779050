import Foundation

/// Streaming sample-rate converter: a Kaiser-windowed-sinc low-pass evaluated in polyphase form, for any
/// pair of integer rates.
///
/// Filter design (the Kaiser formulas are from Kaiser 1974 as given in Oppenheim & Schafer,
/// *Discrete-Time Signal Processing*, 3rd ed., §7.6):
/// - band edges relative to the lower of the two Nyquist frequencies `fN = min(in, out) / 2`: passband to
///   `0.90 fN`, stopband from `1.00 fN`, so the cut-off (the −6 dB point of the windowed sinc) is
///   `0.95 fN`; everything that would alias (downsampling) or image (upsampling) is in the stopband.
/// - stopband attenuation target `A = 90 dB` → Kaiser `β = 0.1102 (A − 8.7) ≈ 8.96`; passband ripple
///   ≈ 10^(−A/20) (≈ 0.0003 dB).
/// - length `N = (A − 7.95) / (14.36 Δf)` input samples with `Δf = 0.1 fN / inRate` (e.g. 316 taps for
///   44.1 k → 16 k, 344 for 48 k → 16 k, 116 for 8 k → 16 k); the kernel is centred (zero phase), so output
///   sample `k` is the signal at input time `k · in / out` and there is no delay to compensate.
/// - phases: `L = out / gcd(in, out)` exact polyphase branches when `L ≤ 1024`, otherwise 1024
///   branches with linear interpolation between neighbouring branches (as libsamplerate's sinc
///   converters do); each branch is normalised to unit DC gain.
///
/// State (the input history the kernel still needs and the output position) is carried across calls, so
/// the output is bit-identical however the input is split into chunks. Memory is `O(chunk + N)`.
public final class Resampler {
    /// Input rate in Hz.
    public let inputRate: Int
    /// Output rate in Hz.
    public let outputRate: Int
    /// Taps per polyphase branch.
    public let tapsPerPhase: Int
    /// Low-pass cut-off (−6 dB) in Hz.
    public let cutoffHz: Double
    /// Design stopband attenuation in dB.
    public static let stopbandDecibels = 90.0

    private let up: Int          // L: output steps per `down` input samples
    private let down: Int        // M
    private let phases: Int      // branches in `table` (excluding the extra guard branch)
    private let halfLeft: Int    // taps before the centre sample
    private var table: [Float]   // (phases + 1) × tapsPerPhase
    private var history: [Float] = []   // input samples from absolute index `historyStart`
    private var historyStart: Int64 = 0
    private var inputCount: Int64 = 0   // input samples received so far
    private var outputIndex: Int64 = 0  // next output sample
    private var finished = false

    /// Largest downsampling ratio `inputRate / outputRate`: the filter's length grows with it (≈ 114 taps
    /// per unit of ratio), so the bound keeps the table under ~30 MB (768 kHz → 16 kHz is 48).
    public static let maxDownsamplingRatio = 64

    /// Designs the filter for `inputRate → outputRate` (both > 0, `inputRate ≤ 64 · outputRate`).
    public init(inputRate: Int, outputRate: Int) {
        precondition(inputRate > 0 && outputRate > 0, "sample rates must be positive")
        precondition(inputRate <= Resampler.maxDownsamplingRatio * outputRate,
                     "resampling \(inputRate) Hz → \(outputRate) Hz is a ratio above \(Resampler.maxDownsamplingRatio); resample in two stages")
        self.inputRate = inputRate
        self.outputRate = outputRate
        let g = Resampler.gcd(inputRate, outputRate)
        up = outputRate / g
        down = inputRate / g
        let nyquist = Double(min(inputRate, outputRate)) / 2
        cutoffHz = 0.95 * nyquist
        let a = Resampler.stopbandDecibels
        let beta = 0.1102 * (a - 8.7)
        let deltaF = 0.1 * nyquist / Double(inputRate)          // transition width, cycles / input sample
        let length = (a - 7.95) / (14.36 * deltaF)               // taps, in input samples
        let half = Int((length / 2).rounded(.up))
        halfLeft = half - 1
        tapsPerPhase = 2 * half
        phases = min(up, 1024)
        table = []
        table = Resampler.design(phases: phases, taps: tapsPerPhase, halfLeft: halfLeft, half: Double(half),
                                 fc: cutoffHz / Double(inputRate), beta: beta)
    }

    /// Kernel `h(t) = 2fc·sinc(2fc·t)·I0(β√(1−(t/T)²))/I0(β)` sampled at `t = j − halfLeft − p/phases`
    /// for branch `p` (the output lies `p/phases` of an input period after sample `floor`), tap `j`.
    private static func design(phases: Int, taps: Int, halfLeft: Int, half: Double, fc: Double,
                               beta: Double) -> [Float] {
        var t = [Float](repeating: 0, count: (phases + 1) * taps)
        let i0b = besselI0(beta)
        for p in 0 ... phases {
            var row = [Double](repeating: 0, count: taps)
            let frac = Double(p) / Double(phases)
            for j in 0 ..< taps {
                let x = Double(j - halfLeft) - frac       // input index offset from the output time
                let r = x / half
                let w = abs(r) < 1 ? besselI0(beta * (1 - r * r).squareRoot()) / i0b : 0
                let arg = 2 * fc * x
                let s = arg == 0 ? 1 : sin(Double.pi * arg) / (Double.pi * arg)
                row[j] = 2 * fc * s * w
            }
            let sum = row.reduce(0, +)
            for j in 0 ..< taps { t[p * taps + j] = Float(row[j] / sum) }
        }
        return t
    }

    /// Zeroth-order modified Bessel function of the first kind (power series; converges fast for β < 20).
    static func besselI0(_ x: Double) -> Double {
        var sum = 1.0, term = 1.0, k = 1.0
        let q = x * x / 4
        while term > 1e-17 * sum {
            term *= q / (k * k)
            sum += term
            k += 1
        }
        return sum
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    /// Samples held between calls (for the memory-boundedness test).
    var historyCapacity: Int { history.capacity }

    /// Feeds `input` and returns every output sample that is now fully determined.
    public func process(_ input: [Float]) -> [Float] {
        precondition(!finished, "process after finish")
        history.append(contentsOf: input)
        inputCount += Int64(input.count)
        return produce(flush: false)
    }

    /// Forgets the stream so far (history, position, end) and keeps the designed filter: the next
    /// `process` starts a new stream, with output identical to a freshly made resampler's.
    public func reset() {
        history = []
        historyStart = 0
        inputCount = 0
        outputIndex = 0
        finished = false
    }

    /// Bytes of the polyphase filter table.
    public var tableBytes: Int { 4 * table.count }

    /// Signals the end of the input (treated as followed by silence) and returns the remaining output;
    /// the total is `ceil(inputCount · out / in)` samples.
    public func finish() -> [Float] {
        if finished { return [] }
        finished = true
        return produce(flush: true)
    }

    private func produce(flush: Bool) -> [Float] {
        let totalOut = flush ? (inputCount * Int64(up) + Int64(down) - 1) / Int64(down) : Int64.max
        var out: [Float] = []
        let taps = tapsPerPhase
        while outputIndex < totalOut {
            let num = outputIndex * Int64(down)
            let base = num / Int64(up)                      // input sample at or before the output time
            let first = base - Int64(halfLeft)
            let last = first + Int64(taps) - 1
            if !flush && last >= inputCount { break }
            let fracNum = num % Int64(up)
            let pos = Double(fracNum) * Double(phases) / Double(up)
            let p = Int(pos)
            let w = Float(pos - Double(p))
            out.append(dot(first: first, phase: p, weight: w, taps: taps))
            outputIndex += 1
        }
        // Drop history that no future output needs.
        let nextFirst = outputIndex * Int64(down) / Int64(up) - Int64(halfLeft)
        let drop = Int(max(0, min(nextFirst - historyStart, Int64(history.count))))
        if drop > 0 && drop >= history.count / 2 {
            history.removeFirst(drop)
            historyStart += Int64(drop)
        }
        return out
    }

    /// `Σ a[i]·b[i]` with four partial sums (a fixed order, so results do not depend on chunking).
    @inline(__always)
    private static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var i = 0
        while i + 4 <= n {
            s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3]
            i += 4
        }
        while i < n { s0 += a[i] * b[i]; i += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    /// One output sample: branch `phase` (blended with `phase + 1` by `weight`) against input
    /// `first ..< first + taps`, where samples before 0 or past the input are zero.
    private func dot(first: Int64, phase: Int, weight: Float, taps: Int) -> Float {
        history.withUnsafeBufferPointer { h in
            table.withUnsafeBufferPointer { t in
                let c0 = t.baseAddress! + phase * taps
                let c1 = c0 + taps
                let lo = Int(max(0, historyStart - first, -first))
                let hi = Int(min(Int64(taps), historyStart + Int64(h.count) - first))
                var s0: Float = 0, s1: Float = 0
                if lo < hi {
                    let x = h.baseAddress! + (Int(first - historyStart) + lo)   // input sample first + lo
                    s0 = Resampler.dot(c0 + lo, x, hi - lo)
                    if weight != 0 { s1 = Resampler.dot(c1 + lo, x, hi - lo) }
                }
                return weight == 0 ? s0 : s0 + weight * (s1 - s0)
            }
        }
    }
}
