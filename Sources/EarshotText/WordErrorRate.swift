/// Edit counts between a reference and a hypothesis, from a minimum-edit-distance (Levenshtein) alignment
/// over words or characters, and the error rate they give.
///
/// Among alignments of minimal cost, ties are broken towards substitution, then deletion, then insertion
/// (so `errors` is always the edit distance; the split into S/D/I is one optimal alignment's). Counts add
/// up across utterances with `+`, giving a corpus-level rate.
public struct WordErrorRate: Sendable, Equatable, CustomStringConvertible {
    /// Reference units replaced by a different hypothesis unit.
    public var substitutions: Int
    /// Reference units missing from the hypothesis.
    public var deletions: Int
    /// Hypothesis units not in the reference.
    public var insertions: Int
    /// Number of reference units (words or characters).
    public var referenceCount: Int

    /// Creates counts directly.
    public init(substitutions: Int = 0, deletions: Int = 0, insertions: Int = 0, referenceCount: Int = 0) {
        self.substitutions = substitutions
        self.deletions = deletions
        self.insertions = insertions
        self.referenceCount = referenceCount
    }

    /// Aligns two unit sequences (already normalised and split).
    public init<T: Equatable>(reference: [T], hypothesis: [T]) {
        self = Self.align(reference, hypothesis)
    }

    /// Word error counts of two texts, each normalised by `normalizer` and split on spaces.
    public init(reference: String, hypothesis: String, normalizer: any TextNormalizer = EnglishTextNormalizer()) {
        let r = normalizer.normalize(reference).split(separator: " ").map(String.init)
        let h = normalizer.normalize(hypothesis).split(separator: " ").map(String.init)
        self.init(reference: r, hypothesis: h)
    }

    /// Character error counts (for Chinese, Japanese, Thai…): both texts are normalised (by default with
    /// ``BasicTextNormalizer``), whitespace is removed, and the remaining characters (grapheme clusters)
    /// are aligned.
    public static func characterErrorRate(reference: String, hypothesis: String,
                                          normalizer: any TextNormalizer = BasicTextNormalizer()) -> WordErrorRate {
        let r = Array(normalizer.normalize(reference).filter { !$0.isWhitespace })
        let h = Array(normalizer.normalize(hypothesis).filter { !$0.isWhitespace })
        return WordErrorRate(reference: r, hypothesis: h)
    }

    /// Total edits: substitutions + deletions + insertions (the edit distance).
    public var errors: Int { substitutions + deletions + insertions }

    /// The error rate as a fraction: `errors / referenceCount` (can exceed 1 with many insertions). With an
    /// empty reference it is 0 for an empty hypothesis and `errors` otherwise (each insertion counts 1).
    public var wer: Double {
        referenceCount == 0 ? Double(errors) : Double(errors) / Double(referenceCount)
    }

    /// Sum of two sets of counts (corpus-level aggregation).
    public static func + (a: WordErrorRate, b: WordErrorRate) -> WordErrorRate {
        WordErrorRate(substitutions: a.substitutions + b.substitutions, deletions: a.deletions + b.deletions,
                      insertions: a.insertions + b.insertions, referenceCount: a.referenceCount + b.referenceCount)
    }

    /// `"WER 12.50% (S 1, D 0, I 0, N 8)"`.
    public var description: String {
        let percent = (wer * 10000).rounded() / 100
        return "WER \(percent)% (S \(substitutions), D \(deletions), I \(insertions), N \(referenceCount))"
    }

    /// Number of word edits that turn hypothesis `a` into hypothesis `b` (after normalising both with
    /// `normalizer`); 0 means they agree word for word. Symmetric.
    public static func wordDiffCount(_ a: String, _ b: String,
                                     normalizer: any TextNormalizer = EnglishTextNormalizer()) -> Int {
        WordErrorRate(reference: a, hypothesis: b, normalizer: normalizer).errors
    }

    /// Two-row dynamic programme carrying (cost, S, D, I) per cell; O(|hypothesis|) memory.
    private static func align<T: Equatable>(_ ref: [T], _ hyp: [T]) -> WordErrorRate {
        var previous = (0...hyp.count).map { EditCell(cost: $0, s: 0, d: 0, i: $0) }
        var current = previous
        for r in 1...max(ref.count, 1) where !ref.isEmpty {
            current[0] = EditCell(cost: r, s: 0, d: r, i: 0)
            for h in 1...max(hyp.count, 1) where !hyp.isEmpty {
                var best = previous[h - 1]
                if ref[r - 1] != hyp[h - 1] { best.cost += 1; best.s += 1 }
                var deletion = previous[h]
                deletion.cost += 1; deletion.d += 1
                if deletion.cost < best.cost { best = deletion }
                var insertion = current[h - 1]
                insertion.cost += 1; insertion.i += 1
                if insertion.cost < best.cost { best = insertion }
                current[h] = best
            }
            swap(&previous, &current)
        }
        let end = previous[hyp.count]
        return WordErrorRate(substitutions: end.s, deletions: end.d, insertions: end.i, referenceCount: ref.count)
    }
}

/// One dynamic-programming cell: cost so far and the edit counts of the chosen path.
private struct EditCell {
    var cost = 0, s = 0, d = 0, i = 0
}

/// Number of word edits between two hypotheses after English normalisation; see
/// ``WordErrorRate/wordDiffCount(_:_:normalizer:)``.
public func wordDiffCount(_ a: String, _ b: String) -> Int {
    WordErrorRate.wordDiffCount(a, b)
}
