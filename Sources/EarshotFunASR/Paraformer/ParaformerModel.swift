import EarshotCheckpoint
import EarshotTensor
import Foundation

/// One recognised item.
public struct ParaformerResult: Sendable, Equatable {
    /// Decoded token ids, with blank, `<s>` and `</s>` removed (FunASR's `token_int`).
    public var tokenIDs: [Int]
    /// Their strings from `tokens.json`.
    public var tokens: [String]
    /// FunASR's post-processed text (`sentence_postprocess`): for models that give timestamps the words are
    /// space-separated (CJK characters too), otherwise concatenated.
    public var text: String
    /// The words of `text` (`sentence_postprocess`'s word list: CJK characters, `@@`-merged English words,
    /// abbreviations).
    public var words: [String]
    /// Per word, `[start_ms, end_ms]` as FunASR returns them (VAD offset included), aligned with `words`
    /// (FunASR can return fewer in rare `@@`/abbreviation cases); empty when the model gives no timestamps.
    public var timestamps: [[Int]]
    /// Per token, `[start_ms, end_ms]` before word merging (`ts_prediction_lfr6_standard`'s list).
    public var tokenTimestamps: [[Int]]
    /// FunASR's hypothesis score: the sum over decoded positions (`token_num` of them, `</s>` included) of the
    /// largest log-probability.
    public var logProbability: Double = 0
    /// Decoded positions the score sums over.
    public var positions: Int = 0

    /// An item that produced nothing (silence, or too short).
    public static let empty = ParaformerResult(tokenIDs: [], tokens: [], text: "", words: [], timestamps: [], tokenTimestamps: [])
}

/// Intermediate tensors of one item, for oracle tests and diagnostics.
public struct ParaformerTrace: Sendable {
    /// LFR+CMVN features `[frames][inputSize]`.
    public var features: [Float]
    /// LFR frames.
    public var frames: Int
    /// Encoder output `[frames][outputSize]`.
    public var encoderOutput: [Float]
    /// CIF predictor output (alphas and peaks include the tail frame).
    public var cif: CIFOutput
    /// Decoder log-probabilities `[cif.tokenCount][vocabularySize]`.
    public var logProbabilities: [Float]
    /// Argmax per decoded position (before removing special ids).
    public var argmax: [Int]
    /// BiCif / SeACo: the upsampled timestamp alphas (`3·frames`, rescaled to the token count).
    public var upsampledAlphas: [Float]
    /// BiCif / SeACo: their `cif_wo_hidden` peaks.
    public var upsampledPeaks: [Float]
    /// SeACo with more hotwords than FunASR's `nfilter`: the attention-score filter's score per hotword entry.
    public var hotwordScores: [Float] = []
    /// The entries the filter kept (best first, then `[<s>]`).
    public var hotwordsKept: [Int] = []
}

/// Memory the planner needs for a Paraformer batch: the weights once, plus per item a working set that grows
/// with its length (the encoder and decoder run all items' rows stacked), plus transients of one item (CIF,
/// timestamp head, attention scratch) — see ``bytes(batchCount:longestSamples:)``.
public struct ParaformerBatchCost: Sendable, Equatable {
    /// Heap bytes the loaded weights own (converted copies, norms, biases, filters).
    public var weightBytes: Int
    /// Bytes of `model.pt` that fp32 weights are read from in place (page cache, mapped).
    public var mappedWeightBytes: Int
    let encoder: SANMEncoderConfig
    let decoderUnits: Int
    let vocabularySize: Int
    let upsampleTimes: Int
    let lfrN: Int
    let hasTimestampHead: Bool

    /// LFR frames of `samples` 16-kHz samples (`ceil((1 + (samples − 400)/160) / lfr_n)`).
    public func frames(samples: Int) -> Int {
        guard samples >= 400 else { return 0 }
        let fbank = 1 + (samples - 400) / 160
        return (fbank + lfrN - 1) / lfrN
    }

    /// Bytes one item of `frames` LFR frames holds while its batch runs (an upper bound: features, stacked
    /// encoder activations and scratch, its encoder output, CIF embeddings, stacked decoder activations,
    /// its log-probabilities twice — the stacked array and its own slice).
    public func itemBytes(frames t: Int) -> Int {
        let parts = itemParts(frames: t)
        return parts.features + parts.activations + parts.outputs
    }

    /// ``itemBytes(frames:)`` by kind: features (the item's LFR features and their stacked copy), activations
    /// (encoder and decoder activations, scratch, encoder output, CIF embeddings) and outputs (the
    /// log-probabilities, stacked and sliced). Maps onto the seam's `RecognizerBatchCost` per-item terms.
    public func itemParts(frames t: Int) -> (features: Int, activations: Int, outputs: Int) {
        let e = encoder, d = e.outputSize
        let n = t + 1   // tokens ≤ Σα ≤ frames + tail
        let features = 2 * t * e.inputSize * 4
        let encoderBytes = EncoderScratch.bytes(frames: t, config: e) + 3 * t * d * 4
        let decoderBytes = n * d * 4 * 2 + SANMDecoder.scratchBytes(tokens: n, frames: t, width: d, units: decoderUnits)
            + t * d * 4
        return (features, encoderBytes + decoderBytes, 2 * n * vocabularySize * 4)
    }

    /// Bytes needed once per batch for its longest item (`frames`): attention scratch of two workers, the
    /// CIF convolution and the timestamp head of one item at a time.
    public func transientBytes(frames t: Int) -> Int {
        let d = encoder.outputSize
        let attention = 2 * (256 * t + 2 * t * (d / max(1, encoder.attentionHeads))) * 4
        let cif = (t + 3) * d * 4 * 2 + t * d * 3 * 4 + 3 * (t + 1) * 4
        let timestamps = hasTimestampHead ? upsampleTimes * t * (d + 2 * d + 4 * d + 2) * 4 : 0
        return attention + cif + timestamps
    }

    /// Bytes a batch of `count` items, the longest `longestSamples` samples, needs beyond the weights
    /// (every item counted at the longest length, as the planner's padded-size rule does).
    public func bytes(batchCount count: Int, longestSamples: Int) -> Int {
        let t = frames(samples: longestSamples)
        return count * itemBytes(frames: t) + transientBytes(frames: t)
    }
}

/// A FunASR Paraformer (`Paraformer`, `BiCifParaformer`, `SeacoParaformer` without hotwords) loaded from its
/// ModelScope directory: `config.yaml` (model class and `*_conf`), `model.pt` (state dict, memory-mapped),
/// `am.mvn` (CMVN) and `tokens.json`. Immutable and shareable across threads; items are transcribed one at a
/// time, which gives each item what FunASR gives it in a padded batch (see `SANMEncoder`).
public final class ParaformerModel: @unchecked Sendable {
    /// The model directory.
    public let directory: String
    /// The parsed configuration.
    public let config: ParaformerConfig
    /// The weight precision in use.
    public let precision: ParaformerPrecision
    /// The token list.
    public let tokenList: ParaformerTokenList
    /// CMVN from `am.mvn`.
    public let cmvn: CMVN
    /// Plain Paraformer only: also predict timestamps from the CIF, as FunASR's `pred_timestamp=True`.
    /// FunASR hands the CIF's peaks and alphas to `ts_prediction_lfr6_standard` in swapped order
    /// (`model.py:inference`); Earshot reproduces that call as is, so its timestamps equal FunASR's.
    public let predictTimestamps: Bool

    let encoder: SANMEncoder
    let predictor: CIFPredictor
    let decoder: SANMDecoder
    let seaco: SeacoHotwordPath?
    private let checkpoint: PyTorchCheckpoint

    /// The files a Paraformer directory must hold.
    public static let requiredFiles = ["config.yaml", "model.pt", "am.mvn", "tokens.json"]

    /// Whether `directory` looks like a FunASR model directory (has every required file).
    public static func isModelDirectory(_ directory: String) -> Bool {
        requiredFiles.allSatisfy { FileManager.default.fileExists(atPath: directory + "/" + $0) }
    }

    /// The class `directory/config.yaml` names (`model:`), for recognising a model directory by its files.
    /// - Throws: `FunASRError` naming the file when it is missing, not YAML, or names a class Earshot does not run.
    public static func modelClass(directory: String) throws(FunASRError) -> ParaformerKind {
        let yaml: YAMLConfig
        do { yaml = try YAMLConfig(path: directory + "/config.yaml") } catch { throw FunASRError(error) }
        let name: String
        do { name = try yaml.string("model", default: "") } catch { throw FunASRError(error) }
        guard let kind = ParaformerKind(rawValue: name) else {
            throw FunASRError(.model, "\(yaml.path): model '\(name)' is not a model class Earshot runs; expected one of \(ParaformerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return kind
    }

    /// Loads the model in `directory`. `predictTimestamps` asks plain Paraformer for FunASR's `pred_timestamp`
    /// timestamps (BiCif and SeACo always give theirs).
    /// - Throws: `FunASRError` naming the file (and key or tensor) that is missing, names an unknown class,
    ///   or does not match: a missing `tokens.json`, `model: Foo`, a tensor of the wrong shape.
    public init(directory: String, precision: ParaformerPrecision = .float32,
                predictTimestamps: Bool = false) throws(FunASRError) {
        self.directory = directory
        self.precision = precision
        self.predictTimestamps = predictTimestamps
        let yaml = try ModelDirectoryFiles.readConfig(directory, requiredFiles: Self.requiredFiles,
                                                      noun: "model", family: "Paraformer")
        let config = try ParaformerConfig(yaml)
        self.config = config
        tokenList = try ParaformerTokenList(path: directory + "/tokens.json")
        cmvn = try CMVN(path: directory + "/am.mvn")
        guard cmvn.dimension >= config.encoder.inputSize else {
            throw FunASRError(.invalidConfiguration, "\(directory)/am.mvn: has \(cmvn.dimension) values per frame but the features have \(config.encoder.inputSize) (n_mels \(config.fbank.melBins) × lfr_m \(config.lfrM))")
        }
        for id in [config.blankID, config.sosID, config.eosID] where id < 0 || id >= tokenList.count {
            throw FunASRError(.invalidConfiguration, "\(directory)/config.yaml: special token id \(id) (model_conf blank_id/sos/eos) is outside tokens.json's \(tokenList.count) tokens")
        }
        do { checkpoint = try PyTorchCheckpoint(path: directory + "/model.pt") } catch { throw FunASRError(error) }
        let loader = ParaformerWeightLoader(checkpoint: checkpoint, precision: precision)
        encoder = try SANMEncoder(loader, config: config.encoder)
        predictor = try CIFPredictor(loader, config: config.predictor)
        decoder = try SANMDecoder(loader, config: config.decoder, width: config.encoder.outputSize,
                                  vocabularySize: tokenList.count)
        if let h = config.seaco {
            seaco = try SeacoHotwordPath(loader, config: h, width: config.encoder.outputSize, vocabularySize: tokenList.count)
        } else {
            seaco = nil
        }
        _ = try KaldiFbank(options: config.fbank)   // surface window/mel errors at load time
    }

    /// Whether results carry timestamps (BiCif and SeACo always; plain Paraformer with `predictTimestamps`).
    public var givesTimestamps: Bool { predictor.timestampHead != nil || predictTimestamps }

    /// The memory cost model for the batch planner.
    public var batchCost: ParaformerBatchCost {
        ParaformerBatchCost(weightBytes: encoder.byteCount + predictor.byteCount + decoder.byteCount + (seaco?.byteCount ?? 0),
                            mappedWeightBytes: encoder.mappedBytes + decoder.mappedBytes,
                            encoder: config.encoder, decoderUnits: config.decoder.linearUnits,
                            vocabularySize: tokenList.count, upsampleTimes: config.predictor.upsampleTimes,
                            lfrN: config.lfrN, hasTimestampHead: predictor.timestampHead != nil)
    }

    /// LFR + CMVN features of 16-kHz samples in [-1, 1] (FunASR's `WavFrontend` with dither 0).
    public func features(_ samples: [Float]) throws(FunASRError) -> (values: [Float], frames: Int) {
        let stream = try FeatureStream(fbank: try KaldiFbank(options: config.fbank), lfrM: config.lfrM,
                                       lfrN: config.lfrN, cmvn: cmvn)
        var out: [Float] = []
        var frames = 0
        let sink: (FeatureBatch) -> Void = { b in
            out.append(contentsOf: UnsafeBufferPointer(start: b.features, count: b.count * b.dimension))
            frames += b.count
        }
        samples.withUnsafeBufferPointer { stream.push($0, sink: sink) }
        stream.finish(sink: sink)
        return (out, frames)
    }

    /// Token ids of `text` as FunASR's `CharTokenizer.encode` gives them: with the directory's `seg_dict`, the
    /// text is split on spaces and each word mapped through it (`seg_tokenize`); without, every non-space
    /// character is a token. Unknown tokens become `<unk>` (or are dropped when the list has none).
    public func tokenize(_ text: String) throws(FunASRError) -> [Int] {
        let segPath = directory + "/seg_dict"
        let pieces: [String]
        if FileManager.default.fileExists(atPath: segPath) {
            let words = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            pieces = try SegDict(path: segPath).tokenize(words, tokenizerRule: true)
        } else {
            pieces = text.unicodeScalars.filter { $0 != " " }.map { String($0) }
        }
        let index = tokenIndex
        let unk = index["<unk>"]
        return pieces.compactMap { index[$0] ?? unk }
    }

    /// Token string → id.
    var tokenIndex: [String: Int] {
        var index: [String: Int] = [:]
        for (i, t) in tokenList.tokens.enumerated() { index[t] = i }
        return index
    }

    /// The words of a hotword string in the `"word weight word weight …"` form (FunASR's websocket `hotwords`
    /// map flattened): numbers are dropped, as FunASR's servers pass only the words to the model.
    public static func hotwordWords(weighted text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).filter { Double($0) == nil }.joined(separator: " ")
    }

    /// Tokenizes and embeds SeACo hotwords given as FunASR's `hotword` string: whitespace-separated words, each
    /// split into tokens with the directory's `seg_dict` when it has one (else looked up whole), unknown tokens
    /// becoming `<unk>`; FunASR appends a `[sos]` entry.
    /// Above 49 words the attention-score filter (ASF) keeps the 50 best entries per item, as FunASR does for
    /// one item (FunASR's batch filters every item by its first item's scores).
    /// - Throws: `.invalidArgument` for a model without a hotword path or no words.
    public func prepareHotwords(_ text: String) throws(FunASRError) -> SeacoHotwords {
        guard let seaco else {
            throw FunASRError(.invalidArgument, "\(directory): hotwords need a SeacoParaformer model; config.yaml names \(config.kind.rawValue)")
        }
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard !words.isEmpty else { throw FunASRError(.invalidArgument, "no hotwords in '\(text)'") }
        if words.count + 1 > SeacoHotwordPath.filterSize && seaco.decoder.layers.filter({ $0.crossAttention != nil }).count < 6 {
            throw FunASRError(.invalidArgument, "\(words.count) hotwords need FunASR's attention-score filter, which reads the 6th seaco_decoder block; this model has fewer")
        }
        let segPath = directory + "/seg_dict"
        let seg = FileManager.default.fileExists(atPath: segPath) ? try SegDict(path: segPath) : nil
        let index = tokenIndex
        guard let unk = index["<unk>"] else {
            throw FunASRError(.model, "\(directory)/tokens.json: has no <unk> token, which hotword tokenization needs")
        }
        var lists = words.map { word -> [Int] in
            let pieces = seg?.tokenize([word]) ?? [word]
            return pieces.map { index[$0] ?? unk }
        }
        lists.append([config.sosID])
        return SeacoHotwords(words: words, tokenIDs: lists, embeddings: seaco.embed(lists))
    }
}
