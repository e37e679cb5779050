import EarshotAudio
import Foundation
import Testing

/// Real models and recordings from `scripts/fetch-assets.sh`, and committed fixtures.
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

    /// resemblyzer's `pretrained.pt`.
    static func resemblyzer() throws -> String { try path("models/resemblyzer/pretrained.pt") }

    /// The FSMN-VAD model directory.
    static func vadModel() throws -> String {
        for f in ["config.yaml", "am.mvn", "model.pt"] { _ = try path("models/fsmn-vad/" + f) }
        return cache + "/models/fsmn-vad"
    }

    /// 16 kHz mono samples of a cache recording.
    static func audio(_ relative: String) throws -> [Float] {
        try AudioFileReader.readAll(path: try path(relative))
    }

    /// A committed fixture file's bytes.
    static func fixture(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"),
                               "fixture \(name) is missing from Tests/EarshotSpeakerTests/Fixtures")
        return try Data(contentsOf: url)
    }
}

/// Largest absolute element difference.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The root suite (serialised: the model tests are heavy and the machine is small).
@Suite(.serialized) struct SpeakerSuite {}
