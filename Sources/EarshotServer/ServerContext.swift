import Foundation
import Logging
import EarshotMemory
import EarshotPipeline

/// Everything a route handler of `earshot serve` needs, shared by the HTTP (OpenAI) and websocket (FunASR)
/// front ends: the one engine every request goes through, the served model's name, the server options, the
/// metrics, the logger and the draining flag.
///
/// Draining (SIGTERM) is one-way: ``beginDraining()`` makes `/health` answer 503 and every new request get
/// 503 (`shuttingDown`); requests already running finish.
public final class ServerContext: Sendable {
    /// The shared recognizer (one memory budget for the process).
    public let engine: RecognitionEngine
    /// Name clients use for the model (`model` field of the OpenAI API): the model directory's basename.
    /// `whisper-1` is accepted as an alias (``acceptsModel(_:)``).
    public let modelName: String
    public let options: ServerOptions
    public let metrics: ServerMetrics
    public let logger: Logger
    private let drainingFlag = Locked(false)
    private let inFlight = Locked(InFlight())

    private struct InFlight {
        var count = 0
        /// Counts the times the server went idle, so that only the latest idle period's trim runs.
        var idleGeneration = 0
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// The alias every OpenAI client knows.
    public static let modelAlias = "whisper-1"

    public init(engine: RecognitionEngine, modelName: String, options: ServerOptions, metrics: ServerMetrics = .shared,
                logger: Logger = Logger(label: "earshot.serve")) {
        self.engine = engine
        self.modelName = modelName
        self.options = options
        self.metrics = metrics
        self.logger = logger
    }

    /// Whether the server is shutting down (no new work is taken).
    public var isDraining: Bool { drainingFlag.withLock { $0 } }

    /// Stops taking new work; returns `true` the first time.
    @discardableResult
    public func beginDraining() -> Bool {
        drainingFlag.withLock { flag in
            defer { flag = true }
            return !flag
        }
    }

    /// Marks a request as in flight (until ``requestEnded()``): draining waits for it.
    public func requestBegan() {
        inFlight.withLock { $0.count += 1 }
    }

    /// Ends what ``requestBegan()`` started.
    public func requestEnded() {
        let (idle, waiters): (Bool, [CheckedContinuation<Void, Never>]) = inFlight.withLock { state in
            state.count -= 1
            guard state.count == 0 else { return (false, []) }
            defer { state.idleWaiters = [] }
            return (true, state.idleWaiters)
        }
        for waiter in waiters { waiter.resume() }
        if idle { scheduleIdleTrim() }
    }

    /// The last request's buffers are freed after the engine's own idle trim (its handler holds them until
    /// the response is written), so once nothing is in flight the server trims the heap again, a moment
    /// later, if still idle: RSS returns to the idle baseline after a burst.
    private func scheduleIdleTrim() {
        let generation = inFlight.withLock { state -> Int in
            state.idleGeneration += 1
            return state.idleGeneration
        }
        Task.detached { [self] in
            try? await Task.sleep(for: .milliseconds(200))
            let stillIdle = inFlight.withLock { $0.count == 0 && $0.idleGeneration == generation }
            if stillIdle {
                _ = ProcessMemory.trimHeap()
                metrics.recordIdleTrim()
            }
        }
    }

    /// Requests in flight now.
    public var requestsInFlight: Int { inFlight.withLock { $0.count } }

    /// Returns when no request is in flight.
    public func waitForIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle: Bool = inFlight.withLock { state in
                if state.count == 0 { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Drains: stops taking work, waits for the requests in flight, then for the engine's jobs (websocket
    /// sessions included). Called on SIGTERM before the HTTP server stops.
    public func drain() async {
        beginDraining()
        logger.info("draining", metadata: ["requests_in_flight": "\(requestsInFlight)"])
        await waitForIdle()
        await engine.drain()
        logger.info("drained")
    }

    /// Whether a request's `model` names the served model (its name or `whisper-1`).
    public func acceptsModel(_ name: String) -> Bool {
        name == modelName || name == Self.modelAlias
    }
}
