import Foundation

/// The parts of a Hugging Face `tokenizer.json` that Whisper needs: the BPE model's vocabulary and merges
/// (either `"a b"` strings or `["a", "b"]` pairs, depending on the `tokenizers` version that wrote it) and
/// the added tokens.
struct HFTokenizerFile {
    var vocab: [String: Int]
    var merges: [(String, String)]
    var added: [(String, Int)]

    /// Token ids above this are refused: the vocabulary is an array indexed by id, so one huge id would size
    /// it (an id of 10^18 made the reader ask for exabytes; found by FuzzTokenizer). Whisper's is 51 865.
    static let maxTokenID = (1 << 20) - 1

    static func load(_ path: String) throws(TokenizerError) -> HFTokenizerFile {
        // FileManager.contents(atPath:) leaks its buffer on a 0-byte file (swift-foundation, Swift 6.3).
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
            throw TokenizerError(path: path, message: "tokenizer.json is empty (0 bytes); re-download the model")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError(path: path, message: "cannot read tokenizer.json")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let model = root["model"] as? [String: Any] else {
            throw TokenizerError(path: path, message: "not a Hugging Face tokenizer.json (no \"model\" object)")
        }
        if let type = model["type"] as? String, type != "BPE" {
            throw TokenizerError(path: path, message: "tokenizer model is \(type), expected BPE")
        }
        var vocab: [String: Int] = [:]
        if let v = model["vocab"] as? [String: Any] {
            for (token, id) in v { if let id = (id as? NSNumber)?.intValue { vocab[token] = id } }
        }
        var merges: [(String, String)] = []
        if let list = model["merges"] as? [Any] {
            merges.reserveCapacity(list.count)
            for item in list {
                if let pair = item as? [String], pair.count == 2 {
                    merges.append((pair[0], pair[1]))
                } else if let text = item as? String, let space = text.firstIndex(of: " ") {
                    merges.append((String(text[..<space]), String(text[text.index(after: space)...])))
                } else {
                    throw TokenizerError(path: path, message: "malformed merge entry \(item)")
                }
            }
        }
        var added: [(String, Int)] = []
        for item in root["added_tokens"] as? [[String: Any]] ?? [] {
            if let content = item["content"] as? String, let id = (item["id"] as? NSNumber)?.intValue {
                added.append((content, id))
            }
        }
        for id in vocab.values where !(0...maxTokenID).contains(id) {
            throw TokenizerError(path: path, message: "token id \(id) in \"model.vocab\" is outside 0...\(maxTokenID); the tokenizer.json is corrupt")
        }
        for (content, id) in added where !(0...maxTokenID).contains(id) {
            throw TokenizerError(path: path, message: "added token \(content.debugDescription) has id \(id), outside 0...\(maxTokenID); the tokenizer.json is corrupt")
        }
        return HFTokenizerFile(vocab: vocab, merges: merges, added: added)
    }
}
