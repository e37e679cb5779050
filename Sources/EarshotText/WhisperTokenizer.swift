import Foundation

/// An error loading tokenizer files. The message names the file and what is wrong with it.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    /// The file concerned.
    public let path: String
    /// What went wrong.
    public let message: String

    /// Creates an error about `path`.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Whisper's tokenizer: GPT-2 byte-level BPE plus Whisper's special tokens.
///
/// Built from a CTranslate2 model directory's `vocabulary.json` (JSON array) or `vocabulary.txt` (one token
/// per line), which give the id → token table for every id the model can emit, and the Hugging Face
/// `tokenizer.json`, which gives the BPE merges (needed only by ``encode(_:)``) and the added tokens.
/// Decoding and encoding reproduce faster-whisper's `Tokenizer` (HF `tokenizers`) on the real models.
public struct WhisperTokenizer: Sendable {
    /// id → token string (byte-level alphabet for text tokens, literal text for special tokens).
    public let tokens: [String]
    private let ids: [String: Int]
    /// (left id, right id) packed → (rank, merged id).
    private let merges: [UInt64: (rank: Int32, result: Int32)]
    /// Added tokens (special and timestamp tokens) recognised verbatim by `encode`, longest first.
    private let addedTokens: [(text: [Unicode.Scalar], id: Int)]
    /// Id of the token for each single byte.
    private let byteTokenIds: [Int]

    /// `<|endoftext|>`; every id below it is a text token.
    public let eot: Int
    /// `<|startoftranscript|>`.
    public let sot: Int
    /// `<|startofprev|>`.
    public let sotPrev: Int
    /// `<|startoflm|>`.
    public let sotLM: Int
    /// `<|nospeech|>` (or `<|nocaptions|>` in older vocabularies).
    public let noSpeech: Int
    /// `<|notimestamps|>`.
    public let noTimestamps: Int
    /// The first timestamp token `<|0.00|>` (= `noTimestamps + 1`).
    public let timestampBegin: Int
    /// `<|transcribe|>`.
    public let transcribe: Int
    /// `<|translate|>`.
    public let translate: Int
    /// Language codes with a `<|xx|>` token in the vocabulary, in token-id order ("en", "zh", "de", …).
    /// Hebrew is reported as "he" even where the vocabulary spells the token `<|iw|>` (tiny.en).
    public let languageCodes: [String]
    private let languageIds: [String: Int]

    /// Whether this is a multilingual vocabulary (at least 51865 tokens); English-only models (`*.en`) have
    /// 51864 and ignore language tokens.
    public var isMultilingual: Bool { tokens.count >= 51865 }

    /// Number of tokens.
    public var vocabularySize: Int { tokens.count }

    /// Loads the tokenizer from a model directory holding `vocabulary.json` or `vocabulary.txt` and, for
    /// encoding, `tokenizer.json`.
    /// - Throws: ``TokenizerError`` naming the missing or malformed file.
    public init(directory: String) throws(TokenizerError) {
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let fm = FileManager.default
        let json = dir + "/vocabulary.json", txt = dir + "/vocabulary.txt", hf = dir + "/tokenizer.json"
        let vocabulary = fm.fileExists(atPath: json) ? json : (fm.fileExists(atPath: txt) ? txt : nil)
        let tokenizerJSON = fm.fileExists(atPath: hf) ? hf : nil
        if vocabulary == nil && tokenizerJSON == nil {
            throw TokenizerError(path: dir, message: "no vocabulary.json, vocabulary.txt or tokenizer.json in this directory")
        }
        try self.init(vocabularyPath: vocabulary, tokenizerJSONPath: tokenizerJSON)
    }

    /// Loads the tokenizer from explicit files. At least one must be given. Without `tokenizerJSONPath`,
    /// ``encode(_:)`` cannot merge and returns byte-level tokens only; without `vocabularyPath`, the
    /// vocabulary is rebuilt from `tokenizer.json`'s model vocabulary and added tokens.
    /// - Throws: ``TokenizerError`` naming the missing or malformed file.
    public init(vocabularyPath: String?, tokenizerJSONPath: String?) throws(TokenizerError) {
        var tokens: [String] = []
        if let vocabularyPath {
            tokens = try Self.loadVocabulary(vocabularyPath)
        }
        var mergePairs: [(String, String)] = []
        var added: [(String, Int)] = []
        if let tokenizerJSONPath {
            let hf = try HFTokenizerFile.load(tokenizerJSONPath)
            mergePairs = hf.merges
            added = hf.added
            if tokens.isEmpty {
                let count = max(hf.vocab.values.max() ?? -1, added.map(\.1).max() ?? -1) + 1
                tokens = [String](repeating: "", count: count)
                for (text, id) in hf.vocab { tokens[id] = text }
                for (text, id) in added { tokens[id] = text }
            }
        }
        try self.init(tokens: tokens, merges: mergePairs, addedTokens: added,
                      source: vocabularyPath ?? tokenizerJSONPath ?? "<memory>")
    }

    /// Builds a tokenizer from in-memory tables (tests, custom vocabularies).
    /// - Parameters:
    ///   - tokens: id → token string.
    ///   - merges: BPE merges in priority order.
    ///   - addedTokens: tokens matched verbatim in `encode` input (defaults to every `<|…|>` token).
    ///   - source: name used in error messages.
    /// - Throws: ``TokenizerError`` if a required special token is missing.
    public init(tokens: [String], merges: [(String, String)], addedTokens: [(String, Int)]? = nil,
                source: String = "<memory>") throws(TokenizerError) {
        self.tokens = tokens
        var ids: [String: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where ids[token] == nil { ids[token] = id }
        self.ids = ids

        func special(_ names: String...) throws(TokenizerError) -> Int {
            for name in names { if let id = ids[name] { return id } }
            throw TokenizerError(path: source, message: "vocabulary has no \(names.joined(separator: " or ")) token; not a Whisper vocabulary")
        }
        eot = try special("<|endoftext|>")
        sot = try special("<|startoftranscript|>")
        sotPrev = try special("<|startofprev|>")
        sotLM = try special("<|startoflm|>")
        noSpeech = try special("<|nospeech|>", "<|nocaptions|>")
        noTimestamps = try special("<|notimestamps|>")
        timestampBegin = noTimestamps + 1
        transcribe = try special("<|transcribe|>")
        translate = try special("<|translate|>")

        var codes: [String] = []
        var languageIds: [String: Int] = [:]
        if sot + 1 < translate {
            for id in (sot + 1)..<translate {
                let t = tokens[id]
                guard t.hasPrefix("<|") && t.hasSuffix("|>") && t.count > 4 else { continue }
                var code = String(t.dropFirst(2).dropLast(2))
                if code == "iw" { code = "he" }  // older vocabularies use the withdrawn ISO code for Hebrew
                codes.append(code)
                languageIds[code] = id
            }
        }
        languageCodes = codes
        self.languageIds = languageIds

        var byteIds = [Int](repeating: -1, count: 256)
        for b in 0..<256 {
            byteIds[b] = ids[String(Character(ByteLevel.byteToScalar[b]))] ?? -1
        }
        byteTokenIds = byteIds

        var table: [UInt64: (rank: Int32, result: Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, pair) in merges.enumerated() {
            guard let a = ids[pair.0], let b = ids[pair.1], let merged = ids[pair.0 + pair.1] else { continue }
            let key = UInt64(a) << 32 | UInt64(b)
            if table[key] == nil { table[key] = (Int32(rank), Int32(merged)) }
        }
        self.merges = table

        let addedList = addedTokens ?? tokens.enumerated().compactMap { id, t in
            t.hasPrefix("<|") && t.hasSuffix("|>") ? (t, id) : nil
        }
        self.addedTokens = addedList.map { (Array($0.0.unicodeScalars), $0.1) }
            .filter { !$0.text.isEmpty }
            .sorted { $0.text.count > $1.text.count }
    }

    private static func loadVocabulary(_ path: String) throws(TokenizerError) -> [String] {
        // FileManager.contents(atPath:) leaks its buffer on a 0-byte file (swift-foundation, Swift 6.3).
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
            throw TokenizerError(path: path, message: "the vocabulary file is empty (0 bytes); re-download the model")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError(path: path, message: "cannot read the vocabulary file")
        }
        if path.hasSuffix(".json") {
            guard let array = (try? JSONSerialization.jsonObject(with: data)) as? [String] else {
                throw TokenizerError(path: path, message: "expected a JSON array of token strings")
            }
            return array
        }
        // vocabulary.txt: one token per line; a final newline does not start another token.
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
    }

    // MARK: Special tokens

    /// The `<|xx|>` token of a language code ("en", "zh", …), or `nil` if the vocabulary has none.
    public func languageToken(code: String) -> Int? { languageIds[code == "iw" ? "he" : code] }

    /// The language code of a language token, or `nil` if `token` is not one.
    public func languageCode(token: Int) -> String? {
        guard token > sot && token < translate && token < tokens.count else { return nil }
        let t = tokens[token]
        guard t.hasPrefix("<|") && t.hasSuffix("|>") else { return nil }
        var code = String(t.dropFirst(2).dropLast(2))
        if code == "iw" { code = "he" }
        return languageIds[code] == token ? code : nil
    }

    /// Whether `token` is a timestamp token (`<|0.00|>` … `<|30.00|>`).
    public func isTimestamp(_ token: Int) -> Bool { token >= timestampBegin && token < tokens.count }

    /// The time a timestamp token stands for, in seconds (0.02 s per step).
    public func timestampSeconds(_ token: Int) -> Double { Double(token - timestampBegin) * 0.02 }

    /// The id of a token string, if it is in the vocabulary.
    public func id(of token: String) -> Int? { ids[token] }

    // MARK: Decoding

    /// The raw bytes the text tokens among `ids` stand for (ids ≥ ``eot`` and out-of-range ids are skipped).
    public func bytes(_ ids: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for id in ids where id >= 0 && id < eot && id < tokens.count {
            ByteLevel.appendBytes(of: tokens[id], to: &out)
        }
        return out
    }

    /// Decodes text tokens to a string, like faster-whisper's `Tokenizer.decode`: special and timestamp
    /// tokens are dropped, the tokens' bytes are concatenated first (a character split across tokens comes
    /// out whole) and invalid or incomplete UTF-8 becomes U+FFFD.
    public func decode(_ ids: [Int]) -> String {
        String(decoding: bytes(ids), as: UTF8.self)
    }

    /// Decodes with timestamp tokens rendered inline as `<|1.50|>`, like faster-whisper's
    /// `decode_with_timestamps`.
    public func decodeWithTimestamps(_ ids: [Int]) -> String {
        var out = ""
        var run: [Int] = []
        for id in ids {
            if id >= timestampBegin {
                out += decode(run)
                run.removeAll()
                let hundredths = (id - timestampBegin) * 2
                out += "<|\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)|>"
            } else {
                run.append(id)
            }
        }
        return out + decode(run)
    }

    // MARK: Encoding

    /// Encodes text to token ids like faster-whisper's `Tokenizer.encode` (HF `tokenizers`, no
    /// special-token template): `<|…|>` tokens written in the text are matched verbatim, the rest is split
    /// with GPT-2's pre-tokenisation regex, mapped to the byte alphabet and merged by BPE rank.
    public func encode(_ text: String) -> [Int] {
        var out: [Int] = []
        let scalars = Array(text.unicodeScalars)
        var plainStart = 0
        var i = 0
        while i < scalars.count {
            if scalars[i] == "<", let match = addedTokenMatch(scalars, at: i) {
                encodePlain(scalars[plainStart..<i], into: &out)
                out.append(match.id)
                i += match.length
                plainStart = i
            } else {
                i += 1
            }
        }
        encodePlain(scalars[plainStart..<scalars.count], into: &out)
        return out
    }

    private func addedTokenMatch(_ s: [Unicode.Scalar], at i: Int) -> (id: Int, length: Int)? {
        for token in addedTokens where token.text.count <= s.count - i {
            if s[i..<(i + token.text.count)].elementsEqual(token.text) { return (token.id, token.text.count) }
        }
        return nil
    }

    private func encodePlain(_ scalars: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        guard !scalars.isEmpty else { return }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars)
        for piece in ByteLevel.pretokenize(String(text)) {
            var pieceText = String.UnicodeScalarView()
            pieceText.append(contentsOf: piece)
            let bytes = Array(String(pieceText).utf8)
            out.append(contentsOf: bpe(bytes.map { byteTokenIds[Int($0)] }).filter { $0 >= 0 })
        }
    }

    /// Repeatedly merges the adjacent pair with the lowest merge rank (leftmost on ties).
    private func bpe(_ start: [Int]) -> [Int] {
        var symbols = start
        while symbols.count > 1 {
            var bestRank = Int32.max
            var bestIndex = -1
            var bestResult: Int32 = 0
            for k in 0..<(symbols.count - 1) {
                let key = UInt64(symbols[k]) << 32 | UInt64(symbols[k + 1])
                if let m = merges[key], m.rank < bestRank {
                    bestRank = m.rank
                    bestIndex = k
                    bestResult = m.result
                }
            }
            if bestIndex < 0 { break }
            symbols[bestIndex] = Int(bestResult)
            symbols.remove(at: bestIndex + 1)
        }
        return symbols
    }
}
