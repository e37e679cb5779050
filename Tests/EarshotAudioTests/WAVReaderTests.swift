import Foundation
import Testing
@testable import EarshotAudio

@Suite struct WAVReaderTests {
    @Test("every PCM encoding decodes to the written values within one quantisation step",
          arguments: TestSupport.Encoding.allCases)
    func encodings(_ enc: TestSupport.Encoding) throws {
        let x = TestSupport.sine(440, rate: 16000, count: 4000, amplitude: 0.9)
        let path = TestSupport.write(TestSupport.makeWAV(x.map { [$0] }, rate: 16000, encoding: enc))
        let reader = try AudioFileReader(path: path)
        #expect(reader.sourceSampleRate == 16000)
        #expect(reader.sourceChannels == 1)
        #expect(abs(reader.estimatedDurationSeconds! - 0.25) < 1e-9)
        let y = try AudioFileReader.readAll(path: path)
        #expect(y.count == x.count)
        let err = zip(x, y).map { abs($0 - Double($1)) }.max()!
        #expect(err <= enc.step * 1.01, "max error \(err) for \(enc)")
    }
}
