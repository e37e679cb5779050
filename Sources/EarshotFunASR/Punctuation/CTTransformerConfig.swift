import EarshotCheckpoint

/// Everything a CT-Transformer `config.yaml` says that the Swift port uses (`model: CTTransformer`;
/// `funasr/models/ct_transformer/model.py:CTTransformer.__init__`, template
/// `funasr/models/ct_transformer/template.yaml`).
public struct CTTransformerConfig: Sendable, Equatable {
    /// Embedding width (`model_conf.embed_unit`; FunASR's default 128, ct-punc-c 256).
    public var embedUnit = 128
    /// Encoder output width the classifier reads (`model_conf.att_unit`, 256).
    public var attUnit = 256
    /// The classes, by id (`model_conf.punc_list`; ModelScope's models: `<unk> _ ， 。 ？ 、`).
    public var puncList: [String] = []
    /// The class FunASR writes at a forced sentence end and at the end of the text (`sentence_end_id`, 3).
    public var sentenceEndID = 3
    /// The SAN-M encoder (`encoder_conf`): input width = `embedUnit`.
    public var encoder = SANMEncoderConfig()
    /// The directory holds a `jieba_usr_dict` (the word-level cn-en `ct-punc` model): FunASR then segments
    /// Chinese with jieba, which this port does not do.
    public var usesJieba = false

    /// The config's `model:` class for CT-Transformer.
    public static let modelClass = "CTTransformer"

    /// Parses `config.yaml`.
    /// - Throws: `FunASRError` naming the file and key: `.model` for another `model:` class or encoder,
    ///   `.invalidConfiguration` for values that do not describe a CT-Transformer.
    public init(_ c: YAMLConfig) throws(FunASRError) {
        do {
            let className = try c.string("model", default: "")
            guard className == Self.modelClass else {
                throw FunASRError(.model, "\(c.path): model '\(className)' is not a punctuation model; expected \(Self.modelClass) (FunASR's ct-punc)")
            }
            let encoderClass = try c.string("encoder", default: "")
            guard encoderClass == "SANMEncoder" else {
                throw FunASRError(.model, "\(c.path): encoder '\(encoderClass)' is not supported (CTTransformer with SANMEncoder only; the streaming ct-punc uses SANMVadEncoder)")
            }
            let mk = "model_conf."
            embedUnit = try c.int(mk + "embed_unit", default: 128)
            attUnit = try c.int(mk + "att_unit", default: 256)
            sentenceEndID = try c.int(mk + "sentence_end_id", default: 3)
            puncList = try c.strings(mk + "punc_list", default: [])
            guard puncList.count >= 2 else {
                throw FunASRError(.invalidConfiguration, "\(c.path): model_conf.punc_list must list the punctuation classes (FunASR's: <unk>, _, ，, 。, ？, 、)")
            }
            guard (0..<puncList.count).contains(sentenceEndID) else {
                throw FunASRError(.invalidConfiguration, "\(c.path): model_conf.sentence_end_id \(sentenceEndID) is outside punc_list's \(puncList.count) classes")
            }
            let e = try SANMEncoderConfig(c, model: "ct-punc", inputSize: embedUnit)
            guard e.inputSize == embedUnit else {
                throw FunASRError(.invalidConfiguration, "\(c.path): encoder_conf.input_size (\(e.inputSize)) must equal model_conf.embed_unit (\(embedUnit)): the encoder reads the embeddings")
            }
            guard e.outputSize == attUnit else {
                throw FunASRError(.invalidConfiguration, "\(c.path): encoder_conf.output_size (\(e.outputSize)) must equal model_conf.att_unit (\(attUnit)): the classifier reads the encoder")
            }
            guard e.outputSize > 0, e.inputSize > 0, e.inputSize % 2 == 0, e.attentionHeads > 0,
                  e.outputSize % e.attentionHeads == 0, e.numBlocks >= 1, e.linearUnits > 0, e.kernelSize >= 1,
                  e.sanmShift >= 0, (e.kernelSize - 1) / 2 + e.sanmShift <= e.kernelSize - 1 else {
                throw FunASRError(.invalidConfiguration, "\(c.path): encoder_conf input_size \(e.inputSize) / output_size \(e.outputSize) / attention_heads \(e.attentionHeads) / num_blocks \(e.numBlocks) / kernel_size \(e.kernelSize) / sanm_shfit \(e.sanmShift) do not describe a SAN-M encoder")
            }
            encoder = e
        } catch {
            throw FunASRError.readingConfiguration(c.path, error)
        }
    }
}
