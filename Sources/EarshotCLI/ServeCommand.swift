import ArgumentParser
import Foundation
import Logging
import EarshotFunASR
import EarshotMemory
import EarshotPipeline
import EarshotServer
import EarshotTensor
import EarshotWhisper

/// `earshot serve`: the OpenAI audio API and FunASR's websocket protocol over one engine and one memory budget.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a Whisper model over HTTP (OpenAI audio API) and websocket (FunASR protocol).",
        discussion: """
            One process, one engine, one memory budget: every request's windows are batched together by \
            FunASR's batch_size_s rule, and --memory-limit covers the weights and every request in flight. \
            Routes: POST /v1/audio/transcriptions and /v1/audio/translations (OpenAI's API; the model is \
            named after the model directory, and 'whisper-1' is accepted as an alias), GET /v1/models, \
            GET /health (503 while draining), GET /metrics (Prometheus), and FunASR's websocket protocol \
            at ws://HOST:PORT/. SIGTERM or SIGINT drains: new requests get 503, requests in flight finish, \
            then the process exits 0.
            """)

    /// Model, precision, VAD, batching and `--memory-limit` (which here covers the weights and every request
    /// in flight): the same flags, and the same pipeline, as `transcribe`.
    @OptionGroup var pipeline: PipelineArguments

    @Option(help: "Requests transcribed at once at most (each holds its audio buffers); 1 serves one request at a time. Default: as many as --memory-limit allows, up to 32.")
    var maxJobs: Int?

    @Option(help: "Interface to listen on (loopback unless you say otherwise).")
    var host: String = "127.0.0.1"

    @Option(help: "TCP port.")
    var port: Int = 8000

    @Option(help: "Largest upload accepted (413 above it), e.g. 512MB.")
    var maxUpload: String = "512MiB"

    @Option(help: "Requests that may wait for a free slot; beyond this the server answers 429 with Retry-After.")
    var maxQueue: Int = 16

    @Option(help: "Require 'Authorization: Bearer KEY' on /v1 requests (401 otherwise).")
    var apiKey: String?

    @Option(help: "Seconds a connection may stay silent while sending a request before it is closed.")
    var idleTimeout: Int = 60

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        if pipeline.punc != nil { throw ValidationError("--punc applies to earshot transcribe; serve does not punctuate") }
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must be 0 or more") }
        do { _ = try ByteCount(parsing: maxUpload) } catch { throw ValidationError("--max-upload: \(error)") }
        guard (maxJobs ?? 1) >= 1 else { throw ValidationError("--max-jobs must be at least 1") }
        guard idleTimeout >= 1 else { throw ValidationError("--idle-timeout must be at least 1 second") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
    }

    func run() async throws {
        // One malloc arena, so that trimming the heap when the server goes idle returns RSS to its baseline.
        ProcessMemory.limitArenas(1)
        // Blocks of 128 KiB or more (audio blocks, upload buffers, per-request arrays) are mapped and unmapped
        // on their own instead of fragmenting the heap between long-lived objects.
        ProcessMemory.configureAllocator(mmapThreshold: ByteCount(128 << 10))
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "earshot.serve")
        let modelDirectory = pipeline.modelDirectory
        try ModelLocations.requireModel(modelDirectory, flag: "--model")
        if pipeline.vadMode == "fsmn" {
            try ModelLocations.requireModel(pipeline.vadModel ?? ModelLocations.cache + "/models/fsmn-vad", flag: "--vad-model")
        }

        let loadingServer = ServerApplication.startLoadingServer(host: host, port: port, logger: logger)
        logger.info("loading", metadata: ["model": "\(modelDirectory)", "precision": "\(pipeline.precision)"])
        let recognizer = try pipeline.loadRecognizer(decoding: WhisperDecodingOptions())
        let vadModel = try pipeline.loadVAD()
        var engineOptions = EngineOptions()
        engineOptions.pipeline = try pipeline.pipelineOptions(decoding: WhisperDecodingOptions(), language: nil)
        engineOptions.maxWaitingJobs = maxQueue
        if let maxJobs { engineOptions.maxRunningJobs = maxJobs }
        let engine: RecognitionEngine
        do { engine = try RecognitionEngine(recognizer: recognizer, vad: vadModel, options: engineOptions) } catch {
            try? await loadingServer.stop()
            throw error
        }

        var options = ServerOptions()
        options.host = host
        options.port = port
        options.maxUpload = try ByteCount(parsing: maxUpload)
        options.maxQueue = maxQueue
        options.apiKey = apiKey
        options.idleTimeoutSeconds = idleTimeout
        let name = ((modelDirectory as NSString).standardizingPath as NSString).lastPathComponent
        let context = ServerContext(engine: engine, modelName: name, options: options, logger: logger)
        logger.info("model loaded", metadata: [
            "model": "\(name)", "resident": "\(ByteCount(engine.baselineBytes))",
            "batch_cap": "\(engine.batchCap)", "job_capacity": "\(engine.jobCapacity)",
            "memory_limit": "\(engineOptions.pipeline.memoryLimit.map { "\($0)" } ?? "none")",
        ])
        try await loadingServer.stop()
        try await ServerApplication.run(context: context)
        logger.info("stopped")
    }
}
