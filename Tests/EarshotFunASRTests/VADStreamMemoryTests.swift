@testable import EarshotFunASR
import EarshotAudio
import Foundation
import Testing

extension FunASRSuite {
    @Suite("FSMN-VAD streaming memory") struct VADStreamMemoryTests {
        /// Resident-memory growth allowed over a 2-hour stream (stated bound; measured growth is printed).
        static let boundBytes = 8 << 20

        @Test("a 2-hour stream runs in constant memory (RSS growth < 8 MB)")
        func twoHours() throws {
            let vad = try FSMNVAD(directory: try Assets.vadModel())
            let path = try Assets.longRecording(minutes: 30)
            let stream = try vad.makeStream()
            var segments = 0, lastEnd = 0
            let handler: (VADEvent) -> Void = { if case .end(let s) = $0 { segments += 1; #expect(s.startMs >= lastEnd); lastEnd = s.endMs } }
            var baseline = 0, peak = 0, pushedSeconds = 0
            for pass in 0..<4 {   // the 30-minute recording 4 times through ONE stream: 2 hours of audio
                let reader = try AudioFileReader(path: path)
                while true {
                    let chunk = try reader.read(maxSamples: 16_000)
                    if chunk.isEmpty { break }
                    chunk.withUnsafeBufferPointer { stream.push($0, handler: handler) }
                    pushedSeconds += 1
                    if pass == 0 && pushedSeconds == 60 { baseline = ProcessMemory.resident }
                    if pushedSeconds % 60 == 0 { peak = max(peak, ProcessMemory.resident) }
                }
                reader.close()
            }
            stream.finish(handler: handler)
            #expect(pushedSeconds >= 7_200)
            #expect(segments > 4 * 150)
            let growth = peak - baseline
            print("2-hour stream: \(segments) segments, RSS after 1 min \(baseline >> 20) MB, peak \(peak >> 20) MB, growth \(growth >> 10) KB")
            #expect(growth < Self.boundBytes, "RSS grew by \(growth >> 10) KB over 2 hours")
        }
    }
}
