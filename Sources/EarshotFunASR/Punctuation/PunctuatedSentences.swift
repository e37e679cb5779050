/// How FunASR's AutoModel puts punctuation back onto a recording's timeline (`funasr/auto/auto_model.py`
/// `inference_with_vad` step 3, `funasr/utils/timestamp_tools.py:timestamp_sentence`): the segment texts are
/// joined (`_join_vad_texts`), punctuated once, each punctuation unit gets the time of its recognised word (or,
/// when the units and words differ, of its characters: `_merge_timestamp_units`), and `sentence_info` is cut
/// after every unit whose class id is above 1 (commas included).
public enum PunctuatedSentences {
    /// One entry of FunASR's `sentence_info`.
    public struct Sentence: Sendable, Equatable {
        /// The sentence with its closing mark (FunASR's full-width list `，。？、`, whatever the script).
        public var text: String
        /// Start of its first unit and end of its last, in milliseconds.
        public var start: Int
        public var end: Int
        /// Its units (indices into the punctuated tokens).
        public var tokens: Range<Int>
    }

    static func isCJK(_ s: Unicode.Scalar) -> Bool { (0x3400...0x9FFF).contains(s.value) }

    /// `_join_vad_texts`: each text trimmed (Python `strip`), empty ones dropped, joined with nothing between two
    /// CJK characters (U+3400–U+9FFF) and one space otherwise. (`<|…|>` tags, which only SenseVoice writes, are
    /// not removed.)
    public static func joinSegmentTexts(_ texts: [String]) -> String {
        var joined = String.UnicodeScalarView()
        for text in texts {
            let scalars = Array(text.unicodeScalars)
            guard let first = scalars.firstIndex(where: { !CTTransformerText.isPythonSpace($0) }),
                  let last = scalars.lastIndex(where: { !CTTransformerText.isPythonSpace($0) }) else { continue }
            let piece = scalars[first...last]
            if let end = joined.last, !(isCJK(end) && isCJK(piece.first!)) { joined.append(" ") }
            joined.append(contentsOf: piece)
        }
        return String(joined)
    }

    /// Python's `"".join(value.split()).casefold()` for the ASCII and CJK text recognisers write.
    static func normalize(_ s: String) -> [Unicode.Scalar] {
        s.unicodeScalars.filter { !CTTransformerText.isPythonSpace($0) }.flatMap { $0.properties.lowercaseMapping.unicodeScalars }
    }

    /// `[start, end]` ms per punctuation unit: the words' own times when there are as many words as units,
    /// otherwise `_merge_timestamp_units` (each word's time split evenly over its characters, with floor
    /// division, and each unit spanning its characters); `nil` when the characters do not line up.
    public static func unitTimestamps(tokens: [String], words: [String], timestamps: [[Int]]) -> [[Int]]? {
        guard words.count == timestamps.count else { return nil }
        if words.count == tokens.count { return timestamps }
        return mergeUnits(tokens: tokens, words: words, timestamps: timestamps)
    }

    /// `_merge_timestamp_units` itself: each word's time split evenly over its characters (floor division),
    /// each unit spanning its characters; `nil` when the characters of units and words differ.
    public static func mergeUnits(tokens: [String], words: [String], timestamps: [[Int]]) -> [[Int]]? {
        guard words.count == timestamps.count else { return nil }
        var characters: [Unicode.Scalar] = []
        var times: [[Int]] = []
        for (word, stamp) in zip(words, timestamps) {
            let w = normalize(word)
            guard !w.isEmpty, stamp.count >= 2, stamp[1] >= stamp[0] else { return nil }
            let (start, duration) = (stamp[0], stamp[1] - stamp[0])
            for i in w.indices {
                times.append([start + duration * i / w.count, start + duration * (i + 1) / w.count])
            }
            characters += w
        }
        var merged: [[Int]] = []
        var at = 0
        for token in tokens {
            let t = normalize(token)
            let end = at + t.count
            guard !t.isEmpty, end <= characters.count, Array(characters[at..<end]) == t else { return nil }
            merged.append([times[at][0], times[end - 1][1]])
            at = end
        }
        return at == characters.count ? merged : nil
    }

    /// `timestamp_sentence`: units are appended with a space before one that starts with an ASCII letter or
    /// after text that ends with one; a unit whose class id is above 1 closes the sentence with
    /// `，。？、`[id − 2]. Units after the last mark (FunASR drops them) form a last sentence without a mark.
    public static func sentences(tokens: [String], classIDs: [Int], timestamps: [[Int]]) -> [Sentence] {
        let marks = ["，", "。", "？", "、"]
        let n = min(tokens.count, classIDs.count, timestamps.count)
        func isLetter(_ s: Unicode.Scalar?) -> Bool {
            guard let v = s?.value else { return false }
            return (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v)
        }
        var out: [Sentence] = []
        var text = String.UnicodeScalarView()
        var first = 0
        for i in 0..<n {
            let unit = tokens[i]
            if isLetter(unit.unicodeScalars.first) || (!text.isEmpty && isLetter(text.last)) { text.append(" ") }
            text.append(contentsOf: unit.unicodeScalars)
            let id = classIDs[i]
            if id > 1 || i == n - 1 {
                if id > 1 { text.append(contentsOf: marks[min(id - 2, marks.count - 1)].unicodeScalars) }
                out.append(Sentence(text: String(text), start: timestamps[first][0], end: timestamps[i][1], tokens: first..<(i + 1)))
                text = String.UnicodeScalarView()
                first = i + 1
            }
        }
        return out
    }
}
