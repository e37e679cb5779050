import Foundation
import Testing
@testable import EarshotAudio

/// Inputs found by the fuzzers (Fuzz/, docs/reliability.md), committed under Fuzz/regressions/.
@Suite struct AudioFuzzRegressionTests {
    static func regression(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions/\(name)").path
    }

    @Test("a WAV header's absurd sample rate is refused before it sizes the resampler (FuzzWAV out-of-memory)")
    func absurdSampleRate() throws {
        let path = Self.regression("wav-rate-522mhz.wav")
        let error = #expect(throws: AudioError.self) { try AudioFileReader(path: path) }
        #expect(error?.code == .notAudio)
        #expect(error?.message.contains("522141696 Hz") == true, "\(String(describing: error))")
        // The bound is the documented one: 768 kHz decodes (and resamples to 16 kHz), one more hertz does not.
        let x = TestSupport.sine(1000, rate: 768_000, count: 7680, amplitude: 0.5)
        let ok = TestSupport.write(TestSupport.makeWAV(x.map { [$0] }, rate: 768_000, encoding: .s16))
        #expect(try AudioFileReader.readAll(path: ok).count == 160)
        let bad = TestSupport.write(TestSupport.makeWAV(x.map { [$0] }, rate: 768_001, encoding: .s16))
        #expect(throws: AudioError.self) { try AudioFileReader(path: bad) }
    }
}

/// Target rates a caller may ask the reader for, against what the file holds.
@Suite struct AudioTargetRateTests {
    @Test("a file more than 64× the target rate is refused with a clear error, not a trap in the resampler")
    func downsamplingBeyondTheResampler() throws {
        let x = TestSupport.sine(1000, rate: 768_000, count: 7680, amplitude: 0.5)
        let path = TestSupport.write(TestSupport.makeWAV(x.map { [$0] }, rate: 768_000, encoding: .s16))
        let error = #expect(throws: AudioError.self) { try AudioFileReader(path: path, targetSampleRate: 8000) }
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.message.contains("768000 Hz") == true && error?.message.contains("ffmpeg -i") == true,
                "\(String(describing: error))")
        #expect(try AudioFileReader.readAll(path: path, targetSampleRate: 12_000).count == 120)
    }
}
