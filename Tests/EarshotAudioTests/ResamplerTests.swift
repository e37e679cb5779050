import Foundation
import Testing
@testable import EarshotAudio

@Suite struct ResamplerTests {
    /// Least-squares amplitude of a sinusoid at `hz` in `y` (fit of a·sin + b·cos).
    static func amplitude(_ y: ArraySlice<Float>, hz: Double, rate: Int) -> Double {
        var ss = 0.0, cc = 0.0, sc = 0.0, ys = 0.0, yc = 0.0
        for (i, v) in zip(y.indices, y) {
            let w = 2 * Double.pi * hz * Double(i) / Double(rate)
            let s = sin(w), c = cos(w)
            ss += s * s; cc += c * c; sc += s * c; ys += Double(v) * s; yc += Double(v) * c
        }
        let det = ss * cc - sc * sc
        let a = (ys * cc - yc * sc) / det, b = (yc * ss - ys * sc) / det
        return (a * a + b * b).squareRoot()
    }

    static func rms(_ y: ArraySlice<Float>) -> Double {
        (y.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(y.count)).squareRoot()
    }

    static func resample(_ x: [Float], from: Int, to: Int) -> [Float] {
        let r = Resampler(inputRate: from, outputRate: to)
        return r.process(x) + r.finish()
    }

    @Test("a 1 kHz tone passes within 0.1 dB", arguments: [44100, 48000, 22050, 8000, 11025, 44101, 96000])
    func passband(rate: Int) {
        let x = TestSupport.sine(1000, rate: rate, count: rate).map { Float($0) }   // 1 s, amplitude 0.5
        let y = Self.resample(x, from: rate, to: 16000)
        #expect(y.count == 16000)
        let a = Self.amplitude(y[2000 ..< 14000], hz: 1000, rate: 16000)
        let db = 20 * log10(a / 0.5)
        print("resampler \(rate) → 16000: 1 kHz gain \(db) dB")
        #expect(abs(db) < 0.1, "\(rate) → 16000: 1 kHz gain \(db) dB")
    }

    @Test("tones above the new Nyquist (8 kHz) are attenuated ≥ 60 dB",
          arguments: [(44100, 8300.0), (44100, 9000.0), (44100, 12000.0), (44100, 20000.0), (48000, 8500.0), (22050, 10000.0), (44101, 9000.0)])
    func stopband(rate: Int, hz: Double) {
        let x = TestSupport.sine(hz, rate: rate, count: rate).map { Float($0) }
        let y = Self.resample(x, from: rate, to: 16000)
        let db = 20 * log10(Self.rms(y[2000 ..< 14000]) / (0.5 / 2.squareRoot()))
        print("resampler \(rate) → 16000: \(hz) Hz at \(db) dB")
        #expect(db <= -60, "\(rate) → 16000: \(hz) Hz leaks at \(db) dB")
    }

    @Test("upsampling 8 kHz → 16 kHz: a 3 kHz tone passes, its 5 kHz image is ≥ 60 dB down")
    func imaging() {
        let x = TestSupport.sine(3000, rate: 8000, count: 8000).map { Float($0) }
        let y = Self.resample(x, from: 8000, to: 16000)
        let mid = y[2000 ..< 14000]
        let a = Self.amplitude(mid, hz: 3000, rate: 16000)
        #expect(abs(20 * log10(a / 0.5)) < 0.1)
        let image = Self.amplitude(mid, hz: 5000, rate: 16000)
        #expect(20 * log10(image / 0.5) <= -60, "image at \(20 * log10(image / 0.5)) dB")
    }

    @Test("chunked processing is bit-identical to one call", arguments: [44100, 8000, 44101, 16001])
    func chunkInvariance(rate: Int) {
        var g = SystemRandomNumberGenerator()
        let x = (0 ..< 50_000).map { _ in Float.random(in: -1 ... 1, using: &g) }
        let whole = Self.resample(x, from: rate, to: 16000)
        #expect(whole.count == (50_000 * 16000 + rate - 1) / rate)
        for maxChunk in [1, 13, 1000, 30_000] {
            let r = Resampler(inputRate: rate, outputRate: 16000)
            var out: [Float] = [], i = 0
            while i < x.count {
                let n = min(x.count - i, Int.random(in: 1 ... maxChunk, using: &g))
                out += r.process(Array(x[i ..< i + n]))
                i += n
            }
            out += r.finish()
            #expect(out == whole, "\(rate) Hz, chunks ≤ \(maxChunk)")
        }
    }

    @Test("after reset, a resampler's output equals a fresh one's", arguments: [44100, 8000, 16001])
    func resetStartsAnew(rate: Int) {
        var g = SystemRandomNumberGenerator()
        let first = (0 ..< 7_000).map { _ in Float.random(in: -1 ... 1, using: &g) }
        let second = (0 ..< 9_001).map { _ in Float.random(in: -1 ... 1, using: &g) }
        let reused = Resampler(inputRate: rate, outputRate: 16000)
        _ = reused.process(first)   // a stream left unfinished, then a stream finished, then reset
        reused.reset()
        _ = reused.process(first) + reused.finish()
        reused.reset()
        let again = reused.process(second) + reused.finish()
        #expect(again == Self.resample(second, from: rate, to: 16000))
    }

    @Test("documented filter lengths")
    func filterLengths() {
        #expect(Resampler(inputRate: 44100, outputRate: 16000).tapsPerPhase == 316)
        #expect(Resampler(inputRate: 48000, outputRate: 16000).tapsPerPhase == 344)
        #expect(Resampler(inputRate: 8000, outputRate: 16000).tapsPerPhase == 116)
        #expect(abs(Resampler(inputRate: 44100, outputRate: 16000).cutoffHz - 7600) < 1e-9)
    }
}
