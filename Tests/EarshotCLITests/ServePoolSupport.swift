import Foundation
import Testing

/// Processes the `earshot serve` websocket, pool and drain tests start: servers on free loopback ports,
/// nginx, and the venv's Python running FunASR's client or a load script.
enum ServeTestSupport {
    /// The repository's root (for scripts/ and deploy/).
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// The venv's Python (scripts/setup-venv.sh).
    static func python() throws -> String { try CommandRunner.asset("venv/bin/python") }

    /// Status and body of `GET path` on 127.0.0.1:`port`, or nil when nothing answers.
    static func get(port: Int, _ path: String) -> RawHTTP.Response? {
        try? RawHTTP.request(port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    }

    /// A gauge's value in `/metrics` text.
    static func metric(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ")[1])
        }
        return nil
    }

    /// Runs a program to its end, capturing its output.
    static func run(_ executable: String, _ arguments: [String], directory: String? = nil) throws -> CommandRunner.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes at once so that neither fills while the other is drained.
        let errData = Locked<Data>(Data())
        let reader = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errData.done { usleep(10_000) }
        return CommandRunner.Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                                    stderr: String(decoding: errData.value, as: UTF8.self))
    }

    /// A value one thread sets once and another waits for.
    final class Locked<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Value
        private var isSet = false
        init(_ value: Value) { stored = value }
        func set(_ value: Value) { lock.lock(); stored = value; isSet = true; lock.unlock() }
        var done: Bool { lock.lock(); defer { lock.unlock() }; return isSet }
        var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    }
}

extension ServerProcess {
    var pid: Int32 { process.processIdentifier }

    /// Jobs the engine is running now (from `/metrics`).
    var runningJobs: Double? {
        ServeTestSupport.get(port: port, "/metrics").flatMap { ServeTestSupport.metric("earshot_running_jobs", in: $0.body) }
    }
}
