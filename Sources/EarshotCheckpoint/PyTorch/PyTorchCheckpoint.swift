/// Element types of PyTorch storages, named after the storage classes `torch.save` pickles.
public enum PyTorchDType: String, Sendable, CaseIterable {
    case float32 = "FloatStorage", float16 = "HalfStorage", bfloat16 = "BFloat16Storage", float64 = "DoubleStorage"
    case int64 = "LongStorage", int32 = "IntStorage", int16 = "ShortStorage", int8 = "CharStorage"
    case uint8 = "ByteStorage", bool = "BoolStorage"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }
}

/// One tensor of a PyTorch checkpoint: a strided view into a storage that stays in the memory-mapped file.
public struct PyTorchTensor: @unchecked Sendable {
    /// Dotted key in the checkpoint (nested dicts joined with ".").
    public internal(set) var name: String
    /// Element type.
    public let dtype: PyTorchDType
    /// Sizes, outermost first.
    public let shape: [Int]
    /// Strides in elements.
    public let strides: [Int]
    /// Offset of element 0 in the storage, in elements.
    public let storageOffset: Int
    /// The whole storage's bytes (a view into the mapped file).
    public let storage: UnsafeRawBufferPointer
    /// The checkpoint file, for error messages.
    public let path: String

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Whether the elements are laid out row-major without gaps.
    public var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() where size != 1 {
            if stride != expected { return false }
            expected *= size
        }
        return true
    }

    /// The elements in row-major order, widened or narrowed to `Float` (bf16/f16/integers converted).
    public func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            var index = [Int](repeating: 0, count: shape.count)
            for i in 0..<count {
                var element = storageOffset
                for d in 0..<shape.count { element += index[d] * strides[d] }
                buffer[i] = load(element)
                var d = shape.count - 1
                while d >= 0 {
                    index[d] += 1
                    if index[d] < shape[d] { break }
                    index[d] = 0
                    d -= 1
                }
            }
            initialized = count
        }
    }

    /// Element `i` of the storage, as `Float`.
    private func load(_ i: Int) -> Float {
        let o = i * dtype.size
        switch dtype {
        case .float32: return storage.loadUnaligned(fromByteOffset: o, as: Float.self)
        case .float64: return Float(storage.loadUnaligned(fromByteOffset: o, as: Double.self))
        case .float16: return Float(Float16(bitPattern: storage.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
        case .bfloat16:
            return Float(bitPattern: UInt32(storage.loadUnaligned(fromByteOffset: o, as: UInt16.self)) << 16)
        case .int64: return Float(storage.loadUnaligned(fromByteOffset: o, as: Int64.self))
        case .int32: return Float(storage.loadUnaligned(fromByteOffset: o, as: Int32.self))
        case .int16: return Float(storage.loadUnaligned(fromByteOffset: o, as: Int16.self))
        case .int8: return Float(storage.loadUnaligned(fromByteOffset: o, as: Int8.self))
        case .uint8, .bool: return Float(storage.load(fromByteOffset: o, as: UInt8.self))
        }
    }
}

/// A PyTorch checkpoint opened with `mmap`: the pickled object is decoded once, tensors stay views into the
/// mapped file until converted. Both `torch.save` formats are read: the zip format (PyTorch ≥ 1.6) and the
/// legacy stream of pickles (magic number, protocol 1001, system info, the object, the storage keys, then
/// each storage's element count and bytes; `PyTorchCheckpoint+Legacy.swift`).
///
/// Supported: persistent-id storages, `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter`,
/// float/half/bfloat16/double/long/int/short/char/byte/bool storages, nested dicts (`OrderedDict` or plain),
/// lists and tuples of tensors (keys get the index, e.g. `layers.0`). Anything else in the pickle is kept
/// as an opaque value and does not stop loading.
public final class PyTorchCheckpoint: @unchecked Sendable {
    /// The checkpoint's path.
    public let path: String
    /// Every tensor, by dotted key, in file order.
    public let tensors: [PyTorchTensor]
    /// The decoded top-level object.
    public let root: PickleValue
    private let file: MappedFile
    private let byName: [String: Int]

    /// Opens and decodes `path`.
    /// - Throws: `CheckpointError` naming the file (and tensor) when it is missing, not a torch zip,
    ///   truncated, or uses a pickle feature outside the state-dict subset.
    public init(path: String) throws(CheckpointError) {
        self.path = path
        let file = try MappedFile(path: path)
        self.file = file
        let root: PickleValue
        if file.bytes.count >= 2 && file.bytes[0] == 0x80 && file.bytes[1] <= 5 {
            root = try Self.loadLegacy(file.bytes, path: path)
        } else {
            root = try Self.loadZip(file.bytes, path: path)
        }
        self.root = root
        var found: [PyTorchTensor] = []
        Self.collect(root, prefix: "", into: &found)
        self.tensors = found
        var byName: [String: Int] = [:]
        for (i, t) in found.enumerated() { byName[t.name] = i }
        self.byName = byName
    }

    private static func loadZip(_ bytes: UnsafeRawBufferPointer, path: String) throws(CheckpointError) -> PickleValue {
        let zip = try ZipArchive(bytes: bytes, path: path)
        guard let pkl = zip.entries.first(where: { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }) else {
            throw CheckpointError(.notAModel, path: path, message: "ZIP archive without a data.pkl entry; not a PyTorch checkpoint")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        let pickleBytes = try zip.data(of: pkl)
        var machine = PickleMachine(
            bytes: pickleBytes, path: path,
            persistentLoad: { (pid) throws(CheckpointError) -> PickleValue in
                try Self.storage(pid, path: path)
            },
            reduce: { (module, name, args) throws(CheckpointError) -> PickleValue in
                try Self.reduce(module, name, args, path: path) { (ref) throws(CheckpointError) in
                    let entryName = prefix + "data/" + ref.key
                    guard let entry = zip.entry(named: entryName) else {
                        throw CheckpointError(.truncated, path: path, message: "storage '\(entryName)' is missing from the archive")
                    }
                    return (try zip.data(of: entry), entryName)
                }
            })
        return try machine.run()
    }

    /// The tensor called `name`.
    /// - Throws: `.missingTensor` naming the file and the key.
    public func tensor(_ name: String) throws(CheckpointError) -> PyTorchTensor {
        guard let i = byName[name] else {
            throw CheckpointError(.missingTensor, path: path, tensor: name,
                                  message: "not in the checkpoint (it has \(tensors.count) tensors); the file is not this model or is damaged")
        }
        return tensors[i]
    }

    /// The tensor called `name` as `Float`s, after checking its shape.
    /// - Throws: `.missingTensor` or `.shapeMismatch`, naming the file and the tensor.
    public func floats(_ name: String, shape: [Int]) throws(CheckpointError) -> [Float] {
        let t = try tensor(name)
        guard t.shape == shape else {
            throw CheckpointError(.shapeMismatch, path: path, tensor: name,
                                  message: "has shape \(t.shape), expected \(shape); the checkpoint does not match config.yaml")
        }
        return t.floats()
    }

    static func storage(_ pid: PickleValue, path: String) throws(CheckpointError) -> PickleValue {
        // ('storage', <class torch.XStorage>, key, location, numel)
        guard case .tuple(let t) = pid, t.count >= 5, t[0].string == "storage",
              case .global(_, let className) = t[1], let key = t[2].string, let count = t[4].int else {
            throw CheckpointError(.corrupt, path: path, message: "unexpected persistent id \(pid) (expected a tensor storage)")
        }
        guard let dtype = PyTorchDType(rawValue: className) else {
            throw CheckpointError(.unsupportedVersion, path: path, message: "storage type torch.\(className) is not supported")
        }
        return .storage(PyTorchStorageRef(key: key, dtype: dtype, count: count))
    }

    /// Where a storage's bytes are: the bytes and a name for messages.
    typealias StorageLookup = (PyTorchStorageRef) throws(CheckpointError) -> (UnsafeRawBufferPointer, String)

    static func reduce(_ module: String, _ name: String, _ args: [PickleValue], path: String,
                       lookup: StorageLookup) throws(CheckpointError) -> PickleValue {
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            return .tensor(try rebuildTensor(args, path: path, lookup: lookup))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            return args.first ?? .none
        case ("collections", "OrderedDict"), ("builtins", "dict"):
            return .dict(PickleDict())
        default:
            return .object("\(module).\(name)", args)
        }
    }

    private static func rebuildTensor(_ args: [PickleValue], path: String,
                                      lookup: StorageLookup) throws(CheckpointError) -> PyTorchTensor {
        guard args.count >= 4, case .storage(let ref) = args[0], let offset = args[1].int,
              case .tuple(let sizeValues) = args[2], case .tuple(let strideValues) = args[3] else {
            throw CheckpointError(.corrupt, path: path, message: "malformed _rebuild_tensor_v2 arguments")
        }
        let shape = sizeValues.compactMap(\.int), strides = strideValues.compactMap(\.int)
        guard shape.count == sizeValues.count, strides.count == shape.count else {
            throw CheckpointError(.corrupt, path: path, message: "tensor sizes/strides are not integers")
        }
        let (data, entryName) = try lookup(ref)
        guard data.count >= ref.count * ref.dtype.size else {
            throw CheckpointError(.truncated, path: path,
                                  message: "storage '\(entryName)' has \(data.count) bytes, \(ref.count * ref.dtype.size) expected")
        }
        var last = offset
        for (s, st) in zip_(shape, strides) where s > 0 { last += (s - 1) * st }
        if shape.allSatisfy({ $0 > 0 }) && (last >= ref.count || offset < 0) {
            throw CheckpointError(.corrupt, path: path, message: "tensor view reaches element \(last) of a \(ref.count)-element storage '\(entryName)'")
        }
        return PyTorchTensor(name: "", dtype: ref.dtype, shape: shape, strides: strides, storageOffset: offset,
                             storage: data, path: path)
    }

    private static func collect(_ value: PickleValue, prefix: String, into out: inout [PyTorchTensor]) {
        func join(_ key: String) -> String { prefix.isEmpty ? key : prefix + "." + key }
        switch value {
        case .tensor(var t):
            t.name = prefix
            out.append(t)
        case .dict(let d):
            for (k, v) in d.entries {
                let key: String
                switch k {
                case .string(let s): key = s
                case .int(let i): key = String(i)
                default: continue
                }
                collect(v, prefix: join(key), into: &out)
            }
        case .list(let l):
            for (i, v) in l.items.enumerated() { collect(v, prefix: join(String(i)), into: &out) }
        case .tuple(let items):
            for (i, v) in items.enumerated() { collect(v, prefix: join(String(i)), into: &out) }
        default:
            break
        }
    }
}

/// `Swift.zip`, renamed because `ZipArchive` values named `zip` shadow it inside the checkpoint code.
@inline(__always) private func zip_<A: Sequence, B: Sequence>(_ a: A, _ b: B) -> Zip2Sequence<A, B> { zip(a, b) }
