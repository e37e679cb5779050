import Foundation
import EarshotSpeech

/// FunASR's websocket protocol, the message side: the client's configuration and control messages and the
/// server's result messages, as FunASR's Python server (`runtime/python/websocket/funasr_wss_server.py`),
/// its C++ server and `runtime/docs/websocket_protocol.md` (funasr 1.3.9) have them.
///
/// Fields Earshot has no use for (`chunk_size`, `chunk_interval`, `encoder_chunk_look_back`, `itn`, …) are
/// accepted and ignored; `hotwords` become Whisper's initial prompt.
public enum FunASRProtocol {
    /// Recognition mode a connection asks for.
    public enum Mode: String, Sendable {
        /// One result with the whole text once the client says it has finished.
        case offline
        /// Partial text (`2pass-online`) while someone speaks, corrected text (`2pass-offline`) per utterance.
        case twoPass = "2pass"
        /// Streaming only, in FunASR; Earshot has no streaming model and serves it as `2pass` (FunASR's C++
        /// server also labels its streaming results `2pass-online` in this mode).
        case online
    }

    /// The first text message of a connection (or a later one that changes it).
    public struct Config: Sendable, Equatable {
        public var mode: Mode = .twoPass
        public var wavName = "wav-default-id"
        /// `pcm` (16-bit little-endian mono) or a container's extension (`wav`, `mp3`, …; offline only).
        public var wavFormat = "pcm"
        public var sampleRate = 16_000
        /// Whisper's initial prompt, from `hotwords`.
        public var prompt: String?
        /// Spoken language (`svs_lang` when not `auto`), for multilingual models.
        public var language: String?

        public init() {}

        /// Whether the audio is raw PCM (anything else is a container decoded after the end).
        public var isPCM: Bool { ["pcm", ""].contains(wavFormat.lowercased()) }
    }

    /// What a client's text message says.
    public enum ClientMessage: Equatable {
        /// Configuration (first message), possibly also saying whether the client is still speaking.
        case config(Config, isSpeaking: Bool)
        /// `{"is_speaking": false}` (or `is_end` / `is_finished`): the audio is complete.
        case end
        /// Anything else that parses (e.g. `{"is_speaking": true}` alone): nothing to do.
        case other
    }

    /// A client message the server cannot take.
    public struct ProtocolError: Error, Equatable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    static let configKeys: Set<String> = ["mode", "wav_name", "wav_format", "audio_fs", "hotwords", "chunk_size",
                                          "chunk_interval", "itn", "svs_lang", "encoder_chunk_look_back",
                                          "decoder_chunk_look_back"]

    /// Parses a text message; `current` is the connection's configuration so far (`nil` before the first).
    /// - Throws: ``ProtocolError`` for anything that is not a JSON object, an unknown mode, a bad sample rate.
    public static func parse(_ text: String, current: Config?) throws -> ClientMessage {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw ProtocolError("malformed message: expected a JSON object such as {\"mode\": \"offline\", \"wav_name\": \"demo\", \"wav_format\": \"pcm\", \"audio_fs\": 16000, \"is_speaking\": true}")
        }
        let ended = flag(object["is_speaking"]) == false || flag(object["is_end"]) == true
            || flag(object["is_finished"]) == true
        let isConfig = !configKeys.isDisjoint(with: object.keys)
        if !isConfig {
            return ended ? .end : .other
        }
        var config = current ?? Config()
        if let mode = object["mode"] {
            guard let name = mode as? String, let parsed = Mode(rawValue: name) else {
                throw ProtocolError("unknown mode \(mode): expected offline, 2pass or online")
            }
            config.mode = parsed
        }
        if let name = object["wav_name"] as? String, !name.isEmpty { config.wavName = name }
        if let format = object["wav_format"] as? String { config.wavFormat = format }
        if let fs = object["audio_fs"] {
            guard let rate = integer(fs), (1_000...384_000).contains(rate) else {
                throw ProtocolError("audio_fs must be a sample rate in Hz between 1000 and 384000 (got \(fs))")
            }
            config.sampleRate = rate
        }
        if let hotwords = object["hotwords"] as? String { config.prompt = prompt(fromHotwords: hotwords) }
        if let lang = object["svs_lang"] as? String { config.language = lang == "auto" || lang.isEmpty ? nil : lang }
        if !config.isPCM && config.mode != .offline {
            throw ProtocolError("wav_format '\(config.wavFormat)' needs mode offline; 2pass and online take pcm streams")
        }
        return .config(config, isSpeaking: !ended)
    }

    /// FunASR's `hotwords` is a JSON string: an object word → weight, or space-separated words. Whisper has
    /// no hotword biasing; the words become its initial prompt, which nudges it towards their spelling.
    static func prompt(fromHotwords hotwords: String) -> String? {
        let trimmed = hotwords.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return nil }
        if let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] {
            let words = object.keys.sorted()
            return words.isEmpty ? nil : words.joined(separator: ", ")
        }
        let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        return words.isEmpty ? nil : words.joined(separator: ", ")
    }

    private static func flag(_ value: Any?) -> Bool? {
        switch value {
        case let b as Bool: b
        case let n as NSNumber: n.intValue != 0
        case let s as String: ["true", "1"].contains(s.lowercased()) ? true : (["false", "0"].contains(s.lowercased()) ? false : nil)
        default: nil
        }
    }

    private static func integer(_ value: Any) -> Int? {
        switch value {
        case let n as NSNumber: Int(exactly: n.doubleValue)   // 1e300 or 8000.5 is not a rate
        case let s as String: Int(s)
        default: nil
        }
    }

    // MARK: Server messages

    /// A result message. `timestamp` holds one `[start, end]` pair in milliseconds per word (FunASR's
    /// Paraformer gives one per character or token; Whisper's word alignment gives words, so a word is
    /// the unit here), `stamp_sents` one entry per segment (sentence) as the protocol document shows it.
    public static func result(mode: String, wavName: String, segments: [TranscriptSegment], isFinal: Bool,
                              text: String? = nil) -> String {
        var message: [String: Any] = [
            "mode": mode,
            "wav_name": wavName,
            "text": text ?? joinedText(segments),
            "is_final": isFinal,
        ]
        let words = segments.flatMap { $0.words ?? [] }
        if !words.isEmpty {
            message["timestamp"] = words.map { [milliseconds($0.start), milliseconds($0.end)] }
            message["stamp_sents"] = segments.compactMap(stampSentence)
        }
        return encode(message)
    }

    /// A partial (`2pass-online`) message: text only, as FunASR's servers send them.
    public static func partial(mode: String, wavName: String, text: String) -> String {
        encode(["mode": mode, "wav_name": wavName, "text": text, "is_final": false])
    }

    /// An error message: `error` says what went wrong; `is_final` tells FunASR's client it gets nothing more.
    public static func error(_ message: String, wavName: String?) -> String {
        var object: [String: Any] = ["error": message, "is_final": true, "text": ""]
        if let wavName { object["wav_name"] = wavName }
        return encode(object)
    }

    /// The segments' text as one string (Whisper's texts carry their leading spaces).
    static func joinedText(_ segments: [TranscriptSegment]) -> String {
        segments.map(\.text).joined().trimmingCharacters(in: .whitespaces)
    }

    static func milliseconds(_ seconds: Double) -> Int { Int((seconds * 1000).rounded()) }

    /// FunASR's `stamp_sents` entry: the words separated by spaces, the sentence's closing punctuation, its
    /// span and its words' spans.
    static func stampSentence(_ segment: TranscriptSegment) -> [String: Any]? {
        guard let words = segment.words, !words.isEmpty else { return nil }
        var tokens = words.map { $0.word.trimmingCharacters(in: .whitespaces) }
        var punctuation = ""
        if var last = tokens.last, let mark = last.last, ".,?!;:".contains(mark) {
            last.removeLast()
            punctuation = String(mark)
            tokens[tokens.count - 1] = last
        }
        return [
            "text_seg": tokens.filter { !$0.isEmpty }.joined(separator: " "),
            "punc": punctuation,
            "start": milliseconds(words[0].start),
            "end": milliseconds(words[words.count - 1].end),
            "ts_list": words.map { [milliseconds($0.start), milliseconds($0.end)] },
        ]
    }

    /// UTF-8 JSON without escaping non-ASCII (FunASR's `ensure_ascii=False`), keys in a stable order.
    static func encode(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "{\"error\":\"internal: result not encodable\",\"is_final\":true}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
