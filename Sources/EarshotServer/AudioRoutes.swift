import Foundation
import Hummingbird
import Logging
import EarshotAudio
import EarshotMemory
import EarshotPipeline
import EarshotWire
import EarshotWhisper

/// `POST /v1/audio/transcriptions` and `/v1/audio/translations` (OpenAI's audio API) over the shared engine.
///
/// A request is refused before its body is read when the server is draining (503), the body is not
/// multipart (400) or its `Content-Length` is above `--max-upload` (413). The body is then streamed into a
/// temporary file (413 as soon as it grows past the limit), the fields are checked (400/404), the file is
/// opened as audio (400 for non-audio, empty or truncated files), and only then is a job started (429 with
/// `Retry-After` when the engine's queue is full). The job is fed from the file in 1-s blocks while its
/// segments are read; a client that goes away cancels it. The temporary file is always deleted.
enum AudioRoutes {
    static let transcriptionsPath = "/v1/audio/transcriptions"
    static let translationsPath = "/v1/audio/translations"

    /// Samples pushed at a time: the job's own block (1 s at 16 kHz).
    static let blockSamples = RecognitionJob.blockSamples

    static func handle(_ request: Request, context: ServerContext, translate: Bool) async throws -> Response {
        let route = translate ? translationsPath : transcriptionsPath
        let started = ContinuousClock.now
        context.requestBegan()
        var handedOff = false
        defer { if !handedOff { context.requestEnded() } }
        if context.isDraining { return APIError.shuttingDown.response }
        guard let boundary = MultipartUpload.boundary(contentType: request.headers[.contentType]) else {
            return APIError(.badRequest, "the body must be multipart/form-data (with a boundary) holding the audio as a part named 'file'; got Content-Type '\(request.headers[.contentType] ?? "none")'").response
        }
        let maxUpload = context.options.maxUpload.bytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxUpload {
            return APIError(.contentTooLarge, "the upload is \(length) bytes, above this server's limit of \(maxUpload) bytes (--max-upload); send a shorter or more compressed recording",
                            param: "file", code: "file_too_large").response
        }
        let upload: MultipartUpload
        do {
            upload = try await MultipartUpload.read(request.body, boundary: boundary, maxUpload: maxUpload)
        } catch let error as APIError {
            return error.response
        }
        defer { if !handedOff { upload.remove() } }
        do {
            let parsed = try TranscriptionRequest(fields: upload.fields, translate: translate, context: context)
            guard let path = upload.filePath else {
                throw APIError.badField("file", "no 'file' field: send the audio as a multipart/form-data part named 'file'")
            }
            let name = upload.fileName ?? "file"
            guard upload.fileBytes > 0 else {
                throw APIError.badField("file", "the uploaded file '\(name)' is empty (0 bytes); send a recording")
            }
            let reader = try openAudio(path: path, name: name)
            // Reading the first block before taking a slot makes undecodable files 400s, not engine work.
            let first = try readBlock(reader, name: name)
            guard !first.isEmpty else {
                throw APIError.badField("file", "'\(name)' holds no audio samples (a zero-length recording); nothing to transcribe")
            }
            if parsed.temperature > 0 {
                context.logger.debug("temperature > 0 requested; decoding is greedy", metadata: ["temperature": "\(parsed.temperature)"])
            }
            let job: RecognitionJob
            do { job = try await context.engine.startJob(parsed.job) } catch let error as EngineError {
                throw APIError(error)
            }
            let feed = Feed(reader: reader, first: first, name: name, job: job, upload: upload)
            if parsed.stream {
                handedOff = true
                let lease = StreamLease(feed: feed, context: context)
                return streamingResponse(request: request, lease: lease, route: route, started: started)
            }
            // A finished job ignores this; any other way out frees its slot.
            defer { job.cancel() }
            let transcript = try await cancellingOnHangUp(request) { try await run(feed) }
            let summary = transcript.1
            context.metrics.recordRecognition(route: route, seconds: (ContinuousClock.now - started).seconds,
                                              audioSeconds: summary.audioSeconds)
            let result = Transcript(language: summary.language ?? parsed.job.language ?? context.engine.recognizer.fixedLanguage ?? "",
                                    languageProbability: 1, duration: summary.audioSeconds, segments: transcript.0)
            let text = parsed.format.render(result, task: translate ? .translate : .transcribe)
            // The connection closes after a recognition response (Hummingbird's cancel-on-close watcher
            // consumes it); saying so keeps clients from reusing it.
            return Response(status: .ok, headers: [.contentType: parsed.format.contentType, .connection: "close"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        } catch let error as APIError {
            return error.response
        } catch let error as EngineError where error != .cancelled {
            return APIError(error).response
        } catch {
            if Task.isCancelled || error is CancellationError || (error as? EngineError) == .cancelled {
                // The inbound-close watcher cancelled the task: the client went away.
                context.logger.info("client went away; job cancelled", metadata: ["route": "\(route)"])
                throw CancellationError()
            }
            context.logger.error("request failed", metadata: ["route": "\(route)", "error": "\(error)"])
            return APIError(.internalServerError, "recognition failed: \(error)", type: "server_error").response
        }
    }

    /// Runs `operation`, cancelled if the client closes the connection (Hummingbird's inbound-close watcher,
    /// which reads what follows the form's closing boundary: the upload reader stops at it).
    static func cancellingOnHangUp<T: Sendable>(_ request: Request, _ operation: () async throws -> T) async throws -> T {
        try await request.body.consumeWithCancellationOnInboundClose { _ in try await operation() }
    }

    static func openAudio(path: String, name: String) throws -> AudioFileReader {
        do { return try AudioFileReader(path: path) } catch {
            throw APIError.badField("file", "'\(name)' could not be read as audio: \(error.message.replacingOccurrences(of: path, with: name)). Send WAV, or a format ffmpeg decodes (mp3, flac, ogg, m4a, webm, …)",
                                    code: "invalid_audio")
        }
    }

    static func readBlock(_ reader: AudioFileReader, name: String) throws -> [Float] {
        do { return try reader.read(maxSamples: blockSamples) } catch {
            throw APIError.badField("file", "'\(name)' could not be decoded: \(error.message.replacingOccurrences(of: reader.path, with: name))",
                                    code: "invalid_audio")
        }
    }

    /// What feeds one job: the open file, its first block, the upload (kept, and so the file, until the end).
    struct Feed: @unchecked Sendable {
        let reader: AudioFileReader
        let first: [Float]
        let name: String
        let job: RecognitionJob
        let upload: MultipartUpload

        /// Pushes the whole file, then finishes the job. A decoding error cancels the job and is thrown.
        func push() async throws -> JobSummary {
            do {
                var block = first
                while !block.isEmpty {
                    try await job.push(block)
                    block = try AudioRoutes.readBlock(reader, name: name)
                }
                reader.close()
                upload.remove()
                return try await job.finish()
            } catch {
                job.cancel()
                reader.close()
                throw error
            }
        }
    }

    /// Feeds the job and collects its segments; cancelling the task cancels the job.
    static func run(_ feed: Feed) async throws -> ([TranscriptSegment], JobSummary) {
        try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                let summary = Locked<JobSummary?>(nil)
                group.addTask { let s = try await feed.push(); summary.withLock { $0 = s } }
                var segments: [TranscriptSegment] = []
                do {
                    for try await segment in feed.job.segments { segments.append(segment) }
                } catch {
                    // The feed's own error (undecodable audio) says more than the job's cancellation.
                    try await group.waitForAll()
                    throw error
                }
                try await group.waitForAll()
                guard let s = summary.withLock({ $0 }) else { throw CancellationError() }
                return (segments, s)
            }
        } onCancel: {
            feed.job.cancel()
        }
    }
}

extension AudioRoutes {
    /// The job's text as OpenAI's streaming events: `transcript.text.delta` per segment as it is final, then
    /// `transcript.text.done` with the whole text; a failure after the events began is sent as an `error`
    /// event (which OpenAI's SDKs raise as an API error).
    static func streamingResponse(request: Request, lease: StreamLease, route: String,
                                  started: ContinuousClock.Instant) -> Response {
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", .connection: "close"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { lease.end() }
            let feed = lease.feed, context = lease.context
            var text = ""
            var failure: (any Error)?
            var summary: JobSummary?
            try await cancellingOnHangUp(request) {
                try await withTaskCancellationHandler {
                    try await withThrowingTaskGroup(of: JobSummary.self) { group in
                        group.addTask { try await feed.push() }
                        do {
                            for try await segment in feed.job.segments {
                                var delta = segment.text
                                if text.isEmpty { delta = String(delta.drop(while: { $0 == " " })) }
                                guard !delta.isEmpty else { continue }
                                text += delta
                                try await writer.write(sse(DeltaEvent(delta: delta)))
                            }
                        } catch { failure = error }
                        do { summary = try await group.next() ?? nil } catch { failure = error }
                    }
                } onCancel: {
                    feed.job.cancel()
                }
            }
            if let failure {
                if failure is CancellationError { throw failure }
                let error = failure as? APIError ?? (failure as? EngineError).map(APIError.init)
                    ?? APIError(.internalServerError, "recognition failed: \(failure)", type: "server_error")
                context.logger.info("streaming request failed", metadata: ["route": "\(route)", "error": "\(error)"])
                try await writer.write(ByteBuffer(string: "data: \(error.body)\n\n"))
            } else {
                try await writer.write(sse(DoneEvent(text: text.trimmingCharacters(in: .whitespaces))))
                context.metrics.recordRecognition(route: route, seconds: (ContinuousClock.now - started).seconds,
                                                  audioSeconds: summary?.audioSeconds ?? 0)
            }
            try await writer.finish(nil)
        })
    }

    /// What a streaming response holds until its events are written: the job, the upload and the request's
    /// place among those in flight. Released however the response ends — even when its body is never written
    /// (the client left before the head went out) — it cancels the job, deletes the upload and ends the request.
    final class StreamLease: @unchecked Sendable {
        let feed: Feed
        let context: ServerContext
        private let ended = Locked(false)

        init(feed: Feed, context: ServerContext) {
            self.feed = feed
            self.context = context
        }

        func end() {
            guard ended.withLock({ done in defer { done = true }; return !done }) else { return }
            feed.job.cancel()   // a finished job ignores this
            feed.upload.remove()
            context.requestEnded()
        }

        deinit { end() }
    }

    static func sse<T: Encodable>(_ event: T) -> ByteBuffer {
        ByteBuffer(string: "data: \(ResponseFormat.json(event))\n\n")
    }

    /// OpenAI's `transcript.text.delta` event.
    struct DeltaEvent: Encodable { var type = "transcript.text.delta"; let delta: String }
    /// OpenAI's `transcript.text.done` event.
    struct DoneEvent: Encodable { var type = "transcript.text.done"; let text: String }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
