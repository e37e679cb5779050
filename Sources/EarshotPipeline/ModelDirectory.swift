import Foundation
import EarshotCheckpoint
import EarshotFunASR
import EarshotSpeech
import EarshotTensor
import EarshotWhisper

/// A model directory recognised by its files, and loaded as a ``SpeechRecognizer``:
/// - CTranslate2 `config.json` + `model.bin` → Whisper;
/// - FunASR `config.yaml` + `model.pt` + `am.mvn` + `tokens.json` → the class its `model:` key names
///   (as ModelScope ships FunASR's models).
public enum ModelDirectory: Equatable, Sendable {
    case whisper
    /// A FunASR model and its `model:` class (`Paraformer`, `BiCifParaformer`, `SeacoParaformer`, …).
    case funasr(modelClass: String)

    /// FunASR recognizer classes Earshot runs.
    public static let funasrRecognizers = ["Paraformer", "BiCifParaformer", "SeacoParaformer"]

    /// Looks at a directory's files and says which family it holds.
    /// - Throws: `PipelineError` naming the directory and the file that is missing or wrong.
    public static func detect(_ path: String) throws -> ModelDirectory {
        let files = Set((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
        guard !files.isEmpty else { throw PipelineError("\(path): not a model directory (missing or empty)") }
        if files.contains("model.bin") || files.contains("config.json") {
            for needed in ["config.json", "model.bin"] where !files.contains(needed) {
                throw PipelineError("\(path): a CTranslate2 Whisper model needs \(needed), which is missing")
            }
            return .whisper
        }
        if files.contains("config.yaml") || files.contains("model.pt") {
            if files.contains("config.yaml"), let config = try? YAMLConfig(path: path + "/config.yaml"),
               (try? config.string("model", default: "")) == CTTransformerConfig.modelClass {
                throw PipelineError("\(path): \(CTTransformerConfig.modelClass) is a punctuation model, not a recognizer; give it with --punc")
            }
            for needed in ["config.yaml", "model.pt", "am.mvn"] where !files.contains(needed) {
                throw PipelineError("\(path): a FunASR model needs \(needed), which is missing")
            }
            let config: YAMLConfig
            do { config = try YAMLConfig(path: path + "/config.yaml") } catch {
                throw PipelineError("\(path)/config.yaml: \(error)")
            }
            let modelClass = (try? config.string("model", default: "")) ?? ""
            guard !modelClass.isEmpty else { throw PipelineError("\(path)/config.yaml: no `model:` key naming the model class") }
            if modelClass.hasPrefix("FsmnVAD") {
                throw PipelineError("\(path): \(modelClass) is a voice activity detector, not a recognizer; give it with --vad-model")
            }
            guard funasrRecognizers.contains(modelClass) else {
                throw PipelineError("\(path)/config.yaml: model class '\(modelClass)' is not one Earshot runs (\(funasrRecognizers.joined(separator: ", ")))")
            }
            guard files.contains("tokens.json") else {
                throw PipelineError("\(path): a FunASR \(modelClass) needs tokens.json (its token list), which is missing")
            }
            return .funasr(modelClass: modelClass)
        }
        throw PipelineError("\(path): no model files found: expected CTranslate2 config.json + model.bin (Whisper) or FunASR config.yaml + model.pt + am.mvn + tokens.json")
    }

    /// Loads the directory's recognizer at a precision; Whisper windows are decoded with `decoding` under the
    /// batched pipeline's policy (``PipelineOptions/windowDecoding(_:)``).
    public static func load(_ path: String, precision: WeightPrecision,
                            decoding: WhisperDecodingOptions = WhisperDecodingOptions()) throws -> any SpeechRecognizer {
        switch try detect(path) {
        case .whisper:
            let model = try WhisperModel(directory: path, precision: precision)
            return WhisperRecognizer(model: model, decoding: PipelineOptions.windowDecoding(decoding))
        case .funasr:
            let paraformerPrecision: ParaformerPrecision = switch precision {
            case .float16: .float16
            case .int8: .int8
            default: .float32
            }
            return ParaformerRecognizer(model: try ParaformerModel(directory: path, precision: paraformerPrecision))
        }
    }

    /// Loads a FunASR CT-Transformer punctuation directory (`--punc`): `config.yaml` whose `model:` is
    /// `CTTransformer`, `model.pt`, `tokens.json`. Linear layers at `precision` (fp32 gives FunASR's result).
    /// - Throws: `PipelineError` naming the directory or file: missing files, another model class; the model's
    ///   `FunASRError` (file and tensor) for a checkpoint that does not match its config or token list.
    public static func loadPunctuation(_ path: String, precision: WeightPrecision) throws -> any PunctuationModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PipelineError("\(path): no such punctuation model directory (--punc takes a FunASR CT-Transformer directory: \(CTTransformer.requiredFiles.joined(separator: ", ")))")
        }
        let files = Set((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
        guard files.contains("config.yaml") else {
            throw PipelineError("\(path)/config.yaml: missing; --punc takes a FunASR CT-Transformer directory (\(CTTransformer.requiredFiles.joined(separator: ", ")))")
        }
        let config: YAMLConfig
        do { config = try YAMLConfig(path: path + "/config.yaml") } catch { throw PipelineError("\(path)/config.yaml: \(error)") }
        let modelClass = (try? config.string("model", default: "")) ?? ""
        guard modelClass == CTTransformerConfig.modelClass else {
            throw PipelineError("\(path)/config.yaml: model class '\(modelClass)' is not a punctuation model; --punc takes a FunASR \(CTTransformerConfig.modelClass) (ct-punc) directory")
        }
        let p: ParaformerPrecision = switch precision {
        case .float16: .float16
        case .int8: .int8
        default: .float32
        }
        do { return try CTTransformer(directory: path, precision: p) } catch { throw PipelineError("\(error)") }
    }
}
