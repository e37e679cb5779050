import Foundation
@testable import EarshotCheckpoint
import EarshotTensor

/// A minimal CTranslate2 `model.bin` writer for tests, able to write every binary version (1...6) and to
/// produce deliberately broken files.
struct CT2TestWriter {
    /// One tensor to write.
    struct Tensor {
        var name: String
        var dtype: DType
        var shape: [Int]
        var payload: [UInt8]
        /// Overrides the stored byte count (v>=4) or element count (v<4), to make size mismatches.
        var storedSizeOverride: Int? = nil
    }

    var version: Int = 6
    var specName: String = "WhisperSpec"
    var specRevision: Int = 3
    var tensors: [Tensor] = []
    var aliases: [(String, String)] = []

    mutating func add(_ name: String, float32 values: [Float], shape: [Int]) {
        tensors.append(Tensor(name: name, dtype: .float32, shape: shape,
                              payload: values.flatMap { le($0.bitPattern) }))
    }

    mutating func add(_ name: String, float16 bits: [UInt16], shape: [Int]) {
        tensors.append(Tensor(name: name, dtype: .float16, shape: shape, payload: bits.flatMap { le($0) }))
    }

    mutating func add(_ name: String, bfloat16 bits: [UInt16], shape: [Int]) {
        tensors.append(Tensor(name: name, dtype: .bfloat16, shape: shape, payload: bits.flatMap { le($0) }))
    }

    mutating func add(_ name: String, int8 values: [Int8], shape: [Int]) {
        tensors.append(Tensor(name: name, dtype: .int8, shape: shape, payload: values.map { UInt8(bitPattern: $0) }))
    }

    mutating func add(_ name: String, int16 values: [Int16], shape: [Int]) {
        tensors.append(Tensor(name: name, dtype: .int16, shape: shape, payload: values.flatMap { le(UInt16(bitPattern: $0)) }))
    }

    mutating func add(_ name: String, int32 values: [Int32], shape: [Int]) {
        tensors.append(Tensor(name: name, dtype: .int32, shape: shape, payload: values.flatMap { le(UInt32(bitPattern: $0)) }))
    }

    /// The file's bytes.
    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out += le(UInt32(version))
        if version >= 2 {
            out += string(specName)
            out += le(UInt32(specRevision))
        }
        out += le(UInt32(tensors.count))
        for t in tensors {
            out += string(t.name)
            out.append(UInt8(t.shape.count))
            for d in t.shape { out += le(UInt32(d)) }
            if version >= 4 {
                out.append(t.dtype.rawValue)
                out += le(UInt32(t.storedSizeOverride ?? t.payload.count))
            } else {
                out.append(UInt8(t.dtype.byteWidth))
                out += le(UInt32(t.storedSizeOverride ?? t.payload.count / t.dtype.byteWidth))
            }
            out += t.payload
        }
        if version >= 3 {
            out += le(UInt32(aliases.count))
            for (alias, target) in aliases {
                out += string(alias)
                out += string(target)
            }
        }
        return out
    }

    private func string(_ s: String) -> [UInt8] {
        let utf8 = Array(s.utf8)
        return le(UInt16(utf8.count + 1)) + utf8 + [0]
    }
}

func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
}

/// A temporary directory removed when the value is deinitialised.
final class TemporaryModelDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "earshot-ct2-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `model.bin` (and optionally other files) and returns the directory path.
    @discardableResult
    func write(model: [UInt8]?, files: [String: String] = [:]) -> String {
        if let model {
            _ = FileManager.default.createFile(atPath: path + "/model.bin", contents: Data(model))
        }
        for (name, text) in files {
            _ = FileManager.default.createFile(atPath: path + "/" + name, contents: Data(text.utf8))
        }
        return path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// IEEE half bits of a Float (round to nearest even; test helper for normal-range values).
func halfBits(_ f: Float) -> UInt16 {
    #if arch(x86_64) || arch(arm64)
    return Float16(f).bitPattern
    #else
    fatalError("Float16 unavailable")
    #endif
}

/// The cache directory holding the real models (env `EARSHOT_CACHE`, default `~/.cache/earshot`).
func earshotCache() -> String {
    if let env = ProcessInfo.processInfo.environment["EARSHOT_CACHE"], !env.isEmpty { return env }
    return NSHomeDirectory() + "/.cache/earshot"
}

/// The path of a real model directory, or a failure message telling how to fetch it.
func realModelDirectory(_ name: String) -> (path: String, missing: String?) {
    let dir = earshotCache() + "/models/" + name
    if FileManager.default.fileExists(atPath: dir + "/model.bin") { return (dir, nil) }
    return (dir, "model \(name) is missing from \(dir): run scripts/fetch-assets.sh (or set EARSHOT_CACHE)")
}
