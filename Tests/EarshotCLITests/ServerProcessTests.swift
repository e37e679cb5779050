import Foundation
import Testing
import EarshotMemory
#if canImport(Glibc)
import Glibc
#endif

/// `earshot serve` as a process, through raw HTTP where ordinary clients hide what matters: the API key,
/// `--max-upload` (from `Content-Length` and while a chunked body streams), a client that hangs up
/// mid-request (its job is cancelled), SIGTERM (drain: 503s, the request in flight finishes, exit 0), and
/// RSS after a burst.
@Suite(.serialized) struct ServerProcessTests {
    static let boundary = "earshot-test-boundary"

    static func clip(_ name: String = "sense_and_sensibility_01_austen_64kb-0880.wav") throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: try CommandRunner.asset("audio/librivox/\(name)"))))
    }

    /// The first `seconds` of the 10-minute recording as a WAV (16-kHz mono PCM16, 44-byte header).
    static func longWAV(seconds: Int) throws -> [UInt8] {
        let all = try Data(contentsOf: URL(fileURLWithPath: try CommandRunner.asset("long/english-10min-seed0.wav")))
        let dataBytes = min(seconds * 32_000, all.count - 44)
        var wav = Array(all.prefix(44 + dataBytes))
        func put(_ value: Int, at offset: Int) {
            for i in 0..<4 { wav[offset + i] = UInt8((value >> (8 * i)) & 0xFF) }
        }
        put(36 + dataBytes, at: 4)
        put(dataBytes, at: 40)
        return wav
    }

    static func post(_ server: ServerProcess, fields: [(String, String)] = [("model", "whisper-1")],
                     file: [UInt8]?, apiKey: String? = nil, path: String = "/v1/audio/transcriptions") throws -> RawHTTP.Response {
        let body = RawHTTP.multipart(boundary: boundary, fields: fields, file: file.map { ("clip.wav", $0) })
        return try RawHTTP.request(port: server.port, RawHTTP.postHead(path, length: body.count, boundary: boundary, apiKey: apiKey), body: body)
    }

    /// A Prometheus gauge's value from `/metrics`.
    static func metric(_ server: ServerProcess, _ name: String) throws -> Double {
        let text = try RawHTTP.request(port: server.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").body
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(name + " ") }, "no \(name) in /metrics")
        return try #require(Double(line.split(separator: " ")[1]))
    }

    static func errorObject(_ response: RawHTTP.Response) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])?["error"] as? [String: Any]
    }

    @Test func apiKeyUploadLimitAndHangUp() throws {
        let model = try CommandRunner.asset("models/whisper-tiny.en")
        let uploads = try CommandRunner.temporaryDirectory()   // the server's TMPDIR, where uploads are spooled
        defer { try? FileManager.default.removeItem(atPath: uploads) }
        let server = try ServerProcess(["--model", model, "--api-key", "secret", "--max-upload", "25MB"], environment: ["TMPDIR": uploads])
        let clip = try Self.clip()

        // 401 without the key and with a wrong one, as OpenAI's error object; /health needs no key.
        for key in [nil, "wrong"] {
            let response = try Self.post(server, file: clip, apiKey: key)
            #expect(response.status == 401)
            #expect(Self.errorObject(response)?["code"] as? String == "invalid_api_key")
        }
        #expect(try RawHTTP.request(port: server.port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status == 200)
        let ok = try Self.post(server, file: clip, apiKey: "secret")
        #expect(ok.status == 200, "\(ok.body)")
        // The closing delimiter arriving on its own, after the CRLF that precedes it.
        do {
            let body = RawHTTP.multipart(boundary: Self.boundary, fields: [("model", "whisper-1")], file: ("clip.wav", clip))
            let split = body.count - "--\(Self.boundary)--\r\n".utf8.count
            let fd = try RawHTTP.connect(port: server.port)
            defer { close(fd) }
            RawHTTP.send(fd, Array(RawHTTP.postHead("/v1/audio/transcriptions", length: body.count, boundary: Self.boundary, apiKey: "secret").utf8) + body[..<split])
            usleep(200_000)
            RawHTTP.send(fd, Array(body[split...]))
            let response = RawHTTP.readResponse(fd)
            #expect(response.status == 200, "\(response.body)")
        }

        // 413 from Content-Length, before any of the body is sent.
        do {
            let fd = try RawHTTP.connect(port: server.port)
            defer { close(fd) }
            RawHTTP.send(fd, Array(RawHTTP.postHead("/v1/audio/transcriptions", length: 30_000_000, boundary: Self.boundary, apiKey: "secret").utf8))
            let response = RawHTTP.readResponse(fd)
            #expect(response.status == 413)
            #expect(Self.errorObject(response)?["code"] as? String == "file_too_large")
        }
        // 413 while a chunked body (no Content-Length) grows past the limit.
        do {
            let fd = try RawHTTP.connect(port: server.port)
            defer { close(fd) }
            RawHTTP.send(fd, Array(("POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
                + "Content-Type: multipart/form-data; boundary=\(Self.boundary)\r\nTransfer-Encoding: chunked\r\n\r\n").utf8))
            let head = Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.wav\"\r\n\r\n".utf8)
            let block = [UInt8](repeating: 7, count: 1 << 20)
            var sent = 0
            for piece in [head] + Array(repeating: block, count: 30) {
                guard RawHTTP.send(fd, Array(String(piece.count, radix: 16).utf8) + [13, 10] + piece + [13, 10]) else { break }
                sent += piece.count
            }
            shutdown(fd, Int32(SHUT_WR))
            let response = RawHTTP.readResponse(fd)
            #expect(response.status == 413, "sent \(sent) bytes; got \(response.head)")
        }

        // A client that hangs up while its (10-minute) recording is transcribed, answered whole or streamed:
        // the job is cancelled.
        let long = try Self.longWAV(seconds: 620)
        for stream in ["false", "true"] {
            let body = RawHTTP.multipart(boundary: Self.boundary, fields: [("model", "whisper-1"), ("stream", stream)], file: ("long.wav", long))
            let fd = try RawHTTP.connect(port: server.port)
            RawHTTP.send(fd, Array(RawHTTP.postHead("/v1/audio/transcriptions", length: body.count, boundary: Self.boundary, apiKey: "secret").utf8) + body)
            while try Self.metric(server, "earshot_running_jobs") < 1 { usleep(20_000) }
            let windowsBefore = try Self.metric(server, "earshot_windows_recognised")
            close(fd)
            while try Self.metric(server, "earshot_running_jobs") > 0 { usleep(20_000) }
            // 620 s of speech is over 20 windows; a cancelled job stops after the batch in progress.
            let windowsAfter = try Self.metric(server, "earshot_windows_recognised")
            #expect(windowsAfter - windowsBefore < 8, "stream=\(stream): the job ran on after its client left (\(windowsAfter - windowsBefore) windows)")
            #expect(try Self.metric(server, "earshot_windows_in_flight") == 0)
            while try Self.metric(server, "earshot_requests_in_flight") > 0 { usleep(20_000) }
        }
        #expect(server.log.contains("job cancelled"))
        // The server still serves, and no upload is left in the temporary directory.
        #expect(try Self.post(server, file: clip, apiKey: "secret").status == 200)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: uploads)
        #expect(leftovers.isEmpty, "temporary uploads left behind: \(leftovers)")
        #expect(server.stop() == 0)
    }

    @Test func sigtermDrainsThenExitsZero() throws {
        let model = try CommandRunner.asset("models/whisper-tiny.en")
        let server = try ServerProcess(["--model", model])
        // A 6-minute recording streamed back as events: the request is in flight when SIGTERM arrives, and
        // long enough to stay so while the test looks at the draining server.
        let body = RawHTTP.multipart(boundary: Self.boundary, fields: [("model", "whisper-1"), ("stream", "true")],
                                     file: ("long.wav", try Self.longWAV(seconds: 360)))
        let fd = try RawHTTP.connect(port: server.port)
        defer { close(fd) }
        RawHTTP.send(fd, Array(RawHTTP.postHead("/v1/audio/transcriptions", length: body.count, boundary: Self.boundary).utf8) + body)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while RawHTTP.find(Array("data:".utf8), in: received) == nil {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            try #require(n > 0, "the stream ended before its first event")
            received += buffer[0..<n]
        }
        kill(server.process.processIdentifier, SIGTERM)
        var health = 200
        while health != 503 && server.process.isRunning {
            health = (try? RawHTTP.request(port: server.port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))?.status ?? health
        }
        #expect(health == 503)
        let refused = try Self.post(server, file: try Self.clip())
        #expect(refused.status == 503)
        #expect(Self.errorObject(refused)?["code"] as? String == "shutting_down")
        received += RawHTTP.readAll(fd)
        let stream = String(decoding: received, as: UTF8.self)
        #expect(stream.contains("\"type\":\"transcript.text.done\""), "the request in flight did not finish: \(stream.suffix(300))")
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0, "\(server.log)")
    }

    @Test(.disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates")) func rssReturnsToIdleAfterBurst() throws {
        let model = try CommandRunner.asset("models/whisper-tiny.en")
        let server = try ServerProcess(["--model", model])
        let clips = try ["0870", "0880", "0890", "0920", "0930"].map { try Self.clip("sense_and_sensibility_01_austen_64kb-\($0).wav") }
        #expect(try Self.post(server, file: clips[0]).status == 200)
        usleep(500_000)   // the server trims its heap shortly after it goes idle
        let idle = try Self.metric(server, "earshot_process_resident_bytes")
        let idleAnon = try Self.metric(server, "earshot_process_resident_anonymous_bytes")
        let idleFile = try Self.metric(server, "earshot_process_resident_file_bytes")
        let long = try Self.longWAV(seconds: 60)
        let statuses = Locked([Int]())
        DispatchQueue.concurrentPerform(iterations: 12) { i in
            let status = (try? Self.post(server, file: i % 4 == 0 ? long : clips[i % clips.count]).status) ?? -1
            statuses.withLock { $0.append(status) }
        }
        #expect(statuses.withLock { $0 } == Array(repeating: 200, count: 12))
        let peak = try Self.metric(server, "earshot_process_peak_resident_bytes")
        // The server trims its heap shortly after it goes idle; give it a few scrapes to do so.
        var after = try Self.metric(server, "earshot_process_resident_bytes")
        for _ in 0..<100 where after > idle * 1.1 {
            usleep(100_000)
            after = try Self.metric(server, "earshot_process_resident_bytes")
        }
        let trims = (try? Self.metric(server, "earshot_idle_heap_trims_total")) ?? 0
        let heap = try ["in_use", "free", "arena", "mmapped"].map { "\($0) \(Int(try Self.metric(server, "earshot_heap_bytes{kind=\"\($0)\"}") / 1e6))" }
        let threads = (try? String(contentsOfFile: "/proc/\(server.process.processIdentifier)/status", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("Threads:") } ?? ""
        let anon = try Self.metric(server, "earshot_process_resident_anonymous_bytes")
        let file = try Self.metric(server, "earshot_process_resident_file_bytes")
        #expect(after <= idle * 1.1, "RSS idle \(Int(idle / 1e6)) MB (anonymous \(Int(idleAnon / 1e6)), file \(Int(idleFile / 1e6))), after the burst \(Int(after / 1e6)) MB (anonymous \(Int(anon / 1e6)), file \(Int(file / 1e6))); peak \(Int(peak / 1e6)) MB; heap MB \(heap); \(threads); idle trims \(Int(trims))")
        #expect(server.stop() == 0)
    }
}

extension ServerProcessTests {
    /// 12 requests at once against a limit that cannot run them all: each is answered or refused with 429 and
    /// OpenAI's error object (with Retry-After), and the process's peak RSS stays under the limit.
    @Test(.disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates")) func burstUnderAMemoryLimit() throws {
        let model = try CommandRunner.asset("models/whisper-tiny.en")
        let limit = 230_000_000.0
        let server = try ServerProcess(["--model", model, "--memory-limit", "230MB", "--max-queue", "2"])
        let clip = try Self.clip(), long = try Self.longWAV(seconds: 60)
        let responses = Locked([RawHTTP.Response]())
        let done = DispatchGroup()
        for i in 0..<12 {
            done.enter()
            Thread.detachNewThread {
                let response = (try? Self.post(server, file: i % 3 == 0 ? long : clip)) ?? RawHTTP.Response(status: -1, head: "", body: "")
                responses.withLock { $0.append(response) }
                done.leave()
            }
        }
        done.wait()
        let all = responses.withLock { $0 }
        #expect(all.allSatisfy { $0.status == 200 || $0.status == 429 }, "\(all.map(\.status))")
        #expect(all.contains { $0.status == 200 })
        for refused in all where refused.status == 429 {
            #expect(Self.errorObject(refused)?["type"] as? String == "rate_limit_error")
            #expect(refused.head.lowercased().contains("retry-after:"))
        }
        let peak = try Self.metric(server, "earshot_process_peak_resident_bytes")
        #expect(peak <= limit, "peak RSS \(Int(peak / 1e6)) MB over the 230-MB limit")
        #expect(server.stop() == 0)
    }
}

extension ServerProcessTests {
    /// 1,000 bad requests of every kind: each gets its error, and afterwards the process holds no more files
    /// and no more memory than before (within 10 %).
    @Test(.disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates")) func thousandBadRequestsLeakNothing() throws {
        let model = try CommandRunner.asset("models/whisper-tiny.en")
        let uploads = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: uploads) }
        let server = try ServerProcess(["--model", model, "--max-upload", "1MB"], environment: ["TMPDIR": uploads])
        let clip = try Self.clip()
        let pid = server.process.processIdentifier
        func openFiles() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1 }
        #expect(try Self.post(server, file: clip).status == 200)
        usleep(500_000)
        let filesBefore = openFiles()
        let rssBefore = try Self.metric(server, "earshot_process_resident_bytes")
        let notAudio = Array(String(repeating: "not audio ", count: 200).utf8)
        var statuses: [Int: Int] = [:]
        for i in 0..<1000 {
            let response: RawHTTP.Response
            switch i % 10 {
            case 0: response = try Self.post(server, file: nil)                                   // no file
            case 1: response = try Self.post(server, file: [])                                    // empty
            case 2: response = try Self.post(server, file: Array(clip.prefix(30)))                // WAV header cut
            case 3: response = try Self.post(server, fields: [("model", "whisper-1"), ("response_format", "docx")], file: clip)
            case 4: response = try Self.post(server, fields: [("model", "nope")], file: clip)
            case 5: response = try RawHTTP.request(port: server.port, RawHTTP.postHead("/v1/audio/transcriptions", length: 5_000_000, boundary: Self.boundary))
            case 6:   // a multipart body cut short inside the file part
                let body = RawHTTP.multipart(boundary: Self.boundary, fields: [("model", "whisper-1")], file: ("a.wav", clip))
                let cut = Array(body.prefix(body.count - 40))
                response = try RawHTTP.request(port: server.port, RawHTTP.postHead("/v1/audio/transcriptions", length: cut.count, boundary: Self.boundary), body: cut)
            case 7: response = try RawHTTP.request(port: server.port, "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            case 8: response = i % 100 == 8 ? try Self.post(server, file: notAudio)               // through ffmpeg: fewer
                : try Self.post(server, fields: [("model", "whisper-1"), ("temperature", "2")], file: clip)
            default: response = try Self.post(server, fields: [("model", "whisper-1"), ("stream", "sometimes")], file: clip)
            }
            statuses[response.status, default: 0] += 1
            #expect(Self.errorObject(response)?["message"] as? String != nil || response.status == 413, "request \(i): \(response.head)")
        }
        #expect(Set(statuses.keys).isSubset(of: [400, 404, 413]), "\(statuses)")
        #expect(try Self.post(server, file: clip).status == 200)
        var rssAfter = try Self.metric(server, "earshot_process_resident_bytes")
        for _ in 0..<50 where rssAfter > rssBefore * 1.1 {
            usleep(100_000)
            rssAfter = try Self.metric(server, "earshot_process_resident_bytes")
        }
        #expect(rssAfter <= rssBefore * 1.1, "RSS \(Int(rssBefore / 1e6)) MB before, \(Int(rssAfter / 1e6)) MB after 1,000 bad requests")
        #expect(openFiles() <= filesBefore + 2, "open files \(filesBefore) before, \(openFiles()) after")
        #expect(try FileManager.default.contentsOfDirectory(atPath: uploads).isEmpty)
        #expect(server.stop() == 0)
    }
}

/// A value behind a lock, for the burst's threads.
final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}
