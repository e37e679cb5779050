import Foundation
import Hummingbird
import AsyncHTTPClient
import HTTPTypes
import Logging
import NIOCore
import ServiceLifecycle
import Testing
import EarshotFunASR
import EarshotPipeline
import EarshotServer
import EarshotWhisper

/// Models and recordings for the server tests (tiny.en at int8 and FSMN-VAD, as `earshot serve` loads them).
enum ServerAssets {
    static var cache: String {
        if let env = ProcessInfo.processInfo.environment["EARSHOT_CACHE"], !env.isEmpty { return env }
        return NSHomeDirectory() + "/.cache/earshot"
    }

    static func path(_ relative: String) throws -> String {
        let path = cache + "/" + relative
        try #require(FileManager.default.fileExists(atPath: path), "missing test asset \(path): run scripts/fetch-assets.sh")
        return path
    }

    static func clip(_ id: String = "0870") throws -> String {
        try path("audio/librivox/sense_and_sensibility_01_austen_64kb-\(id).wav")
    }

    private static let models = Result { () throws -> (WhisperModel, FSMNVAD) in
        (try WhisperModel(directory: try path("models/whisper-tiny.en"), precision: .int8),
         try FSMNVAD(directory: try path("models/fsmn-vad")))
    }

    /// The loaded models, shared by every test (weights are loaded once).
    static func loaded() throws -> (WhisperModel, FSMNVAD) { try models.get() }

    /// An engine over the shared models.
    static func engine(_ configure: (inout EngineOptions) -> Void = { _ in }) throws -> RecognitionEngine {
        let (whisper, vad) = try loaded()
        var options = EngineOptions()
        configure(&options)
        return try RecognitionEngine(whisper: whisper, vad: vad, options: options)
    }

    private static let sharedEngine = Result { try engine() }
    static func shared() throws -> RecognitionEngine { try sharedEngine.get() }

    static func context(engine: RecognitionEngine? = nil, _ configure: (inout ServerOptions) -> Void = { _ in }) throws -> ServerContext {
        var options = ServerOptions()
        configure(&options)
        return ServerContext(engine: try engine ?? shared(), modelName: "whisper-tiny.en", options: options)
    }
}

/// A multipart/form-data request body.
struct Form {
    static let boundary = "earshot-test-7d3f"
    var fields: [(String, String)] = [("model", "whisper-1")]
    var file: (name: String, bytes: [UInt8])?
    var closed = true
    /// Bytes after the closing delimiter (RFC 2046's epilogue, which receivers ignore).
    var epilogue = ""

    init(_ fields: [(String, String)] = [("model", "whisper-1")], file path: String?) throws {
        self.fields = fields
        if let path { file = ((path as NSString).lastPathComponent, Array(try Data(contentsOf: URL(fileURLWithPath: path)))) }
    }

    init(_ fields: [(String, String)] = [("model", "whisper-1")], fileName: String, bytes: [UInt8]) {
        self.fields = fields
        file = (fileName, bytes)
    }

    var bytes: [UInt8] {
        var body: [UInt8] = []
        for (name, value) in fields {
            body += Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        if let file {
            body += Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(file.name)\"\r\nContent-Type: audio/wav\r\n\r\n".utf8)
            body += file.bytes + Array("\r\n".utf8)
        }
        if closed { body += Array("--\(Self.boundary)--\r\n".utf8) + Array(epilogue.utf8) }
        return body
    }

    var headers: HTTPFields { [.contentType: "multipart/form-data; boundary=\(Self.boundary)"] }
    var buffer: ByteBuffer { ByteBuffer(bytes: bytes) }
}

/// A response as the tests read it.
struct Reply: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer

    var text: String { String(buffer: body) }
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] }
    /// OpenAI's error object, when the body is one.
    var error: [String: Any]? { json?["error"] as? [String: Any] }
}

/// An HTTP client for a server running in the test process, without a deadline: `swift test` runs
/// synchronous tests (which block their thread for as long as a subprocess runs) on the same few threads as
/// the server's handlers, so a request may wait a long time for a thread; HummingbirdTesting's clients give up
/// after 15–20 s.
struct TestHTTPClient: Sendable {
    let http: HTTPClient
    let port: Int

    func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(uri)")
        request.method = .init(rawValue: method.rawValue)
        for field in headers { request.headers.add(name: field.name.rawName, value: field.value) }
        if let body { request.body = .bytes(body) }
        let response = try await http.execute(request, timeout: .minutes(30))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return Reply(status: HTTPResponse.Status(code: Int(response.status.code)), headers: fields, body: bytes)
    }
}

extension ServerContext {
    /// Runs the application on a free loopback port while `body` talks to it, then shuts it down.
    func test(_ body: @escaping @Sendable (TestHTTPClient) async throws -> Void) async throws {
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let app = ServerApplication.makeApplication(context: self, port: 0) { channel in
            portSink.yield(channel.localAddress?.port ?? 0)
            portSink.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "earshot.test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            var failure: (any Error)?
            do { try await body(TestHTTPClient(http: http, port: port)) } catch { failure = error }
            try await http.shutdown()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            if let failure { throw failure }
        }
    }
}
