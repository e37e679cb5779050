import Foundation
import AsyncHTTPClient
import Hummingbird
import Logging
import Testing
import EarshotMemory
import EarshotPipeline
import EarshotServer
import EarshotWhisper

/// Every route of `earshot serve`, in process, over real HTTP (AsyncHTTPClient),
/// on tiny.en int8 and FSMN-VAD and the LibriVox clips.
@Suite struct ServerRouteTests {
    /// What the offline pipeline (the one `earshot transcribe` runs) makes of a file.
    static func offline(_ path: String, words: Bool = false) throws -> Transcript {
        let (whisper, vad) = try ServerAssets.loaded()
        var options = PipelineOptions()
        options.keepWords = words
        options.decoding = PipelineOptions.windowDecoding(.greedy)   // as `earshot transcribe` sets it
        let pipeline = try StreamingTranscriber(whisper: whisper, vad: vad, options: options)
        var segments: [TranscriptSegment] = []
        let report = try pipeline.run(path: path) { segments.append($0) }
        return Transcript(language: report.language ?? "en", languageProbability: 1, duration: report.audioSeconds, segments: segments)
    }

    static func post(_ client: TestHTTPClient, _ form: Form, path: String = "/v1/audio/transcriptions",
                     headers extra: HTTPFields = [:]) async throws -> Reply {
        var headers = form.headers
        headers.append(contentsOf: extra)
        return try await client.execute(uri: path, method: .post, headers: headers, body: form.buffer)
    }

    @Test func healthModelsAndMetrics() async throws {
        let context = try ServerAssets.context()
        try await context.test { client in
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
            #expect(health.text == #"{"status":"ok"}"#)
            let models = try await client.execute(uri: "/v1/models", method: .get)
            #expect(models.status == .ok)
            #expect(models.json?["object"] as? String == "list")
            let ids = (models.json?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(ids == ["whisper-tiny.en", "whisper-1"])
            #expect(try await client.execute(uri: "/v1/models/whisper-1", method: .get).status == .ok)
            let missing = try await client.execute(uri: "/v1/models/gpt-4o", method: .get)
            #expect(missing.status == .notFound)
            #expect(missing.error?["code"] as? String == "model_not_found")

            let nowhere = try await client.execute(uri: "/v1/chat/completions", method: .post)
            #expect(nowhere.status == .notFound)
            #expect((nowhere.error?["message"] as? String)?.contains("/v1/audio/transcriptions") == true)
            let ok = try await Self.post(client, try Form(file: try ServerAssets.clip()))
            #expect(ok.status == .ok)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .ok)
            let text = metrics.text
            for needle in [#"earshot_http_requests_total{route="/v1/audio/transcriptions",status="200"}"#,
                           #"earshot_http_requests_total{route="/health",status="200"}"#,
                           "earshot_queue_depth ", "earshot_running_jobs ", "earshot_audio_seconds_in_flight ",
                           #"earshot_ledger_bytes{category="weights"}"#, "earshot_process_resident_bytes ",
                           #"earshot_request_duration_seconds_bucket{route="/v1/audio/transcriptions""#,
                           #"earshot_real_time_factor_bucket{route="/v1/audio/transcriptions""#] {
                #expect(text.contains(needle), "no \(needle) in /metrics")
            }
            let weights = text.split(separator: "\n").first { $0.hasPrefix(#"earshot_ledger_bytes{category="weights"}"#) }
            #expect((weights?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 10e6)
        }
    }

    @Test(arguments: ["0870", "0890"])
    func everyFormatIsTheOfflineTranscript(clip: String) async throws {
        let path = try ServerAssets.clip(clip)
        let expected = try Self.offline(path)
        let withWords = try Self.offline(path, words: true)
        let context = try ServerAssets.context()
        try await context.test { client in
            for format in ["srt", "vtt", "verbose_json"] {
                let response = try await Self.post(client, try Form([("model", "whisper-tiny.en"), ("response_format", format)], file: path))
                #expect(response.status == .ok)
                #expect(response.text == TranscriptFormat(rawValue: format)!.render(expected), "\(format)")
            }
            let words = try await Self.post(client, try Form([("model", "whisper-1"), ("response_format", "verbose_json"),
                                                               ("timestamp_granularities[]", "word"),
                                                               ("timestamp_granularities[]", "segment")], file: path))
            #expect(words.text == TranscriptFormat.verboseJSON.render(withWords))
            #expect((words.json?["words"] as? [Any])?.isEmpty == false)
            let paragraph = expected.text.trimmingCharacters(in: .whitespaces)
            let text = try await Self.post(client, try Form([("model", "whisper-1"), ("response_format", "text")], file: path))
            #expect(text.text == paragraph + "\n")
            #expect(text.headers[.contentType]?.hasPrefix("text/plain") == true)
            let json = try await Self.post(client, try Form(file: path))
            #expect(json.json?["text"] as? String == paragraph)
            #expect(json.headers[.contentType] == "application/json")
            // temperature > 0 is accepted; decoding stays greedy, so the text is the same.
            let warm = try await Self.post(client, try Form([("model", "whisper-1"), ("temperature", "0.7")], file: path))
            #expect(warm.json?["text"] as? String == paragraph)

            // stream=true: OpenAI's server-sent events, deltas then done.
            let stream = try await Self.post(client, try Form([("model", "whisper-1"), ("stream", "true")], file: path))
            #expect(stream.status == .ok)
            #expect(stream.headers[.contentType] == "text/event-stream")
            let events = stream.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { event -> [String: Any] in
                #expect(event.hasPrefix("data: "))
                return (try? JSONSerialization.jsonObject(with: Data(event.dropFirst(6).utf8)) as? [String: Any]) ?? [:]
            }
            #expect(events.count == expected.segments.count + 1)
            #expect(events.dropLast().allSatisfy { $0["type"] as? String == "transcript.text.delta" })
            #expect(events.last?["type"] as? String == "transcript.text.done")
            #expect(events.dropLast().compactMap { $0["delta"] as? String }.joined() == paragraph)
            #expect(events.last?["text"] as? String == paragraph)
        }
    }

    @Test func badInputGetsOpenAIErrorsAndTheServerKeepsServing() async throws {
        let clip = try ServerAssets.clip("0880")
        let wav = Array(try Data(contentsOf: URL(fileURLWithPath: clip)))
        let context = try ServerAssets.context()
        try await context.test { client in
            func expectError(_ form: Form, _ status: HTTPResponse.Status, param: String?, mentions: String,
                             sourceLocation: SourceLocation = #_sourceLocation) async throws {
                let response = try await Self.post(client, form)
                #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
                #expect(response.error?["param"] as? String == param, "\(response.text)", sourceLocation: sourceLocation)
                #expect((response.error?["message"] as? String)?.contains(mentions) == true, "\(response.text)", sourceLocation: sourceLocation)
                #expect(response.error?["type"] as? String == "invalid_request_error", sourceLocation: sourceLocation)
            }
            try await expectError(try Form(file: nil), .badRequest, param: "file", mentions: "no 'file' field")
            try await expectError(try Form([], file: clip), .badRequest, param: "model", mentions: "must provide a model")
            try await expectError(try Form([("model", "whisper-2")], file: clip), .notFound, param: "model", mentions: "does not exist")
            try await expectError(Form(fileName: "empty.wav", bytes: []), .badRequest, param: "file", mentions: "empty")
            try await expectError(Form(fileName: "cut.wav", bytes: Array(wav.prefix(30))), .badRequest, param: "file", mentions: "cut off")
            try await expectError(Form(fileName: "notes.txt", bytes: Array(String(repeating: "not audio ", count: 100).utf8)),
                                  .badRequest, param: "file", mentions: "could not be read as audio")
            try await expectError(try Form([("model", "whisper-1"), ("response_format", "docx")], file: clip),
                                  .badRequest, param: "response_format", mentions: "verbose_json")
            try await expectError(try Form([("model", "whisper-1"), ("temperature", "hot")], file: clip),
                                  .badRequest, param: "temperature", mentions: "between 0 and 1")
            try await expectError(try Form([("model", "whisper-1"), ("language", "de")], file: clip),
                                  .badRequest, param: "language", mentions: "English-only")
            try await expectError(try Form([("model", "whisper-1"), ("timestamp_granularities[]", "word")], file: clip),
                                  .badRequest, param: "timestamp_granularities[]", mentions: "verbose_json")
            try await expectError(try Form([("model", "whisper-1"), ("stream", "maybe")], file: clip),
                                  .badRequest, param: "stream", mentions: "true or false")
            try await expectError(try Form([("model", "whisper-1"), ("model", "whisper-1")], file: clip),
                                  .badRequest, param: "model", mentions: "2 times")
            var cut = try Form(file: clip)
            cut.closed = false
            try await expectError(cut, .badRequest, param: "file", mentions: "cut short")
            let translation = try await Self.post(client, try Form(file: clip), path: "/v1/audio/translations")
            #expect(translation.status == .badRequest)
            #expect(translation.error?["code"] as? String == "translation_unsupported")
            let notMultipart = try await client.execute(uri: "/v1/audio/transcriptions", method: .post,
                                                        headers: [.contentType: "application/json"], body: ByteBuffer(string: "{}"))
            #expect(notMultipart.status == .badRequest)
            #expect((notMultipart.error?["message"] as? String)?.contains("multipart/form-data") == true)
            // A byte ≥ 0x80 in a part's header name (one request of this shape crashed the server when it parsed
            // with MultipartKit 4.7.1): a 400, and the server goes on serving.
            let badHeader = try await client.execute(uri: "/v1/audio/transcriptions", method: .post,
                                                     headers: [.contentType: "multipart/form-data; boundary=B"],
                                                     body: ByteBuffer(bytes: Array("--B\r\nCo".utf8) + [0x8C] + Array("ntent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--B--\r\n".utf8)))
            #expect(badHeader.status == .badRequest)
            #expect((badHeader.error?["message"] as? String)?.contains("not valid multipart") == true, "\(badHeader.text)")
            // An epilogue after the closing delimiter is ignored; still serving.
            var withEpilogue = try Form(file: clip)
            withEpilogue.epilogue = "This is the epilogue. It should be ignored.\r\n"
            let ok = try await Self.post(client, withEpilogue)
            #expect(ok.status == .ok)
            #expect((ok.json?["text"] as? String)?.isEmpty == false)
        }
    }

    @Test func uploadLimitAndAPIKey() async throws {
        let clip = try ServerAssets.clip("0870")   // 227 kB
        let context = try ServerAssets.context { options in
            options.maxUpload = ByteCount(100_000)
            options.apiKey = "k3y"
        }
        try await context.test { client in
            let auth: HTTPFields = [.authorization: "Bearer k3y"]
            let tooBig = try await Self.post(client, try Form(file: clip), headers: auth)
            #expect(tooBig.status == .contentTooLarge)
            #expect(tooBig.error?["code"] as? String == "file_too_large")
            let noKey = try await Self.post(client, try Form(file: try ServerAssets.clip("0880")))
            #expect(noKey.status == .unauthorized)
            #expect(noKey.error?["code"] as? String == "invalid_api_key")
            let wrongKey = try await Self.post(client, try Form(file: try ServerAssets.clip("0880")), headers: [.authorization: "Bearer nope"])
            #expect(wrongKey.status == .unauthorized)
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            let ok = try await Self.post(client, try Form(file: try ServerAssets.clip("0880")), headers: auth)   // 96 kB
            #expect(ok.status == .ok)
        }
    }

    @Test func fullQueueGets429WithRetryAfter() async throws {
        let engine = try ServerAssets.engine { options in
            options.maxRunningJobs = 1
            options.maxWaitingJobs = 0
        }
        let context = try ServerAssets.context(engine: engine)
        let clip = try ServerAssets.clip("0880")
        try await context.test { client in
            let held = try await engine.startJob()   // takes the only slot
            let busy = try await Self.post(client, try Form(file: clip))
            #expect(busy.status == .tooManyRequests)
            #expect(busy.error?["type"] as? String == "rate_limit_error")
            #expect((busy.headers[.retryAfter].flatMap { Int($0) } ?? 0) >= 1)
            held.cancel()
            while engine.status.runningJobs > 0 { await Task.yield() }
            #expect(try await Self.post(client, try Form(file: clip)).status == .ok)
        }
    }

    /// whisper-base: translations (and language detection) through the API equal the offline pipeline's.
    @Test func translationOnAMultilingualModel() async throws {
        let whisper = try WhisperModel(directory: try ServerAssets.path("models/whisper-base"), precision: .int8)
        let (_, vad) = try ServerAssets.loaded()
        let engine = try RecognitionEngine(whisper: whisper, vad: vad, options: EngineOptions())
        let context = ServerContext(engine: engine, modelName: "whisper-base", options: ServerOptions())
        let path = try ServerAssets.path("audio/zh/asr_example.wav")
        var options = PipelineOptions()
        var decoding = WhisperDecodingOptions.greedy
        decoding.task = .translate
        options.decoding = PipelineOptions.windowDecoding(decoding)
        var segments: [TranscriptSegment] = []
        let report = try StreamingTranscriber(whisper: whisper, vad: vad, options: options).run(path: path) { segments.append($0) }
        let expected = Transcript(language: report.language ?? "", languageProbability: 1, duration: report.audioSeconds, segments: segments)
        #expect(report.language == "zh")
        try await context.test { client in
            let response = try await Self.post(client, try Form([("model", "whisper-base"), ("response_format", "verbose_json")], file: path),
                                               path: "/v1/audio/translations")
            #expect(response.status == .ok)
            #expect(response.text == TranscriptFormat.verboseJSON.render(expected, task: .translate))
            #expect(response.json?["task"] as? String == "translate")
            #expect(response.json?["language"] as? String == "chinese")
            let text = (response.json?["text"] as? String) ?? ""
            #expect(!text.isEmpty && text.unicodeScalars.allSatisfy { $0.isASCII }, "not English: \(text)")
        }
    }

    /// While the models load, a stand-in on the port answers 503: `/health` "loading", anything else OpenAI's
    /// error object; stopping it frees the port for the real application.
    @Test func loadingServerAnswers503() async throws {
        // A free port: bind to 0 through a throwaway application, then reuse its number.
        let probe = try ServerAssets.context()
        let box = Locked(0)
        try await probe.test { client in box.withLock { $0 = client.port } }
        let port = box.withLock { $0 }
        let loading = ServerApplication.startLoadingServer(host: "127.0.0.1", port: port, logger: Logger(label: "test"))
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let client = TestHTTPClient(http: http, port: port)
        var health: Reply?
        while health == nil { health = try? await client.execute(uri: "/health", method: .get) }
        #expect(health?.status == .serviceUnavailable)
        #expect(health?.text == #"{"status":"loading"}"#)
        let post = try await Self.post(client, try Form(file: try ServerAssets.clip("0880")))
        #expect(post.status == .serviceUnavailable)
        #expect(post.error?["code"] as? String == "loading")
        #expect(post.headers[.retryAfter] == "2")
        try await loading.stop()
        await #expect(throws: (any Error).self) { _ = try await client.execute(uri: "/health", method: .get) }
        try await http.shutdown()
    }

    @Test func drainingGets503() async throws {
        let context = try ServerAssets.context()
        try await context.test { client in
            context.beginDraining()
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .serviceUnavailable)
            let refused = try await Self.post(client, try Form(file: try ServerAssets.clip("0880")))
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.error?["code"] as? String == "shutting_down")
            #expect(refused.headers[.retryAfter] != nil)
        }
    }
}
