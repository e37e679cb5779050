import Foundation
import Testing
@testable import EarshotWire
import EarshotWhisper

/// FunASR's websocket messages: what clients send (as funasr_wss_client.py and the protocol document have
/// them) and what the server answers.
@Suite struct FunASRProtocolTests {
    /// The configuration message FunASR's Python client sends for a WAV file.
    static let clientConfig = #"{"mode": "2pass", "chunk_size": [5, 10, 5], "chunk_interval": 10, "encoder_chunk_look_back": 4, "decoder_chunk_look_back": 0, "audio_fs": 8000, "wav_name": "demo", "wav_format": "pcm", "is_speaking": true, "hotwords": "", "itn": true}"#

    @Test func clientConfigurationParses() throws {
        guard case .config(let config, let speaking) = try FunASRProtocol.parse(Self.clientConfig, current: nil) else {
            Issue.record("not a configuration")
            return
        }
        #expect(speaking)
        #expect(config.mode == .twoPass && config.wavName == "demo" && config.sampleRate == 8000 && config.isPCM)
        #expect(config.prompt == nil && config.language == nil)
    }

    @Test func endOfAudioInEverySpelling() throws {
        let current = FunASRProtocol.Config()
        for text in [#"{"is_speaking": false}"#, #"{"is_end": true}"#, #"{"is_finished": true}"#, #"{"is_speaking": false, "is_end": true}"#] {
            #expect(try FunASRProtocol.parse(text, current: current) == .end, "\(text)")
        }
        #expect(try FunASRProtocol.parse(#"{"is_speaking": true}"#, current: current) == .other)
    }

    @Test func defaultsAreTheCppServers() throws {
        guard case .config(let config, _) = try FunASRProtocol.parse(#"{"wav_format": "pcm"}"#, current: nil) else {
            Issue.record("not a configuration")
            return
        }
        #expect(config.mode == .twoPass && config.wavName == "wav-default-id" && config.sampleRate == 16_000)
    }

    @Test func badMessagesAreRefusedWithAReason() {
        for text in ["{mode: offline", "[1, 2]", "\"offline\"", #"{"mode": "turbo"}"#, #"{"mode": 3}"#,
                     #"{"mode": "offline", "audio_fs": 0}"#, #"{"audio_fs": "fast"}"#, #"{"audio_fs": 16000.5}"#,
                     #"{"mode": "2pass", "wav_format": "mp3"}"#] {
            #expect(throws: FunASRProtocol.ProtocolError.self, "\(text)") { try FunASRProtocol.parse(text, current: nil) }
        }
    }

    @Test func containersOnlyOffline() throws {
        guard case .config(let config, _) = try FunASRProtocol.parse(#"{"mode": "offline", "wav_format": "MP3"}"#, current: nil) else {
            Issue.record("not a configuration")
            return
        }
        #expect(!config.isPCM)
    }

    @Test func hotwordsBecomeThePrompt() {
        #expect(FunASRProtocol.prompt(fromHotwords: #"{"Dashwood": 20, "Norland": 30}"#) == "Dashwood, Norland")
        #expect(FunASRProtocol.prompt(fromHotwords: "Dashwood Norland") == "Dashwood, Norland")
        #expect(FunASRProtocol.prompt(fromHotwords: "Dashwood,Norland") == "Dashwood, Norland")
        #expect(FunASRProtocol.prompt(fromHotwords: "  ") == nil)
    }

    static func segment(_ text: String, _ words: [(String, Double, Double)]) -> TranscriptSegment {
        var s = TranscriptSegment(id: 1, seek: 0, start: words.first?.1 ?? 0, end: words.last?.2 ?? 0, text: text, tokens: [],
                                  temperature: 0, avgLogProb: 0, compressionRatio: 1, noSpeechProb: 0)
        s.words = words.map { WordTiming(word: $0.0, start: $0.1, end: $0.2, probability: 1) }
        return s
    }

    @Test func resultCarriesWordStampsAndSentences() throws {
        let segments = [
            Self.segment(" Seven of clubs.", [(" Seven", 0.5, 0.8), (" of", 0.8, 0.9), (" clubs.", 0.9, 1.4)]),
            Self.segment(" Yes", [(" Yes", 2.0, 2.25)]),
        ]
        let text = FunASRProtocol.result(mode: "offline", wavName: "demo", segments: segments, isFinal: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["mode"] as? String == "offline" && object["wav_name"] as? String == "demo")
        #expect(object["is_final"] as? Bool == true)
        #expect(object["text"] as? String == "Seven of clubs. Yes")
        #expect(object["timestamp"] as? [[Int]] == [[500, 800], [800, 900], [900, 1400], [2000, 2250]])
        let sentences = try #require(object["stamp_sents"] as? [[String: Any]])
        #expect(sentences.count == 2)
        #expect(sentences[0]["text_seg"] as? String == "Seven of clubs" && sentences[0]["punc"] as? String == ".")
        #expect(sentences[0]["start"] as? Int == 500 && sentences[0]["end"] as? Int == 1400)
        #expect(sentences[1]["punc"] as? String == "" && sentences[1]["ts_list"] as? [[Int]] == [[2000, 2250]])
        // FunASR's servers write UTF-8, not \u escapes (ensure_ascii=False).
        #expect(FunASRProtocol.partial(mode: "2pass-online", wavName: "é", text: "naïve").contains("naïve"))
    }

    @Test func emptyResultHasNoStamps() throws {
        let text = FunASRProtocol.result(mode: "2pass-offline", wavName: "demo", segments: [], isFinal: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["text"] as? String == "" && object["timestamp"] == nil && object["is_final"] as? Bool == true)
    }
}

/// Numbers a client may put where a sample rate goes.
@Suite struct FunASRSampleRateTests {
    @Test("an audio_fs that is not an integer in range is refused, not trapped on", arguments: ["1e300", "-1e300", "8000.5", "9223372036854775808", "true"])
    func badRates(value: String) {
        #expect(throws: FunASRProtocol.ProtocolError.self) {
            _ = try FunASRProtocol.parse(#"{"mode": "offline", "audio_fs": \#(value)}"#, current: nil)
        }
    }
}
