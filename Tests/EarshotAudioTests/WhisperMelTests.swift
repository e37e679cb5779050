import Foundation
import Testing
@testable import EarshotAudio

/// Golden tests against faster-whisper 1.2.1's numpy `FeatureExtractor` (fixtures from
/// scripts/fixtures/audio_whisper_mel.py) and openai-whisper's `mel_filters.npz`.
@Suite struct WhisperMelTests {
    struct Small: Decodable {
        struct Filter: Decodable { let band: [Int]; let bin: [Int]; let value: String }
        struct Case: Decodable { let name: String; let bands: Int; let padding: Int; let frames: Int; let samples: String; let mel: String }
        let filters: [String: Filter]
        let cases: [Case]
    }
    struct Big: Decodable {
        struct Case: Decodable {
            let name: String; let sampleCount: Int; let bands: Int; let padding: Int; let frames: Int
            let sampleSum: Int; let sampleSquareSum: Int
            let frameIndices: [Int]; let columns: String; let frameSums: String; let bandSums: String
        }
        let source: String
        let cases: [Case]
    }

    static func floats(_ b64: String) -> [Float] {
        let d = Data(base64Encoded: b64)!
        return d.withUnsafeBytes { raw in (0 ..< d.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
    }
    static func int16s(_ b64: String) -> [Int16] {
        let d = Data(base64Encoded: b64)!
        return d.withUnsafeBytes { raw in (0 ..< d.count / 2).map { Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) } }
    }
    static func small() throws -> Small { try JSONDecoder().decode(Small.self, from: TestSupport.fixture("audio_whisper_mel_small.json")) }

    @Test("computed Slaney filters equal openai-whisper's mel_filters.npz within 1e-6", arguments: [80, 128])
    func filters(bands: Int) throws {
        let ref = try Self.small().filters[String(bands)]!
        let values = Self.floats(ref.value)
        var expected = [Float](repeating: 0, count: bands * 201)
        for i in values.indices { expected[ref.band[i] * 201 + ref.bin[i]] = values[i] }
        let got = WhisperMelSpectrogram.melFilters(bands: bands)
        let err = zip(got, expected).map { abs($0 - $1) }.max()!
        print("mel filters \(bands): max |Swift − npz| = \(err)")
        #expect(err <= 1e-6, "max filter error \(err)")
        #expect(values.count > 300)  // the fixture really holds the filters
    }

    @Test("self-contained clips match faster-whisper within 1e-4 (incl. reflection wider than the input)")
    func smallCases() throws {
        for c in try Self.small().cases {
            let x = Self.int16s(c.samples).map { Float($0) / 32768 }
            let m = WhisperMelSpectrogram(melBands: c.bands).compute(x, padding: c.padding)
            let ref = Self.floats(c.mel)
            #expect(m.bands == c.bands && m.frames == c.frames, "\(c.name): shape \(m.bands)×\(m.frames)")
            #expect(m.frames == WhisperMelSpectrogram.frameCount(sampleCount: x.count, padding: c.padding))
            guard m.values.count == ref.count else { continue }
            let err = zip(m.values, ref).map { abs($0 - $1) }.max() ?? 0
            print("mel \(c.name): max |Swift − faster-whisper| = \(err)")
            #expect(err <= 1e-4, "\(c.name): max error \(err)")
        }
    }

    @Test("first 3 s of a LibriVox clip read by AudioFileReader match faster-whisper within 1e-4")
    func libriVox3s() throws {
        let big = try JSONDecoder().decode(Big.self, from: TestSupport.fixture("audio_whisper_mel_3s.json"))
        let all = try AudioFileReader.readAll(path: try TestSupport.asset(big.source))
        for c in big.cases {
            let x = Array(all.prefix(c.sampleCount))
            let ints = x.map { Int(($0 * 32768).rounded()) }
            #expect(ints.reduce(0, +) == c.sampleSum && ints.map { $0 * $0 }.reduce(0, +) == c.sampleSquareSum,
                    "the cached clip is not the one the fixture was made from")
            let m = WhisperMelSpectrogram(melBands: c.bands).compute(x, padding: c.padding)
            #expect(m.bands == c.bands && m.frames == c.frames)
            guard m.frames == c.frames else { continue }
            let cols = Self.floats(c.columns)
            var err: Float = 0
            for (i, f) in c.frameIndices.enumerated() {
                for b in 0 ..< c.bands { err = max(err, abs(m[b, f] - cols[i * c.bands + b])) }
            }
            print("mel \(c.name): max |Swift − faster-whisper| over stored frames = \(err)")
            #expect(err <= 1e-4, "\(c.name): max error over stored frames \(err)")
            let fs = Self.floats(c.frameSums), bs = Self.floats(c.bandSums)
            let frameErr = (0 ..< m.frames).map { f in abs((0 ..< m.bands).reduce(Float(0)) { $0 + m[$1, f] } - fs[f]) }.max()!
            let bandErr = (0 ..< m.bands).map { b in abs((0 ..< m.frames).reduce(Float(0)) { $0 + m[b, $1] } - bs[b]) }.max()!
            #expect(frameErr <= Float(c.bands) * 1e-4, "\(c.name): frame-sum error \(frameErr)")
            #expect(bandErr <= Float(c.frames) * 1e-4, "\(c.name): band-sum error \(bandErr)")
        }
    }

    @Test("windowed logMelPower with context + global max equals compute on the whole signal")
    func windowedEqualsWhole() throws {
        let path = try TestSupport.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")
        let x = try AudioFileReader.readAll(path: path)
        let mel = WhisperMelSpectrogram()
        let whole = mel.compute(x)
        var padded = x
        padded.append(contentsOf: repeatElement(0, count: 160))
        let frames = padded.count / 160
        var raw = [[Float]](repeating: [], count: 80)
        // Windows of 1000 frames (10 s), plus a first window of 1 frame to exercise partial left context.
        var a = 0
        for size in [1] + Array(repeating: 1000, count: frames / 1000 + 1) where a < frames {
            let b = min(frames, a + size)
            let lo = max(0, 160 * a - 200), hi = min(padded.count, 160 * b + 200)
            let spanEnd = b == frames ? padded.count : 160 * b
            let piece = Array(padded[lo ..< hi])
            let m = mel.logMelPower(piece, span: (160 * a - lo) ..< (spanEnd - lo))
            #expect(m.frames == b - a)
            for band in 0 ..< 80 { raw[band] += m.values[band * m.frames ..< (band + 1) * m.frames] }
            a = b
        }
        let joined = MelSpectrogram(bands: 80, frames: frames, values: raw.flatMap { $0 })
        let windowed = WhisperMelSpectrogram.normalize(joined, maximum: joined.maximum)
        #expect(windowed == whole)
    }

    @Test("the FFT agrees with a direct DFT", arguments: [200, 8, 12, 15, 49])
    func fftMatchesDFT(n: Int) {
        var x = (0 ..< 2 * n).map { sin(Double($0) * 0.37) + cos(Double($0 * $0) * 0.011) }
        let input = x
        var work = [Double](repeating: 0, count: 2 * n)
        let plan = ComplexFFT(count: n)
        x.withUnsafeMutableBufferPointer { xp in work.withUnsafeMutableBufferPointer { plan.forward(xp.baseAddress!, work: $0.baseAddress!) } }
        var err = 0.0
        for k in 0 ..< n {
            var re = 0.0, im = 0.0
            for t in 0 ..< n {
                let a = -2 * Double.pi * Double(t * k) / Double(n)
                re += input[2 * t] * cos(a) - input[2 * t + 1] * sin(a)
                im += input[2 * t] * sin(a) + input[2 * t + 1] * cos(a)
            }
            err = max(err, abs(re - x[2 * k]), abs(im - x[2 * k + 1]))
        }
        #expect(err < 1e-9, "n=\(n): max error \(err)")
    }
}
