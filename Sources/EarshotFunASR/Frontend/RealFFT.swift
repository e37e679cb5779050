#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Power spectrum of a real signal of power-of-two length `n`, computed with a radix-2 complex FFT of
/// length `n/2` and the usual even/odd split (e.g. Oppenheim & Schafer, "Discrete-Time Signal
/// Processing", §9.3). The transform runs in double precision (as kaldi-native-fbank's `Rfft` does); input and
/// output are single precision.
struct RealFFT {
    /// Transform length (a power of two, at least 4).
    let n: Int
    private let half: Int
    private let bitReverse: [Int32]
    private let twiddleRe: [Double]     // e^{-2πik/half}, k < half/2
    private let twiddleIm: [Double]
    private let splitRe: [Double]       // e^{-2πik/n}, k ≤ half
    private let splitIm: [Double]

    init(length n: Int) {
        precondition(n >= 4 && n & (n - 1) == 0, "FFT length must be a power of two ≥ 4")
        self.n = n
        half = n / 2
        let bits = half.trailingZeroBitCount
        bitReverse = (0..<half).map { i in
            var r = 0, v = i
            for _ in 0..<bits { r = (r << 1) | (v & 1); v >>= 1 }
            return Int32(r)
        }
        let h = half
        twiddleRe = (0..<(h / 2)).map { (cos(-2 * Double.pi * Double($0) / Double(h))) }
        twiddleIm = (0..<(h / 2)).map { (sin(-2 * Double.pi * Double($0) / Double(h))) }
        splitRe = (0...h).map { (cos(-2 * Double.pi * Double($0) / Double(n))) }
        splitIm = (0...h).map { (sin(-2 * Double.pi * Double($0) / Double(n))) }
    }

    /// Writes `|X[k]|²` for `k = 0 ... n/2` into `power` (n/2+1 values). `input` holds `n` samples;
    /// `scratch` must have room for `n` doubles.
    func powerSpectrum(_ input: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Double>,
                       power: UnsafeMutablePointer<Float>) {
        let re = scratch, im = scratch + half
        bitReverse.withUnsafeBufferPointer { rev in
            for i in 0..<half {
                let j = Int(rev[i])
                re[j] = Double(input[2 * i])
                im[j] = Double(input[2 * i + 1])
            }
        }
        butterflies(re: re, im: im)
        splitReal(re: re, im: im, power: power)
    }

    private func butterflies(re: UnsafeMutablePointer<Double>, im: UnsafeMutablePointer<Double>) {
        twiddleRe.withUnsafeBufferPointer { twr in
            twiddleIm.withUnsafeBufferPointer { twi in
                var size = 2
                while size <= half {
                    let halfSize = size / 2, step = half / size
                    var start = 0
                    while start < half {
                        for k in 0..<halfSize {
                            let wr = twr[k * step], wi = twi[k * step]
                            let a = start + k, b = a + halfSize
                            let tr = re[b] * wr - im[b] * wi
                            let ti = re[b] * wi + im[b] * wr
                            re[b] = re[a] - tr; im[b] = im[a] - ti
                            re[a] += tr; im[a] += ti
                        }
                        start += size
                    }
                    size *= 2
                }
            }
        }
    }

    private func splitReal(re: UnsafePointer<Double>, im: UnsafePointer<Double>, power: UnsafeMutablePointer<Float>) {
        splitRe.withUnsafeBufferPointer { sr in
            splitIm.withUnsafeBufferPointer { si in
                for k in 0...half {
                    let k1 = k == half ? 0 : k, k2 = k == 0 ? 0 : half - k
                    // E = (Z[k] + conj Z[M-k]) / 2 ; O = (Z[k] - conj Z[M-k]) / (2i)
                    let er = 0.5 * (re[k1] + re[k2]), ei = 0.5 * (im[k1] - im[k2])
                    let or = 0.5 * (im[k1] + im[k2]), oi = -0.5 * (re[k1] - re[k2])
                    let xr = er + sr[k] * or - si[k] * oi
                    let xi = ei + sr[k] * oi + si[k] * or
                    power[k] = Float(xr * xr + xi * xi)
                }
            }
        }
    }
}
