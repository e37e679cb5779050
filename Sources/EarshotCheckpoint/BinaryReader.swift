/// A cursor over little-endian binary data that throws `CheckpointError.truncated` instead of reading past
/// the end. Used by the checkpoint parsers.
public struct BinaryReader {
    /// The bytes being read.
    public let bytes: UnsafeRawBufferPointer
    /// File path, for error messages.
    public let path: String
    /// Offset of the next byte to read.
    public private(set) var offset: Int = 0

    public init(bytes: UnsafeRawBufferPointer, path: String, offset: Int = 0) {
        self.bytes = bytes
        self.path = path
        self.offset = offset
    }

    /// Bytes left after `offset`.
    public var remaining: Int { bytes.count - offset }

    /// Reads a fixed-width little-endian integer.
    public mutating func readInteger<T: FixedWidthInteger>(as type: T.Type = T.self, what: String) throws(CheckpointError) -> T {
        let size = MemoryLayout<T>.size
        try need(size, what: what)
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    /// Reads a little-endian 64-bit size or offset, refusing one that does not fit in `Int` (a hostile
    /// header would otherwise trap the conversion).
    public mutating func readSize64(what: String) throws(CheckpointError) -> Int {
        let start = offset
        let value = try readInteger(as: UInt64.self, what: what)
        guard let size = Int(exactly: value) else {
            throw CheckpointError(.corrupt, path: path, message: "\(what) at byte \(start) is \(value), larger than any file; the file is corrupt")
        }
        return size
    }

    /// Returns a view of the next `count` bytes and advances past them.
    public mutating func readBytes(_ count: Int, what: String) throws(CheckpointError) -> UnsafeRawBufferPointer {
        guard count >= 0 else {
            throw CheckpointError(.corrupt, path: path, message: "negative length \(count) for \(what) at byte \(offset)")
        }
        try need(count, what: what)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return slice
    }

    /// Moves the cursor to an absolute offset.
    public mutating func seek(to newOffset: Int) throws(CheckpointError) {
        guard newOffset >= 0 && newOffset <= bytes.count else {
            throw CheckpointError(.truncated, path: path, message: "offset \(newOffset) is past the end of the file (\(bytes.count) bytes)")
        }
        offset = newOffset
    }

    private func need(_ count: Int, what: String) throws(CheckpointError) {
        if count > remaining {
            throw CheckpointError(.truncated, path: path,
                                  message: "file ends at byte \(bytes.count) while reading \(what) (\(count) bytes needed at byte \(offset)); the file is truncated or not this format")
        }
    }
}
