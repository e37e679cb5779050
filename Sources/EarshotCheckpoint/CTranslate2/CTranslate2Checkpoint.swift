#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EarshotTensor

/// One tensor stored in a CTranslate2 `model.bin`.
///
/// `bytes` points straight into the memory-mapped file; it stays valid as long as the
/// ``CTranslate2Checkpoint`` it came from is alive.
public struct CTranslate2Variable: @unchecked Sendable {
    /// The stored name (for an alias, the name of the tensor that actually holds the data).
    public let name: String
    /// Element type.
    public let dtype: DType
    /// Dimensions, outermost first; empty for a scalar.
    public let shape: [Int]
    /// The raw little-endian payload, row-major, `shape.product × dtype.byteWidth` bytes.
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the payload from the start of `model.bin`.
    public let fileOffset: Int

    /// Number of elements (1 for a scalar).
    public var count: Int { shape.reduce(1, *) }
}

/// Which vocabulary sidecar file a CTranslate2 model directory has.
public enum CTranslate2VocabularyFile: Sendable, Equatable {
    /// `vocabulary.json`: a JSON array of tokens (current converters).
    case json(path: String)
    /// `vocabulary.txt`: one token per line (older converters).
    case text(path: String)

    /// The file's path.
    public var path: String {
        switch self {
        case .json(let path), .text(let path): return path
        }
    }
}

/// A CTranslate2 model directory: `model.bin` memory-mapped and indexed, plus its sidecar files.
///
/// Supports binary versions 1 through 6 as CTranslate2's writer (`ModelSpec._serialize`) and reader
/// (`Model::load`) define them: versions before 2 carry no spec name, versions before 3 no alias table,
/// versions before 4 store an item size and element count instead of a dtype id and byte count.
/// Tensor payloads are not copied: ``variable(_:)`` and ``weightMatrix(_:expectedShape:)`` point into the
/// mapping wherever the stored bytes are usable as they are.
public final class CTranslate2Checkpoint: Sendable {
    /// The newest `model.bin` binary version this reader understands.
    public static let newestBinaryVersion = 6

    /// The model directory as given to ``open(directory:)``.
    public let directory: String
    /// Path of `model.bin`.
    public let modelPath: String
    /// The mapping of `model.bin`; also the `owner` of matrices that point into it.
    public let file: MappedFile
    /// `model.bin` binary version (1...6).
    public let binaryVersion: Int
    /// The spec class that wrote the model, e.g. `"WhisperSpec"`; empty for binary version 1.
    public let specName: String
    /// The spec's weight-layout revision (1 for binary version 1, which does not store it).
    public let specRevision: Int
    /// Stored tensor names, sorted. Alias names are not included; see ``aliases``.
    public let variableNames: [String]
    /// Alias name → stored tensor name, with chains resolved. Includes the implied `alias_scale` →
    /// `target_scale` entries that CTranslate2 adds for quantized aliased weights.
    public let aliases: [String: String]
    /// The raw bytes of `config.json`, or `nil` if the directory has none.
    public let configJSON: [UInt8]?
    /// The vocabulary file present in the directory, if any (`vocabulary.json` preferred).
    public let vocabularyFile: CTranslate2VocabularyFile?
    /// Path of the Hugging Face `tokenizer.json`, if the directory has one.
    public let tokenizerJSONPath: String?

    private let index: [String: CTranslate2Variable]

    private init(directory: String, modelPath: String, file: MappedFile, parsed: ParsedModel,
                 configJSON: [UInt8]?, vocabularyFile: CTranslate2VocabularyFile?, tokenizerJSONPath: String?) {
        self.directory = directory
        self.modelPath = modelPath
        self.file = file
        self.binaryVersion = parsed.binaryVersion
        self.specName = parsed.specName
        self.specRevision = parsed.specRevision
        self.index = parsed.variables
        self.variableNames = parsed.variables.keys.sorted()
        self.aliases = parsed.aliases
        self.configJSON = configJSON
        self.vocabularyFile = vocabularyFile
        self.tokenizerJSONPath = tokenizerJSONPath
    }

    /// Opens a CTranslate2 model directory: maps and indexes `model.bin`, reads `config.json` and notes the
    /// vocabulary and tokenizer files.
    /// - Throws: `CheckpointError` — `.fileNotFound` if the directory does not exist, `.notAModel` if it has
    ///   no `model.bin` or holds a different kind of model, `.unsupportedVersion` for binary versions newer
    ///   than 6, `.truncated` / `.corrupt` for damaged files.
    public static func open(directory: String) throws(CheckpointError) -> CTranslate2Checkpoint {
        guard CT2Files.isDirectory(directory) else {
            if CT2Files.exists(directory) {
                throw CheckpointError(.notAModel, path: directory,
                                      message: "not a CTranslate2 model directory: expected a directory holding model.bin, got a file")
            }
            throw CheckpointError(.fileNotFound, path: directory, message: "no such model directory")
        }
        let modelPath = CT2Files.join(directory, "model.bin")
        guard CT2Files.exists(modelPath) else {
            var message = "not a CTranslate2 model directory: no model.bin in \(directory)"
            if let other = otherModelKind(in: directory) { message += " (it looks like \(other))" }
            throw CheckpointError(.notAModel, path: directory, message: message)
        }
        let file = try MappedFile(path: modelPath)
        let parsed = try CTranslate2Parser.parse(file.bytes, path: modelPath)

        let configPath = CT2Files.join(directory, "config.json")
        let configJSON = CT2Files.exists(configPath) ? try CT2Files.readAll(configPath) : nil
        var vocabulary: CTranslate2VocabularyFile?
        let jsonVocabulary = CT2Files.join(directory, "vocabulary.json")
        let textVocabulary = CT2Files.join(directory, "vocabulary.txt")
        if CT2Files.exists(jsonVocabulary) {
            vocabulary = .json(path: jsonVocabulary)
        } else if CT2Files.exists(textVocabulary) {
            vocabulary = .text(path: textVocabulary)
        }
        let tokenizerPath = CT2Files.join(directory, "tokenizer.json")
        return CTranslate2Checkpoint(directory: directory, modelPath: modelPath, file: file, parsed: parsed,
                                     configJSON: configJSON, vocabularyFile: vocabulary,
                                     tokenizerJSONPath: CT2Files.exists(tokenizerPath) ? tokenizerPath : nil)
    }

    /// Describes the model kind a directory without `model.bin` seems to hold, for the error message.
    private static func otherModelKind(in directory: String) -> String? {
        let hints: [(String, String)] = [
            ("model.pt", "a PyTorch checkpoint (model.pt)"),
            ("model.onnx", "an ONNX model (model.onnx)"),
            ("model.safetensors", "a safetensors checkpoint"),
            ("pytorch_model.bin", "a Hugging Face PyTorch checkpoint (pytorch_model.bin)"),
            ("config.yaml", "a FunASR/ModelScope model (config.yaml)"),
        ]
        for (file, kind) in hints where CT2Files.exists(CT2Files.join(directory, file)) { return kind }
        return nil
    }

    /// Looks up a tensor by name, following aliases. Returns `nil` if there is no such tensor.
    public func variable(_ name: String) -> CTranslate2Variable? {
        if let found = index[name] { return found }
        if let target = aliases[name] { return index[target] }
        return nil
    }

    /// Whether a tensor (or alias) of this name exists.
    public func contains(_ name: String) -> Bool { variable(name) != nil }

    /// Total payload bytes of the stored tensors (aliases counted once).
    public var totalTensorBytes: Int { index.values.reduce(0) { $0 + $1.bytes.count } }

    /// Looks up a tensor, throwing `.missingTensor` (naming file and tensor) if it is absent.
    public func require(_ name: String) throws(CheckpointError) -> CTranslate2Variable {
        guard let found = variable(name) else {
            throw CheckpointError(.missingTensor, path: modelPath, tensor: name,
                                  message: "no such tensor in this \(specName.isEmpty ? "CTranslate2" : specName) model (\(index.count) tensors)")
        }
        return found
    }
}

/// What the parser extracts from `model.bin`.
struct ParsedModel {
    var binaryVersion: Int
    var specName: String
    var specRevision: Int
    var variables: [String: CTranslate2Variable]
    var aliases: [String: String]
}
