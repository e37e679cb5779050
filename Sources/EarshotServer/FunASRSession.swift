import Foundation
import Logging
import NIOCore
import NIOWebSocket
import HummingbirdWebSocket
import EarshotAudio
import EarshotMemory
import EarshotPipeline
import EarshotWire
import EarshotWhisper

/// Settings of the FunASR websocket front end.
public struct FunASRSettings: Sendable {
    /// A connection that sends nothing for this long while the server waits for its audio (or, after its
    /// results, for it to close) gets an error message and is closed. Time spent recognising does not count.
    public var idleTimeout: Duration = .seconds(60)
    /// Largest container upload (`wav_format` other than pcm) buffered to a temporary file before decoding.
    public var maxUpload = 512 << 20
    /// New audio (16-kHz samples) between two partial results while someone speaks: 0.6 s, the streaming
    /// step of FunASR's default `chunk_size` [5, 10, 5] (10 × 60 ms). One partial is in flight at most, so
    /// a slow machine gets fewer partials, never a growing queue of them.
    public var partialIntervalSamples = 9_600
    /// Largest websocket frame the server takes (the websocket server configuration's `maxFrameSize`):
    /// 256 KiB, 8 s of 16-kHz PCM. FunASR's client sends 1,920-byte frames (60 ms); bigger ones are closed
    /// with 1009. Bounded per connection, outside the memory ledger.
    public static let maxFrameBytes = 256 << 10
    /// Largest websocket message taken (frames of one message together).
    public var maxMessageBytes = FunASRSettings.maxFrameBytes
    /// Where sessions are counted (route `ws`, status 101) and each recording's latency is recorded:
    /// from its end of audio to its last result (a live stream's duration says nothing about the server).
    public var metrics: ServerMetrics?

    public init() {}

    /// The server's settings: `--idle-timeout` and `--max-upload` apply to websocket connections too.
    public init(_ context: ServerContext) {
        idleTimeout = .seconds(context.options.idleTimeoutSeconds)
        maxUpload = context.options.maxUpload.bytes
        metrics = context.metrics
    }
}

/// One websocket connection speaking FunASR's protocol: configuration, audio frames, end of audio; results
/// as the engine produces them. Each recording (configuration … end) is one ``RecognitionJob``.
///
/// Tasks: the read loop (this connection's feeder: parses messages, pushes audio, takes partial snapshots),
/// a reader per job (turns `job.segments` into result messages), at most one partial recognition, one
/// writer (sends queued messages in order) and an idle watchdog. The server never closes a healthy
/// connection: after the results it keeps reading until the client closes (FunASR's client closes 10 s
/// after its offline result). Protocol errors get an `{"error": …}` message and a close frame.
final class FunASRSession: @unchecked Sendable {
    enum Outgoing: Sendable {
        case text(String)
        case close(WebSocketErrorCode, String)
    }

    /// Fatal problem with the connection: the message sent, and the close code.
    struct Failure: Error {
        let message: String
        let code: WebSocketErrorCode
    }

    /// What the partial results of the open utterance have shown so far (shared with the partial task).
    struct PartialState {
        var utterance = 0
        var open = false
        var wordsSent = 0
    }

    /// A recording in progress.
    final class Active: @unchecked Sendable {
        let job: RecognitionJob
        let config: FunASRProtocol.Config
        let resampler: Resampler?
        /// Input ended (`is_speaking: false`), results all sent: read by the watchdog's clock too.
        let stage = Locked((ended: false, delivered: false))
        /// When the input ended, for the latency metric.
        let endedAt = Locked<ContinuousClock.Instant?>(nil)
        let partials = Locked(PartialState())
        let partialBusy = Locked(false)
        var reader: Task<Void, Never>?
        var finisher: Task<Void, Never>?
        var partialTask: Task<Void, Never>?
        var upload: (path: String, handle: FileHandle, bytes: Int)?
        var pcm = PCM16Stream()
        var sinceLastPartial = 0
        var wasInSpeech = false

        init(job: RecognitionJob, config: FunASRProtocol.Config) {
            self.job = job
            self.config = config
            resampler = config.isPCM && config.sampleRate != 16_000
                ? Resampler(inputRate: config.sampleRate, outputRate: 16_000) : nil
        }

        var ended: Bool { stage.withLock { $0.ended } }
    }

    let engine: RecognitionEngine
    let settings: FunASRSettings
    let logger: Logger
    private let outbox: AsyncStream<Outgoing>.Continuation
    private let outgoing: AsyncStream<Outgoing>
    /// Last inbound message, and the jobs whose results are being waited for (the idle clock stops meanwhile).
    private let clock = Locked((last: ContinuousClock.now, waiting: Set<Int>()))
    private let wavName = Locked<String?>(nil)
    private var config: FunASRProtocol.Config?
    private var active: Active?
    private var previous: [Active] = []

    init(engine: RecognitionEngine, settings: FunASRSettings, logger: Logger) {
        self.engine = engine
        self.settings = settings
        self.logger = logger
        (outgoing, outbox) = AsyncStream.makeStream(of: Outgoing.self)
    }

    // MARK: Connection

    /// Serves the connection until the client closes it (or it is closed for an error or idleness).
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let inboundError = Locked<(any Error)?>(nil)
        await withTaskGroup(of: Void.self) { outer in
            outer.addTask { await self.writeLoop(outbound) }
            await withTaskGroup(of: Void.self) { inner in
                inner.addTask {
                    do { try await self.readLoop(inbound) } catch let failure as Failure {
                        self.fail(failure)
                    } catch is CancellationError {
                    } catch {
                        inboundError.withLock { $0 = error }
                    }
                }
                inner.addTask { await self.watchdog() }
                _ = await inner.next()
                inner.cancelAll()
            }
            await self.cleanUp()
            self.outbox.finish()
        }
        settings.metrics?.recordRequest(route: "ws", status: 101)
        if let error = inboundError.withLock({ $0 }) { throw error }
    }

    private func writeLoop(_ outbound: WebSocketOutboundWriter) async {
        for await message in outgoing {
            do {
                switch message {
                case .text(let text): try await outbound.write(.text(text))
                case .close(let code, let reason):
                    try await outbound.close(code, reason: reason)
                    return
                }
            } catch {
                logger.debug("funasr: write failed", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    private func send(_ text: String) { outbox.yield(.text(text)) }

    /// Sends the error message and closes the connection.
    private func fail(_ failure: Failure) {
        logger.info("funasr: closing connection", metadata: ["reason": "\(failure.message)"])
        send(FunASRProtocol.error(failure.message, wavName: wavName.withLock { $0 }))
        // A close frame's reason is at most 123 bytes of UTF-8.
        var reason = failure.message
        while reason.utf8.count > 120 { reason.removeLast() }
        outbox.yield(.close(failure.code, reason))
    }

    /// Closes a connection that has been silent for `idleTimeout` while the server waited for it.
    private func watchdog() async {
        let timeout = settings.idleTimeout
        while !Task.isCancelled {
            let due: ContinuousClock.Instant = clock.withLock { state in
                if !state.waiting.isEmpty { state.last = .now }
                return state.last + timeout
            }
            if ContinuousClock.now >= due {
                fail(Failure(message: "idle timeout: nothing received for \(timeout.components.seconds) s", code: .policyViolation))
                return
            }
            try? await Task.sleep(until: min(due, .now + .seconds(1)), clock: .continuous)
        }
    }

    private func touch() { clock.withLock { $0.last = .now } }

    /// The connection is over (client closed, error, timeout): unfinished jobs are cancelled (their slots
    /// and memory freed), temporary files removed, and every task of the connection ends before this returns.
    private func cleanUp() async {
        let all = previous + (active.map { [$0] } ?? [])
        for entry in all {
            entry.job.cancel()   // no-op for a finished job
            entry.partialTask?.cancel()
            entry.finisher?.cancel()
        }
        for entry in all {
            await entry.finisher?.value
            await entry.reader?.value
            await entry.partialTask?.value
            if let upload = entry.upload {   // never ended: the finisher did not remove it
                try? upload.handle.close()
                try? FileManager.default.removeItem(atPath: upload.path)
                entry.upload = nil
            }
        }
        active = nil
        previous = []
    }

    // MARK: Feeder

    private func readLoop(_ inbound: WebSocketInboundStream) async throws {
        for try await message in inbound.messages(maxSize: settings.maxMessageBytes) {
            touch()
            switch message {
            case .text(let text):
                let parsed: FunASRProtocol.ClientMessage
                do { parsed = try FunASRProtocol.parse(text, current: config) } catch let error as FunASRProtocol.ProtocolError {
                    throw Failure(message: error.description, code: .policyViolation)
                }
                switch parsed {
                case .config(let new, let speaking):
                    if let active, !active.ended, new != active.config {
                        throw Failure(message: "configuration changed in the middle of a recording; send {\"is_speaking\": false} first", code: .policyViolation)
                    }
                    config = new
                    wavName.withLock { $0 = new.wavName }
                    if !speaking { try await endInput() }
                case .end:
                    guard config != nil else {
                        throw Failure(message: "end of audio before the configuration message", code: .policyViolation)
                    }
                    try await endInput()
                case .other:
                    break
                }
            case .binary(let buffer):
                guard let config else {
                    throw Failure(message: "audio before the configuration message: send {\"mode\": \"offline\"|\"2pass\", \"wav_name\": …, \"wav_format\": \"pcm\", \"audio_fs\": 16000} first", code: .policyViolation)
                }
                let recording = try await current(config)
                try await feed(buffer, to: recording)
            }
        }
    }

    /// The recording audio goes to, started on its first frame.
    private func current(_ config: FunASRProtocol.Config) async throws -> Active {
        if let active, !active.ended { return active }
        // A new recording on the same connection waits until the previous one has sent its results.
        if let active { previous.append(active) }
        active = nil
        for entry in previous { await entry.finisher?.value; await entry.reader?.value }
        previous = []
        // Whisper takes the hotwords as its prompt; SeACo-Paraformer biases towards them itself.
        let whisper = engine.recognizer is WhisperRecognizer
        let options = JobOptions(language: config.language, initialPrompt: whisper ? config.prompt : nil, wordTimestamps: true,
                                 windowPerUtterance: config.mode != .offline,
                                 hotwords: whisper ? nil : config.prompt?.replacingOccurrences(of: ", ", with: " "))
        let job: RecognitionJob
        do { job = try await engine.startJob(options) } catch let error as EngineError {
            switch error {
            case .busy: throw Failure(message: error.description, code: .unknown(1013))   // Try Again Later
            case .shuttingDown: throw Failure(message: error.description, code: .goingAway)
            default: throw Failure(message: error.description, code: .policyViolation)
            }
        }
        let recording = Active(job: job, config: config)
        if !config.isPCM {
            let path = NSTemporaryDirectory() + "earshot-funasr-\(UUID().uuidString).\(safeExtension(config.wavFormat))"
            guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                job.cancel()
                throw Failure(message: "cannot buffer the upload: \(path) not writable", code: .unexpectedServerError)
            }
            recording.upload = (path, handle, 0)
        }
        recording.reader = Task { await self.deliver(recording) }
        active = recording
        logger.debug("funasr: recording started", metadata: ["job": "\(job.id)", "mode": "\(config.mode.rawValue)", "wav_name": "\(config.wavName)"])
        return recording
    }

    private func safeExtension(_ format: String) -> String {
        let cleaned = format.lowercased().filter { $0.isLetter || $0.isNumber }
        return cleaned.isEmpty ? "bin" : String(cleaned.prefix(8))
    }

    private func feed(_ buffer: ByteBuffer, to recording: Active) async throws {
        if var upload = recording.upload {
            upload.bytes += buffer.readableBytes
            guard upload.bytes <= settings.maxUpload else {
                throw Failure(message: "upload larger than \(ByteCount(settings.maxUpload))", code: .messageTooLarge)
            }
            do { try upload.handle.write(contentsOf: Data(buffer.readableBytesView)) } catch {
                throw Failure(message: "cannot buffer the upload: \(error)", code: .unexpectedServerError)
            }
            recording.upload = upload
            return
        }
        var samples = recording.pcm.samples(from: buffer.readableBytesView)
        if let resampler = recording.resampler { samples = resampler.process(samples) }
        guard !samples.isEmpty else { return }
        try await push(samples, to: recording)
        if recording.config.mode != .offline { partialIfDue(recording, newSamples: samples.count) }
    }

    private func push(_ samples: [Float], to recording: Active) async throws {
        do { try await recording.job.push(samples) } catch {
            throw Failure(message: "recognition stopped: \(error)", code: .unexpectedServerError)
        }
    }

    /// Tracks VAD's open utterance and, every `partialIntervalSamples` of new speech, recognises it on the
    /// side (one partial at a time; the feeder keeps pushing meanwhile).
    private func partialIfDue(_ recording: Active, newSamples: Int) {
        let speaking = recording.job.inSpeech
        if speaking != recording.wasInSpeech {
            recording.partials.withLock { state in
                if speaking { state.utterance += 1; state.wordsSent = 0 }
                state.open = speaking
            }
            recording.wasInSpeech = speaking
            recording.sinceLastPartial = 0
        }
        guard speaking else { return }
        recording.sinceLastPartial += newSamples
        guard recording.sinceLastPartial >= settings.partialIntervalSamples, !recording.partialBusy.withLock({ $0 }),
              let audio = recording.job.openSpeechAudio() else { return }
        recording.sinceLastPartial = 0
        let utterance = recording.partials.withLock { $0.utterance }
        recording.partialBusy.withLock { $0 = true }
        recording.partialTask = Task {
            defer { recording.partialBusy.withLock { $0 = false } }
            guard let segments = try? await recording.job.partial(of: audio) else { return }
            let words = segments.map(\.text).joined().split(whereSeparator: \.isWhitespace).map(String.init)
            // The last word may be cut off mid-word: it is shown once more audio confirms it.
            recording.partials.withLock { state in
                guard state.utterance == utterance, state.open, words.count - 1 > state.wordsSent else { return }
                let piece = words[state.wordsSent..<(words.count - 1)].joined(separator: " ")
                let text = state.wordsSent == 0 ? piece : " " + piece
                state.wordsSent = words.count - 1
                send(FunASRProtocol.partial(mode: "2pass-online", wavName: recording.config.wavName, text: text))
            }
        }
    }

    /// End of audio: the rest is cut and recognised on the side; the reader sends the results.
    private func endInput() async throws {
        guard let recording = active, !recording.ended else {
            // `is_speaking: false` with no audio: FunASR answers with an empty final result.
            if let config, active == nil {
                let mode = config.mode == .offline ? "offline" : "2pass-offline"
                send(FunASRProtocol.result(mode: mode, wavName: config.wavName, segments: [], isFinal: true))
            }
            return
        }
        let id = recording.job.id
        recording.stage.withLock { stage in
            stage.ended = true
            if !stage.delivered { clock.withLock { _ = $0.waiting.insert(id) } }
        }
        recording.partials.withLock { $0.open = false }
        recording.endedAt.withLock { $0 = .now }
        recording.finisher = Task {
            do {
                if let upload = recording.upload {
                    try upload.handle.close()
                    try await decodeUpload(upload.path, into: recording)
                }
                if let resampler = recording.resampler {
                    let tail = resampler.finish()
                    if !tail.isEmpty { try await recording.job.push(tail) }
                }
                _ = try await recording.job.finish()
            } catch let error as EngineError {
                _ = error   // the job's stream ends with it; the reader reports it
            } catch {
                // Undecodable upload: say so; the reader then ends quietly.
                send(FunASRProtocol.error("cannot read the audio: \(error)", wavName: recording.config.wavName))
                recording.job.cancel()
            }
            if let upload = recording.upload {
                try? FileManager.default.removeItem(atPath: upload.path)
                recording.upload = nil
            }
        }
    }

    /// A container upload, decoded (WAV natively, anything else through ffmpeg) and pushed in blocks.
    private func decodeUpload(_ path: String, into recording: Active) async throws {
        let reader = try AudioFileReader(path: path)
        defer { reader.close() }
        while true {
            try Task.checkCancellation()
            let block = try reader.read(maxSamples: 16_000 * 4)
            if block.isEmpty { break }
            try await recording.job.push(block)
        }
    }

    // MARK: Results

    /// Turns a job's segments into result messages. Offline: one message with the whole text once the job
    /// ends (FunASR's client closes 10 s after its first offline message, so it must get everything at
    /// once). 2pass: one `2pass-offline` message per segment as it arrives; the last one, which answers
    /// the end of audio, has `is_final: true` (an empty one if every segment was sent before the end).
    private func deliver(_ recording: Active) async {
        let config = recording.config
        var collected: [TranscriptSegment] = []
        var held: TranscriptSegment?
        defer {
            let id = recording.job.id
            recording.stage.withLock { stage in
                stage.delivered = true
                clock.withLock { $0.waiting.remove(id); $0.last = .now }
            }
        }
        do {
            for try await segment in recording.job.segments {
                if config.mode == .offline { collected.append(segment); continue }
                if recording.ended {
                    if let held { sendFinal(held, config, isFinal: false) }
                    held = segment
                } else {
                    sendFinal(segment, config, isFinal: false)
                }
            }
            if let metrics = settings.metrics, let ended = recording.endedAt.withLock({ $0 }) {
                let elapsed = ContinuousClock.now - ended
                metrics.recordRecognition(route: "ws", seconds: elapsed / .seconds(1),
                                          audioSeconds: 0)
            }
            if config.mode == .offline {
                send(FunASRProtocol.result(mode: "offline", wavName: config.wavName, segments: collected, isFinal: true))
            } else if let held {
                sendFinal(held, config, isFinal: true)
            } else {
                send(FunASRProtocol.result(mode: "2pass-offline", wavName: config.wavName, segments: [], isFinal: true))
            }
        } catch EngineError.cancelled {
        } catch is CancellationError {
        } catch {
            logger.warning("funasr: recognition failed", metadata: ["job": "\(recording.job.id)", "error": "\(error)"])
            send(FunASRProtocol.error("recognition failed: \(error)", wavName: config.wavName))
        }
    }

    private func sendFinal(_ segment: TranscriptSegment, _ config: FunASRProtocol.Config, isFinal: Bool) {
        send(FunASRProtocol.result(mode: "2pass-offline", wavName: config.wavName, segments: [segment], isFinal: isFinal,
                                   text: segment.text.trimmingCharacters(in: .whitespaces)))
    }
}
