import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// An `earshot serve` process for a test: started on a free loopback port, ready once `/health` answers 200,
/// stopped with SIGTERM (its exit status is then the test's to check).
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let logPath: String
    /// `/health` answers of 503 "loading" seen while the server started.
    private(set) var loadingAnswers = 0

    /// Starts `earshot serve ARGS --port <free port>` and waits until `/health` is 200 (or the process exits).
    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        port = try Self.freePort()
        logPath = NSTemporaryDirectory() + "earshot-serve-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: try CommandRunner.executable)
        process.arguments = ["serve", "--port", String(port)] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        while true {
            if !process.isRunning {
                Issue.record("earshot serve exited with \(process.terminationStatus) before it was ready:\n\(self.log)")
                throw CLIErrorForTest("server did not start")
            }
            if let response = try? RawHTTP.request(port: port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") {
                if response.status == 200 { return }
                // While the stand-in hands the port over to the real server, a probe accepted just as it shuts
                // down is closed without an answer (like a refused connection, a retry gets the answer). Seen
                // once, in the AddressSanitizer run of the suite at load 6.
                if response.head.isEmpty { usleep(100_000); continue }
                // While the models load, a stand-in answers 503 "loading".
                #expect(response.status == 503 && response.body.contains("loading"), "health while starting: \(response.head) \(response.body)")
                loadingAnswers += 1
            }
            usleep(100_000)
        }
    }

    deinit {
        if process.isRunning { process.terminate() }
        unlink(logPath)
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and returns the exit status once the process has exited.
    func stop() -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// A port nothing listens on now (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CLIErrorForTest("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct CLIErrorForTest: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// HTTP/1.1 over a plain socket, for what ordinary clients hide: chunked uploads, hanging up mid-request.
enum RawHTTP {
    struct Response {
        var status: Int
        var head: String
        var body: String
    }

    /// Connects to 127.0.0.1:`port`.
    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok else { close(fd); throw CLIErrorForTest("cannot connect to port \(port)") }
        return fd
    }

    /// Writes all of `bytes`; `false` when the peer has closed.
    @discardableResult
    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Reads until the peer closes.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    static func parse(_ bytes: [UInt8]) -> Response {
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return Response(status: status, head: head, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// Reads one response: its head, then `Content-Length` bytes of body, or (without a length) until the
    /// peer closes.
    static func readResponse(_ fd: Int32) -> Response {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let end = find(separator, in: out) {
                let head = String(decoding: out[..<end], as: UTF8.self)
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
                if let length, out.count - end - 4 >= length { break }
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return parse(out)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }

    /// A `multipart/form-data` body: text fields, then the file part (when given).
    static func multipart(boundary: String, fields: [(String, String)], file: (name: String, bytes: [UInt8])?) -> [UInt8] {
        var body: [UInt8] = []
        for (name, value) in fields {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        if let file {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(file.name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
            body += file.bytes
            body += Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        return body
    }

    /// The head of a multipart POST to `path` with a `Content-Length`.
    static func postHead(_ path: String, length: Int, boundary: String, apiKey: String? = nil, close: Bool = true) -> String {
        var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=\(boundary)\r\nContent-Length: \(length)\r\n"
        if let apiKey { head += "Authorization: Bearer \(apiKey)\r\n" }
        if close { head += "Connection: close\r\n" }
        return head + "\r\n"
    }

    /// One request (with `Connection: close`), the whole response.
    static func request(port: Int, _ request: String, body: [UInt8] = []) throws -> Response {
        let fd = try connect(port: port)
        defer { close(fd) }
        send(fd, Array(request.utf8) + body)
        return parse(readAll(fd))
    }
}
