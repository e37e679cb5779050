import Foundation
import Testing

/// Where the real models and recordings are (`scripts/fetch-assets.sh` puts them there).
enum TestAssets {
    static var cache: String {
        if let env = ProcessInfo.processInfo.environment["EARSHOT_CACHE"], !env.isEmpty { return env }
        return NSHomeDirectory() + "/.cache/earshot"
    }

    /// The path of a cached asset; fails the test (it does not skip) when the asset is missing.
    static func path(_ relative: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let full = cache + "/" + relative
        try #require(FileManager.default.fileExists(atPath: full),
                     "missing test asset \(full): run scripts/fetch-assets.sh (or make test) first",
                     sourceLocation: sourceLocation)
        return full
    }

    static func fixture(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil),
                               "fixture \(name) is not in the test bundle")
        return try Data(contentsOf: url)
    }
}

/// One faster-whisper oracle file (`scripts/oracle/whisper_oracle.py`).
struct OracleFile: Decodable {
    struct Segment: Decodable {
        var start: Double
        var end: Double
        var text: String
        var tokens: [Int]
        var temperature: Double
    }
    struct Recording: Decodable {
        var id: String
        var file: String
        var language_option: String?
        var language: String
        var text: String
        var segments: [Segment]
        var reference: String
        var metric: String
    }
    var model: String
    var decoding: String
    var recordings: [Recording]

    static func load(_ name: String) throws -> OracleFile {
        try JSONDecoder().decode(OracleFile.self, from: TestAssets.fixture(name))
    }
}
