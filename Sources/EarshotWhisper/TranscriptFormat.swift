import Foundation

/// The file formats a transcript can be written in (the names openai-whisper's CLI and the OpenAI
/// transcription API use).
public enum TranscriptFormat: String, Sendable, CaseIterable {
    /// Plain text, one segment per line.
    case txt
    /// SubRip subtitles.
    case srt
    /// WebVTT subtitles.
    case vtt
    /// `{"text": …, "segments": [{"start", "end", "text"}]}`, times in seconds; with word timestamps each
    /// segment also has `words: [{"word", "start", "end", "probability"}]` (faster-whisper's `Word`).
    case json
    /// The OpenAI API's `verbose_json` response: task, language, duration, text and full segments; with word
    /// timestamps, `words` per segment (as in `json`) and the API's top-level `words: [{"word", "start", "end"}]`.
    case verboseJSON = "verbose_json"

    /// File extension for this format.
    public var fileExtension: String {
        switch self {
        case .txt: return "txt"
        case .srt: return "srt"
        case .vtt: return "vtt"
        case .json, .verboseJSON: return "json"
        }
    }

    /// Renders a transcript.
    public func render(_ transcript: Transcript, task: WhisperTask = .transcribe) -> String {
        switch self {
        case .txt, .srt, .vtt:
            return header + transcript.segments.enumerated().map { cue($1, number: $0 + 1) }.joined()
        case .json:
            let segments = transcript.segments.map {
                SimpleSegment(start: $0.start, end: $0.end, text: $0.text, words: $0.words?.map(SegmentWord.init),
                              speaker: $0.speaker)
            }
            return Self.encode(SimpleTranscript(text: transcript.text, language: transcript.language, segments: segments))
        case .verboseJSON:
            let segments = transcript.segments.map {
                VerboseSegment(id: $0.id - 1, seek: $0.seek, start: $0.start, end: $0.end, text: $0.text,
                               tokens: $0.tokens, temperature: Double($0.temperature), avg_logprob: $0.avgLogProb,
                               compression_ratio: $0.compressionRatio, no_speech_prob: $0.noSpeechProb,
                               words: $0.words?.map(SegmentWord.init), speaker: $0.speaker)
            }
            let hasWords = transcript.segments.contains { $0.words != nil }
            let words = hasWords ? transcript.segments.flatMap { $0.words ?? [] }.map {
                TopLevelWord(word: $0.word, start: $0.start, end: $0.end)
            } : nil
            return Self.encode(VerboseTranscript(task: task.rawValue,
                                                 language: WhisperLanguages.name(of: transcript.language),
                                                 duration: transcript.duration, text: transcript.text,
                                                 segments: segments, words: words))
        }
    }

    /// Whether the format can be written segment by segment (`header`, then one `cue` per segment).
    public var isStreamable: Bool { self == .txt || self == .srt || self == .vtt }

    /// What a streamable format starts with ("WEBVTT" and a blank line for WebVTT, nothing otherwise).
    public var header: String { self == .vtt ? "WEBVTT\n\n" : "" }

    /// One segment of a streamable format: a text line, or a numbered (SRT) or unnumbered (VTT) cue.
    /// A diarized segment's text is prefixed with its speaker (`spk0: …`).
    public func cue(_ s: TranscriptSegment, number: Int) -> String {
        let spoken = s.text.trimmingCharacters(in: .whitespaces)
        let text = s.speaker.map { "\($0): \(spoken)" } ?? spoken
        switch self {
        case .srt:
            return "\(number)\n\(Self.clock(s.start, separator: ",", alwaysHours: true)) --> "
                + "\(Self.clock(s.end, separator: ",", alwaysHours: true))\n\(text)\n\n"
        case .vtt:
            return "\(Self.clock(s.start, separator: ".", alwaysHours: false)) --> "
                + "\(Self.clock(s.end, separator: ".", alwaysHours: false))\n\(text)\n\n"
        default:
            return text + "\n"
        }
    }

    /// `HH:MM:SS,mmm` (SRT) or `[HH:]MM:SS.mmm` (VTT).
    static func clock(_ seconds: Double, separator: String, alwaysHours: Bool) -> String {
        let totalMilliseconds = Int((max(seconds, 0) * 1000).rounded())
        let hours = totalMilliseconds / 3_600_000
        let minutes = totalMilliseconds / 60_000 % 60
        let secs = totalMilliseconds / 1000 % 60
        let millis = totalMilliseconds % 1000
        let tail = String(format: "%02d:%02d%@%03d", minutes, secs, separator, millis)
        return (alwaysHours || hours > 0) ? String(format: "%02d:", hours) + tail : tail
    }

    private static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// A word inside a segment, as faster-whisper's `Word` (start, end, word, probability).
    private struct SegmentWord: Encodable {
        let word: String; let start: Double; let end: Double; let probability: Double
        init(_ w: WordTiming) { word = w.word; start = w.start; end = w.end; probability = w.probability }
    }
    /// A word of the OpenAI API's top-level `words` list (word, start, end).
    private struct TopLevelWord: Encodable { let word: String; let start: Double; let end: Double }
    // `words` is left out (not null) when word timestamps were not asked for.
    private struct SimpleSegment: Encodable {
        let start: Double; let end: Double; let text: String; let words: [SegmentWord]?; let speaker: String?
    }
    private struct SimpleTranscript: Encodable { let text: String; let language: String; let segments: [SimpleSegment] }
    private struct VerboseSegment: Encodable {
        let id: Int; let seek: Int; let start: Double; let end: Double; let text: String; let tokens: [Int]
        let temperature: Double; let avg_logprob: Double; let compression_ratio: Double; let no_speech_prob: Double
        let words: [SegmentWord]?; let speaker: String?
    }
    private struct VerboseTranscript: Encodable {
        let task: String; let language: String; let duration: Double; let text: String; let segments: [VerboseSegment]
        let words: [TopLevelWord]?
    }
}

/// Whisper's language codes and the English names the OpenAI API reports (`whisper/tokenizer.py` LANGUAGES).
public enum WhisperLanguages {
    static let names: [String: String] = [
        "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
        "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
        "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
        "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
        "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
        "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
        "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
        "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian",
        "kn": "kannada", "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic",
        "hy": "armenian", "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian",
        "sw": "swahili", "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer",
        "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian",
        "be": "belarusian", "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish",
        "lo": "lao", "uz": "uzbek", "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen",
        "nn": "nynorsk", "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar",
        "bo": "tibetan", "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian",
        "ln": "lingala", "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
    ]

    /// The English name of a language code, or the code itself when unknown.
    public static func name(of code: String) -> String { names[code] ?? code }
}
