import ArgumentParser
import EarshotCheckpoint
import EarshotWhisper
import Foundation

/// `earshot prune IN OUT --encoder-layers K --decoder-layers K`: a smaller Whisper model that keeps K
/// encoder and/or decoder layers (renumbered from 0) and every other tensor unchanged.
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Write a smaller CTranslate2 Whisper model keeping only K encoder / decoder layers.",
        discussion: """
        Layers are dropped without retraining, so accuracy falls quickly: see docs/performance.md \
        ("Precision and pruning") for measured WER, speed and memory per K before choosing. \
        --layers first keeps layers 0..<K (default); spread keeps K layers evenly spaced, first and last included. \
        Tensor types are kept; run `earshot quantize` on the output to change them. \
        config.json's alignment_heads (word timestamps) keeps the heads of the kept decoder layers.
        """
    )

    @Argument(help: "Source CTranslate2 Whisper model directory (holding model.bin).")
    var input: String

    @Argument(help: "Output directory (created; must not exist or be empty).")
    var output: String

    @Option(help: "Encoder layers to keep (default: all).")
    var encoderLayers: Int?

    @Option(help: "Decoder layers to keep (default: all).")
    var decoderLayers: Int?

    @Option(help: "Which layers to keep: first (0..<K) or spread (evenly spaced, first and last included).")
    var layers: String = "first"

    func run() throws {
        guard let selection = WhisperModelTransforms.LayerSelection(rawValue: layers) else {
            throw CLIError("--layers \(layers): unsupported; supported: \(WhisperModelTransforms.LayerSelection.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard encoderLayers != nil || decoderLayers != nil else {
            throw CLIError("nothing to prune: give --encoder-layers K and/or --decoder-layers K")
        }
        let summary: String
        do {
            summary = try prune(selection)
        } catch {
            throw CLIError(error.description)
        }
        FileHandle.standardError.write(Data(summary.utf8))
    }

    private func prune(_ selection: WhisperModelTransforms.LayerSelection) throws(CheckpointError) -> String {
        let source = try CTranslate2Checkpoint.open(directory: input)
        let kept = try WhisperModelTransforms.prune(source, encoderLayers: encoderLayers, decoderLayers: decoderLayers,
                                                    selection: selection, output: output)
        let written = try CTranslate2Checkpoint.open(directory: output)
        return "wrote \(output)/model.bin: encoder layers \(kept.encoder), decoder layers \(kept.decoder) of the source; "
            + "\(written.totalTensorBytes) tensor bytes (source \(source.totalTensorBytes))\n"
    }
}
