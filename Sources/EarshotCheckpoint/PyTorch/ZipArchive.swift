/// The entries of a ZIP archive that lives in memory (typically a `MappedFile`), read from its central
/// directory. Only *stored* (uncompressed) entries can be opened, which is what `torch.save` writes.
///
/// Layout references: PKWARE APPNOTE 6.3.x §4.3 (end of central directory, central directory file header,
/// local file header) and §4.5.3 (the ZIP64 extended-information extra field).
public struct ZipArchive {
    /// One file in the archive.
    public struct Entry: Sendable {
        /// Name as stored (forward slashes).
        public let name: String
        /// Compression method (0 = stored).
        public let method: UInt16
        /// Size of the stored data in bytes.
        public let compressedSize: Int
        /// Size of the data once decompressed.
        public let uncompressedSize: Int
        /// Offset of the entry's local file header.
        public let localHeaderOffset: Int
    }

    /// The archive's bytes.
    public let bytes: UnsafeRawBufferPointer
    /// Path, for error messages.
    public let path: String
    /// Entries in central-directory order.
    public let entries: [Entry]
    private let index: [String: Int]

    /// Reads the central directory of the archive held in `bytes`.
    /// - Throws: `CheckpointError.notAModel` when there is no end-of-central-directory record,
    ///   `.truncated`/`.corrupt` when the directory points outside the file.
    public init(bytes: UnsafeRawBufferPointer, path: String) throws(CheckpointError) {
        self.bytes = bytes
        self.path = path
        let eocd = try Self.findEndOfCentralDirectory(bytes, path: path)
        var r = BinaryReader(bytes: bytes, path: path, offset: eocd + 10)
        var count = Int(try r.readInteger(as: UInt16.self, what: "ZIP entry count"))
        _ = try r.readInteger(as: UInt32.self, what: "ZIP central directory size")
        var directoryOffset = Int(try r.readInteger(as: UInt32.self, what: "ZIP central directory offset"))
        if count == 0xFFFF || directoryOffset == 0xFFFF_FFFF {
            (count, directoryOffset) = try Self.readZip64End(bytes, eocd: eocd, path: path)
        }
        // Each central directory header is at least 46 bytes: a count the file cannot hold is refused before
        // it sizes anything (a ZIP64 count of 2^32 asked for 51 GB; found by FuzzPyTorch).
        guard directoryOffset <= bytes.count, count <= (bytes.count - directoryOffset) / 46 else {
            throw CheckpointError(.truncated, path: path,
                                  message: "ZIP directory announces \(count) entries at byte \(directoryOffset) but the file is \(bytes.count) bytes; the archive is truncated or corrupt")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        r = BinaryReader(bytes: bytes, path: path, offset: 0)
        try r.seek(to: directoryOffset)
        for _ in 0..<count {
            entries.append(try Self.readCentralHeader(&r))
        }
        self.entries = entries
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() { index[e.name] = i }
        self.index = index
    }

    /// The entry called `name`, if any.
    public func entry(named name: String) -> Entry? {
        index[name].map { entries[$0] }
    }

    /// The stored bytes of `entry` (a view into the archive, no copy).
    /// - Throws: `.unsupportedVersion` for a compressed entry, `.truncated` if the data runs past the end.
    public func data(of entry: Entry) throws(CheckpointError) -> UnsafeRawBufferPointer {
        guard entry.method == 0 else {
            throw CheckpointError(.unsupportedVersion, path: path,
                                  message: "ZIP entry '\(entry.name)' is compressed (method \(entry.method)); only stored entries, as written by torch.save, are supported")
        }
        var r = BinaryReader(bytes: bytes, path: path, offset: 0)
        try r.seek(to: entry.localHeaderOffset)
        let signature = try r.readInteger(as: UInt32.self, what: "local header of '\(entry.name)'")
        guard signature == 0x0403_4b50 else {
            throw CheckpointError(.corrupt, path: path, message: "bad local header signature for ZIP entry '\(entry.name)' at byte \(entry.localHeaderOffset)")
        }
        try r.seek(to: entry.localHeaderOffset + 26)
        let nameLength = Int(try r.readInteger(as: UInt16.self, what: "local header name length"))
        let extraLength = Int(try r.readInteger(as: UInt16.self, what: "local header extra length"))
        try r.seek(to: entry.localHeaderOffset + 30 + nameLength + extraLength)
        return try r.readBytes(entry.compressedSize, what: "data of ZIP entry '\(entry.name)'")
    }

    private static func findEndOfCentralDirectory(_ bytes: UnsafeRawBufferPointer, path: String) throws(CheckpointError) -> Int {
        // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end of the file.
        let lowest = max(0, bytes.count - 22 - 65_535)
        var at = bytes.count - 22
        while at >= lowest {
            if bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian == 0x0605_4b50 { return at }
            at -= 1
        }
        throw CheckpointError(.notAModel, path: path,
                              message: "not a ZIP archive (no end-of-central-directory record); expected a PyTorch checkpoint written by torch.save ≥ 1.6")
    }

    private static func readZip64End(_ bytes: UnsafeRawBufferPointer, eocd: Int, path: String) throws(CheckpointError) -> (Int, Int) {
        var r = BinaryReader(bytes: bytes, path: path)
        try r.seek(to: max(0, eocd - 20))
        guard try r.readInteger(as: UInt32.self, what: "ZIP64 locator") == 0x0706_4b50 else {
            throw CheckpointError(.corrupt, path: path, message: "ZIP64 archive without a ZIP64 end-of-central-directory locator")
        }
        _ = try r.readInteger(as: UInt32.self, what: "ZIP64 locator disk")
        let recordOffset = try r.readSize64(what: "ZIP64 record offset")
        try r.seek(to: recordOffset)
        guard try r.readInteger(as: UInt32.self, what: "ZIP64 record") == 0x0606_4b50 else {
            throw CheckpointError(.corrupt, path: path, message: "bad ZIP64 end-of-central-directory record at byte \(recordOffset)")
        }
        try r.seek(to: recordOffset + 32)
        let count = try r.readSize64(what: "ZIP64 entry count")
        _ = try r.readInteger(as: UInt64.self, what: "ZIP64 directory size")
        let offset = try r.readSize64(what: "ZIP64 directory offset")
        return (count, offset)
    }

    private static func readCentralHeader(_ r: inout BinaryReader) throws(CheckpointError) -> Entry {
        let start = r.offset
        guard try r.readInteger(as: UInt32.self, what: "ZIP central directory header") == 0x0201_4b50 else {
            throw CheckpointError(.corrupt, path: r.path, message: "bad ZIP central directory header at byte \(start)")
        }
        try r.seek(to: start + 10)
        let method = try r.readInteger(as: UInt16.self, what: "compression method")
        try r.seek(to: start + 20)
        var compressed = Int(try r.readInteger(as: UInt32.self, what: "compressed size"))
        var uncompressed = Int(try r.readInteger(as: UInt32.self, what: "uncompressed size"))
        let nameLength = Int(try r.readInteger(as: UInt16.self, what: "name length"))
        let extraLength = Int(try r.readInteger(as: UInt16.self, what: "extra length"))
        let commentLength = Int(try r.readInteger(as: UInt16.self, what: "comment length"))
        try r.seek(to: start + 42)
        var localOffset = Int(try r.readInteger(as: UInt32.self, what: "local header offset"))
        let name = String(decoding: try r.readBytes(nameLength, what: "entry name"), as: UTF8.self)
        var extra = BinaryReader(bytes: try r.readBytes(extraLength, what: "extra field"), path: r.path)
        while extra.remaining >= 4 {
            let id = try extra.readInteger(as: UInt16.self, what: "extra id")
            let size = Int(try extra.readInteger(as: UInt16.self, what: "extra size"))
            var field = BinaryReader(bytes: try extra.readBytes(size, what: "extra field data"), path: r.path)
            guard id == 0x0001 else { continue }
            // ZIP64: only the fields whose 32-bit value is saturated are present, in this order.
            if uncompressed == 0xFFFF_FFFF { uncompressed = try field.readSize64(what: "ZIP64 size") }
            if compressed == 0xFFFF_FFFF { compressed = try field.readSize64(what: "ZIP64 size") }
            if localOffset == 0xFFFF_FFFF { localOffset = try field.readSize64(what: "ZIP64 offset") }
        }
        _ = try r.readBytes(commentLength, what: "entry comment")
        return Entry(name: name, method: method, compressedSize: compressed, uncompressedSize: uncompressed,
                     localHeaderOffset: localOffset)
    }
}
