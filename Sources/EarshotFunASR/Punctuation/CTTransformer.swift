import EarshotCheckpoint
import EarshotSpeech
import EarshotTensor
import Foundation

/// FunASR's CT-Transformer punctuation model (`ct-punc`, `funasr/models/ct_transformer/model.py`) loaded from
/// its ModelScope directory: `config.yaml` (`model: CTTransformer`), `model.pt` (the state dict: `embed.weight`,
/// `encoder.*`, `decoder.*`; memory-mapped) and `tokens.json`. A text is split into FunASR's units, looked up in
/// the token list (`<unk>` for unknown units, as `CharTokenizer.encode`), and punctuated mini-sentence by
/// mini-sentence: `Embedding → SAN-M encoder → Linear(att_unit → classes)`, argmax per token, with FunASR's
/// carry and end-of-text rules (``CTTransformerText``). Immutable and shareable across threads.
public final class CTTransformer: PunctuationModel, @unchecked Sendable {
    /// The model directory.
    public let directory: String
    /// The parsed configuration.
    public let config: CTTransformerConfig
    /// The precision of the encoder's linear layers (the embedding and the classifier stay fp32).
    public let precision: ParaformerPrecision
    /// The token list (`tokens.json`).
    public let tokenList: ParaformerTokenList
    /// Tokens per model call before the carry (FunASR's `split_size`, 20).
    public let splitSize: Int

    let embedding: WeightMatrix      // embed.weight [vocab, embed_unit]
    let encoder: SANMEncoder
    let classifier: ParaformerLinear // decoder [classes, att_unit]
    private let index: [String: Int]
    private let unknownID: Int
    private let checkpoint: PyTorchCheckpoint

    /// The files a CT-Transformer directory must hold.
    public static let requiredFiles = ["config.yaml", "model.pt", "tokens.json"]

    /// Loads the model in `directory`.
    /// - Throws: `FunASRError` naming the file (and key or tensor): a missing file, `model:` naming another
    ///   class, a jieba word-level model, a token list without `<unk>`, a tensor whose shape does not match
    ///   config.yaml / tokens.json.
    public init(directory: String, precision: ParaformerPrecision = .float32, splitSize: Int = 20) throws(FunASRError) {
        self.directory = directory
        self.precision = precision
        guard splitSize > 1 else { throw FunASRError(.invalidArgument, "split_size must be at least 2 (got \(splitSize))") }
        self.splitSize = splitSize
        let yaml = try ModelDirectoryFiles.readConfig(directory, requiredFiles: Self.requiredFiles,
                                                      noun: "punctuation model", family: "CT-Transformer")
        var config = try CTTransformerConfig(yaml)
        config.usesJieba = FileManager.default.fileExists(atPath: directory + "/jieba_usr_dict")
        guard !config.usesJieba else {
            throw FunASRError(.model, "\(directory)/jieba_usr_dict: this is a word-level CT-Transformer (FunASR segments its Chinese with jieba and this dictionary); Earshot runs the character-level ct-punc models (e.g. punc_ct-transformer_zh-cn-common-vocab272727)")
        }
        self.config = config
        tokenList = try ParaformerTokenList(path: directory + "/tokens.json")
        var index: [String: Int] = [:]
        for (i, t) in tokenList.tokens.enumerated() { index[t] = i }
        guard let unk = index["<unk>"] else {
            throw FunASRError(.model, "\(directory)/tokens.json: has no <unk> token (config.yaml's tokenizer_conf.unk_symbol); FunASR's CharTokenizer refuses such a list")
        }
        self.index = index
        unknownID = unk
        do { checkpoint = try PyTorchCheckpoint(path: directory + "/model.pt") } catch { throw FunASRError(error) }
        let loader = ParaformerWeightLoader(checkpoint: checkpoint, precision: precision)
        embedding = try loader.float32Matrix("embed.weight", outputs: tokenList.count, inputs: config.embedUnit)
        encoder = try SANMEncoder(loader, config: config.encoder)
        classifier = try loader.linear("decoder", outputs: config.puncList.count, inputs: config.attUnit, quantized: false)
    }

    /// The directory's name.
    public var name: String { (directory as NSString).lastPathComponent }

    /// Heap bytes of the weights plus the bytes read in place from `model.pt` (the embedding table, and
    /// the fp32 encoder matrices).
    public var weightBytes: Int {
        encoder.byteCount + encoder.mappedBytes + classifier.byteCount + embeddingBytes
    }

    /// The encoder and the classifier: the embedding table is read in place from `model.pt` and only the rows
    /// of the units seen become resident.
    public var residentWeightBytes: Int { encoder.byteCount + encoder.mappedBytes + classifier.byteCount }

    /// Bytes of the embedding table (mapped; only the rows of the tokens seen become resident).
    var embeddingBytes: Int { embedding.byteCount }

    /// An upper bound on what punctuating `tokens` tokens allocates: per token the ids, classes, marks and
    /// the words of the text (`perTokenBytes`), plus one model call over at most every token (a carry can grow
    /// while the model predicts no sentence end and no comma): its embeddings (and the encoder's copy), activations and
    /// scratch, output and logits, and the attention kernel's scratch.
    public func workingBytes(tokens: Int) -> Int {
        let t = max(tokens, 1), c = config.encoder
        let call = 2 * t * c.inputSize * 4 + EncoderScratch.bytes(frames: max(t, ParaformerLinear.blockedRows), config: c)
            + 2 * t * c.outputSize * 4 + 2 * t * config.puncList.count * 4
            + 2 * (256 * t + 2 * t * (c.outputSize / max(1, c.attentionHeads))) * 4
        return call + t * Self.perTokenBytes
    }

    /// Bytes per token of the text-side arrays (ids, classes, marks, token strings, the output text).
    static let perTokenBytes = 160

    /// FunASR's `CharTokenizer.encode` of the units: the id of each, `<unk>` for units not in the list.
    public func ids(of tokens: [String]) -> [Int] { tokens.map { index[$0] ?? unknownID } }

    /// The classifier's logits `[ids.count][classes]` for one model call (FunASR's `punc_forward`).
    public func logits(ids: [Int]) -> [Float] {
        let t = ids.count, e = config.embedUnit, classes = config.puncList.count
        guard t > 0 else { return [] }
        var x = [Float](repeating: 0, count: t * e)
        guard case .float32(let table) = embedding.storage else { preconditionFailure("embedding is fp32") }
        x.withUnsafeMutableBufferPointer { dst in
            for (row, id) in ids.enumerated() {
                precondition(id >= 0 && id < tokenList.count, "token id \(id) outside the table")
                (dst.baseAddress! + row * e).update(from: table + id * e, count: e)
            }
        }
        let hidden = x.withUnsafeBufferPointer { encoder.encode($0.baseAddress!, frames: t) }
        var out = [Float](repeating: 0, count: t * classes)
        hidden.withUnsafeBufferPointer { h in
            out.withUnsafeMutableBufferPointer { o in classifier.apply(h.baseAddress!, rows: t, into: o.baseAddress!) }
        }
        return out
    }

    /// The argmax class of each row (the first of equal maxima, as `torch.topk(1)` returns on CPU).
    func classes(ids: [Int]) -> [Int] {
        let classes = config.puncList.count
        let y = logits(ids: ids)
        return (0..<ids.count).map { r in
            var best = 0
            for j in 1..<classes where y[r * classes + j] > y[r * classes + best] { best = j }
            return best
        }
    }

    /// FunASR's full result: text, `punc_array`, marks, and the length of each model call.
    public func run(_ text: String) -> CTTransformerText.Result {
        run(tokens: CTTransformerText.splitWords(text))
    }

    func run(tokens: [String]) -> CTTransformerText.Result {
        CTTransformerText.punctuate(tokens: tokens, ids: ids(of: tokens), puncList: config.puncList,
                                    sentenceEndID: config.sentenceEndID, splitSize: splitSize, classify: classes(ids:))
    }

    /// Punctuates `text` as FunASR's `CTTransformer.inference` does (an empty or blank text gives an empty
    /// result, as FunASR's `{"text": "", "punc_array": None}`).
    public func punctuate(_ text: String) throws -> PunctuatedText {
        let tokens = CTTransformerText.splitWords(text)
        let r = run(tokens: tokens)
        return PunctuatedText(text: r.text, tokens: tokens, marks: r.marks, classIDs: r.puncArray)
    }
}
