import EarshotTensor
import Foundation
import EarshotCheckpoint

/// Hotwords prepared for SeACo-Paraformer: the token ids of each hotword (plus FunASR's closing `[sos]`
/// entry) and their bias-encoder embeddings.
public struct SeacoHotwords: Sendable {
    /// The hotwords as given (whitespace-separated words).
    public let words: [String]
    /// Token ids per hotword, then `[sos]` (FunASR's `generate_hotwords_list`).
    public let tokenIDs: [[Int]]
    /// `[tokenIDs.count][innerDim]`: the bias encoder's output at each hotword's last token.
    let embeddings: [Float]
}

/// SeACo-Paraformer's hotword path (`funasr/models/seaco_paraformer/model.py`): hotwords are embedded with the
/// decoder's token table, run through a 2-layer LSTM (`bias_encoder`, last step kept), and attended to by the
/// `seaco_decoder` from both the CIF embeddings and the main decoder's hidden states; the sum goes through
/// `hotword_output_layer` and `log_softmax`, and a position whose hotword argmax is not `NO_BIAS` takes the
/// hotword head's log-probabilities instead of the decoder's (`_seaco_decode_with_ASF` with `seaco_weight` 1).
struct SeacoHotwordPath: @unchecked Sendable {
    let config: SeacoConfig
    let embedding: WeightMatrix          // decoder.embed.0.weight [V, d]
    let biasEncoder: [LSTMDirection]     // bias_encoder layers 0 and 1
    let decoder: SANMDecoder             // seaco_decoder (no output layer)
    let outputLayer: ParaformerLinear    // hotword_output_layer [V, inner]
    let vocabularySize: Int

    /// Above this many hotword entries (words plus `[sos]`) FunASR's attention-score filter (ASF) keeps the
    /// `nfilter` best (`_seaco_decode_with_ASF`, nfilter 50).
    static let filterSize = 50

    init(_ w: ParaformerWeightLoader, config c: SeacoConfig, width d: Int, vocabularySize v: Int) throws(FunASRError) {
        config = c
        vocabularySize = v
        embedding = try w.float32Matrix("decoder.embed.0.weight", outputs: v, inputs: d)
        biasEncoder = [try LSTMDirection(w, "bias_encoder", layer: 0, suffix: "", input: c.innerDim, hidden: c.innerDim),
                       try LSTMDirection(w, "bias_encoder", layer: 1, suffix: "", input: c.innerDim, hidden: c.innerDim)]
        decoder = try SANMDecoder(w, prefix: "seaco_decoder.", config: c.decoder, width: c.innerDim,
                                  memoryWidth: c.innerDim, vocabularySize: v, outputLayer: false)
        outputLayer = try w.linear("hotword_output_layer", outputs: v, inputs: c.innerDim, quantized: false)
    }

    var byteCount: Int {
        decoder.byteCount + outputLayer.byteCount + biasEncoder.reduce(0) { $0 + $1.byteCount }
    }

    /// The bias-encoder embedding of each id list: LSTM over its tokens' embeddings, output at the last step.
    func embed(_ lists: [[Int]]) -> [Float] {
        let d = config.innerDim
        var out: [Float] = []
        out.reserveCapacity(lists.count * d)
        guard case .float32(let table) = embedding.storage else { return out }
        for ids in lists {
            var x = [Float](repeating: 0, count: ids.count * d)
            for (i, id) in ids.enumerated() {
                for j in 0..<d { x[i * d + j] = table[id * d + j] }
            }
            for layer in biasEncoder {
                var y = [Float](repeating: 0, count: ids.count * d)
                x.withUnsafeBufferPointer { xb in
                    y.withUnsafeMutableBufferPointer { layer.run(xb.baseAddress!, steps: ids.count, reverse: false, into: $0.baseAddress!, ldy: d) }
                }
                x = y
            }
            out.append(contentsOf: x[((ids.count - 1) * d)..<(ids.count * d)])
        }
        return out
    }

    /// Replaces rows of `logProbabilities` (`[n][V]`) by the hotword head's where it picks a hotword token.
    /// Returns the attention-score filter's scores and kept entries when it ran (more than ``filterSize`` entries).
    @discardableResult
    func bias(_ logProbabilities: inout [Float], embeddings: [Float], decoderHidden: [Float], rows n: Int,
              hotwords: SeacoHotwords) -> (scores: [Float], kept: [Int])? {
        var count = hotwords.tokenIDs.count
        var memory = hotwords.embeddings
        var filter: (scores: [Float], kept: [Int])? = nil
        if Self.filterSize < count {
            // ASF: score each hotword by the 6th seaco block's cross-attention from the decoder hidden states,
            // keep the best min(50, count−1) in descending score order, then the [sos] entry.
            let scores = decoder.crossAttentionScores(decoderHidden, rows: n, memory: memory, memoryRows: count)
            let keep = min(Self.filterSize, count - 1)
            var order = Array(scores.indices).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
            order = Array(order.prefix(keep)) + [count - 1]
            let d = config.innerDim
            memory = order.flatMap { hotwords.embeddings[($0 * d)..<(($0 + 1) * d)] }
            count = order.count
            filter = (scores, order)
        }
        let cif = decoder.forward(embeddings, rows: n, memory: memory, memoryRows: count).hidden
        let dec = decoder.forward(decoderHidden, rows: n, memory: memory, memoryRows: count).hidden
        var merged = cif
        for i in merged.indices { merged[i] += dec[i] }
        let v = vocabularySize
        var dha = [Float](repeating: 0, count: n * v)
        merged.withUnsafeBufferPointer { m in
            dha.withUnsafeMutableBufferPointer { o in
                outputLayer.apply(m.baseAddress!, rows: n, into: o.baseAddress!)
                ParaformerOps.logSoftmaxRows(o.baseAddress!, rows: n, columns: v)
            }
        }
        dha.withUnsafeBufferPointer { h in
            for r in 0..<n where Kernels.argmax(h.baseAddress! + r * v, count: v) != config.noBiasID {
                for j in 0..<v { logProbabilities[r * v + j] = h[r * v + j] }
            }
        }
        return filter
    }
}

/// FunASR's `seg_dict` (English word or CJK character → BPE pieces), used to tokenize hotwords.
struct SegDict: Sendable {
    let map: [String: [String]]

    init(path: String) throws(FunASRError) {
        guard let data = FileBytes.read(path) else {
            throw FunASRError(.model, "\(path): cannot read the file")
        }
        var map: [String: [String]] = [:]
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let parts = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let key = parts.first else { continue }
            map[key] = Array(parts.dropFirst())
        }
        self.map = map
    }

    /// `seg_tokenize` of `generate_hotwords_list`: a known (lower-cased) word maps to its pieces; a word of CJK
    /// characters and digits (`^[\u4E00-\u9FA50-9]+$`) maps character by character (`<unk>` if unknown);
    /// anything else is `<unk>`.
    ///
    /// With `tokenizerRule`, the test is CharTokenizer's module-level `seg_tokenize` instead
    /// (`re.match("([\u4E00-\u9FA5A-Za-z0-9])", word)`: the word's first character is CJK, a letter or a digit).
    func tokenize(_ words: [String], tokenizerRule: Bool = false) -> [String] {
        var out: [String] = []
        func cjkOrDigit(_ v: UInt32) -> Bool { (0x4E00...0x9FA5).contains(v) || (0x30...0x39).contains(v) }
        for raw in words {
            let word = raw.lowercased()
            let splits = tokenizerRule
                ? word.unicodeScalars.first.map { cjkOrDigit($0.value) || (0x41...0x5A).contains($0.value) || (0x61...0x7A).contains($0.value) } ?? false
                : !word.isEmpty && word.unicodeScalars.allSatisfy { cjkOrDigit($0.value) }
            if let pieces = map[word] {
                out.append(contentsOf: pieces)
            } else if splits {
                for ch in word { out.append(contentsOf: map[String(ch)] ?? ["<unk>"]) }
            } else {
                out.append("<unk>")
            }
        }
        return out
    }
}
