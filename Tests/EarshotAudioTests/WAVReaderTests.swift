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

@Suite struct WAVLayoutTests {
    @Test("multichannel is averaged to mono (stereo, 3 and 6 channels; extensible; RIFX big-endian)")
    func mixdown() throws {
        let n = 2000
        let l = TestSupport.sine(300, rate: 16000, count: n, amplitude: 0.4)
        let r = TestSupport.sine(700, rate: 16000, count: n, amplitude: 0.3)
        for channels in [2, 3, 6] {
            for (ext, be) in [(false, false), (true, false), (false, true)] {
                let frames = (0 ..< n).map { i in (0 ..< channels).map { c in c % 2 == 0 ? l[i] : r[i] } }
                let path = TestSupport.write(TestSupport.makeWAV(frames, rate: 16000, encoding: .s24, extensible: ext, bigEndian: be))
                let reader = try AudioFileReader(path: path)
                #expect(reader.sourceChannels == channels)
                let y = try AudioFileReader.readAll(path: path)
                let expected = frames.map { $0.reduce(0, +) / Double(channels) }
                let err = zip(expected, y).map { abs($0 - Double($1)) }.max()!
                #expect(y.count == n && err < 2e-7, "\(channels) ch ext=\(ext) be=\(be): error \(err)")
            }
        }
    }

    @Test("unknown chunks (odd-sized, padded) before fmt/data are skipped")
    func skipsChunks() throws {
        let x = TestSupport.sine(1000, rate: 16000, count: 321)
        let bytes = TestSupport.makeWAV(x.map { [$0] }, rate: 16000, encoding: .s16,
                                        extraChunks: [("LIST", Array("INFOabc".utf8)), ("junk", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])])
        let y = try AudioFileReader.readAll(path: TestSupport.write(bytes))
        #expect(y.count == 321)
        #expect(zip(x, y).allSatisfy { abs($0 - Double($1)) <= 1 / 32768 })
    }

    @Test("data size 0xFFFFFFFF or larger than the file reads to EOF; a partial last frame is dropped")
    func openEndedData() throws {
        let x = TestSupport.sine(500, rate: 16000, count: 1000)
        let frames = x.map { [$0, -$0] }
        for size: UInt32 in [0xFFFF_FFFF, 10_000_000] {
            var bytes = TestSupport.makeWAV(frames, rate: 16000, encoding: .s16, dataSizeOverride: size)
            let reader = try AudioFileReader(path: TestSupport.write(bytes))
            #expect(abs(reader.estimatedDurationSeconds! - 1000.0 / 16000) < 1e-9)
            #expect(try AudioFileReader.readAll(path: TestSupport.write(bytes)).count == 1000)
            bytes.append(contentsOf: [1, 2, 3])  // 3 bytes of a 4-byte stereo frame
            #expect(try AudioFileReader.readAll(path: TestSupport.write(bytes)).count == 1000)
        }
        // A correct header whose data chunk is cut mid-frame (file truncated by a crash).
        let full = TestSupport.makeWAV(frames, rate: 16000, encoding: .s24)
        let cut = Array(full.prefix(full.count - 4))
        #expect(try AudioFileReader.readAll(path: TestSupport.write(cut)).count == 999)
    }

    @Test("a WAV with an empty data chunk returns no samples, not an error")
    func emptyData() throws {
        let path = TestSupport.write(TestSupport.makeWAV([], rate: 44100, encoding: .s16))
        let reader = try AudioFileReader(path: path)
        #expect(try reader.read(maxSamples: 100) == [])
        #expect(try reader.read(maxSamples: 100) == [])
        #expect(reader.estimatedDurationSeconds == 0)
    }

    @Test("error cases: each throws the right code and the message names the file")
    func errors() throws {
        let dir = TestSupport.tempDir()
        let good = TestSupport.makeWAV(TestSupport.sine(440, rate: 16000, count: 100).map { [$0] }, rate: 16000, encoding: .s16)
        let cases: [(String, [UInt8]?, AudioError.Code)] = [
            ("missing.wav", nil, .fileNotFound),
            ("zero.wav", [], .truncated),
            ("riffonly.wav", Array(good.prefix(8)), .truncated),
            ("headercut.wav", Array(good.prefix(30)), .truncated),
            ("nodata.wav", Array(good.prefix(36)), .truncated),
            ("text.wav", Array("hello, this is plainly not audio at all\n".utf8), .notAudio),
            ("tiny.bin", [0x00], .notAudio),
            ("rif.wav", Array("RIF".utf8), .truncated),
        ]
        for (name, bytes, code) in cases {
            let path = dir.appendingPathComponent(name).path
            if let bytes { _ = TestSupport.write(bytes, name: name, in: dir) }
            do {
                _ = try AudioFileReader.readAll(path: path)
                Issue.record("\(name): no error")
            } catch {
                #expect(error.code == code, "\(name): \(error)")
                #expect(error.description.contains(path) && error.message.count > 20, "\(name): \(error)")
            }
        }
        do {
            _ = try AudioFileReader(path: dir.path)
            Issue.record("directory: no error")
        } catch {
            #expect(error.code == .unreadable && error.description.contains(dir.path))
        }
    }

    @Test("without ffmpeg: other containers → .decoderMissing saying how to install it; garbage → .notAudio")
    func noFFmpeg() throws {
        let dir = TestSupport.tempDir()
        let flac = TestSupport.write(Array("fLaC".utf8) + [UInt8](repeating: 0, count: 60), name: "x.flac", in: dir)
        do {
            _ = try AudioFileReader(path: flac, targetSampleRate: 16000, ffmpegSearchPath: "/nonexistent")
            Issue.record("no error")
        } catch {
            #expect(error.code == .decoderMissing)
            #expect(error.message.contains("install ffmpeg (apt-get install ffmpeg)") && error.description.contains(flac))
        }
        let junk = TestSupport.write([UInt8](repeating: 0x42, count: 64), name: "x.mp3", in: dir)
        do {
            _ = try AudioFileReader(path: junk, targetSampleRate: 16000, ffmpegSearchPath: "/nonexistent")
            Issue.record("no error")
        } catch {
            #expect(error.code == .notAudio && error.description.contains(junk))
        }
        // A µ-law WAV is a WAV, but only ffmpeg decodes it.
        var ulaw = TestSupport.makeWAV([[0.1]], rate: 8000, encoding: .u8)
        ulaw[20] = 7
        let ulawPath = TestSupport.write(ulaw, name: "ulaw.wav", in: dir)
        do {
            _ = try AudioFileReader(path: ulawPath, targetSampleRate: 16000, ffmpegSearchPath: "/nonexistent")
            Issue.record("no error")
        } catch {
            #expect(error.code == .unsupportedFormat && error.message.contains("µ-law") && error.message.contains("apt-get install ffmpeg"))
        }
    }

    @Test("output is identical whatever maxSamples the caller reads with (with and without resampling)")
    func readSizeInvariance() throws {
        let x = (0 ..< 30_000).map { i in 0.3 * sin(Double(i) * 0.031) + 0.1 * sin(Double(i) * 0.9) }
        for rate in [16000, 44100, 8000] {
            let path = TestSupport.write(TestSupport.makeWAV(x.map { [$0, $0 * 0.5] }, rate: rate, encoding: .f32))
            let whole = try AudioFileReader.readAll(path: path)
            #expect(whole.count == (30_000 * 16000 + rate - 1) / rate)
            for size in [1, 7, 160, 4096, 100_000] {
                let reader = try AudioFileReader(path: path)
                var got: [Float] = []
                while case let c = try reader.read(maxSamples: size), !c.isEmpty {
                    #expect(c.count <= size)
                    got += c
                }
                #expect(got == whole, "rate \(rate), maxSamples \(size)")
            }
        }
    }

    @Test("real recordings decode: every cached WAV, with plausible durations")
    func realRecordings() throws {
        for rel in ["audio/pyannote/sample.wav", "audio/zh/asr_example.wav", "audio/cards/001.wav",
                    "audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"] {
            let path = try TestSupport.asset(rel)
            let reader = try AudioFileReader(path: path)
            let y = try AudioFileReader.readAll(path: path)
            #expect(reader.sourceSampleRate == 16000 && reader.sourceChannels == 1)
            #expect(abs(Double(y.count) / 16000 - reader.estimatedDurationSeconds!) < 0.001, "\(rel)")
            let rms = (y.reduce(0) { $0 + Double($1 * $1) } / Double(y.count)).squareRoot()
            #expect(rms > 0.003 && rms < 0.5, "\(rel): rms \(rms)")
        }
    }
}
