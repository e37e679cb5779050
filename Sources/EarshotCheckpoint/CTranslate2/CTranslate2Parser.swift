#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EarshotTensor

/// Parses the `model.bin` layout written by CTranslate2's `ModelSpec._serialize`:
///
/// ```
/// u32 binary_version
/// [v>=2] str spec_name, u32 spec_revision
/// u32 num_variables, then per variable:
///   str name, u8 rank, u32 dims[rank],
///   v>=4: u8 dtype_id, u32 num_bytes      v<4: u8 item_size, u32 num_elements
///   u8 data[...]
/// [v>=3] u32 num_aliases, then (str alias, str target) pairs
/// str = u16 length including the NUL, bytes, NUL
/// ```
enum CTranslate2Parser {
    /// Parses a whole mapped `model.bin`. `path` is used in error messages.
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws(CheckpointError) -> ParsedModel {
        var reader = BinaryReader(bytes: bytes, path: path)
        if bytes.count >= 4 {
            if let kind = foreignFormat(bytes) {
                throw CheckpointError(.notAModel, path: path,
                                      message: "this is \(kind), not a CTranslate2 model.bin")
            }
        }
        let version = Int(try reader.readInteger(as: UInt32.self, what: "the binary version"))
        if version == 0 || version > 0xFFFF {
            throw CheckpointError(.notAModel, path: path,
                                  message: "does not start with a CTranslate2 binary version (read \(version)); not a CTranslate2 model.bin, or the file is damaged")
        }
        if version > CTranslate2Checkpoint.newestBinaryVersion {
            throw CheckpointError(.unsupportedVersion, path: path,
                                  message: "binary version \(version) is newer than this reader supports (1...\(CTranslate2Checkpoint.newestBinaryVersion)); the model was written by a newer CTranslate2 converter")
        }
        var specName = ""
        var specRevision = 1
        if version >= 2 {
            specName = try readString(&reader, what: "the spec name")
            specRevision = Int(try reader.readInteger(as: UInt32.self, what: "the spec revision"))
        }

        let count = Int(try reader.readInteger(as: UInt32.self, what: "the variable count"))
        // Each variable takes at least 2+1+1+1+4 bytes (a one-character name); reject absurd counts early.
        if count > reader.remaining / 9 + 1 {
            throw CheckpointError(.truncated, path: path,
                                  message: "header announces \(count) variables but only \(reader.remaining) bytes follow; the file is truncated or not a CTranslate2 model.bin")
        }
        var variables: [String: CTranslate2Variable] = [:]
        variables.reserveCapacity(count)
        for number in 0..<count {
            let variable = try readVariable(&reader, version: version, number: number, path: path)
            if variables[variable.name] != nil {
                throw CheckpointError(.corrupt, path: path, tensor: variable.name, message: "tensor is stored twice")
            }
            variables[variable.name] = variable
        }

        var aliases: [String: String] = [:]
        if version >= 3 {
            let aliasCount = Int(try reader.readInteger(as: UInt32.self, what: "the alias count"))
            if aliasCount > reader.remaining / 6 + 1 {
                throw CheckpointError(.truncated, path: path,
                                      message: "header announces \(aliasCount) aliases but only \(reader.remaining) bytes follow")
            }
            for number in 0..<aliasCount {
                let alias = try readString(&reader, what: "the name of alias #\(number)")
                let target = try readString(&reader, what: "the target of alias '\(alias)'")
                // Targets may themselves be aliases registered earlier (CTranslate2 looks names up in its
                // index, which already holds earlier aliases).
                guard let resolved = variables[target] != nil ? target : aliases[target] else {
                    throw CheckpointError(.corrupt, path: path, tensor: alias,
                                          message: "alias points at '\(target)', which is not stored in the file")
                }
                if variables[alias] != nil {
                    throw CheckpointError(.corrupt, path: path, tensor: alias,
                                          message: "name is both a stored tensor and an alias of '\(target)'")
                }
                aliases[alias] = resolved
                // CTranslate2 also aliases the quantization scale of the target, if there is one.
                let scaleTarget = resolved + "_scale"
                if variables[scaleTarget] != nil && variables[alias + "_scale"] == nil {
                    aliases[alias + "_scale"] = scaleTarget
                }
            }
        }
        return ParsedModel(binaryVersion: version, specName: specName, specRevision: specRevision,
                           variables: variables, aliases: aliases)
    }

    /// Recognises files that are some other model format, by their magic bytes.
    private static func foreignFormat(_ bytes: UnsafeRawBufferPointer) -> String? {
        let b0 = bytes[0], b1 = bytes[1], b2 = bytes[2], b3 = bytes[3]
        if b0 == 0x50 && b1 == 0x4B && b2 == 0x03 && b3 == 0x04 { return "a zip archive (a PyTorch checkpoint?)" }
        if b0 == 0x80 && (2...5).contains(b1) { return "a Python pickle (a legacy PyTorch checkpoint?)" }
        if b0 == 0x47 && b1 == 0x47 && b2 == 0x55 && b3 == 0x46 { return "a GGUF file (llama.cpp / whisper.cpp)" }
        if b0 == 0x6C && b1 == 0x6D && b2 == 0x67 && b3 == 0x67 { return "a GGML file (whisper.cpp)" }
        if b0 == 0x89 && b1 == 0x48 && b2 == 0x44 && b3 == 0x46 { return "an HDF5 file" }
        if b0 == 0x7B { return "a text/JSON file" }
        return nil
    }

    private static func readString(_ reader: inout BinaryReader, what: String) throws(CheckpointError) -> String {
        let start = reader.offset
        let length = Int(try reader.readInteger(as: UInt16.self, what: "the length of \(what)"))
        guard length >= 1 else {
            throw CheckpointError(.corrupt, path: reader.path,
                                  message: "\(what) at byte \(start) has length 0 (a stored string always ends with a NUL)")
        }
        let raw = try reader.readBytes(length, what: what)
        guard raw[length - 1] == 0 else {
            throw CheckpointError(.corrupt, path: reader.path,
                                  message: "\(what) at byte \(start) is not NUL-terminated; the file is damaged or not a CTranslate2 model.bin")
        }
        let body = UnsafeRawBufferPointer(rebasing: raw[0..<(length - 1)])
        guard !body.contains(0), let text = String(validating: body, as: UTF8.self) else {
            throw CheckpointError(.corrupt, path: reader.path,
                                  message: "\(what) at byte \(start) is not valid UTF-8 text; the file is damaged or not a CTranslate2 model.bin")
        }
        return text
    }

    private static func readVariable(_ reader: inout BinaryReader, version: Int, number: Int,
                                     path: String) throws(CheckpointError) -> CTranslate2Variable {
        let name = try readString(&reader, what: "the name of tensor #\(number)")
        if name.isEmpty {
            throw CheckpointError(.corrupt, path: path, message: "tensor #\(number) has an empty name")
        }
        let rank = Int(try reader.readInteger(as: UInt8.self, what: "the rank of '\(name)'"))
        var shape: [Int] = []
        shape.reserveCapacity(rank)
        var elements = 1
        for axis in 0..<rank {
            let dim = Int(try reader.readInteger(as: UInt32.self, what: "dimension \(axis) of '\(name)'"))
            shape.append(dim)
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            if overflow {
                throw CheckpointError(.corrupt, path: path, tensor: name, message: "shape \(shape) overflows")
            }
            elements = product
        }

        let dtype: DType
        let byteCount: Int
        if version >= 4 {
            let id = try reader.readInteger(as: UInt8.self, what: "the dtype of '\(name)'")
            guard let known = DType(rawValue: id), known != .int64 else {
                throw CheckpointError(.corrupt, path: path, tensor: name,
                                      message: "unknown dtype id \(id) (CTranslate2 defines 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16)")
            }
            dtype = known
            byteCount = Int(try reader.readInteger(as: UInt32.self, what: "the byte count of '\(name)'"))
            let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.byteWidth)
            if overflow || byteCount != expected {
                throw CheckpointError(.corrupt, path: path, tensor: name,
                                      message: "invalid payload size: \(byteCount) bytes stored for shape \(shape) of \(dtype) (expected \(overflow ? "more than 2^63" : String(expected)))")
            }
        } else {
            // Binary versions 1-3: the dtype is guessed from the item size, as CTranslate2 itself does.
            let itemSize = try reader.readInteger(as: UInt8.self, what: "the item size of '\(name)'")
            switch itemSize {
            case 4: dtype = .float32
            case 2: dtype = .int16
            case 1: dtype = .int8
            default:
                throw CheckpointError(.corrupt, path: path, tensor: name,
                                      message: "unknown item size \(itemSize) (binary version \(version) allows 1, 2 or 4)")
            }
            let stored = Int(try reader.readInteger(as: UInt32.self, what: "the element count of '\(name)'"))
            if stored != elements {
                throw CheckpointError(.corrupt, path: path, tensor: name,
                                      message: "invalid payload size: \(stored) elements stored for shape \(shape) (expected \(elements))")
            }
            byteCount = stored * Int(itemSize)
        }
        let offset = reader.offset
        let payload: UnsafeRawBufferPointer
        do {
            payload = try reader.readBytes(byteCount, what: "the data of '\(name)'")
        } catch {
            throw CheckpointError(error.code, path: path, tensor: name, message: error.message)
        }
        return CTranslate2Variable(name: name, dtype: dtype, shape: shape, bytes: payload, fileOffset: offset)
    }
}

/// Small file-system helpers (POSIX) used by the CTranslate2 reader.
enum CT2Files {
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Reads a whole (small) file.
    static func readAll(_ path: String) throws(CheckpointError) -> [UInt8] {
        let file = try MappedFile(path: path)
        return Array(file.bytes)
    }
}
