import Foundation
import Testing
@testable import EarshotAudio
#if canImport(Glibc)
import Glibc
#endif

/// The ffmpeg route. Skipped (with a printed note) when ffmpeg is missing locally; a failure when `CI=true`,
/// where scripts/install-deps.sh installs it.
@Suite struct FFmpegTests {
    @Test("FLAC made from a real clip decodes through ffmpeg to the same samples as the native WAV path")
    func flacMatchesWAV() throws {
        guard let ffmpeg = try TestSupport.ffmpegOrNil() else { print("ffmpeg not installed: skipping"); return }
        let wav = try TestSupport.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")
        let flac = TestSupport.tempDir().appendingPathComponent("clip.audio").path   // extension says nothing
        #expect(try TestSupport.run(ffmpeg, ["-v", "error", "-i", wav, "-f", "flac", flac]) == 0)
        let reader = try AudioFileReader(path: flac)
        #expect(reader.usesFFmpeg)
        #expect(reader.sourceSampleRate == 16000 && reader.sourceChannels == 1)
        let native = try AudioFileReader.readAll(path: wav)
        let viaFFmpeg = try AudioFileReader.readAll(path: flac)
        #expect(abs(reader.estimatedDurationSeconds! - Double(native.count) / 16000) < 0.02)
        #expect(viaFFmpeg.count == native.count)
        let err = zip(native, viaFFmpeg).map { abs($0 - $1) }.max() ?? 1
        #expect(err < 1e-6, "max difference \(err)")
    }

    @Test("44.1 kHz stereo MP3/Ogg/M4A: reported rate and channels, 1 kHz tone at the right level, 16 kHz out")
    func lossyContainers() throws {
        guard let ffmpeg = try TestSupport.ffmpegOrNil() else { print("ffmpeg not installed: skipping"); return }
        let dir = TestSupport.tempDir()
        let frames = TestSupport.sine(1000, rate: 44100, count: 44100 * 2).map { [$0, $0] }
        let wav = TestSupport.write(TestSupport.makeWAV(frames, rate: 44100, encoding: .s16), name: "t.wav", in: dir)
        for (name, codecArgs) in [("t.mp3", ["-c:a", "libmp3lame", "-b:a", "192k"]), ("t.ogg", ["-c:a", "libvorbis"]),
                                   ("t.m4a", ["-c:a", "aac", "-b:a", "192k"]), ("t.opus", ["-c:a", "libopus"])] {
            let out = dir.appendingPathComponent(name).path
            guard try TestSupport.run(ffmpeg, ["-v", "error", "-i", wav] + codecArgs + [out]) == 0 else {
                print("\(name): this ffmpeg cannot encode it; skipped")
                continue
            }
            let reader = try AudioFileReader(path: out)
            #expect(reader.sourceChannels == 2, "\(name)")
            #expect(reader.sourceSampleRate == (name == "t.opus" ? 48000 : 44100), "\(name): \(reader.sourceSampleRate)")
            let y = try AudioFileReader.readAll(path: out)
            #expect(abs(Double(y.count) / 16000 - 2) < 0.1, "\(name): \(y.count) samples")
            let a = ResamplerTests.amplitude(y[4000 ..< 28000], hz: 1000, rate: 16000)
            #expect(abs(20 * log10(a / 0.5)) < 0.5, "\(name): 1 kHz at \(20 * log10(a / 0.5)) dB")
        }
    }

    @Test("garbage with ffmpeg present → .notAudio naming the file, promptly")
    func garbage() throws {
        guard try TestSupport.ffmpegOrNil() != nil else { print("ffmpeg not installed: skipping"); return }
        var g = SystemRandomNumberGenerator()
        let path = TestSupport.write((0 ..< 5000).map { _ in UInt8.random(in: 0 ... 255, using: &g) } , name: "song.mp3")
        let start = ContinuousClock.now
        do {
            _ = try AudioFileReader.readAll(path: path)
            Issue.record("random bytes decoded")
        } catch {
            #expect(error.code == .notAudio || error.code == .decoderFailed, "\(error)")
            #expect(error.description.contains(path))
        }
        #expect(ContinuousClock.now - start < .seconds(20))
    }

    @Test("closing a reader mid-stream kills and reaps ffmpeg (no zombie)")
    func noZombie() throws {
        guard let ffmpeg = try TestSupport.ffmpegOrNil() else { print("ffmpeg not installed: skipping"); return }
        let dir = TestSupport.tempDir()
        let wav = try TestSupport.asset("audio/pyannote/sample.wav")
        let flac = dir.appendingPathComponent("long.flac").path
        #expect(try TestSupport.run(ffmpeg, ["-v", "error", "-i", wav, flac]) == 0)
        let reader = try AudioFileReader(path: flac)
        #expect(try reader.read(maxSamples: 100).count == 100)
        let pid = try #require((reader.source as? FFmpegDecoder)?.pid)
        #expect(kill(pid, 0) == 0)   // running (or finished but not yet reaped)
        reader.close()
        #expect(kill(pid, 0) == -1 && errno == ESRCH, "ffmpeg pid \(pid) still exists after close()")
    }
}

@Suite struct StreamingMemoryTests {
    /// Streams a 10-minute 22.05 kHz stereo WAV (header data size 0xFFFFFFFF, 53 MB) through a FIFO, so
    /// the reader cannot know or map the length, and checks its buffers stay bounded (< 512 KiB, and no growth after the
    /// first minute; measured ≈ 350 KB: the 64 KiB read buffer + decoded block + resampler history + pending output).
    @Test("a long open-ended stream through a FIFO keeps the reader's buffers bounded")
    func boundedBuffers() throws {
        let dir = TestSupport.tempDir()
        let fifo = dir.appendingPathComponent("stream.wav").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let rate = 22050, seconds = 600
        let writer = Thread {
            let fd = open(fifo, O_WRONLY)
            guard fd >= 0 else { return }
            var hdr = TestSupport.makeWAV([[0, 0]], rate: rate, encoding: .s16, dataSizeOverride: 0xFFFF_FFFF)
            hdr.removeLast(4)   // drop the one frame makeWAV needed to know the channel count
            var block = [UInt8](repeating: 0, count: rate * 4)   // one second of stereo s16
            var phase = 0.0
            _ = hdr.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            for _ in 0 ..< seconds {
                for i in 0 ..< rate {
                    let v = Int16(8000 * sin(phase)); phase += 2 * Double.pi * 440 / Double(rate)
                    let u = UInt16(bitPattern: v)
                    block[4 * i] = UInt8(u & 0xFF); block[4 * i + 1] = UInt8(u >> 8)
                    block[4 * i + 2] = UInt8(u & 0xFF); block[4 * i + 3] = UInt8(u >> 8)
                }
                var off = 0
                while off < block.count {
                    let n = block.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
                    if n <= 0 { close(fd); return }
                    off += n
                }
            }
            close(fd)
        }
        writer.start()
        let reader = try AudioFileReader(path: fifo)
        #expect(reader.estimatedDurationSeconds == nil)
        #expect(reader.sourceSampleRate == rate && reader.sourceChannels == 2)
        var total = 0, maxFootprint = 0, footprintAfterMinute = 0
        while case let c = try reader.read(maxSamples: 16000), !c.isEmpty {
            total += c.count
            maxFootprint = max(maxFootprint, reader.bufferFootprintBytes)
            if total == 60 * 16000 { footprintAfterMinute = maxFootprint }
        }
        print("streamed \(total) samples (\(total / 16000) s); reader buffers peak at \(maxFootprint) bytes (\(footprintAfterMinute) after 1 min)")
        #expect(total == seconds * 16000)
        #expect(maxFootprint < 512 * 1024)
        #expect(maxFootprint == footprintAfterMinute, "buffers grew after the first minute")
    }
}
