import EarshotCheckpoint
import Foundation

/// The first step of loading a ModelScope-style FunASR model directory (Paraformer, CT-Transformer): the
/// directory exists and holds every file the model needs, and its `config.yaml` parses.
enum ModelDirectoryFiles {
    /// Reads `directory/config.yaml` after checking `requiredFiles`.
    /// - Parameters:
    ///   - noun: what the directory is called in errors ("model", "punctuation model").
    ///   - family: the FunASR class family named in errors ("Paraformer", "CT-Transformer").
    /// - Throws: `FunASRError` naming the directory or the missing file and listing what is needed.
    static func readConfig(_ directory: String, requiredFiles: [String], noun: String,
                           family: String) throws(FunASRError) -> YAMLConfig {
        let holds = "a FunASR \(family) directory holds \(requiredFiles.joined(separator: ", "))"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw FunASRError(.model, "\(directory): no such \(noun) directory (\(holds))")
        }
        for file in requiredFiles where !FileManager.default.fileExists(atPath: directory + "/" + file) {
            throw FunASRError(.model, "\(directory)/\(file): missing from the \(noun) directory (\(holds), as ModelScope ships it)")
        }
        do { return try YAMLConfig(path: directory + "/config.yaml") } catch { throw FunASRError(error) }
    }
}
