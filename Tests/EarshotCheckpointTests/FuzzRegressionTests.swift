import Foundation
import Testing
import EarshotCheckpoint
import EarshotText

/// Inputs found by the fuzzers (Fuzz/, docs/reliability.md), committed under Fuzz/regressions/: each must
/// give a clear error, not a crash, a trap or a huge allocation.
@Suite struct CheckpointFuzzRegressionTests {
    static func regression(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions/\(name)").path
    }

    @Test("a ZIP64 entry count the file cannot hold is refused before it sizes anything (FuzzPyTorch out-of-memory)")
    func zip64EntryCount() throws {
        let path = Self.regression("zip64-entry-count.pt")
        let error = #expect(throws: CheckpointError.self) { try PyTorchCheckpoint(path: path) }
        #expect(error?.code == .truncated)
        #expect(error?.message.contains("4294967296 entries") == true, "\(String(describing: error))")
        let huge = #expect(throws: CheckpointError.self) { try PyTorchCheckpoint(path: Self.regression("zip64-count-over-int-max.pt")) }
        #expect(huge?.code == .corrupt)
        #expect(huge?.message.contains("ZIP64 entry count") == true, "\(String(describing: huge))")
    }

    @Test("a pickle string length above Int.max is an error, not a trap (FuzzPyTorch crash)")
    func pickleStringLength() throws {
        let error = #expect(throws: CheckpointError.self) { try PyTorchCheckpoint(path: Self.regression("pickle-binunicode8-length.pt")) }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("BINUNICODE8") == true, "\(String(describing: error))")
    }

    @Test("a pickled list or dict that contains itself is refused: a cycle ARC would leak (FuzzPyTorch leak)",
          arguments: ["pickle-self-containing-list.pt", "pickle-self-containing-dict.pt"])
    func pickleSelfReference(file: String) throws {
        let error = #expect(throws: CheckpointError.self) { try PyTorchCheckpoint(path: Self.regression(file)) }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("contains itself") == true, "\(String(describing: error))")
    }

    @Test("a CTranslate2 tensor whose byte count overflows is refused (no trap)")
    func ct2ByteCountOverflow() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("earshot-fuzz-ct2-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: Self.regression("ct2-byte-count-overflow.bin"), toPath: dir + "/model.bin")
        let error = #expect(throws: CheckpointError.self) { try CTranslate2Checkpoint.open(directory: dir) }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("more than 2^63") == true, "\(String(describing: error))")
    }

    @Test("YAML: an empty file is refused without reading it (leak), a 1e300 integer is an error (trap)")
    func yaml() throws {
        let empty = #expect(throws: CheckpointError.self) { try YAMLConfig(path: Self.regression("empty.yaml")) }
        #expect(empty?.code == .invalidConfiguration)
        #expect(empty?.message.contains("empty file") == true)
        let config = try YAMLConfig(path: Self.regression("int-1e300.yaml"))
        let error = #expect(throws: CheckpointError.self) { try config.int("frontend_conf.n_mels", default: 80) }
        #expect(error?.code == .invalidConfiguration)
        #expect(try config.double("frontend_conf.n_mels", default: 0) == 1e300)
    }

    @Test("tokenizer.json: a token id outside 0...2^20-1 is refused before it sizes the vocabulary (FuzzTokenizer crash)")
    func tokenizerIDs() throws {
        for (file, id) in [("tokenizer-id-1e18.json", "1000000000000000000"), ("tokenizer-id-negative.json", "-1")] {
            let error = #expect(throws: TokenizerError.self) {
                try WhisperTokenizer(vocabularyPath: nil, tokenizerJSONPath: Self.regression(file))
            }
            #expect(error?.message.contains("token id \(id)") == true, "\(String(describing: error))")
        }
    }
}

/// Whole-file reads of small files (docs/reliability.md, "Leaks found and fixed").
@Suite struct FileBytesTests {
    @Test("an empty file reads as empty data without Foundation's leaking read; a missing one as nil; others whole")
    func reads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("earshot-filebytes-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/empty", contents: Data())
        FileManager.default.createFile(atPath: dir + "/three", contents: Data([1, 2, 3]))
        #expect(FileBytes.read(dir + "/empty") == Data())
        #expect(FileBytes.read(dir + "/three") == Data([1, 2, 3]))
        #expect(FileBytes.read(dir + "/missing") == nil)
    }
}
