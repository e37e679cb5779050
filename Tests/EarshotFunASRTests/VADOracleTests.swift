@testable import EarshotFunASR
import EarshotAudio
import Foundation
import Testing

/// Oracle segment lists from funasr-onnx (scripts/oracle/fsmn_vad_oracle.py → Fixtures/fsmn_vad_segments.json).
struct VADOracle {
    struct Recording {
        let name: String
        let samples: Int
        let offline: [SpeechSegment]
        let streaming: [Int: [SpeechSegment]]
        let overrides: [(options: [String: Double], offline: [SpeechSegment])]
    }
    let recordings: [String: Recording]

    static func segments(_ any: Any?) throws -> [SpeechSegment] {
        let pairs = try #require(any as? [[Int]], "segment list expected")
        return pairs.map { SpeechSegment(startMs: $0[0], endMs: $0[1]) }
    }

    static func load() throws -> VADOracle {
        let doc = try Assets.json("fsmn_vad_segments.json")
        let recs = try #require(doc["recordings"] as? [String: [String: Any]])
        var out: [String: Recording] = [:]
        for (name, r) in recs {
            var streaming: [Int: [SpeechSegment]] = [:]
            for (k, v) in try #require(r["streaming"] as? [String: Any]) { streaming[Int(k)!] = try segments(v) }
            var overrides: [(options: [String: Double], offline: [SpeechSegment])] = []
            for o in (r["overrides"] as? [[String: Any]]) ?? [] {
                overrides.append((try #require(o["options"] as? [String: Double]), try segments(o["offline"])))
            }
            out[name] = Recording(name: name, samples: try #require(r["samples"] as? Int), offline: try segments(r["offline"]),
                                  streaming: streaming, overrides: overrides)
        }
        return VADOracle(recordings: out)
    }

    /// Same count, every boundary within `toleranceMs`. Returns the largest boundary difference.
    @discardableResult
    static func expectMatch(_ ours: [SpeechSegment], _ ref: [SpeechSegment], toleranceMs: Int = 10, _ label: String,
                            sourceLocation: SourceLocation = #_sourceLocation) -> Int {
        #expect(ours.count == ref.count, "\(label): \(ours.count) segments, funasr-onnx has \(ref.count)", sourceLocation: sourceLocation)
        var worst = 0
        for (a, b) in zip(ours, ref) {
            worst = max(worst, abs(a.startMs - b.startMs), abs(a.endMs - b.endMs))
            if abs(a.startMs - b.startMs) > toleranceMs || abs(a.endMs - b.endMs) > toleranceMs {
                Issue.record("\(label): segment \(a) vs funasr-onnx \(b)", sourceLocation: sourceLocation)
                break
            }
        }
        return worst
    }
}

/// Runs a stream with pushes of `chunkSamples` and returns the segments plus a check that each event came
/// out no later than its decision needs (start: 40-frame look-back + 2 LFR frames + 1 held frame + one
/// 25 ms window; end: 54-frame look-back likewise; plus one chunk). Events at `finish` are not timed.
func streamSegments(_ vad: FSMNVAD, _ samples: [Float], chunkSamples: Int, options: VADOptions? = nil) throws -> [SpeechSegment] {
    let stream = try vad.makeStream(options: options)
    var segments: [SpeechSegment] = []
    var pushedMs = 0.0
    var openStart: Int?
    let handler: (VADEvent) -> Void = { event in
        switch event {
        case .start(let ms):
            #expect(openStart == nil, "start event while a segment is open")
            openStart = ms
            #expect(pushedMs.isInfinite || pushedMs <= Double(ms) + 455 + Double(chunkSamples) / 16, "start \(ms) reported late, at \(pushedMs) ms")
        case .end(let s):
            #expect(openStart == s.startMs, "end event \(s) without its start")
            openStart = nil
            segments.append(s)
            #expect(pushedMs.isInfinite || pushedMs <= Double(s.endMs) + 600 + Double(chunkSamples) / 16, "end of \(s) reported late, at \(pushedMs) ms")
        }
    }
    samples.withUnsafeBufferPointer { all in
        var at = 0
        while at < all.count {
            let end = min(all.count, at + chunkSamples)
            pushedMs = Double(end) / 16
            stream.push(UnsafeBufferPointer(rebasing: all[at..<end]), handler: handler)
            at = end
        }
    }
    pushedMs = .infinity
    stream.finish(handler: handler)
    #expect(openStart == nil)
    return segments
}

extension FunASRSuite {
    @Suite("FSMN-VAD against funasr-onnx") struct VADOracleTests {
        static let shortRecordings = [
            "audio/pyannote/sample.wav", "audio/zh/asr_example.wav", "audio/zh/mid.wav", "audio/zh/long.wav",
            "audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav", "audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
            "audio/librivox/sense_and_sensibility_01_austen_64kb-0890.wav", "audio/librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
            "audio/librivox/sense_and_sensibility_01_austen_64kb-0930.wav", "audio/cards/001.wav", "audio/cards/002.wav",
            "audio/cards/003.wav", "audio/cards/004.wav", "audio/cards/005.wav",
        ]

        @Test("real recordings: offline and streaming (10 ms … 10 s chunks) segments", arguments: shortRecordings)
        func recording(_ name: String) throws {
            let oracle = try #require(try VADOracle.load().recordings[name], "no oracle entry for \(name); rerun scripts/oracle/fsmn_vad_oracle.py")
            let vad = try FSMNVAD(directory: try Assets.vadModel())
            let samples = try Assets.audio(name)
            #expect(samples.count == oracle.samples)
            VADOracle.expectMatch(try vad.segments(of: samples), oracle.offline, "\(name) offline")
            VADOracle.expectMatch(try vad.segments(ofFile: try Assets.path(name)), oracle.offline, "\(name) file")
            for (chunkMs, ref) in oracle.streaming.sorted(by: { $0.key < $1.key }) {
                VADOracle.expectMatch(try streamSegments(vad, samples, chunkSamples: chunkMs * 16), ref, "\(name) stream \(chunkMs) ms")
            }
        }

        @Test("30-minute concatenation: offline, streaming 10 ms … 10 s, and overridden parameters")
        func longRecording() throws {
            let oracle = try #require(try VADOracle.load().recordings["make-long-audio:30"])
            let vad = try FSMNVAD(directory: try Assets.vadModel())
            let path = try Assets.longRecording(minutes: 30)
            let samples = try AudioFileReader.readAll(path: path)
            #expect(samples.count == oracle.samples)
            let offline = try vad.segments(ofFile: path)
            let worst = VADOracle.expectMatch(offline, oracle.offline, "30 min offline")
            print("30-min: \(offline.count) segments (funasr-onnx \(oracle.offline.count)), worst boundary Δ \(worst) ms, longest \(offline.map { $0.endMs - $0.startMs }.max() ?? 0) ms")
            for (chunkMs, ref) in oracle.streaming.sorted(by: { $0.key < $1.key }) {
                VADOracle.expectMatch(try streamSegments(vad, samples, chunkSamples: chunkMs * 16), ref, "30 min stream \(chunkMs) ms")
            }
            VADOracle.expectMatch(try streamSegments(vad, samples, chunkSamples: 160), oracle.offline, "30 min stream 10 ms")
            #expect(!oracle.overrides.isEmpty)
            for o in oracle.overrides {
                var options = vad.options
                options.maxEndSilenceTime = Int(o.options["max_end_silence_time"]!)
                options.maxSingleSegmentTime = Int(o.options["max_single_segment_time"]!)
                options.speechNoiseThres = o.options["speech_noise_thres"]!
                VADOracle.expectMatch(try vad.segments(ofFile: path, options: options), o.offline, "30 min \(o.options)")
            }
        }

        @Test("empty audio and noise-only audio give no segments")
        func noSpeech() throws {
            let vad = try FSMNVAD(directory: try Assets.vadModel())
            #expect(try vad.segments(of: []).isEmpty)
            #expect(try vad.segments(of: [Float](repeating: 0, count: 100)).isEmpty)
            var seed: UInt32 = 1
            let noise = (0..<48_000).map { _ -> Float in seed = seed &* 1_664_525 &+ 1_013_904_223; return Float(Int(seed >> 16) % 9 - 4) / 32768 }
            #expect(try vad.segments(of: noise).isEmpty)
            #expect(try vad.segments(of: [Float](repeating: 0, count: 48_000)).isEmpty)
        }
    }
}
