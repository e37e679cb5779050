import ArgumentParser
import EarshotCheckpoint
import EarshotWhisper
import Foundation

/// `earshot quantize IN OUT --to int8|fp16|…`: rewrites a CTranslate2 Whisper model directory with its
/// weights converted the way CTranslate2's own converter does (`ct2-transformers-converter --quantization`),
/// so that Earshot, CTranslate2 and faster-whisper all load the result.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Convert a CTranslate2 Whisper model's weights to int8 or fp16 (CTranslate2's rules; faster-whisper loads the output).",
        discussion: """
        Types (CTranslate2's names): \(CTranslate2Quantization.supportedList).
        int8: linear, convolution and embedding weights become int8 with one float32 scale per output row \
        (scale = 127 / max|row|); other tensors keep their stored type (int8_float16 / int8_float32 cast them).
        The output directory must not exist or be empty; config.json, vocabulary and tokenizer files are copied.
        """
    )

    @Argument(help: "Source CTranslate2 model directory (holding model.bin).")
    var input: String

    @Argument(help: "Output directory (created; must not exist or be empty).")
    var output: String

    @Option(name: .customLong("to"), help: "Target type: int8, int8_float16, int8_float32, fp16 (float16) or fp32 (float32).")
    var type: String

    func run() throws {
        let quantization: CTranslate2Quantization
        do {
            quantization = try CTranslate2Quantization(name: type)
        } catch {
            throw CLIError("--to \(type): unsupported quantization type; supported: \(CTranslate2Quantization.supportedList)")
        }
        let summary: String
        do {
            summary = try convert(quantization)
        } catch {
            throw CLIError(error.description)
        }
        FileHandle.standardError.write(Data(summary.utf8))
    }

    private func convert(_ quantization: CTranslate2Quantization) throws(CheckpointError) -> String {
        let source = try CTranslate2Checkpoint.open(directory: input)
        try WhisperModelTransforms.quantize(source, to: quantization, output: output)
        let written = try CTranslate2Checkpoint.open(directory: output)
        let percent = 100 * Double(written.totalTensorBytes) / Double(max(source.totalTensorBytes, 1))
        return "wrote \(output)/model.bin: \(quantization.rawValue), \(written.totalTensorBytes) tensor bytes "
            + "(source \(source.totalTensorBytes), \(String(format: "%.1f", percent)) %)\n"
    }
}
