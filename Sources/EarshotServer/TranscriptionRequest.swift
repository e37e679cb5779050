import Foundation
import EarshotPipeline
import EarshotSpeech
import EarshotWhisper

/// The `response_format` values of OpenAI's audio API.
public enum ResponseFormat: String, Sendable, CaseIterable {
    case json, text, srt, vtt
    case verboseJSON = "verbose_json"

    /// The response's `Content-Type`.
    var contentType: String {
        switch self {
        case .json, .verboseJSON: "application/json"
        case .text, .srt: "text/plain; charset=utf-8"
        case .vtt: "text/vtt; charset=utf-8"
        }
    }

    /// Renders a finished transcript. `srt`, `vtt` and `verbose_json` are exactly what
    /// `earshot transcribe --output-format …` writes (``TranscriptFormat``); `text` is the transcript as one
    /// paragraph and `json` is `{"text", "usage"}`, as OpenAI returns them.
    func render(_ transcript: Transcript, task: WhisperTask) -> String {
        switch self {
        case .srt: TranscriptFormat.srt.render(transcript, task: task)
        case .vtt: TranscriptFormat.vtt.render(transcript, task: task)
        case .verboseJSON: TranscriptFormat.verboseJSON.render(transcript, task: task)
        case .text: Self.plainText(transcript.segments) + "\n"
        case .json: Self.json(TextBody(text: Self.plainText(transcript.segments),
                                       usage: Usage(seconds: Int(transcript.duration.rounded(.up)))))
        }
    }

    /// The segments' text as one paragraph, without Whisper's leading space.
    static func plainText(_ segments: [TranscriptSegment]) -> String {
        segments.map(\.text).joined().trimmingCharacters(in: .whitespaces)
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// OpenAI's `usage` for audio billed by duration.
    struct Usage: Encodable { var type = "duration"; let seconds: Int }
    private struct TextBody: Encodable { let text: String; let usage: Usage }
}

/// One transcription or translation request of the OpenAI audio API, its form fields checked.
///
/// OpenAI's rules (`POST /v1/audio/transcriptions`, `/v1/audio/translations`): `file` and `model` are required;
/// `model` must name the served model (its directory's basename) or `whisper-1`, else 404 `model_not_found`
/// (OpenAI's answer for a model that does not exist); `response_format` is one of json, text, srt, vtt,
/// verbose_json; `timestamp_granularities[]` (segment, word) needs `verbose_json`; `temperature` is a number in
/// [0, 1] — Earshot decodes greedily, so any value is accepted and decoding stays at 0 (as faster-whisper's
/// batched pipeline); `stream=true` answers with server-sent events whatever the model.
struct TranscriptionRequest: Sendable {
    var format = ResponseFormat.json
    var job = JobOptions()
    var stream = false
    var temperature = 0.0
    /// Segment-level timestamps were asked for (or nothing was: segments are the default).
    var segmentTimestamps = true

    /// Fields Earshot reads; any other field is ignored, as OpenAI ignores fields a model does not use.
    static let knownFields: Set = ["model", "language", "prompt", "response_format", "temperature",
                                   "timestamp_granularities[]", "timestamp_granularities", "stream"]

    /// Checks the form's fields.
    /// - Throws: ``APIError`` 400 (bad value, missing model) or 404 (unknown model).
    init(fields: [String: [String]], translate: Bool, context: ServerContext) throws {
        func single(_ name: String) throws -> String? {
            guard let values = fields[name] else { return nil }
            guard values.count == 1 else { throw APIError.badField(name, "the field '\(name)' is given \(values.count) times; give it once") }
            return values[0].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let model = try single("model"), !model.isEmpty else {
            throw APIError.badField("model", "you must provide a model parameter: '\(context.modelName)' or '\(ServerContext.modelAlias)'")
        }
        guard context.acceptsModel(model) else {
            throw APIError(.notFound, "the model '\(model)' does not exist on this server; it serves '\(context.modelName)' (also accepted as '\(ServerContext.modelAlias)')",
                           param: "model", code: "model_not_found")
        }
        if let value = try single("response_format"), !value.isEmpty {
            guard let format = ResponseFormat(rawValue: value) else {
                throw APIError.badField("response_format", "unknown response_format '\(value)'; use one of: \(ResponseFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.format = format
        }
        job.translate = translate
        let recognizer = context.engine.recognizer
        if translate {
            do { try recognizer.validate(RecognitionSettings(translate: true)) } catch {
                throw APIError(.badRequest, "the model '\(context.modelName)' cannot translate (\(error)); serve a multilingual Whisper model (e.g. whisper-base) for /v1/audio/translations",
                               param: "model", code: "translation_unsupported")
            }
        }
        if let language = try single("language"), !language.isEmpty {
            let code = language.lowercased()
            do { try recognizer.validate(RecognitionSettings(language: code)) } catch {
                throw APIError.badField("language", "\(error)")
            }
            job.language = code
        }
        if let prompt = try single("prompt"), !prompt.isEmpty { job.initialPrompt = prompt }
        if let value = try single("temperature"), !value.isEmpty {
            guard let t = Double(value), t.isFinite, (0...1).contains(t) else {
                throw APIError.badField("temperature", "temperature must be a number between 0 and 1 (got '\(value)')")
            }
            temperature = t
        }
        let granularities = (fields["timestamp_granularities[]"] ?? []) + (fields["timestamp_granularities"] ?? [])
        for value in granularities {
            switch value.trimmingCharacters(in: .whitespaces) {
            case "word": job.wordTimestamps = true
            case "segment": break
            default:
                throw APIError.badField("timestamp_granularities[]", "unknown timestamp granularity '\(value)'; use segment and/or word")
            }
        }
        if !granularities.isEmpty {
            segmentTimestamps = granularities.contains("segment")
            guard format == .verboseJSON else {
                throw APIError.badField("timestamp_granularities[]", "timestamp_granularities[] needs response_format=verbose_json (got \(format.rawValue))")
            }
        }
        if let value = try single("stream"), !value.isEmpty {
            switch value.lowercased() {
            case "true": stream = true
            case "false": stream = false
            default: throw APIError.badField("stream", "stream must be true or false (got '\(value)')")
            }
        }
    }
}
