/// 16-bit little-endian mono PCM arriving in frames of any length (FunASR's websocket clients send
/// `pcm` this way), turned into samples in [-1, 1). An odd trailing byte waits for the next frame.
public struct PCM16Stream: Sendable {
    private var oddByte: UInt8?

    public init() {}

    /// Whether a byte is waiting for its pair (a stream that ends here ends mid-sample).
    public var hasPendingByte: Bool { oddByte != nil }

    /// The samples that `bytes`, after any byte left over from the previous frame, complete.
    public mutating func samples<Bytes: Collection>(from bytes: Bytes) -> [Float] where Bytes.Element == UInt8 {
        var all = [UInt8]()
        all.reserveCapacity(bytes.count + 1)
        if let odd = oddByte { all.append(odd); oddByte = nil }
        all.append(contentsOf: bytes)
        if all.count % 2 == 1 { oddByte = all.removeLast() }
        var samples = [Float](repeating: 0, count: all.count / 2)
        for i in 0..<samples.count {
            let value = Int16(bitPattern: UInt16(all[2 * i]) | UInt16(all[2 * i + 1]) << 8)
            samples[i] = Float(value) / 32768
        }
        return samples
    }
}
