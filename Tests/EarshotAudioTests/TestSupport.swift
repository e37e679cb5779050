import Foundation
@testable import EarshotAudio

/// Helpers shared by the audio tests: WAV synthesis, temporary files, cached real recordings.
enum TestSupport {
    /// A fresh temporary directory for one test.
    static func tempDir() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("earshot-audio-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Sample encodings `makeWAV` can write.
    enum Encoding: CaseIterable {
        case u8, s16, s24, s32, f32, f64
        var bits: Int { switch self { case .u8: 8; case .s16: 16; case .s24: 24; case .s32, .f32: 32; case .f64: 64 } }
        var isFloat: Bool { self == .f32 || self == .f64 }
        /// Largest expected error: the quantisation step, or float32 rounding (6e-8 at |x| < 1) when finer.
        var step: Double { isFloat ? 6e-8 : max(1 / pow(2, Double(bits - 1)), 6e-8) }
    }

    /// Encodes interleaved `frames[frame][channel]` (values in [−1, 1)) as a WAV.
    static func makeWAV(_ frames: [[Double]], rate: Int, encoding: Encoding, extensible: Bool = false,
                        extraChunks: [(String, [UInt8])] = [], dataSizeOverride: UInt32? = nil,
                        bigEndian: Bool = false) -> [UInt8] {
        let channels = frames.first?.count ?? 1
        let bytes = encoding.bits / 8
        var data: [UInt8] = []
        func put(_ v: UInt64, _ n: Int) {
            let le = (0 ..< n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }
            data.append(contentsOf: bigEndian ? le.reversed() : le)
        }
        for f in frames {
            for x in f {
                switch encoding {
                case .u8: put(UInt64(max(0, min(255, Int((x * 128).rounded(.down)) + 128))), 1)
                case .s16: put(UInt64(bitPattern: Int64(max(-32768, min(32767, Int((x * 32768).rounded(.down)))))), 2)
                case .s24: put(UInt64(bitPattern: Int64(max(-8_388_608, min(8_388_607, Int((x * 8_388_608).rounded(.down)))))), 3)
                case .s32: put(UInt64(bitPattern: Int64(max(-2_147_483_648, min(2_147_483_647, Int((x * 2_147_483_648).rounded(.down)))))), 4)
                case .f32: put(UInt64(Float(x).bitPattern), 4)
                case .f64: put(x.bitPattern, 8)
                }
            }
        }
        var out: [UInt8] = []
        func u16(_ v: Int) { let b = [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)]; out += bigEndian ? b.reversed() : b }
        func u32(_ v: UInt32) { let b = (0 ..< 4).map { UInt8(v >> (8 * UInt32($0)) & 0xFF) }; out += bigEndian ? b.reversed() : b }
        func tag(_ s: String) { out += Array(s.utf8) }
        let tagValue = encoding.isFloat ? 3 : 1
        var fmt: [UInt8] = []
        do {
            let saved = out; out = []
            u16(extensible ? 0xFFFE : tagValue); u16(channels); u32(UInt32(rate)); u32(UInt32(rate * channels * bytes))
            u16(channels * bytes); u16(encoding.bits)
            if extensible {
                u16(22); u16(encoding.bits); u32(0)
                u16(tagValue); out += [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
            }
            fmt = out; out = saved
        }
        tag(bigEndian ? "RIFX" : "RIFF"); u32(0); tag("WAVE")
        for (id, body) in extraChunks {
            tag(id); u32(UInt32(body.count)); out += body
            if body.count % 2 == 1 { out.append(0) }
        }
        tag("fmt "); u32(UInt32(fmt.count)); out += fmt
        tag("data"); u32(dataSizeOverride ?? UInt32(data.count)); out += data
        let riff = UInt32(out.count - 8)
        let rb = (0 ..< 4).map { UInt8(riff >> (8 * UInt32($0)) & 0xFF) }
        out.replaceSubrange(4 ..< 8, with: bigEndian ? rb.reversed() : rb)
        return out
    }

    /// Writes `bytes` to a new temporary file and returns its path.
    static func write(_ bytes: [UInt8], name: String = "a.wav", in dir: URL? = nil) -> String {
        let url = (dir ?? tempDir()).appendingPathComponent(name)
        precondition(FileManager.default.createFile(atPath: url.path, contents: Data(bytes)))
        return url.path
    }

    /// A sine wave.
    static func sine(_ hz: Double, rate: Int, count: Int, amplitude: Double = 0.5) -> [Double] {
        (0 ..< count).map { amplitude * sin(2 * Double.pi * hz * Double($0) / Double(rate)) }
    }

    /// `$EARSHOT_CACHE` (default `~/.cache/earshot`).
    static var cacheDir: String {
        if let c = ProcessInfo.processInfo.environment["EARSHOT_CACHE"], !c.isEmpty { return c }
        return NSHomeDirectory() + "/.cache/earshot"
    }

    /// Path of a cached asset under `cacheDir`, or a thrown failure telling the developer to fetch it.
    static func asset(_ relative: String) throws -> String {
        let p = cacheDir + "/" + relative
        guard FileManager.default.fileExists(atPath: p) else { throw MissingAsset(path: p) }
        return p
    }

    struct MissingAsset: Error, CustomStringConvertible {
        let path: String
        var description: String { "missing test asset \(path): run scripts/fetch-assets.sh" }
    }

    /// Contents of a resource in `Fixtures/`.
    static func fixture(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil) else {
            throw MissingAsset(path: "Tests/EarshotAudioTests/Fixtures/" + name)
        }
        return try Data(contentsOf: url)
    }

    /// ffmpeg location, or a failure when `CI=true` (CI installs it via scripts/install-deps.sh).
    static func ffmpegOrNil() throws -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"]
        if let f = FFmpegDecoder.locate(searchPath: path) { return f }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            throw MissingAsset(path: "ffmpeg (CI=true: scripts/install-deps.sh must install it)")
        }
        return nil
    }

    /// Runs a command, returning its exit status.
    @discardableResult
    static func run(_ exe: String, _ args: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}
