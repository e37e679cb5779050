import Foundation
import EarshotText
import EarshotAudio

/// One word of a window as the alignment placed it, in seconds from the window's start
/// (faster-whisper `find_alignment`'s word dicts).
struct AlignedWord {
    var word: String
    var tokens: [Int]
    var start: Double
    var end: Double
    var probability: Double
}

/// A piece of a decoded window (faster-whisper's "subsegment"): its span and its tokens, timestamps included.
struct WordAlignmentPiece {
    var start: Double
    var end: Double
    var tokens: [Int]
}

/// Grouping tokens into words and punctuation into words, exactly as faster-whisper 1.2.1 does it
/// (`faster_whisper/tokenizer.py` `split_to_word_tokens`, `split_tokens_on_unicode`,
/// `split_tokens_on_spaces`; `faster_whisper/transcribe.py` `merge_punctuations`). Python's `a in b` on
/// strings is a substring test (true for an empty `a`); `pythonContains` keeps that meaning.
enum WordGrouping {
    /// Languages written without spaces between words: split wherever a token ends a whole character.
    static let unspacedLanguages: Set<String> = ["zh", "ja", "th", "lo", "my", "yue"]
    /// Python's `string.punctuation`.
    static let asciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    /// faster-whisper `add_word_timestamps`: words at sentence boundaries are clamped to twice the median.
    static let sentenceEndMarks = ".。!！?？"

    /// Words and their tokens; `tokens` normally ends with `<|endoftext|>`, which becomes an empty last word.
    static func splitToWordTokens(_ tokens: [Int], tokenizer: WhisperTokenizer,
                                  language: String) -> (words: [String], tokens: [[Int]]) {
        if unspacedLanguages.contains(language) { return splitOnUnicode(tokens, tokenizer: tokenizer) }
        return splitOnSpaces(tokens, tokenizer: tokenizer)
    }

    /// Cuts after every token that completes the text decoded so far into whole characters (a token that
    /// leaves a replacement character, which the whole text does not have at that place, waits for the next).
    static func splitOnUnicode(_ tokens: [Int], tokenizer: WhisperTokenizer) -> (words: [String], tokens: [[Int]]) {
        let full = Array(tokenizer.decode(tokens).unicodeScalars)
        let replacement = Unicode.Scalar(0xFFFD)!
        var words: [String] = [], wordTokens: [[Int]] = []
        var current: [Int] = []
        var offset = 0
        for token in tokens {
            current.append(token)
            let decoded = tokenizer.decode(current)
            let scalars = Array(decoded.unicodeScalars)
            var complete = true
            if let k = scalars.firstIndex(of: replacement) {
                let index = k + offset
                complete = index < full.count && full[index] == replacement
            }
            if complete {
                words.append(decoded)
                wordTokens.append(current)
                current = []
                offset += scalars.count
            }
        }
        return (words, wordTokens)
    }

    /// Unicode pieces joined into words: a piece starts a new word when it is special, starts with a space
    /// or is punctuation.
    static func splitOnSpaces(_ tokens: [Int], tokenizer: WhisperTokenizer) -> (words: [String], tokens: [[Int]]) {
        let (subwords, subwordTokens) = splitOnUnicode(tokens, tokenizer: tokenizer)
        var words: [String] = [], wordTokens: [[Int]] = []
        for (subword, pieceTokens) in zip(subwords, subwordTokens) {
            let special = pieceTokens[0] >= tokenizer.eot
            let withSpace = subword.unicodeScalars.first == " "
            let punctuation = pythonContains(asciiPunctuation, strip(subword))
            if special || withSpace || punctuation || words.isEmpty {
                words.append(subword)
                wordTokens.append(pieceTokens)
            } else {
                words[words.count - 1] += subword
                wordTokens[wordTokens.count - 1] += pieceTokens
            }
        }
        return (words, wordTokens)
    }

    /// Moves opening punctuation (a word " (" …) onto the word after it and closing punctuation onto the
    /// word before it; the emptied entries stay with no text and no tokens.
    static func mergePunctuations(_ alignment: inout [AlignedWord], prepended: String, appended: String) {
        var i = alignment.count - 2, j = alignment.count - 1
        while i >= 0 {
            let previous = alignment[i]
            if previous.word.unicodeScalars.first == " " && pythonContains(prepended, strip(previous.word)) {
                alignment[j].word = previous.word + alignment[j].word
                alignment[j].tokens = previous.tokens + alignment[j].tokens
                alignment[i].word = ""
                alignment[i].tokens = []
            } else {
                j = i
            }
            i -= 1
        }
        i = 0
        j = 1
        while j < alignment.count {
            let following = alignment[j]
            if alignment[i].word.unicodeScalars.last != " " && pythonContains(appended, following.word) {
                alignment[i].word += following.word
                alignment[i].tokens += following.tokens
                alignment[j].word = ""
                alignment[j].tokens = []
            } else {
                i = j
            }
            j += 1
        }
    }

    /// Python `needle in haystack` for strings: code-point substring search, true for an empty needle.
    static func pythonContains(_ haystack: String, _ needle: String) -> Bool {
        let h = Array(haystack.unicodeScalars), n = Array(needle.unicodeScalars)
        guard !n.isEmpty else { return true }
        guard n.count <= h.count else { return false }
        for start in 0...(h.count - n.count) where Array(h[start..<(start + n.count)]) == n { return true }
        return false
    }

    /// Python `str.strip()`: whitespace removed from both ends.
    static func strip(_ s: String) -> String {
        var scalars = Substring(s).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}

extension WhisperModel {
    /// The alignment pass over this model's `alignment_heads`.
    /// - Throws: `WhisperError` when `config.json` lists none or lists heads the decoder does not have.
    func makeAligner() throws -> WhisperAligner {
        guard !config.alignmentHeads.isEmpty else {
            throw WhisperError("word timestamps need the model's alignment heads, but \(directory)/config.json has no 'alignment_heads'; reconvert the model with a recent ctranslate2")
        }
        var heads: [(layer: Int, head: Int)] = []
        for pair in config.alignmentHeads {
            guard pair.count == 2, (0..<dimensions.decoderLayers).contains(pair[0]),
                  (0..<dimensions.decoderHeads).contains(pair[1]) else {
                throw WhisperError("\(directory)/config.json: alignment head \(pair) is not a (layer, head) pair of this \(dimensions.decoderLayers)-layer, \(dimensions.decoderHeads)-head decoder")
            }
            heads.append((pair[0], pair[1]))
        }
        return WhisperAligner(weights: weights, dims: dimensions, heads: heads)
    }

    /// faster-whisper `find_alignment`: the DTW path through the alignment matrix gives, for each text
    /// token, the first encoder position where it is attended; a word runs from its first token's
    /// position to the next word's, at 50 positions per second. Times are from the window's start.
    func findAlignment(aligner: WhisperAligner, text: [Int], startSequence: [Int], memory: CrossAttentionMemory,
                       numFrames: Int, language: String, probabilities: Bool = true) -> [AlignedWord] {
        guard let evidence = aligner.evidence(startSequence: startSequence, noTimestamps: special.noTimestamps,
                                              eot: special.eot, text: text, memory: memory,
                                              numFrames: numFrames, probabilities: probabilities) else { return [] }
        let path = AlignmentSignal.negativeDTW(evidence.matrix, rows: evidence.rows, columns: evidence.frames)
        let (words, wordTokens) = WordGrouping.splitToWordTokens(text + [special.eot], tokenizer: tokenizer,
                                                                 language: language)
        guard wordTokens.count > 1 else { return [] }
        var boundaries = [0]
        for tokens in wordTokens.dropLast() { boundaries.append(boundaries.last! + tokens.count) }
        var jumpTimes: [Double] = []
        for (k, step) in path.enumerated() where k == 0 || step.row != path[k - 1].row {
            jumpTimes.append(Double(step.column) / 50)   // tokens_per_second = 100 frames/s ÷ input stride 2
        }
        guard let lastTime = jumpTimes.last else { return [] }
        func time(_ boundary: Int) -> Double { boundary < jumpTimes.count ? jumpTimes[boundary] : lastTime }
        let probabilities = evidence.textProbabilities
        return (0..<(boundaries.count - 1)).map { w in
            let range = boundaries[w]..<min(boundaries[w + 1], probabilities.count)
            let mean = range.isEmpty ? 0 : range.reduce(0.0) { $0 + Double(probabilities[$1]) } / Double(range.count)
            return AlignedWord(word: words[w], tokens: wordTokens[w], start: time(boundaries[w]),
                               end: time(boundaries[w + 1]), probability: mean)
        }
    }

    /// faster-whisper `add_word_timestamps` for one window: aligns the text of all its pieces at once,
    /// clamps over-long words at sentence ends to twice the median word duration (median ≤ 0.7 s), merges
    /// punctuation, hands the words out to the pieces in order, then trims a first word that follows a
    /// pause (`lastSpeechTimestamp`) and reconciles each piece's start/end with its first/last word.
    ///
    /// - Parameters:
    ///   - pieces: the window's pieces, times on the output timeline; their start/end are updated.
    ///   - timeOffset: where the window starts on that timeline (added to the alignment's times, which are
    ///     then rounded to 0.01 s like faster-whisper's `round(…, 2)`).
    /// - Returns: the words of every piece, and the new last-speech time.
    func addWordTimestamps(to pieces: inout [WordAlignmentPiece], aligner: WhisperAligner,
                           startSequence: [Int], memory: CrossAttentionMemory, numFrames: Int, language: String,
                           timeOffset: Double, lastSpeechTimestamp: Double,
                           options: WhisperDecodingOptions) -> (words: [[WordTiming]], lastSpeechTimestamp: Double) {
        let eot = special.eot
        let pieceText = pieces.map { $0.tokens.filter { $0 < eot } }
        var alignment = findAlignment(aligner: aligner, text: pieceText.flatMap { $0 }, startSequence: startSequence,
                                      memory: memory, numFrames: numFrames, language: language,
                                      probabilities: options.wordProbabilities)
        let durations = alignment.map { $0.end - $0.start }.filter { $0 != 0 }
        let medianDuration = min(0.7, Self.median(durations))
        let maxDuration = medianDuration * 2
        if !durations.isEmpty {
            for i in stride(from: 1, to: alignment.count, by: 1) where alignment[i].end - alignment[i].start > maxDuration {
                if WordGrouping.pythonContains(WordGrouping.sentenceEndMarks, alignment[i].word) {
                    alignment[i].end = alignment[i].start + maxDuration
                } else if WordGrouping.pythonContains(WordGrouping.sentenceEndMarks, alignment[i - 1].word) {
                    alignment[i].start = alignment[i].end - maxDuration
                }
            }
        }
        WordGrouping.mergePunctuations(&alignment, prepended: options.prependPunctuations,
                                       appended: options.appendPunctuations)

        var lastSpeech = lastSpeechTimestamp
        var wordIndex = 0
        var result: [[WordTiming]] = []
        for p in pieces.indices {
            var saved = 0
            var words: [WordTiming] = []
            while wordIndex < alignment.count && saved < pieceText[p].count {
                let timing = alignment[wordIndex]
                if !timing.word.isEmpty {
                    words.append(WordTiming(word: timing.word, start: Self.round2(timeOffset + timing.start),
                                            end: Self.round2(timeOffset + timing.end),
                                            probability: timing.probability))
                }
                saved += timing.tokens.count
                wordIndex += 1
            }
            if !words.isEmpty {
                // The first word after a pause is not allowed to soak up the pause.
                if words[0].end - lastSpeech > medianDuration * 4
                    && (words[0].end - words[0].start > maxDuration
                        || (words.count > 1 && words[1].end - words[0].start > maxDuration * 2)) {
                    if words.count > 1 && words[1].end - words[1].start > maxDuration {
                        let boundary = max(words[1].end / 2, words[1].end - maxDuration)
                        words[0].end = boundary
                        words[1].start = boundary
                    }
                    words[0].start = max(0, words[0].end - maxDuration)
                }
                // Prefer the piece's own start/end when the first/last word looks too long.
                if pieces[p].start < words[0].end && pieces[p].start - 0.5 > words[0].start {
                    words[0].start = max(0, min(words[0].end - medianDuration, pieces[p].start))
                } else {
                    pieces[p].start = words[0].start
                }
                let last = words.count - 1
                if pieces[p].end > words[last].start && pieces[p].end + 0.5 < words[last].end {
                    words[last].end = max(words[last].start + medianDuration, pieces[p].end)
                } else {
                    pieces[p].end = words[last].end
                }
                lastSpeech = pieces[p].end
            }
            result.append(words)
        }
        return (result, lastSpeech)
    }

    /// numpy `median` (the mean of the two middle values for an even count); 0 for no values.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted(), n = sorted.count
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }

    /// Python `round(x, 2)`: correctly rounded to two decimals, ties to even on the exact binary value
    /// (glibc's `%.2f` rounds the same way).
    static func round2(_ x: Double) -> Double {
        Double(String(format: "%.2f", x)) ?? x
    }
}

extension WhisperModel {
    /// Word timings for the segments `transcribeBatch` cut from one chunk: the chunk's text is aligned
    /// against its own encoder output over its content frames, with times from the chunk's start (the
    /// chunk is taken to follow a pause, so results do not depend on how chunks are batched), kept inside
    /// the chunk's audio, then put on the segments' timeline (`chunk.startSeconds` + time in the chunk).
    /// Segment starts/ends move to their first/last word as in faster-whisper.
    func attachWords(to segments: [TranscriptSegment], chunk: AudioChunk, memory: CrossAttentionMemory,
                     language: String, aligner: WhisperAligner,
                     options: WhisperDecodingOptions) -> [TranscriptSegment] {
        guard !segments.isEmpty else { return segments }
        let origin = chunk.startSeconds
        let duration = min(chunk.durationSeconds, Double(Self.windowSamples) / 16_000)
        let numFrames = min(max(WhisperMelSpectrogram.frameCount(sampleCount: chunk.samples.count) - 1, 0),
                            windowFrames)
        var pieces = segments.map { WordAlignmentPiece(start: $0.start - origin, end: $0.end - origin, tokens: $0.tokens) }
        let words = addWordTimestamps(to: &pieces, aligner: aligner,
                                      startSequence: startSequence(language: language, task: options.task),
                                      memory: memory, numFrames: numFrames, language: language, timeOffset: 0,
                                      lastSpeechTimestamp: 0, options: options).words
        func place(_ t: Double) -> Double { origin + min(max(t, 0), duration) }
        return segments.indices.map { i in
            var segment = segments[i]
            segment.words = words[i].map {
                WordTiming(word: $0.word, start: place($0.start), end: place($0.end), probability: $0.probability)
            }
            if !words[i].isEmpty {
                segment.start = place(pieces[i].start)
                segment.end = max(place(pieces[i].end), segment.start)
            }
            return segment
        }
    }
}
