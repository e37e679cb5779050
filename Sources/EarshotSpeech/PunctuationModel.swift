/// A punctuation model as the pipeline sees it: a recording's joined recognised text in, the same text with
/// punctuation (and sentence ends) out. FunASR's CT-Transformer implements it; it runs once per recording,
/// after recognition, as FunASR's AutoModel applies `punc_model` to the joined ASR text.
public protocol PunctuationModel: AnyObject, Sendable {
    /// Short name for reports (the model directory's name).
    var name: String { get }
    /// Bytes of weights (mapped or owned).
    var weightBytes: Int { get }
    /// The part of ``weightBytes`` resident once the model has run (a mapped embedding table is resident only for
    /// the rows of the tokens seen, so it is left out).
    var residentWeightBytes: Int { get }
    /// Bytes punctuating a text of `tokens` tokens allocates (activations of one mini-sentence at a time,
    /// plus the per-token output): an upper bound the planner reserves before the stage runs.
    func workingBytes(tokens: Int) -> Int
    /// Punctuates `text`; `tokens` of the result are the model's units (a CJK character or an ASCII word),
    /// each with the punctuation that follows it, so callers can map sentences back onto token times.
    func punctuate(_ text: String) throws -> PunctuatedText
}

extension PunctuationModel {
    /// Every weight byte, by default.
    public var residentWeightBytes: Int { weightBytes }
}

/// The result of punctuation: the text as a reader sees it and, per model token, the mark that follows it.
public struct PunctuatedText: Sendable, Equatable {
    /// The punctuated text (FunASR's `text`).
    public var text: String
    /// The model's tokens in order (FunASR's `split_words` units).
    public var tokens: [String]
    /// Per token, the punctuation written after it: "" for none, else the mark ("，", "。", "？", "、", ",", ".", "?").
    public var marks: [String]
    /// Per token, the model's class id (FunASR's `punc_array`: 1 none, 2 comma, 3 full stop, 4 question mark,
    /// 5 enumeration comma for ct-punc), which FunASR's `sentence_info` splits on; empty when the model has none.
    public var classIDs: [Int]

    public init(text: String, tokens: [String], marks: [String], classIDs: [Int] = []) {
        self.text = text
        self.tokens = tokens
        self.marks = marks
        self.classIDs = classIDs
    }

    /// Indices of tokens that end a sentence (followed by "。", "？", "." or "?").
    public var sentenceEnds: [Int] {
        marks.indices.filter { ["。", "？", ".", "?"].contains(marks[$0]) }
    }
}
