import ArgumentParser
import EarshotCheckpoint
import Foundation

/// `earshot inspect MODEL_DIR`: what a CTranslate2 model directory holds — spec, versions, every tensor
/// (name, dtype, shape, bytes), aliases, and byte totals per dtype.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors of a CTranslate2 model directory (model.bin), with totals per dtype."
    )

    /// Output formats.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: "A CTranslate2 model directory (holding model.bin), e.g. ~/.cache/earshot/models/whisper-tiny.en.")
    var modelDirectory: String

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    /// Runs the command.
    func run() throws {
        let checkpoint: CTranslate2Checkpoint
        do {
            checkpoint = try CTranslate2Checkpoint.open(directory: modelDirectory)
        } catch {
            throw CLIError(error.description)
        }
        let report = InspectReport(checkpoint)
        switch format {
        case .text: print(report.text(), terminator: "")
        case .json: print(try report.json())
        }
    }
}

/// The facts `inspect` prints, in both formats.
struct InspectReport: Encodable {
    /// One tensor row.
    struct Tensor: Encodable {
        let name: String
        let dtype: String
        let shape: [Int]
        let bytes: Int
    }

    /// Totals for one dtype.
    struct Total: Encodable {
        let dtype: String
        let tensors: Int
        let elements: Int
        let bytes: Int
    }

    let directory: String
    let modelFile: String
    let fileBytes: Int
    let binaryVersion: Int
    let spec: String
    let specRevision: Int
    let vocabularyFile: String?
    let tokenizerJSON: String?
    let hasConfigJSON: Bool
    let tensors: [Tensor]
    let aliases: [String: String]
    let totals: [Total]
    let totalBytes: Int

    /// Gathers the report from an open checkpoint.
    init(_ c: CTranslate2Checkpoint) {
        directory = c.directory
        modelFile = c.modelPath
        fileBytes = c.file.bytes.count
        binaryVersion = c.binaryVersion
        spec = c.specName
        specRevision = c.specRevision
        vocabularyFile = c.vocabularyFile?.path
        tokenizerJSON = c.tokenizerJSONPath
        hasConfigJSON = c.configJSON != nil
        tensors = c.variableNames.compactMap { name in
            c.variable(name).map { Tensor(name: name, dtype: $0.dtype.description, shape: $0.shape, bytes: $0.bytes.count) }
        }
        aliases = c.aliases
        var byType: [String: (tensors: Int, elements: Int, bytes: Int)] = [:]
        for t in tensors {
            var entry = byType[t.dtype, default: (0, 0, 0)]
            entry.tensors += 1
            entry.elements += t.shape.reduce(1, *)
            entry.bytes += t.bytes
            byType[t.dtype] = entry
        }
        totals = byType.map { Total(dtype: $0.key, tensors: $0.value.tensors, elements: $0.value.elements, bytes: $0.value.bytes) }
            .sorted { $0.bytes > $1.bytes }
        totalBytes = tensors.reduce(0) { $0 + $1.bytes }
    }

    /// Human-readable table.
    func text() -> String {
        var out = "\(modelFile)\n"
        out += "  spec \(spec.isEmpty ? "(none: binary version 1)" : spec) revision \(specRevision), binary version \(binaryVersion), \(Self.size(fileBytes))\n"
        out += "  config.json: \(hasConfigJSON ? "yes" : "no"); vocabulary: \(vocabularyFile.map { ($0 as NSString).lastPathComponent } ?? "none"); tokenizer.json: \(tokenizerJSON == nil ? "no" : "yes")\n\n"
        let nameWidth = min(max(tensors.map(\.name.count).max() ?? 4, 4), 64)
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        func padLeft(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        out += pad("tensor", nameWidth) + "  " + pad("dtype", 8) + "  " + pad("shape", 18) + "  " + padLeft("bytes", 12) + "\n"
        for t in tensors {
            let shape = t.shape.isEmpty ? "scalar" : "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            out += pad(t.name, nameWidth) + "  " + pad(t.dtype, 8) + "  " + pad(shape, 18) + "  " + padLeft(String(t.bytes), 12) + "\n"
        }
        if !aliases.isEmpty {
            out += "\naliases\n"
            for (alias, target) in aliases.sorted(by: { $0.key < $1.key }) { out += "  \(alias) -> \(target)\n" }
        }
        out += "\ntotals\n"
        for t in totals {
            out += "  " + pad(t.dtype, 8) + "  " + padLeft("\(t.tensors) tensors", 12) + "  " + padLeft("\(t.elements) elements", 20)
                + "  " + padLeft(String(t.bytes), 12) + " bytes (\(Self.size(t.bytes)))\n"
        }
        out += "  " + pad("all", 8) + "  " + padLeft("\(tensors.count) tensors", 12) + "  " + String(repeating: " ", count: 20)
            + "  " + padLeft(String(totalBytes), 12) + " bytes (\(Self.size(totalBytes)))\n"
        return out
    }

    /// Pretty-printed JSON with sorted keys.
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    static func size(_ bytes: Int) -> String {
        let mb = Double(bytes) / 1_048_576
        return mb >= 1 ? "\((mb * 10).rounded() / 10) MiB" : "\((Double(bytes) / 1024 * 10).rounded() / 10) KiB"
    }
}
