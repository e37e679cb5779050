import Hummingbird
import HummingbirdWebSocket
import Logging
import EarshotPipeline
import EarshotWire

/// FunASR's websocket protocol at `/` (`ws://host:port/`), as FunASR's runtime serves it: FunASR's own
/// clients (`funasr_wss_client.py`, the C++ and JavaScript clients) talk to `earshot serve` unchanged.
/// See ``FunASRProtocol`` for the messages and ``FunASRSession`` for how a connection is served.
public enum FunASRWebSocket {
    /// Adds the websocket route to `router` (the router given to `http1WebSocketUpgrade(webSocketRouter:)`).
    /// - Parameters:
    ///   - path: where clients connect; FunASR's clients connect to `/`.
    ///   - engine: the shared recognizer.
    ///   - accept: asked before each upgrade: throw an `HTTPError` (401, 503) to refuse it.
    public static func register<Context: WebSocketRequestContext>(
        on router: Router<Context>, path: RouterPath = "/", engine: RecognitionEngine,
        settings: FunASRSettings = FunASRSettings(), logger: Logger = Logger(label: "earshot.funasr"),
        accept: @escaping @Sendable (Request) throws -> Void = { _ in }
    ) {
        router.ws(path, shouldUpgrade: { request, _ in
            try accept(request)
            // FunASR's clients ask for the "binary" subprotocol; a server that names none is accepted by
            // browsers and python-websockets alike, but answering with it is what FunASR's servers do.
            var headers = HTTPFields()
            let offered = request.headers[values: .secWebSocketProtocol]
                .flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            if offered.contains("binary") { headers[.secWebSocketProtocol] = "binary" }
            return .upgrade(headers)
        }, onUpgrade: { inbound, outbound, _ in
            let session = FunASRSession(engine: engine, settings: settings, logger: logger)
            try await session.run(inbound: inbound, outbound: outbound)
        })
    }
}
