import Foundation
import Yams

/// A YAML configuration file (e.g. FunASR's `config.yaml`) parsed with Yams, with typed look-ups by
/// dotted key path that throw `CheckpointError.invalidConfiguration` naming the file and key.
public struct YAMLConfig: @unchecked Sendable {
    /// The file's path.
    public let path: String
    /// The document's root node.
    public let root: Node

    /// Reads and parses `path`.
    /// - Throws: `.fileNotFound`, `.unreadable` or `.invalidConfiguration` (YAML syntax error, with its position).
    public init(path: String) throws(CheckpointError) {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw CheckpointError(.fileNotFound, path: path, message: "no such file")
        }
        // An empty file is refused before reading: FileManager.contents(atPath:) leaks its 4 KB buffer on a
        // 0-byte file (swift-foundation, Swift 6.3; found by FuzzYAML under LeakSanitizer).
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
            throw CheckpointError(.invalidConfiguration, path: path, message: "empty file (0 bytes); expected a YAML configuration — re-download the model")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CheckpointError(.unreadable, path: path, message: "cannot read as UTF-8 text")
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw CheckpointError(.invalidConfiguration, path: path, message: "empty YAML document")
            }
            root = node
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(.invalidConfiguration, path: path, message: "not valid YAML: \(error)")
        }
    }

    /// The node at `keyPath` ("model_conf.max_end_silence_time"), or nil.
    public func node(_ keyPath: String) -> Node? {
        var node: Node? = root
        for part in keyPath.split(separator: ".") { node = node?[String(part)] }
        return node
    }

    private func bad(_ keyPath: String, _ expected: String) -> CheckpointError {
        CheckpointError(.invalidConfiguration, path: path, message: "key '\(keyPath)' should be \(expected), found '\(node(keyPath)?.string ?? "?")'")
    }

    /// Integer at `keyPath`; `defaultValue` when absent.
    public func int(_ keyPath: String, default defaultValue: Int) throws(CheckpointError) -> Int {
        guard let n = node(keyPath) else { return defaultValue }
        if let v = n.int { return v }
        if let d = n.float, d == d.rounded(), let v = Int(exactly: d) { return v }
        throw bad(keyPath, "an integer")
    }

    /// Number at `keyPath`; `defaultValue` when absent.
    public func double(_ keyPath: String, default defaultValue: Double) throws(CheckpointError) -> Double {
        guard let n = node(keyPath) else { return defaultValue }
        guard let v = n.float else { throw bad(keyPath, "a number") }
        return v
    }

    /// Boolean (also 0/1) at `keyPath`; `defaultValue` when absent.
    public func bool(_ keyPath: String, default defaultValue: Bool) throws(CheckpointError) -> Bool {
        guard let n = node(keyPath) else { return defaultValue }
        if let b = n.bool { return b }
        if let i = n.int { return i != 0 }
        throw bad(keyPath, "true or false")
    }

    /// String at `keyPath`; `defaultValue` when absent.
    public func string(_ keyPath: String, default defaultValue: String) throws(CheckpointError) -> String {
        guard let n = node(keyPath) else { return defaultValue }
        guard let s = n.string else { throw bad(keyPath, "a string") }
        return s
    }

    /// List of integers at `keyPath`; `defaultValue` when absent.
    public func ints(_ keyPath: String, default defaultValue: [Int]) throws(CheckpointError) -> [Int] {
        guard let n = node(keyPath) else { return defaultValue }
        guard let seq = n.sequence else { throw bad(keyPath, "a list of integers") }
        var out: [Int] = []
        for item in seq {
            guard let v = item.int else { throw bad(keyPath, "a list of integers") }
            out.append(v)
        }
        return out
    }

    /// List of strings at `keyPath` (scalars read as written: `- _`, `- <unk>`, `- '?'`); `defaultValue` when absent.
    public func strings(_ keyPath: String, default defaultValue: [String]) throws(CheckpointError) -> [String] {
        guard let n = node(keyPath) else { return defaultValue }
        guard let seq = n.sequence else { throw bad(keyPath, "a list of strings") }
        var out: [String] = []
        for item in seq {
            guard let v = item.string else { throw bad(keyPath, "a list of strings") }
            out.append(v)
        }
        return out
    }
}
