import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore
import Logging
import ServiceLifecycle
import EarshotPipeline

/// Builds `earshot serve`'s HTTP application: the OpenAI audio routes, `/health`, `/v1/models`, `/metrics`,
/// and FunASR's websocket protocol at `/` (``FunASRWebSocket``), all over one ``ServerContext``.
///
/// Run it with ``run(context:)`` (SIGTERM/SIGINT drain gracefully), or put ``makeApplication(context:)`` and
/// a ``DrainService`` in your own `ServiceGroup`; tests use `app.test(.live)`.
public enum ServerApplication {
    /// The application serving `context`, listening on `context.options.host`/`port`.
    public static func makeApplication(context: ServerContext, port: Int? = nil,
                                       onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in })
        -> some ApplicationProtocol {
        let router = makeRouter(context: context)
        let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
        // FunASR's clients send no Authorization header, so --api-key does not apply to the websocket.
        FunASRWebSocket.register(on: webSocketRouter, engine: context.engine, settings: FunASRSettings(context),
                                 logger: context.logger) { _ in
            if context.isDraining { throw HTTPError(.serviceUnavailable, message: "the server is shutting down") }
        }
        var http1 = HTTP1Channel.Configuration()
        // Closes connections whose request stops arriving (or that never send one); a request being
        // answered is never cut (Hummingbird's idle handler only acts while reading or between requests).
        http1.idleTimeout = .seconds(Int64(context.options.idleTimeoutSeconds))
        return Application(router: router,
                           server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter,
                                                          configuration: .init(http1: http1, ws: .init(maxFrameSize: FunASRSettings.maxFrameBytes))),
                           configuration: .init(address: .hostname(context.options.host, port: port ?? context.options.port),
                                                serverName: "earshot"),
                           onServerRunning: onServerRunning,
                           logger: context.logger)
    }

    /// The HTTP routes.
    public static func makeRouter(context: ServerContext) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: MetricsMiddleware(context: context))
        router.get("/health") { _, _ -> Response in
            if context.isDraining {
                return json(.serviceUnavailable, #"{"status":"draining"}"#)
            }
            return json(.ok, #"{"status":"ok"}"#)
        }
        router.get("/metrics") { _, _ -> Response in
            let text = context.metrics.render(engine: context.engine.status, requestsInFlight: context.requestsInFlight)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        let v1 = router.group("v1").add(middleware: APIKeyMiddleware(key: context.options.apiKey))
        v1.get("models") { _, _ -> Response in
            json(.ok, ResponseFormat.json(ModelList(data: [context.modelName, ServerContext.modelAlias].map(ModelEntry.init))))
        }
        v1.get("models/:id") { _, request -> Response in
            let id = request.parameters.get("id") ?? ""
            guard context.acceptsModel(id) else {
                return APIError(.notFound, "the model '\(id)' does not exist on this server; it serves '\(context.modelName)'",
                                param: "model", code: "model_not_found").response
            }
            return json(.ok, ResponseFormat.json(ModelEntry(id: id)))
        }
        v1.post("audio/transcriptions") { request, _ in
            try await AudioRoutes.handle(request, context: context, translate: false)
        }
        v1.post("audio/translations") { request, _ in
            try await AudioRoutes.handle(request, context: context, translate: true)
        }
        // Anything else: 404 with OpenAI's error object, naming what is served.
        let notFound: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            APIError(.notFound, "no route \(request.method) \(request.uri.path); this server answers POST /v1/audio/transcriptions, POST /v1/audio/translations, GET /v1/models, GET /health, GET /metrics and FunASR's websocket protocol at /",
                     code: "not_found").response
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] {
            router.on("**", method: method, use: notFound)
            v1.on("**", method: method, use: notFound)   // the trie does not backtrack out of /v1
        }
        return router
    }

    /// Runs the server until SIGTERM or SIGINT, then drains (``ServerContext/drain()``: `/health` and new
    /// requests answer 503, requests in flight finish) and stops.
    public static func run(context: ServerContext) async throws {
        let app = makeApplication(context: context) { channel in
            context.logger.info("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        }
        let group = ServiceGroup(configuration: .init(services: [app, DrainService(context: context)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: context.logger))
        try await group.run()
    }

    /// A stand-in that listens while the models load: `/health` answers 503 `{"status":"loading"}` and every
    /// other request 503 with OpenAI's error object, so that probes and clients see a clear answer rather than
    /// a refused connection. ``LoadingServer/stop()`` closes it before the real application takes the port.
    public static func startLoadingServer(host: String, port: Int, logger: Logger) -> LoadingServer {
        let router = Router()
        let loading = APIError(.serviceUnavailable, "the server is loading its model; retry in a few seconds",
                               type: "server_error", code: "loading", retryAfter: 2)
        router.get("/health") { _, _ in json(.serviceUnavailable, #"{"status":"loading"}"#) }
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .head, .options, .patch] {
            router.on("**", method: method) { _, _ in loading.response }
        }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "earshot"),
                              logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return LoadingServer(group: group, task: Task { try await group.run() })
    }

    /// The stand-in server run while the models load.
    public struct LoadingServer: Sendable {
        let group: ServiceGroup
        let task: Task<Void, any Error>

        /// Stops listening (returns once the port is free).
        public func stop() async throws {
            await group.triggerGracefulShutdown()
            try await task.value
        }
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// OpenAI's model object and list.
    struct ModelEntry: Encodable {
        let id: String
        var object = "model"
        var created = 0
        var owned_by = "earshot"
        init(id: String) { self.id = id }
    }
    struct ModelList: Encodable { var object = "list"; let data: [ModelEntry] }
}

/// Drains the server when graceful shutdown begins. Placed after the application in a `ServiceGroup`, it is
/// shut down first (services stop in reverse order): it turns `/health` to 503, waits for the requests and
/// jobs in flight, and only then lets the HTTP server stop.
public struct DrainService: Service {
    let context: ServerContext

    public init(context: ServerContext) { self.context = context }

    public func run() async throws {
        // Wait for the shutdown signal; a cancelled group skips the drain.
        try? await gracefulShutdown()
        guard !Task.isCancelled else { return }
        await context.drain()
    }
}

/// Counts every response by route and status (`earshot_http_requests_total`).
struct MetricsMiddleware: RouterMiddleware {
    let context: ServerContext

    func handle(_ request: Request, context requestContext: BasicRequestContext,
                next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, requestContext)
            context.metrics.recordRequest(route: requestContext.endpointPath ?? "unknown", status: response.status.code)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            context.metrics.recordRequest(route: requestContext.endpointPath ?? "unknown", status: status)
            throw error
        }
    }
}

/// `--api-key`: every `/v1` request must carry `Authorization: Bearer <key>` (401 otherwise, as OpenAI).
struct APIKeyMiddleware: RouterMiddleware {
    let key: String?

    func handle(_ request: Request, context: BasicRequestContext,
                next: (Request, BasicRequestContext) async throws -> Response) async throws -> Response {
        guard let key else { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            return APIError(.unauthorized, "you didn't provide an API key: send it as 'Authorization: Bearer KEY' (the key this server was started with, --api-key)",
                            type: "invalid_request_error", code: "invalid_api_key").response
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", constantTimeEqual(String(parts[1]), key) else {
            return APIError(.unauthorized, "incorrect API key provided; send the key this server was started with (--api-key) as 'Authorization: Bearer KEY'",
                            type: "invalid_request_error", code: "invalid_api_key").response
        }
        return try await next(request, context)
    }

    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
