/// The legacy (pre-1.6, non-zip) `torch.save` format, as `torch/serialization.py` `_legacy_save` writes it and
/// `_legacy_load` reads it: five pickles back to back (the magic number 0x1950a86a20f9469cfc6c, the protocol
/// version 1001, a system-info dict, the object whose storages are persistent ids
/// `('storage', torch.XStorage, key, location, numel, view)`, the sorted list of storage keys), then for each
/// key in that order an int64 element count followed by the storage's raw little-endian bytes.
extension PyTorchCheckpoint {
    /// `80 PROTO 8a 0a <10 bytes of the magic number, little-endian> 2e`: `pickle.dumps(MAGIC_NUMBER)`.
    private static let legacyMagic: [UInt8] = [0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
    private static let legacyProtocolVersion = 1001  // torch/serialization.py PROTOCOL_VERSION

    /// Decodes a legacy file's object, its tensors pointing into the storages that follow the pickles.
    static func loadLegacy(_ bytes: UnsafeRawBufferPointer, path: String) throws(CheckpointError) -> PickleValue {
        let magicEnd = 2 + legacyMagic.count
        guard bytes.count >= magicEnd, Array(bytes[2..<magicEnd]) == legacyMagic else {
            throw CheckpointError(.notAModel, path: path,
                                  message: "a pickle that does not start with torch.save's legacy magic number; not a PyTorch checkpoint")
        }
        func opaque(_ m: String, _ n: String, _ a: [PickleValue]) throws(CheckpointError) -> PickleValue {
            .object("\(m).\(n)", a)
        }
        // Protocol version and system info.
        var machine = PickleMachine(bytes: bytes, path: path, offset: magicEnd,
                                    persistentLoad: { (_) throws(CheckpointError) in .none }, reduce: opaque)
        guard try machine.run().int == legacyProtocolVersion else {
            throw CheckpointError(.unsupportedVersion, path: path,
                                  message: "legacy torch.save protocol version is not \(legacyProtocolVersion)")
        }
        machine = PickleMachine(bytes: bytes, path: path, offset: machine.reader.offset,
                                persistentLoad: { (_) throws(CheckpointError) in .none }, reduce: opaque)
        if case .dict(let info) = try machine.run(),
           let little = info.entries.first(where: { $0.key.string == "little_endian" })?.value, little.int == 0 {
            throw CheckpointError(.unsupportedVersion, path: path, message: "big-endian legacy checkpoint")
        }
        let objectStart = machine.reader.offset

        // First pass over the object: only to learn each storage's type and size and where the object ends.
        final class Refs { var byKey: [String: PyTorchStorageRef] = [:] }
        let refs = Refs()
        var scan = PickleMachine(
            bytes: bytes, path: path, offset: objectStart,
            persistentLoad: { (pid) throws(CheckpointError) -> PickleValue in
                let value = try Self.storage(pid, path: path)
                if case .storage(let ref) = value { refs.byKey[ref.key] = ref }
                return value
            },
            reduce: opaque)
        _ = try scan.run()
        var keysMachine = PickleMachine(bytes: bytes, path: path, offset: scan.reader.offset,
                                        persistentLoad: { (_) throws(CheckpointError) in .none }, reduce: opaque)
        guard case .list(let keyList) = try keysMachine.run() else {
            throw CheckpointError(.corrupt, path: path, message: "legacy checkpoint without its list of storage keys")
        }
        var reader = BinaryReader(bytes: bytes, path: path, offset: keysMachine.reader.offset)
        var storages: [String: UnsafeRawBufferPointer] = [:]
        for item in keyList.items {
            guard let key = item.string, let ref = refs.byKey[key] else {
                throw CheckpointError(.corrupt, path: path, message: "storage key \(item) is not used by any tensor")
            }
            let count = try reader.readInteger(as: Int64.self, what: "storage '\(key)' element count")
            guard count == Int64(ref.count) else {
                throw CheckpointError(.corrupt, path: path,
                                      message: "storage '\(key)' holds \(count) elements, the pickle says \(ref.count)")
            }
            storages[key] = try reader.readBytes(ref.count * ref.dtype.size, what: "storage '\(key)'")
        }

        // Second pass: the object with its tensors.
        var full = PickleMachine(
            bytes: bytes, path: path, offset: objectStart,
            persistentLoad: { (pid) throws(CheckpointError) -> PickleValue in try Self.storage(pid, path: path) },
            reduce: { (module, name, args) throws(CheckpointError) -> PickleValue in
                try Self.reduce(module, name, args, path: path) { (ref) throws(CheckpointError) in
                    guard let data = storages[ref.key] else {
                        throw CheckpointError(.truncated, path: path, message: "storage '\(ref.key)' is not in the file")
                    }
                    return (data, "storage '\(ref.key)'")
                }
            })
        return try full.run()
    }
}
