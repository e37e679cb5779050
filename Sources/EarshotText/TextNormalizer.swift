import Foundation

/// Turns a transcript into the canonical form that error rates are computed on.
public protocol TextNormalizer: Sendable {
    /// Returns the normalised text: words separated by single spaces, no leading or trailing space.
    func normalize(_ text: String) -> String
}

/// Language-independent normalisation in the spirit of openai/whisper's `BasicTextNormalizer`:
///
/// - Unicode compatibility composition (NFKC: full-width forms → ASCII, ligatures split), then lowercase;
/// - text inside `[…]`, `<…>` and `(…)` removed (annotations such as `[MUSIC]`, `(laughs)`);
/// - punctuation and symbols (Unicode categories P* and S*) replaced by spaces, so `，` and `。` disappear
///   from Chinese text;
/// - combining marks kept by default (unlike Whisper, which drops them and so breaks Indic scripts);
///   `removeDiacritics: true` decomposes and drops them (`café` → `cafe`);
/// - runs of whitespace collapsed to one space, ends trimmed.
public struct BasicTextNormalizer: TextNormalizer {
    /// Whether combining marks are removed after canonical decomposition.
    public var removeDiacritics: Bool

    /// Creates the normaliser.
    public init(removeDiacritics: Bool = false) {
        self.removeDiacritics = removeDiacritics
    }

    /// Normalises `text` as described on the type.
    public func normalize(_ text: String) -> String {
        var s = text.precomposedStringWithCompatibilityMapping.lowercased()
        s = TextNormalization.removeBracketedSpans(s)
        if removeDiacritics { s = TextNormalization.stripDiacritics(s) }
        var out = String.UnicodeScalarView()
        for c in s.unicodeScalars {
            out.append(TextNormalization.isPunctuationOrSymbol(c) ? " " : c)
        }
        return TextNormalization.collapseWhitespace(String(out))
    }
}

/// Shared helpers of the normalisers.
enum TextNormalization {
    /// Removes `[…]`, `<…>` and `(…)` spans (non-nested matching of the innermost pair, repeated, so nested
    /// brackets go too). An unmatched opening bracket is left for punctuation removal.
    static func removeBracketedSpans(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)
        let pairs: [Unicode.Scalar: Unicode.Scalar] = ["[": "]", "(": ")", "<": ">"]
        var changed = true
        while changed {
            changed = false
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(scalars.count)
            var i = 0
            while i < scalars.count {
                let c = scalars[i]
                if let close = pairs[c] {
                    // Find the closing partner with no other opening bracket of any kind in between.
                    var j = i + 1
                    while j < scalars.count && scalars[j] != close && pairs[scalars[j]] == nil { j += 1 }
                    if j < scalars.count && scalars[j] == close {
                        out.append(" ")
                        i = j + 1
                        changed = true
                        continue
                    }
                }
                out.append(c)
                i += 1
            }
            scalars = out
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// Canonical decomposition with combining marks (category Mn/Mc/Me) removed.
    static func stripDiacritics(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for c in text.decomposedStringWithCanonicalMapping.unicodeScalars {
            switch c.properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark: continue
            default: out.append(c)
            }
        }
        return String(out).precomposedStringWithCanonicalMapping
    }

    static func isPunctuationOrSymbol(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    /// Splits on any whitespace and rejoins with single spaces.
    static func collapseWhitespace(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
