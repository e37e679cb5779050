import Foundation

/// A complex FFT of one fixed size in double precision: mixed-radix (2, 4, 5 and a generic odd-radix
/// butterfly), Stockham auto-sort so no bit reversal is needed. Twiddles are precomputed per stage.
///
/// Used by `WhisperMelSpectrogram` for the 400-point real DFT (as a 200-point complex FFT); double
/// precision because numpy's `rfft` (which faster-whisper calls on float32 frames) computes in float64,
/// and a float32 FFT's error on bins 60 dB below a frame's peak would already exceed 1e-4 in log-mel.
struct ComplexFFT {
    /// Transform length.
    let count: Int
    private let radices: [Int]
    private let stageTwiddles: [[Double]]   // per stage: (re, im) pairs of w^(u·q), index (q·p + u)
    private let roots: [Int: [Double]]      // per odd radix p: (re, im) of exp(−2πi·k/p), k < p

    /// Plans a transform of `count` points (any positive size; fast when it factors into 2, 3, 4, 5).
    init(count: Int) {
        precondition(count > 0)
        self.count = count
        var rest = count
        var r: [Int] = []
        while rest % 4 == 0 { r.append(4); rest /= 4 }
        while rest % 2 == 0 { r.append(2); rest /= 2 }
        var f = 3
        while rest > 1 {
            while rest % f == 0 { r.append(f); rest /= f }
            f += 2
        }
        radices = r
        var tw: [[Double]] = []
        var rootTables: [Int: [Double]] = [:]
        var len = count
        for p in r {
            let m = len / p
            var t = [Double](repeating: 0, count: 2 * m * p)
            for q in 0 ..< m {
                for u in 0 ..< p {
                    let a = -2 * Double.pi * Double(u * q) / Double(len)
                    t[2 * (q * p + u)] = cos(a)
                    t[2 * (q * p + u) + 1] = sin(a)
                }
            }
            tw.append(t)
            if p != 2 && p != 4 && p != 5 && rootTables[p] == nil {
                rootTables[p] = (0 ..< p).flatMap { k -> [Double] in
                    let a = -2 * Double.pi * Double(k) / Double(p)
                    return [cos(a), sin(a)]
                }
            }
            len = m
        }
        stageTwiddles = tw
        roots = rootTables
    }

    /// Forward transform of the interleaved complex vector `x` (2·count doubles), in place; `work` is
    /// scratch of the same size.
    func forward(_ x: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>) {
        var src = x, dst = work
        var len = count, s = 1
        for (stage, p) in radices.enumerated() {
            let m = len / p
            stageTwiddles[stage].withUnsafeBufferPointer { tw in
                switch p {
                case 2: ComplexFFT.radix2(src, dst, m: m, s: s, tw: tw.baseAddress!)
                case 4: ComplexFFT.radix4(src, dst, m: m, s: s, tw: tw.baseAddress!)
                case 5: ComplexFFT.radix5(src, dst, m: m, s: s, tw: tw.baseAddress!)
                default:
                    roots[p]!.withUnsafeBufferPointer { w in
                        ComplexFFT.radixGeneric(src, dst, p: p, m: m, s: s, tw: tw.baseAddress!, roots: w.baseAddress!)
                    }
                }
            }
            swap(&src, &dst)
            len = m
            s *= p
        }
        if src != x { x.update(from: src, count: 2 * count) }
    }

    // Stockham stage: inputs a_t = x[r + s(q + t·m)], outputs y[r + s(p·q + u)] = w^(u·q) Σ_t a_t ω_p^(t·u).
    private static func radix2(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, m: Int, s: Int,
                               tw: UnsafePointer<Double>) {
        for q in 0 ..< m {
            let wr = tw[4 * q + 2], wi = tw[4 * q + 3]
            for r in 0 ..< s {
                let a = 2 * (r + s * q), b = 2 * (r + s * (q + m))
                let o0 = 2 * (r + s * 2 * q), o1 = o0 + 2 * s
                let dr = x[a] - x[b], di = x[a + 1] - x[b + 1]
                y[o0] = x[a] + x[b]; y[o0 + 1] = x[a + 1] + x[b + 1]
                y[o1] = dr * wr - di * wi; y[o1 + 1] = dr * wi + di * wr
            }
        }
    }

    private static func radix4(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, m: Int, s: Int,
                               tw: UnsafePointer<Double>) {
        for q in 0 ..< m {
            let w = tw + 8 * q
            for r in 0 ..< s {
                let i0 = 2 * (r + s * q), st = 2 * s * m
                let a0r = x[i0], a0i = x[i0 + 1], a1r = x[i0 + st], a1i = x[i0 + st + 1]
                let a2r = x[i0 + 2 * st], a2i = x[i0 + 2 * st + 1], a3r = x[i0 + 3 * st], a3i = x[i0 + 3 * st + 1]
                let t0r = a0r + a2r, t0i = a0i + a2i, t1r = a0r - a2r, t1i = a0i - a2i
                let t2r = a1r + a3r, t2i = a1i + a3i, t3r = a1r - a3r, t3i = a1i - a3i
                // b0 = t0 + t2, b1 = t1 − i·t3, b2 = t0 − t2, b3 = t1 + i·t3
                let o = 2 * (r + s * 4 * q), os = 2 * s
                put(y, o, t0r + t2r, t0i + t2i, w[0], w[1])
                put(y, o + os, t1r + t3i, t1i - t3r, w[2], w[3])
                put(y, o + 2 * os, t0r - t2r, t0i - t2i, w[4], w[5])
                put(y, o + 3 * os, t1r - t3i, t1i + t3r, w[6], w[7])
            }
        }
    }

    // cos/sin(2π/5), cos/sin(4π/5)
    private static let c1 = cos(2 * Double.pi / 5), s1 = sin(2 * Double.pi / 5)
    private static let c2 = cos(4 * Double.pi / 5), s2 = sin(4 * Double.pi / 5)

    private static func radix5(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, m: Int, s: Int,
                               tw: UnsafePointer<Double>) {
        let c1 = ComplexFFT.c1, s1 = ComplexFFT.s1, c2 = ComplexFFT.c2, s2 = ComplexFFT.s2
        for q in 0 ..< m {
            let w = tw + 10 * q
            for r in 0 ..< s {
                let i0 = 2 * (r + s * q), st = 2 * s * m
                let a0r = x[i0], a0i = x[i0 + 1]
                let a1r = x[i0 + st], a1i = x[i0 + st + 1], a4r = x[i0 + 4 * st], a4i = x[i0 + 4 * st + 1]
                let a2r = x[i0 + 2 * st], a2i = x[i0 + 2 * st + 1], a3r = x[i0 + 3 * st], a3i = x[i0 + 3 * st + 1]
                let p1r = a1r + a4r, p1i = a1i + a4i, m1r = a1r - a4r, m1i = a1i - a4i
                let p2r = a2r + a3r, p2i = a2i + a3i, m2r = a2r - a3r, m2i = a2i - a3i
                let b1r = a0r + c1 * p1r + c2 * p2r, b1i = a0i + c1 * p1i + c2 * p2i
                let b2r = a0r + c2 * p1r + c1 * p2r, b2i = a0i + c2 * p1i + c1 * p2i
                // ω = e^(−2πi/5): b_u = A_u − i·B_u for u = 1, 2 and conjugate-symmetric partners 4, 3.
                let e1r = s1 * m1r + s2 * m2r, e1i = s1 * m1i + s2 * m2i
                let e2r = s2 * m1r - s1 * m2r, e2i = s2 * m1i - s1 * m2i
                let o = 2 * (r + s * 5 * q), os = 2 * s
                put(y, o, a0r + p1r + p2r, a0i + p1i + p2i, w[0], w[1])
                put(y, o + os, b1r + e1i, b1i - e1r, w[2], w[3])
                put(y, o + 2 * os, b2r + e2i, b2i - e2r, w[4], w[5])
                put(y, o + 3 * os, b2r - e2i, b2i + e2r, w[6], w[7])
                put(y, o + 4 * os, b1r - e1i, b1i + e1r, w[8], w[9])
            }
        }
    }

    @inline(__always)
    private static func put(_ y: UnsafeMutablePointer<Double>, _ o: Int, _ br: Double, _ bi: Double,
                            _ wr: Double, _ wi: Double) {
        y[o] = br * wr - bi * wi
        y[o + 1] = br * wi + bi * wr
    }

    private static func radixGeneric(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, p: Int, m: Int,
                                     s: Int, tw: UnsafePointer<Double>, roots: UnsafePointer<Double>) {
        for q in 0 ..< m {
            for r in 0 ..< s {
                let o = 2 * (r + s * p * q)
                for u in 0 ..< p {
                    var sr = 0.0, si = 0.0
                    for t in 0 ..< p {
                        let i = 2 * (r + s * (q + t * m)), k = 2 * ((t * u) % p)
                        sr += x[i] * roots[k] - x[i + 1] * roots[k + 1]
                        si += x[i] * roots[k + 1] + x[i + 1] * roots[k]
                    }
                    let wr = tw[2 * (q * p + u)], wi = tw[2 * (q * p + u) + 1]
                    y[o + 2 * s * u] = sr * wr - si * wi
                    y[o + 2 * s * u + 1] = sr * wi + si * wr
                }
            }
        }
    }
}
