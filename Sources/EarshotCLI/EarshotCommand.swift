import ArgumentParser

/// The `earshot` command: speech recognition that fits in the memory you give it.
@main
struct EarshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "earshot",
        abstract: "Speech recognition in bounded memory: VAD, batched Whisper, memory reports.",
        subcommands: [TranscribeCommand.self, ServeCommand.self, VADCommand.self, DiarizeCommand.self, InspectCommand.self, ModelsCommand.self,
                      QuantizeCommand.self, PruneCommand.self, TuneCommand.self]
    )
}
