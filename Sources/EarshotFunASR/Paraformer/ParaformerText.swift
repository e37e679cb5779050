import Foundation
import EarshotCheckpoint

/// FunASR's token list (`tokens.json`: a JSON array of strings, id = index), as `CharTokenizer` uses it.
public struct ParaformerTokenList: Sendable {
    /// The tokens, by id.
    public let tokens: [String]

    /// Loads `tokens.json`.
    /// - Throws: `FunASRError.model` naming the file if it is missing, not a JSON array of strings, empty, or
    ///   has a duplicated token (FunASR's `BaseTokenizer` refuses those: "Symbol … is duplicated").
    public init(path: String) throws(FunASRError) {
        guard let data = FileBytes.read(path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw FunASRError(.model, "\(path): \(exists ? "cannot read the file" : "missing from the model directory"); a FunASR Paraformer directory needs tokens.json (the token list, a JSON array of strings)")
        }
        guard let array = (try? JSONSerialization.jsonObject(with: data)) as? [Any] else {
            throw FunASRError(.model, "\(path): not a JSON array; tokens.json must list the tokens in id order")
        }
        var tokens: [String] = []
        tokens.reserveCapacity(array.count)
        for (i, item) in array.enumerated() {
            guard let s = item as? String else {
                throw FunASRError(.model, "\(path): entry \(i) is not a string")
            }
            tokens.append(s)
        }
        guard !tokens.isEmpty else { throw FunASRError(.model, "\(path): the token list is empty") }
        var seen: [String: Int] = [:]
        for (i, t) in tokens.enumerated() {
            if let first = seen[t] {
                throw FunASRError(.model, "\(path): token \"\(t)\" appears twice (ids \(first) and \(i)); FunASR refuses duplicated symbols")
            }
            seen[t] = i
        }
        self.tokens = tokens
    }

    /// Wraps an in-memory list.
    public init(tokens: [String]) { self.tokens = tokens }

    /// Number of tokens (the decoder's vocabulary size).
    public var count: Int { tokens.count }
}

/// FunASR's text post-processing (`funasr/utils/postprocess_utils.py:sentence_postprocess`, `abbr_dispose`),
/// ported line by line: drops `<s> </s> <unk> <OOV>`; all-CJK token lists are characters; `@@` BPE pieces
/// are glued into words; English words are separated by spaces; runs of single letters become upper-case
/// abbreviations ("a b c" → "ABC"). Without timestamps the words are concatenated (then stripped); with
/// timestamps they are joined with single spaces, and the timestamps are merged per word.
public enum ParaformerTextPostprocess {
    /// Python's `"\u4e00" <= ch <= "\u9fff" or "0" <= ch <= "9" or ch == "@"` on a string (string order, so a
    /// multi-character token is compared as a whole, as FunASR does).
    static func isChinese(_ s: String) -> Bool {
        let u = Array(s.unicodeScalars.map(\.value))
        return (less([0x4E00], u, orEqual: true) && less(u, [0x9FFF], orEqual: true))
            || (less([0x30], u, orEqual: true) && less(u, [0x39], orEqual: true)) || u == [0x40]
    }

    /// Code-point lexicographic order (Python's `str` comparison).
    private static func less(_ a: [UInt32], _ b: [UInt32], orEqual: Bool) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x < y }
        return a.count < b.count || (orEqual && a.count == b.count)
    }

    private static func cleaned(_ s: String) -> String {
        var c = s.replacingOccurrences(of: " ", with: "")
        for tag in ["</s>", "<s>", "<unk>", "<OOV>"] { c = c.replacingOccurrences(of: tag, with: "") }
        return c
    }

    /// Python `str.isalpha()`: non-empty and every code point a letter (categories Lu Ll Lt Lm Lo).
    static func isAlpha(_ s: String) -> Bool {
        guard !s.isEmpty else { return false }
        return s.unicodeScalars.allSatisfy {
            switch $0.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
    }

    /// `isAllChinese` over a list of tokens.
    static func isAllChinese(_ items: [String]) -> Bool {
        guard !items.isEmpty else { return false }
        return items.allSatisfy { isChinese(cleaned($0)) }
    }

    /// `isAllChinese` over one string (iterates its characters, i.e. code points).
    static func isAllChinese(word: String) -> Bool { isAllChinese(word.unicodeScalars.map { String($0) }) }

    /// `isAllAlpha` over a list of tokens.
    static func isAllAlpha(_ items: [String]) -> Bool {
        guard !items.isEmpty else { return false }
        for item in items {
            let ch = cleaned(item)
            if !isAlpha(ch) && ch != "'" { return false }
            if isAlpha(ch) && isChinese(ch) { return false }
        }
        return true
    }

    static func isAllAlpha(word: String) -> Bool { isAllAlpha(word.unicodeScalars.map { String($0) }) }

    /// Python `bytes.isalpha()` of the UTF-8 encoding: non-empty ASCII letters only.
    private static func isASCIIAlpha(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        return !bytes.isEmpty && bytes.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }
    }

    private static func isSingleLetter(_ s: String) -> Bool { s.unicodeScalars.count == 1 && isASCIIAlpha(s) }

    /// `abbr_dispose(words, time_stamp)`.
    static func abbreviations(_ words: [String], _ timestamps: [[Double]]?) -> ([String], [[Double]]) {
        let n = words.count
        var begins: [Int] = [], ends: [Int] = []
        var lastNum = -1
        for start in 0..<n {
            if start <= lastNum { continue }
            var num = start
            if isSingleLetter(words[num]), num + 1 < n, words[num + 1] == " ", num + 2 < n, isSingleLetter(words[num + 2]) {
                begins.append(num)
                num += 2
                ends.append(num)
                while true {
                    num += 1
                    if num < n && words[num] == " " {
                        num += 1
                        if num < n && isSingleLetter(words[num]) {
                            ends[ends.count - 1] = num
                            lastNum = num
                        } else { break }
                    } else { break }
                }
            }
        }
        var tsNums: [Int] = []
        var tsIndex = 0
        for w in words {
            tsNums.append(tsIndex)
            if w != " " { tsIndex += 1 }
        }
        var out: [String] = [], outTimes: [[Double]] = []
        lastNum = -1
        var begin = 0.0
        for start in 0..<n {
            if start <= lastNum { continue }
            var num = start
            if begins.contains(num) {
                if let ts = timestamps { begin = ts[tsNums[num]][0] }
                var word = words[num].uppercased()
                num += 1
                while num < n {
                    if ends.contains(num) {
                        word += words[num].uppercased()
                        lastNum = num
                        break
                    } else if isASCIIAlpha(words[num]) {
                        word += words[num].uppercased()
                    }
                    num += 1
                }
                out.append(word)
                if let ts = timestamps, num < n, tsNums[num] < ts.count {
                    outTimes.append([begin, ts[tsNums[num]][1]])
                }
            } else {
                out.append(words[num])
                if let ts = timestamps, tsNums[num] < ts.count, words[num] != " " {
                    outTimes.append([ts[tsNums[num]][0], ts[tsNums[num]][1]])
                }
            }
        }
        return (out, outTimes)
    }

    /// `sentence_postprocess(words, time_stamp)`: the text, and with timestamps the per-word `[start, end]`
    /// (same units as given) and the words.
    public static func sentence(_ tokens: [String], timestamps: [[Double]]? = nil) -> (text: String, timestamps: [[Double]], words: [String]) {
        let middle = tokens.filter { !["<s>", "</s>", "<unk>", "<OOV>"].contains($0) }
        var words: [String] = []
        var times: [[Double]] = []
        var item = ""
        let ts = timestamps
        func at(_ i: Int) -> [Double] { i < (ts?.count ?? 0) ? ts![i] : [0, 0] }
        if isAllChinese(middle) {
            words = middle.map { $0.replacingOccurrences(of: " ", with: "") }
            if let ts { times = ts }
        } else if isAllAlpha(middle) {
            var flag = true
            var begin = 0.0, end = 0.0
            for (i, ch) in middle.enumerated() {
                if flag && ts != nil { begin = at(i)[0]; end = at(i)[1] }
                if ch.contains("@@") {
                    item += ch.replacingOccurrences(of: "@@", with: "")
                    if ts != nil { flag = false; end = at(i)[1] }
                } else {
                    item += ch
                    words.append(item)
                    words.append(" ")
                    item = ""
                    if ts != nil { flag = true; end = at(i)[1]; times.append([begin, end]); begin = end }
                }
            }
        } else {
            var alphaBlank = false, flag = true
            var begin = -1.0, end = -1.0
            for (i, ch) in middle.enumerated() {
                if flag && ts != nil { begin = at(i)[0]; end = at(i)[1] }
                if isAllChinese(word: ch) {
                    if alphaBlank, !words.isEmpty { words.removeLast() }
                    words.append(ch)
                    alphaBlank = false
                    if ts != nil { flag = true; times.append([begin, end]); begin = end }
                } else if ch.contains("@@") {
                    item += ch.replacingOccurrences(of: "@@", with: "")
                    alphaBlank = false
                    if ts != nil { flag = false; end = at(i)[1] }
                } else if isAllAlpha(word: ch) {
                    item += ch
                    words.append(item)
                    words.append(" ")
                    item = ""
                    alphaBlank = true
                    if ts != nil { flag = true; end = at(i)[1]; times.append([begin, end]); begin = end }
                } else {
                    words.append(ch)
                }
            }
        }
        let (disposed, disposedTimes) = abbreviations(words, ts == nil ? nil : times)
        let real = disposed.filter { $0 != " " }
        if ts != nil {
            return (real.joined(separator: " ").trimmingCharacters(in: .whitespacesAndNewlines), disposedTimes, real)
        }
        return (disposed.joined().trimmingCharacters(in: .whitespacesAndNewlines), [], real)
    }
}
