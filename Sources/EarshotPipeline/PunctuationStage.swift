import Foundation
import EarshotFunASR
import EarshotMemory
import EarshotSpeech

/// The punctuation stage after recognition (`--punc DIR`), as FunASR's AutoModel applies `punc_model`: once per
/// recording, on the segment texts joined (`_join_vad_texts`); the punctuated units get their recognised
/// words' times, and the transcript's segments become FunASR's `sentence_info` sentences (cut after every
/// mark, commas included; text with the mark; start and end from the first and last unit).
struct PunctuationStage {
    let model: any PunctuationModel
    /// Output segments keep their words (`--word-timestamps`).
    let keepWords: Bool

    /// What the stage did, for the report.
    struct Outcome {
        var segments: [TranscriptSegment]
        var units: Int
        var workingBytes: Int
        /// The units could not be matched to the recognised words (FunASR then falls back to one sentence
        /// per VAD segment; so does this stage, with the segments' own text).
        var alignmentFailed: Bool
    }

    /// Bytes a held segment is counted at while the recording is being recognised (text, words, fields).
    static func heldBytes(_ segment: TranscriptSegment) -> Int {
        256 + segment.text.utf8.count + (segment.words ?? []).reduce(0) { $0 + 64 + $1.word.utf8.count }
    }

    /// Punctuates the recording's segments (chronological, each with its words) under a ledger reservation
    /// labelled "punctuation".
    /// - Throws: `MemoryError` when the ledger cannot hold the stage's working memory; the model's errors.
    func run(_ segments: [TranscriptSegment], ledger: MemoryLedger) throws -> Outcome {
        let joined = PunctuatedSentences.joinSegmentTexts(segments.map(\.text))
        let units = CTTransformerText.splitWords(joined).count
        let bytes = model.workingBytes(tokens: units)
        let reservation = try ledger.reserve(ByteCount(bytes), category: .activations, label: "punctuation")
        defer { reservation.release() }
        let punctuated = try model.punctuate(joined)
        var words: [(word: String, stamp: [Int], segment: Int, timing: WordTiming)] = []
        for (i, segment) in segments.enumerated() {
            for w in segment.words ?? [] {
                words.append((w.word, [Int((w.start * 1000).rounded()), Int((w.end * 1000).rounded())], i, w))
            }
        }
        guard !punctuated.tokens.isEmpty,
              let stamps = PunctuatedSentences.unitTimestamps(tokens: punctuated.tokens, words: words.map(\.word),
                                                               timestamps: words.map(\.stamp)) else {
            let plain = segments.map { s -> TranscriptSegment in
                var s = s
                if !keepWords { s.words = nil }
                return s
            }
            return Outcome(segments: plain, units: units, workingBytes: bytes, alignmentFailed: !punctuated.tokens.isEmpty)
        }
        let oneToOne = words.count == punctuated.tokens.count
        let sentences = PunctuatedSentences.sentences(tokens: punctuated.tokens, classIDs: punctuated.classIDs, timestamps: stamps)
        var out: [TranscriptSegment] = []
        for (n, sentence) in sentences.enumerated() {
            // The fields FunASR has no counterpart for come from the segment the sentence starts in.
            let origin = oneToOne ? segments[words[sentence.tokens.lowerBound].segment]
                : segments.last { $0.start * 1000 <= Double(sentence.start) + 0.5 } ?? segments[0]
            let sentenceWords: [WordTiming]? = keepWords && oneToOne ? sentence.tokens.map { words[$0].timing } : nil
            out.append(TranscriptSegment(id: n + 1, seek: origin.seek, start: Double(sentence.start) / 1000,
                                         end: Double(sentence.end) / 1000, text: sentence.text, tokens: [],
                                         temperature: origin.temperature, avgLogProb: origin.avgLogProb,
                                         compressionRatio: origin.compressionRatio, noSpeechProb: origin.noSpeechProb,
                                         words: sentenceWords))
        }
        return Outcome(segments: out, units: units, workingBytes: bytes, alignmentFailed: false)
    }
}
