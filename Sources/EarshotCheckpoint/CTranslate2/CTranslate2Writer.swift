#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EarshotTensor

/// One tensor to be written: name, dtype, shape and a payload of exactly `shape.product × dtype.byteWidth`
/// little-endian bytes. The payload is borrowed; `owner` keeps it alive (a ``CTranslate2Checkpoint``'s
/// mapping, or a ``CTranslate2OwnedBuffer``).
public struct CTranslate2TensorPayload: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let bytes: UnsafeRawBufferPointer
    public let owner: AnyObject?

    public init(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, owner: AnyObject?) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.owner = owner
    }

    /// A tensor whose payload is copied from `bytes` into an owned allocation.
    public init(name: String, dtype: DType, shape: [Int], copying bytes: [UInt8]) {
        let buffer = CTranslate2OwnedBuffer(byteCount: bytes.count)
        bytes.withUnsafeBytes { buffer.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        self.init(name: name, dtype: dtype, shape: shape,
                  bytes: UnsafeRawBufferPointer(start: buffer.pointer, count: bytes.count), owner: buffer)
    }

    /// A stored tensor of a checkpoint, renamed if `name` is given (zero-copy).
    public init(_ variable: CTranslate2Variable, of checkpoint: CTranslate2Checkpoint, name: String? = nil) {
        self.init(name: name ?? variable.name, dtype: variable.dtype, shape: variable.shape,
                  bytes: variable.bytes, owner: checkpoint.file)
    }

    /// A rank-0 int16 scalar, as CTranslate2 stores `encoder/num_heads`.
    public static func int16Scalar(_ name: String, _ value: Int16) -> CTranslate2TensorPayload {
        CTranslate2TensorPayload(name: name, dtype: .int16, shape: [],
                                 copying: withUnsafeBytes(of: value.littleEndian, Array.init))
    }

    var elementCount: Int { shape.reduce(1, *) }
}

/// Writes a CTranslate2 `model.bin`, binary version 6, byte for byte as `ModelSpec._serialize` in
/// ctranslate2's `python/ctranslate2/specs/model_spec.py` does for the same content:
///
/// ```
/// u32 6, str spec_name, u32 spec_revision
/// u32 num_variables; per variable, sorted by name: str name, u8 rank, u32 dims[rank], u8 dtype_id,
///     u32 num_bytes, data
/// u32 num_aliases; per alias, sorted by alias name: str alias, str target
/// str = u16 (UTF-8 length + 1), UTF-8 bytes, NUL
/// ```
///
/// Python sorts `variables(ordered=True)` by name, i.e. by code point, which is UTF-8 byte order; this
/// writer sorts the same way. Aliases are only the ones CTranslate2 stores explicitly: the reader's implied
/// `alias_scale → target_scale` entries (see ``CTranslate2Checkpoint/aliases``) must not be added.
public struct CTranslate2ModelWriter: Sendable {
    /// The binary version written (CTranslate2's `CURRENT_BINARY_VERSION`).
    public static let binaryVersion = 6

    public var specName: String
    public var specRevision: Int
    public private(set) var tensors: [CTranslate2TensorPayload] = []
    public private(set) var aliases: [(alias: String, target: String)] = []

    public init(specName: String, specRevision: Int) {
        self.specName = specName
        self.specRevision = specRevision
    }

    /// Adds a tensor. Throws `.corrupt` if the payload size disagrees with shape and dtype, or the name is
    /// empty or taken.
    public mutating func add(_ tensor: CTranslate2TensorPayload) throws(CheckpointError) {
        guard !tensor.name.isEmpty else {
            throw CheckpointError(.corrupt, path: "model.bin", message: "a tensor needs a name")
        }
        let expected = tensor.elementCount * tensor.dtype.byteWidth
        guard tensor.bytes.count == expected else {
            throw CheckpointError(.shapeMismatch, path: "model.bin", tensor: tensor.name,
                                  message: "payload has \(tensor.bytes.count) bytes, shape \(tensor.shape) of \(tensor.dtype) needs \(expected)")
        }
        guard tensor.dtype != .int64 else {
            throw CheckpointError(.dtypeMismatch, path: "model.bin", tensor: tensor.name,
                                  message: "CTranslate2 cannot store int64 tensors")
        }
        guard tensor.shape.count <= 255, tensor.shape.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }),
              expected <= Int(UInt32.max) else {
            throw CheckpointError(.shapeMismatch, path: "model.bin", tensor: tensor.name,
                                  message: "shape \(tensor.shape) does not fit the model.bin format (u8 rank, u32 dims, u32 byte count)")
        }
        guard !contains(tensor.name) else {
            throw CheckpointError(.corrupt, path: "model.bin", tensor: tensor.name, message: "tensor added twice")
        }
        tensors.append(tensor)
    }

    /// Adds an alias (a name that shares the storage of `target`, which must be a tensor or earlier alias).
    public mutating func addAlias(_ alias: String, target: String) throws(CheckpointError) {
        guard !contains(alias) else {
            throw CheckpointError(.corrupt, path: "model.bin", tensor: alias, message: "alias name is already used")
        }
        guard contains(target) else {
            throw CheckpointError(.missingTensor, path: "model.bin", tensor: alias,
                                  message: "alias target '\(target)' is not in the model")
        }
        aliases.append((alias, target))
    }

    /// Whether a tensor or alias of this name was added.
    public func contains(_ name: String) -> Bool {
        tensors.contains { $0.name == name } || aliases.contains { $0.alias == name }
    }

    /// The header and payload pieces in file order (payloads borrowed, not copied).
    private func pieces(_ emit: (UnsafeRawBufferPointer) -> Bool) {
        var header: [UInt8] = []
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { header.append(contentsOf: $0) } }
        func string(_ s: String) {
            let utf8 = Array(s.utf8)
            withUnsafeBytes(of: UInt16(utf8.count + 1).littleEndian) { header.append(contentsOf: $0) }
            header.append(contentsOf: utf8)
            header.append(0)
        }
        func flush() -> Bool {
            let ok = header.withUnsafeBytes { emit($0) }
            header.removeAll(keepingCapacity: true)
            return ok
        }
        u32(Self.binaryVersion)
        string(specName)
        u32(specRevision)
        let sorted = tensors.sorted { Self.codePointLess($0.name, $1.name) }
        u32(sorted.count)
        for t in sorted {
            string(t.name)
            header.append(UInt8(t.shape.count))
            for d in t.shape { u32(d) }
            header.append(t.dtype.rawValue)
            u32(t.bytes.count)
            guard flush() else { return }
            if t.bytes.count > 0 { guard emit(t.bytes) else { return } }
        }
        let sortedAliases = aliases.sorted { Self.codePointLess($0.alias, $1.alias) }
        u32(sortedAliases.count)
        for a in sortedAliases {
            string(a.alias)
            string(a.target)
        }
        _ = flush()
    }

    /// The whole file in memory (for tests and small models).
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        pieces { out.append(contentsOf: $0); return true }
        return out
    }

    /// Total file size in bytes.
    public var fileSize: Int {
        var n = 0
        pieces { n += $0.count; return true }
        return n
    }

    /// Writes the file to `path` through a temporary file beside it and a rename, so that a failure never
    /// leaves a partial `model.bin`.
    public func write(to path: String) throws(CheckpointError) {
        let temporary = path + ".partial-\(getpid())"
        guard let file = fopen(temporary, "wb") else {
            throw CheckpointError(.unreadable, path: temporary,
                                  message: "cannot create: \(String(cString: strerror(errno)))")
        }
        var failure: String?
        pieces { chunk in
            var offset = 0
            while offset < chunk.count {
                let n = fwrite(chunk.baseAddress! + offset, 1, chunk.count - offset, file)
                if n == 0 {
                    failure = String(cString: strerror(errno))
                    return false
                }
                offset += n
            }
            return true
        }
        if failure == nil && (fflush(file) != 0 || fsync(fileno(file)) != 0) {
            failure = String(cString: strerror(errno))
        }
        if let failure {
            fclose(file)
            unlink(temporary)
            throw CheckpointError(.unreadable, path: temporary, message: "write failed: \(failure) (disk full?)")
        }
        fclose(file)
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CheckpointError(.unreadable, path: path, message: "cannot move model.bin into place: \(reason)")
        }
    }

    /// Python's string order (code points) = UTF-8 byte order.
    static func codePointLess(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

extension CTranslate2Checkpoint {
    /// The aliases CTranslate2 stored explicitly in `model.bin` (without the implied `_scale` entries the
    /// reader adds), as `(alias, target)` sorted by alias.
    public var storedAliases: [(alias: String, target: String)] {
        aliases.filter { alias, target in
            // Implied: "<a>_scale" → "<t>_scale" where "<a>" → "<t>" is itself an alias.
            guard alias.hasSuffix("_scale"), target.hasSuffix("_scale") else { return true }
            let base = String(alias.dropLast(6))
            return aliases[base] == nil || aliases[base]! + "_scale" != target
        }
        .map { (alias: $0.key, target: $0.value) }
        .sorted { CTranslate2ModelWriter.codePointLess($0.alias, $1.alias) }
    }

    /// A writer holding every stored tensor and explicit alias of this checkpoint unchanged (zero-copy):
    /// writing it reproduces a version-6 `model.bin` byte for byte.
    public func writerCopy() throws(CheckpointError) -> CTranslate2ModelWriter {
        var writer = CTranslate2ModelWriter(specName: specName, specRevision: specRevision)
        for name in variableNames {
            try writer.add(CTranslate2TensorPayload(variable(name)!, of: self))
        }
        for a in storedAliases { try writer.addAlias(a.alias, target: a.target) }
        return writer
    }
}
