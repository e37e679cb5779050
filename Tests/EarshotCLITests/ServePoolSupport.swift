import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Processes the `earshot serve` websocket, pool and drain tests start: servers on free loopback ports,
/// nginx, and the venv's Python running FunASR's client or a load script.
enum ServeTestSupport {
    /// The repository's root (for scripts/ and deploy/).
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// The venv's Python (scripts/setup-venv.sh).
    static func python() throws -> String { try CommandRunner.asset("venv/bin/python") }

    /// A port nothing listens on now (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound, "cannot find a free port")
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Status of `GET path` on 127.0.0.1:`port`, or nil when nothing answers.
    static func getStatus(port: Int, _ path: String) -> Int? {
        getText(port: port, path).map(\.status)
    }

    /// Status and body of `GET path` (HTTP/1.0, read to the end).
    static func getText(port: Int, _ path: String) -> (status: Int, body: String)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return nil }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.components(separatedBy: " ")
        guard parts.count > 1, let status = Int(parts[1]) else { return nil }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, body)
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

/// An `earshot serve` process on a free loopback port, ready once `/health` answers 200.
final class ServeProcess {
    let process = Process()
    let port: Int
    let logPath: String

    init(_ arguments: [String]) throws {
        port = try ServeTestSupport.freePort()
        logPath = NSTemporaryDirectory() + "earshot-serve-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: try CommandRunner.executable)
        process.arguments = ["serve", "--port", String(port)] + arguments
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        while ServeTestSupport.getStatus(port: port, "/health") != 200 {
            try #require(process.isRunning, "earshot serve exited with \(process.terminationStatus) before it was ready:\n\(log)")
            usleep(100_000)
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        unlink(logPath)
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Jobs the engine is running now (from `/metrics`).
    var runningJobs: Double? {
        ServeTestSupport.getText(port: port, "/metrics").flatMap { ServeTestSupport.metric("earshot_running_jobs", in: $0.body) }
    }
}
