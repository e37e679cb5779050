import Foundation
import Testing
@testable import EarshotText

/// The reference data written by scripts/fixtures/text_make_tokenizer_fixtures.py (faster-whisper 1.2.1).
struct TokenizerFixture: Decodable {
    struct Encode: Decodable { let text: String; let ids: [Int] }
    struct Decode: Decodable { let ids: [Int]; let text: String }
    let model: String
    let vocabularySize: Int
    let multilingual: Bool
    let specials: [String: Int]
    let languages: [String: Int]
    let nonSpeechTokens: [Int]
    let encode: [Encode]
    let decode: [Decode]
    let decodeWithTimestamps: [Decode]

    static func load(_ model: String) throws -> TokenizerFixture {
        let url = try #require(Bundle.module.url(forResource: "tokenizer-\(model)", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(TokenizerFixture.self, from: Data(contentsOf: url))
    }
}

func textTestCache() -> String {
    if let env = ProcessInfo.processInfo.environment["EARSHOT_CACHE"], !env.isEmpty { return env }
    return NSHomeDirectory() + "/.cache/earshot"
}

/// Loads the real tokenizer of a fetched model, recording a failure that says how to fetch it if absent.
func realTokenizer(_ model: String) throws -> WhisperTokenizer? {
    let dir = textTestCache() + "/models/" + model
    guard FileManager.default.fileExists(atPath: dir + "/tokenizer.json") else {
        Issue.record("model \(model) is missing from \(dir): run scripts/fetch-assets.sh (or set EARSHOT_CACHE)")
        return nil
    }
    return try WhisperTokenizer(directory: dir)
}

@Suite("Whisper tokenizer against faster-whisper")
struct WhisperTokenizerTests {
    static let models = ["whisper-tiny.en", "whisper-base"]

    @Test("special ids, languages, multilingual flag", arguments: models)
    func specials(_ model: String) throws {
        let f = try TokenizerFixture.load(model)
        guard let tok = try realTokenizer(model) else { return }
        #expect(tok.vocabularySize == (model == "whisper-base" ? 51865 : 51864))
        #expect(tok.isMultilingual == f.multilingual)
        let got = ["eot": tok.eot, "sot": tok.sot, "sotPrev": tok.sotPrev, "sotLM": tok.sotLM, "noSpeech": tok.noSpeech,
                   "noTimestamps": tok.noTimestamps, "timestampBegin": tok.timestampBegin,
                   "transcribe": tok.transcribe, "translate": tok.translate]
        #expect(got == f.specials)
        // faster-whisper only knows "he"; tiny.en's vocabulary spells Hebrew <|iw|>, which we report as "he".
        var expected = f.languages
        if expected["he"] == nil, let iw = tok.id(of: "<|iw|>") { expected["he"] = iw }
        #expect(tok.languageCodes.count == 99)
        #expect(tok.languageCodes == expected.sorted { $0.value < $1.value }.map(\.key))
        #expect(tok.languageToken(code: "iw") == tok.languageToken(code: "he"))
        for (code, id) in expected {
            #expect(tok.languageToken(code: code) == id)
            #expect(tok.languageCode(token: id) == code)
        }
        #expect(tok.languageCodes.first == "en" && tok.languageCodes[1] == "zh")
        #expect(tok.languageToken(code: "xx") == nil)
        #expect(tok.languageCode(token: tok.sot) == nil && tok.languageCode(token: 100) == nil)
        #expect(tok.isTimestamp(tok.timestampBegin) && !tok.isTimestamp(tok.noTimestamps))
        #expect(tok.isTimestamp(tok.vocabularySize - 1) && !tok.isTimestamp(tok.vocabularySize))
        #expect(tok.timestampSeconds(tok.timestampBegin + 75) == 1.5)
        #expect(tok.timestampSeconds(tok.vocabularySize - 1) == 30.0)
    }

    @Test("decode matches HF tokenizers, including characters split across tokens", arguments: models)
    func decode(_ model: String) throws {
        let f = try TokenizerFixture.load(model)
        guard let tok = try realTokenizer(model) else { return }
        #expect(f.decode.count > 100)
        var failures = 0
        for c in f.decode where tok.decode(c.ids) != c.text {
            failures += 1
            if failures < 6 { Issue.record("decode \(c.ids): got \(tok.decode(c.ids).debugDescription), want \(c.text.debugDescription)") }
        }
        #expect(failures == 0)
        for c in f.decodeWithTimestamps { #expect(tok.decodeWithTimestamps(c.ids) == c.text) }
    }

    @Test("encode matches HF tokenizers", arguments: models)
    func encode(_ model: String) throws {
        let f = try TokenizerFixture.load(model)
        guard let tok = try realTokenizer(model) else { return }
        for c in f.encode {
            #expect(tok.encode(c.text) == c.ids, "\(c.text.debugDescription)")
            #expect(tok.decode(tok.encode(c.text)) == c.text)
        }
    }

    @Test("non-speech tokens equal faster-whisper's", arguments: models)
    func nonSpeech(_ model: String) throws {
        let f = try TokenizerFixture.load(model)
        guard let tok = try realTokenizer(model) else { return }
        #expect(tok.nonSpeechTokens == f.nonSpeechTokens)
    }

    @Test("Mandarin round trip and the documented ids")
    func mandarin() throws {
        guard let tok = try realTokenizer("whisper-base") else { return }
        let text = "欢迎大家来体验达摩院推出的语音识别模型"
        let ids = tok.encode(text)
        #expect(tok.decode(ids) == text)
        // A prefix that ends inside a character decodes that character as U+FFFD, and the whole is exact.
        let partial = (1..<ids.count).map { tok.decode(Array(ids[..<$0])) }
        #expect(partial.contains { $0.hasSuffix("\u{FFFD}") })
        #expect(tok.decode([tok.sot, tok.languageToken(code: "zh")!, tok.transcribe, tok.noTimestamps] + ids + [tok.eot]) == text)
    }

    @Test("vocabulary.txt and vocabulary.json load the same way; tokenizer.json alone works")
    func loaders() throws {
        let dir = NSTemporaryDirectory() + "earshot-tok-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: TokenizerError.self) { _ = try WhisperTokenizer(directory: dir) }
        guard let real = try realTokenizer("whisper-tiny.en") else { return }
        let src = textTestCache() + "/models/whisper-tiny.en/"
        try FileManager.default.copyItem(atPath: src + "tokenizer.json", toPath: dir + "/tokenizer.json")
        let hfOnly = try WhisperTokenizer(directory: dir)
        #expect(hfOnly.vocabularySize == 50363)  // tokenizer.json of tiny.en stops at <|notimestamps|>
        #expect(hfOnly.encode("Hello world") == real.encode("Hello world"))
        let json = try JSONSerialization.data(withJSONObject: real.tokens)
        try json.write(to: URL(fileURLWithPath: dir + "/vocabulary.json"))
        let fromJSON = try WhisperTokenizer(directory: dir)
        #expect(fromJSON.tokens == real.tokens && fromJSON.eot == real.eot)
        try Data("not json".utf8).write(to: URL(fileURLWithPath: dir + "/vocabulary.json"))
        #expect(throws: TokenizerError.self) { _ = try WhisperTokenizer(directory: dir) }
    }
}
