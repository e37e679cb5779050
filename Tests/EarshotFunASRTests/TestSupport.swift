import EarshotAudio
import Foundation
import Testing

/// Locates the asset cache (models and recordings fetched by scripts/fetch-assets.sh) and the committed
/// fixtures. Missing assets make the test fail, never skip.
enum Assets {
    /// `$EARSHOT_CACHE`, default `~/.cache/earshot`.
    static var cache: String {
        if let c = ProcessInfo.processInfo.environment["EARSHOT_CACHE"], !c.isEmpty { return c }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/earshot"
    }

    /// Absolute path of a cache asset; records a failure naming the fix when it is missing.
    static func path(_ relative: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let p = cache + "/" + relative
        try #require(FileManager.default.fileExists(atPath: p),
                     "asset \(p) is missing: run scripts/fetch-assets.sh (EARSHOT_CACHE=\(cache))",
                     sourceLocation: sourceLocation)
        return p
    }

    /// The FSMN-VAD model directory, after checking its files are there.
    static func vadModel(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        for f in ["config.yaml", "am.mvn", "model.pt"] { _ = try path("models/fsmn-vad/" + f, sourceLocation: sourceLocation) }
        return cache + "/models/fsmn-vad"
    }

    /// 16 kHz mono samples of a cache recording.
    static func audio(_ relative: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Float] {
        try AudioFileReader.readAll(path: try path(relative, sourceLocation: sourceLocation))
    }

    /// A committed fixture file's bytes.
    static func fixture(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"),
                               "fixture \(name) is missing from Tests/EarshotFunASRTests/Fixtures")
        return try Data(contentsOf: url)
    }

    /// A committed JSON fixture.
    static func json(_ name: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: fixture(name)) as? [String: Any], "\(name) is not a JSON object")
    }

    /// Repository root (for scripts), from this file's location.
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// Builds the long concatenated recording with scripts/make-long-audio.py (cached in the temp dir).
    static func longRecording(minutes: Int) throws -> String {
        let out = NSTemporaryDirectory() + "earshot-vad-long-\(minutes)min.wav"
        if FileManager.default.fileExists(atPath: out) { return out }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", repositoryRoot + "/scripts/make-long-audio.py", "--minutes", String(minutes), "--out", out]
        var env = ProcessInfo.processInfo.environment
        env["EARSHOT_CACHE"] = cache
        p.environment = env
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "scripts/make-long-audio.py failed; run scripts/fetch-assets.sh")
        return out
    }
}

/// Resident and peak memory of this process from /proc/self/status, in bytes.
enum ProcessMemory {
    static func value(_ key: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let digits = line.split(separator: " ").compactMap { Int($0) }
            return (digits.first ?? 0) * 1024
        }
        return 0
    }
    /// Current resident set size.
    static var resident: Int { value("VmRSS") }
}
