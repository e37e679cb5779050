/// FunASR's text side of CT-Transformer punctuation, as plain functions: `split_words`,
/// `split_to_mini_sentence` (`funasr/models/ct_transformer/utils.py`) and the mini-sentence loop of
/// `CTTransformer.inference` (`model.py`): the carry of the uncommitted tail, the forced cut of a carry longer
/// than 200 tokens, the text assembly (spaces, capitals, ASCII marks) and the end-of-text rules.
/// Python semantics kept: strings are sequences of code points (Unicode scalars, not Swift Characters),
/// `str.split()` splits on Unicode whitespace, "ASCII" means a one-byte UTF-8 code point.
public enum CTTransformerText {
    /// Code points Python's `str.split()` (no argument) splits on (`str.isspace`).
    static func isPythonSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `len(c.encode()) == 1`: a code point that UTF-8 writes in one byte.
    static func isASCII(_ s: Unicode.Scalar) -> Bool { s.value < 0x80 }

    /// Whether a token's first code point is ASCII (`len(token[0].encode()) == 1`).
    static func startsASCII(_ token: String) -> Bool { token.unicodeScalars.first.map(isASCII) ?? false }

    /// FunASR's `split_words` without a jieba dictionary: the text is split on whitespace; inside each piece,
    /// runs of ASCII code points are words and every other code point is a token of its own.
    public static func splitWords(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
        }
        for s in text.unicodeScalars {
            if isPythonSpace(s) {
                flush()
            } else if isASCII(s) {
                current.append(s)
            } else {
                flush()
                words.append(String(s))
            }
        }
        flush()
        return words
    }

    /// FunASR's `split_to_mini_sentence`: consecutive pieces of `limit` items, the last one shorter
    /// (the whole list when it has at most `limit` items).
    public static func miniSentences<T>(_ items: [T], limit: Int) -> [ArraySlice<T>] {
        precondition(limit > 1)
        guard items.count > limit else { return [items[...]] }
        return stride(from: 0, to: items.count, by: limit).map { items[$0..<min($0 + limit, items.count)] }
    }

    /// Python's `str.capitalize` on an ASCII word: first letter upper case, the rest lower case.
    static func capitalize(_ word: String) -> String {
        var out = String.UnicodeScalarView()
        for (i, s) in word.unicodeScalars.enumerated() {
            let v = s.value
            if i == 0, (0x61...0x7A).contains(v) { out.append(Unicode.Scalar(v - 32)!) }
            else if i > 0, (0x41...0x5A).contains(v) { out.append(Unicode.Scalar(v + 32)!) }
            else { out.append(s) }
        }
        return String(out)
    }

    /// The outcome of FunASR's loop over one text.
    public struct Result: Sendable, Equatable {
        /// FunASR's `text`.
        public var text: String
        /// FunASR's `punc_array`: the class id after each token (end-of-text rule applied).
        public var puncArray: [Int]
        /// Per token, what the text writes after it.
        public var marks: [String]
        /// Tokens of each model call (carry first), for tests and cost accounting.
        public var callLengths: [Int]
    }

    /// Runs FunASR's `CTTransformer.inference` loop over `tokens` (with their ids), calling `classify` once per
    /// mini-sentence with the ids the model sees (the carried tail, then the next `splitSize` tokens); it returns
    /// the argmax class per id. `puncList` and `sentenceEndID` come from the config.
    public static func punctuate(tokens: [String], ids: [Int], puncList: [String], sentenceEndID: Int,
                                 splitSize: Int = 20,
                                 classify: ([Int]) throws -> [Int]) rethrows -> Result {
        precondition(tokens.count == ids.count)
        guard !tokens.isEmpty else { return Result(text: "", puncArray: [], marks: [], callLengths: []) }
        let cacheLimit = 200   // cache_pop_trigger_limit
        let chunks = miniSentences(Array(tokens.indices), limit: splitSize)
        var cache: [Int] = []               // token indices carried into the next mini-sentence
        var text = String.UnicodeScalarView()
        var puncArray: [Int] = []
        var marks: [String] = []
        var callLengths: [Int] = []
        let label = { (id: Int) -> String in puncList.indices.contains(id) ? puncList[id] : "" }
        for (k, chunk) in chunks.enumerated() {
            var mini = cache + chunk
            var punctuations = try classify(mini.map { ids[$0] })
            precondition(punctuations.count == mini.count, "classify returned \(punctuations.count) classes for \(mini.count) ids")
            callLengths.append(mini.count)
            if k < chunks.count - 1 {
                var sentenceEnd = -1, lastComma = -1
                var i = punctuations.count - 2
                while i > 1 {
                    let p = label(punctuations[i])
                    if p == "。" || p == "？" { sentenceEnd = i; break }
                    if lastComma < 0 && p == "，" { lastComma = i }
                    i -= 1
                }
                if sentenceEnd < 0 && mini.count > cacheLimit && lastComma >= 0 {
                    sentenceEnd = lastComma
                    punctuations[sentenceEnd] = sentenceEndID
                }
                cache = Array(mini[(sentenceEnd + 1)...])
                mini = Array(mini[..<(sentenceEnd + 1)])
                punctuations = Array(punctuations[..<(sentenceEnd + 1)])
            }
            // Text assembly: the words are modified in place as FunASR does (capitalised, then a leading space).
            var words = mini.map { tokens[$0] }
            for i in words.indices {
                let ascii = startsASCII(words[i])
                if ascii && (i == 0 || label(punctuations[i - 1]) == "。" || label(punctuations[i - 1]) == "？") {
                    words[i] = capitalize(words[i])
                }
                if ascii && (i == 0 || startsASCII(words[i - 1])) { words[i] = " " + words[i] }
                text.append(contentsOf: words[i].unicodeScalars)
                var mark = ""
                let p = label(punctuations[i])
                if p != "_" {
                    mark = p
                    if ascii {
                        switch p {
                        case "，": mark = ","
                        case "。": mark = "."
                        case "？": mark = "?"
                        default: break
                        }
                    }
                    text.append(contentsOf: mark.unicodeScalars)
                }
                marks.append(mark)
            }
            if k == chunks.count - 1, let last = text.last, !punctuations.isEmpty {
                // End of text: a trailing comma becomes a full stop; otherwise one is appended.
                var replaced: String?, appended: String?
                if last == "，" || last == "、" { replaced = "。" }
                else if last == "," { replaced = "." }
                else if last != "。" && last != "？" && !isASCII(last) { appended = "。" }
                else if last != "." && last != "?" && isASCII(last) { appended = "." }
                if let replaced {
                    text.removeLast()
                    text.append(contentsOf: replaced.unicodeScalars)
                    marks[marks.count - 1] = String(marks[marks.count - 1].unicodeScalars.dropLast()) + replaced
                } else if let appended {
                    text.append(contentsOf: appended.unicodeScalars)
                    marks[marks.count - 1] += appended
                }
                if replaced != nil || appended != nil { punctuations[punctuations.count - 1] = sentenceEndID }
            }
            puncArray += punctuations
        }
        return Result(text: String(text), puncArray: puncArray, marks: marks, callLengths: callLengths)
    }
}
