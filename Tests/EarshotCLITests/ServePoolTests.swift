import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `earshot serve` past one process: three servers behind nginx with deploy/nginx/earshot-pool.conf (one is
/// killed mid-load), and the SIGTERM drain a rolling restart relies on.
@Suite("earshot serve pool and drain", .serialized)
struct ServePoolTests {
    static let nginx = "/usr/sbin/nginx"

    /// nginx with deploy/nginx/earshot-pool.conf, its upstream ports and listen port replaced.
    final class Nginx {
        let process = Process()
        let directory: String
        let port: Int

        init(upstreams: [Int]) throws {
            try #require(FileManager.default.isExecutableFile(atPath: ServePoolTests.nginx),
                         "nginx is not installed: run scripts/install-deps.sh (Debian package nginx-light)")
            directory = try CommandRunner.temporaryDirectory()
            port = try ServerProcess.freePort()
            var pool = try String(contentsOfFile: ServeTestSupport.repositoryRoot + "/deploy/nginx/earshot-pool.conf", encoding: .utf8)
            try #require(upstreams.count == 3 && pool.contains("127.0.0.1:8003") && pool.contains("listen 127.0.0.1:8000;"))
            for (i, upstream) in upstreams.enumerated() {
                pool = pool.replacingOccurrences(of: "127.0.0.1:800\(i + 1) ", with: "127.0.0.1:\(upstream) ")
            }
            pool = pool.replacingOccurrences(of: "listen 127.0.0.1:8000;", with: "listen 127.0.0.1:\(port);")
            try pool.write(toFile: directory + "/earshot-pool.conf", atomically: true, encoding: .utf8)
            let main = """
                \(getuid() == 0 ? "user root;" : "")
                worker_processes 1;
                daemon off;
                pid \(directory)/nginx.pid;
                error_log \(directory)/error.log warn;
                events { worker_connections 256; }
                http {
                    access_log \(directory)/access.log;
                    client_body_temp_path \(directory)/body;
                    proxy_temp_path \(directory)/proxy;
                    fastcgi_temp_path \(directory)/fastcgi;
                    uwsgi_temp_path \(directory)/uwsgi;
                    scgi_temp_path \(directory)/scgi;
                    include \(directory)/earshot-pool.conf;
                }
                """
            try main.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
            let check = try ServeTestSupport.run(ServePoolTests.nginx, ["-t", "-p", directory, "-c", directory + "/nginx.conf"])
            try #require(check.status == 0, "nginx -t rejects the pool config:\n\(check.stderr)")
            process.executableURL = URL(fileURLWithPath: ServePoolTests.nginx)
            process.arguments = ["-p", directory, "-c", directory + "/nginx.conf"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            while ServeTestSupport.get(port: port, "/health")?.status != 200 {
                try #require(process.isRunning, "nginx exited: \(errorLog)")
                usleep(50_000)
            }
        }

        var errorLog: String { (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? "" }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGQUIT); process.waitUntilExit() }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test("three servers behind nginx, one killed mid-load: every request succeeds or gets a clear 502/503; websockets pass through")
    func poolSurvivesAKilledServer() throws {
        let clips = try (1...5).map { try CommandRunner.asset("audio/cards/00\($0).wav") }
        let servers = try (0..<3).map { _ in try ServerProcess([]) }
        let nginx = try Nginx(upstreams: servers.map(\.port))
        let victim = servers[1]
        let result = try ServeTestSupport.run(try ServeTestSupport.python(), [
            ServeTestSupport.repositoryRoot + "/scripts/server/pool_load.py", "http://127.0.0.1:\(nginx.port)",
            "--files"] + clips + ["--requests", "30", "--concurrency", "6", "--kill-pid", String(victim.pid), "--kill-after", "8"])
        try #require(result.status == 0, "load script failed:\n\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(report["killed"] as? Bool == true)
        #expect(!victim.process.isRunning)
        #expect(results.count == 30, "every request is accounted for")
        var succeeded = 0, refused = 0
        for r in results {
            let status = r["status"] as? Int
            #expect(r["error"] is NSNull, "request \(r["index"]!) failed without an HTTP answer: \(r)")
            let body = r["body"] as? String ?? ""
            let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            switch status {
            case 200:
                succeeded += 1
                #expect((json?["text"] as? String)?.isEmpty == false, "200 without text: \(r)")
            case 429, 502, 503:
                refused += 1
                let error = json?["error"] as? [String: Any]
                #expect((error?["message"] as? String)?.isEmpty == false, "\(status!) without an OpenAI error body: \(r)")
            default:
                Issue.record("unexpected answer: \(r)")
            }
        }
        // Only requests in flight on the killed process can fail; the rest go to the two others.
        #expect(refused <= 6, "\(refused) refused")
        #expect(succeeded >= 24)
        let afterKill = results.filter { $0["sent_after_kill"] as? Bool == true }
        #expect(afterKill.count >= 10 && afterKill.allSatisfy { $0["status"] as? Int == 200 },
                "requests sent after the kill all reach a live process: \(afterKill.map { $0["status"] ?? "nil" })")
        print("pool: \(succeeded) answered 200, \(refused) refused (502/503/429), of \(results.count)")
        for server in servers where server !== victim { #expect(server.process.isRunning && server.runningJobs == 0) }
        // FunASR's websocket through the pool (nginx's upgrade headers at `/`), with one process down.
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let wav = try CommandRunner.asset(FunASRWebSocketTests.clip)
        let client = Result { try FunASRWebSocketTests.runClient(port: nginx.port, mode: "offline", wav: wav, directory: directory) }
        if case .failure = client { Issue.record("nginx error log:\n\(nginx.errorLog)") }
        let (lines, events) = try client.get()
        #expect(events.count == 1 && events.first?["mode"] as? String == "offline")
        #expect(lines.first?.components(separatedBy: "\t").dropFirst().first == (try FunASRWebSocketTests.transcribeText(wav)))
        withExtendedLifetime((servers, nginx)) {}   // not stopped before here (ARC may end them after their last use)
    }

    @Test("deploy/k8s manifests parse and follow the memory, probe and drain rules")
    func kubernetesManifests() throws {
        // kubeconform is not available: PyYAML parses every document and the script checks the rules.
        let result = try ServeTestSupport.run(try ServeTestSupport.python(), [
            ServeTestSupport.repositoryRoot + "/scripts/server/check_deploy.py", ServeTestSupport.repositoryRoot + "/deploy/k8s"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasPrefix("ok: 5 documents"))
    }

    @Test("SIGTERM during a request: it completes with 200, new connections are refused or get 503, exit 0")
    func drainOnSIGTERM() throws {
        let directory = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Four minutes of the two-speaker call: long enough to be in flight when the signal comes.
        let wav = directory + "/long.wav"
        let made = try ServeTestSupport.run(try ServeTestSupport.python(), ["-c", """
            import sys, wave
            with wave.open(sys.argv[2]) as w: params, frames = w.getparams(), w.readframes(w.getnframes())
            with wave.open(sys.argv[1], "wb") as out:
                out.setparams(params); out.writeframes(frames * 8)
            """, wav, try CommandRunner.asset("audio/pyannote/sample.wav")])
        try #require(made.status == 0, "\(made.stderr)")
        let server = try ServerProcess([])
        let result = try ServeTestSupport.run(try ServeTestSupport.python(), [
            ServeTestSupport.repositoryRoot + "/scripts/server/drain_probe.py", String(server.port), String(server.pid), wav])
        try #require(result.status == 0, "drain probe failed:\n\(result.stdout)\n\(result.stderr)")
        // Bounded: a server that does not exit after draining is a failure, not a hung test.
        for _ in 0..<1200 where server.process.isRunning { usleep(100_000) }
        try #require(!server.process.isRunning, "earshot serve still running after the drain:\n\(server.log)")
        #expect(server.process.terminationReason == .exit && server.process.terminationStatus == 0,
                "earshot serve should exit 0 after draining:\n\(server.log)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let inFlight = try #require(report["in_flight"] as? [String: Any])
        #expect(report["alive_at_term"] as? Bool == true, "the request was answered before SIGTERM: nothing was drained")
        #expect(inFlight["status"] as? Int == 200, "the in-flight request: \(inFlight)")
        let body = inFlight["body"] as? String ?? ""
        let text = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["text"] as? String ?? ""
        #expect(text.split(separator: " ").count > 200, "the whole four minutes were transcribed: \(body.prefix(200))")
        let afterTerm = try #require(report["after_term"] as? [[String: Any]])
        print("drain: in flight \(inFlight["status"] ?? "nil"); after SIGTERM \(afterTerm.map { "\($0["what"]!): \($0["status"] as? Int ?? 0) \($0["error"] as? String ?? "")" })")
        for attempt in afterTerm {
            let refused = (attempt["error"] as? String)?.contains("Connection") == true
            #expect(refused || attempt["status"] as? Int == 503, "after SIGTERM: \(attempt)")
        }
    }
}
