#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a complete CTranslate2 model directory: `model.bin` from a ``CTranslate2ModelWriter`` plus the
/// sidecar files of a source directory (`config.json`, `vocabulary.*`, `tokenizer.json`,
/// `preprocessor_config.json`, … — every regular file except `model.bin`), with `config.json` optionally
/// replaced.
public enum CTranslate2DirectoryWriter {
    /// Writes `writer` and the sidecars of `source` into `output`, which must not exist or be empty.
    /// On failure nothing is left behind (the directory is removed if this call created it).
    public static func write(_ writer: CTranslate2ModelWriter, sidecarsFrom source: CTranslate2Checkpoint,
                             to output: String, configJSON: [UInt8]? = nil) throws(CheckpointError) {
        var created = false
        if CT2Files.exists(output) {
            guard CT2Files.isDirectory(output) else {
                throw CheckpointError(.unreadable, path: output, message: "output exists and is not a directory")
            }
            guard entries(output).isEmpty else {
                throw CheckpointError(.unreadable, path: output,
                                      message: "output directory already exists and is not empty; remove it or choose another")
            }
        } else {
            guard mkdir(output, 0o755) == 0 else {
                throw CheckpointError(.unreadable, path: output,
                                      message: "cannot create the output directory: \(String(cString: strerror(errno)))")
            }
            created = true
        }
        var written: [String] = []
        do throws(CheckpointError) {
            for name in entries(source.directory) where name != "model.bin" {
                let from = CT2Files.join(source.directory, name)
                guard !CT2Files.isDirectory(from) else { continue }
                let to = CT2Files.join(output, name)
                let bytes: [UInt8]
                if name == "config.json", let configJSON { bytes = configJSON } else { bytes = try CT2Files.readAll(from) }
                try writeFile(bytes, to: to)
                written.append(to)
            }
            if let configJSON, !written.contains(CT2Files.join(output, "config.json")) {
                let to = CT2Files.join(output, "config.json")
                try writeFile(configJSON, to: to)
                written.append(to)
            }
            try writer.write(to: CT2Files.join(output, "model.bin"))
        } catch {
            for path in written { unlink(path) }
            if created { rmdir(output) }
            throw error
        }
    }

    /// Names in a directory, without `.` and `..`.
    static func entries(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func writeFile(_ bytes: [UInt8], to path: String) throws(CheckpointError) {
        guard let f = fopen(path, "wb") else {
            throw CheckpointError(.unreadable, path: path, message: "cannot create: \(String(cString: strerror(errno)))")
        }
        let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f)
        guard n == bytes.count, closed == 0 else {
            unlink(path)
            throw CheckpointError(.unreadable, path: path, message: "write failed: \(String(cString: strerror(errno)))")
        }
    }
}
