import Foundation

/// English transcript normalisation for word error rates, in the spirit of openai/whisper's
/// `EnglishTextNormalizer` (independently written, and deliberately smaller).
///
/// What it does, in order:
/// 1. NFKC, lowercase, curly quotes → straight; `[…]`, `<…>`, `(…)` spans removed;
/// 2. filler words dropped: `uh`, `um`, `hmm`, `mm`, `mhm`, `mmm`, `er`, `ah`;
/// 3. contractions expanded: `won't` → `will not`, `can't` → `can not`, `n't` → ` not`, `'re` → ` are`,
///    `'ll` → ` will`, `'ve` → ` have`, `'m` → ` am`, `'d` → ` would`; `let's` → `let us`;
///    any other apostrophe is removed, joining the word (`dashwood's` → `dashwoods`, `o'clock` → `oclock`);
/// 4. titles and abbreviations before another word expanded: `mr` → `mister`, `mrs` → `missus`,
///    `ms` → `miss`, `dr` → `doctor`, `st` → `saint`, `prof` → `professor`, `jr` → `junior`, `sr` → `senior`,
///    `gen` → `general`, `gov` → `governor`, `capt` → `captain`, `lt` → `lieutenant`, `col` → `colonel`,
///    `sgt` → `sergeant`, `rev` → `reverend`, `hon` → `honorable`, `sen` → `senator`, `rep` → `representative`,
///    `pres` → `president` (with or without the full stop);
/// 5. numbers: thousands separators dropped (`1,000,000` → `1000000`), a decimal point between digits kept
///    (`3.14`), `%` → ` percent`, currency signs dropped (`$5` → `5`);
/// 6. diacritics removed (`café` → `cafe`), remaining punctuation and symbols → spaces (hyphenated words
///    split: `well-known` → `well known`), whitespace collapsed.
///
/// Not handled (unlike Whisper's): spelled-out ↔ digit numbers (`ten` vs `10`, `twenty first` vs `21st`),
/// ordinals, currency words (`$5` → `5`, not `5 dollars`), British ↔ American spellings, `'s` meaning
/// `is`/`has`. Compare hypotheses and references normalised by the same normaliser.
public struct EnglishTextNormalizer: TextNormalizer {
    /// Creates the normaliser.
    public init() {}

    static let fillers: Set<String> = ["uh", "um", "hmm", "mm", "mhm", "mmm", "er", "ah", "hm", "umm", "uhm"]
    static let titles: [String: String] = [
        "mr": "mister", "mrs": "missus", "ms": "miss", "dr": "doctor", "st": "saint", "prof": "professor",
        "jr": "junior", "sr": "senior", "gen": "general", "gov": "governor", "capt": "captain",
        "lt": "lieutenant", "col": "colonel", "sgt": "sergeant", "rev": "reverend", "hon": "honorable",
        "sen": "senator", "rep": "representative", "pres": "president",
    ]
    static let contractions: [(String, String)] = [
        ("won't", "will not"), ("can't", "can not"), ("shan't", "shall not"), ("ain't", "aint"),
        ("let's", "let us"), ("n't", " not"), ("'re", " are"), ("'ll", " will"), ("'ve", " have"),
        ("'m", " am"), ("'d", " would"),
    ]

    /// Normalises `text` as described on the type.
    public func normalize(_ text: String) -> String {
        var s = text.precomposedStringWithCompatibilityMapping.lowercased()
        s = s.replacingOccurrences(of: "\u{2019}", with: "'").replacingOccurrences(of: "\u{2018}", with: "'")
        s = TextNormalization.removeBracketedSpans(s)

        var words: [String] = []
        for raw in s.split(whereSeparator: { $0.isWhitespace }) {
            var word = String(raw)
            for (from, to) in Self.contractions where word.contains(from) {
                // Only expand at a word end (ignoring trailing punctuation), e.g. "don't," but not "'dear".
                if let range = word.range(of: from), word[range.upperBound...].allSatisfy({ !$0.isLetter }) {
                    word.replaceSubrange(range, with: to)
                }
            }
            words.append(contentsOf: word.split(separator: " ").map(String.init))
        }

        var expanded: [String] = []
        for (index, word) in words.enumerated() {
            var key = word
            if key.hasSuffix(".") { key.removeLast() }
            if let title = Self.titles[key], index + 1 < words.count, words[index + 1].first?.isLetter == true {
                expanded.append(title)
            } else {
                expanded.append(word)
            }
        }
        s = expanded.joined(separator: " ")
        s = Self.normalizeNumbersAndSymbols(s)
        s = TextNormalization.stripDiacritics(s)

        var out = String.UnicodeScalarView()
        let scalars = Array(s.unicodeScalars)
        for (i, c) in scalars.enumerated() {
            if c == "'" { continue }  // join: dashwood's → dashwoods
            if c == ".", i > 0, i + 1 < scalars.count,
               scalars[i - 1].properties.numericType != nil, scalars[i + 1].properties.numericType != nil {
                out.append(c)  // decimal point
                continue
            }
            out.append(TextNormalization.isPunctuationOrSymbol(c) ? " " : c)
        }
        return TextNormalization.collapseWhitespace(String(out))
            .split(separator: " ")
            .filter { !Self.fillers.contains(String($0)) }
            .joined(separator: " ")
    }

    /// Drops thousands separators and currency signs, spells out `%`.
    private static func normalizeNumbersAndSymbols(_ s: String) -> String {
        let scalars = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        for (i, c) in scalars.enumerated() {
            let prevDigit = i > 0 && isDigit(scalars[i - 1])
            let nextDigits = i + 3 < scalars.count && (1...3).allSatisfy { isDigit(scalars[i + $0]) }
                && (i + 4 == scalars.count || !isDigit(scalars[i + 4]))
            if c == ",", prevDigit, nextDigits { continue }
            if c == "%" { out.append(contentsOf: " percent ".unicodeScalars); continue }
            if c.properties.generalCategory == .currencySymbol { out.append(" "); continue }
            out.append(c)
        }
        return String(out)
    }

    private static func isDigit(_ c: Unicode.Scalar) -> Bool { c.properties.generalCategory == .decimalNumber }
}
