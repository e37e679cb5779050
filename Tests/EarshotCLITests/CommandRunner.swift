import Foundation
import Testing

/// Runs the built `earshot` executable as a user would, capturing its output and exit status.
enum CommandRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `earshot` binary next to the test bundle (SwiftPM builds both into the same folder).
    static var executable: String {
        get throws {
            var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for _ in 0..<3 {
                let candidate = directory.appendingPathComponent("earshot").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
            let fallback = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("earshot").path
            try #require(FileManager.default.isExecutableFile(atPath: fallback),
                         "the earshot executable was not built next to the tests (looked beside \(CommandLine.arguments[0]))")
            return fallback
        }
    }

    /// - Parameter launcher: a command to run `earshot` under (e.g. `/usr/bin/time -f %M -o FILE`).
    static func run(_ arguments: [String], environment: [String: String] = [:], launcher: [String] = []) throws -> Result {
        let process = Process()
        if launcher.isEmpty {
            process.executableURL = URL(fileURLWithPath: try executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: launcher[0])
            process.arguments = Array(launcher.dropFirst()) + [try executable] + arguments
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    static var cache: String {
        if let env = ProcessInfo.processInfo.environment["EARSHOT_CACHE"], !env.isEmpty { return env }
        return NSHomeDirectory() + "/.cache/earshot"
    }

    static func asset(_ relative: String) throws -> String {
        let path = cache + "/" + relative
        try #require(FileManager.default.fileExists(atPath: path),
                     "missing test asset \(path): run scripts/fetch-assets.sh first")
        return path
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "earshot-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
