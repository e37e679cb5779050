/// The sample encodings decoded natively (WAV `WAVE_FORMAT_PCM` / `WAVE_FORMAT_IEEE_FLOAT`, and the same
/// inside `WAVE_FORMAT_EXTENSIBLE`; ffmpeg's `f32le` output).
enum PCMEncoding: Sendable, Equatable {
    case unsigned8, signed16, signed24, signed32, float32, float64

    /// Bytes per sample in the container.
    var bytes: Int {
        switch self {
        case .unsigned8: 1
        case .signed16: 2
        case .signed24: 3
        case .signed32, .float32: 4
        case .float64: 8
        }
    }
}

/// Frame layout of an interleaved PCM stream.
struct PCMLayout: Sendable, Equatable {
    var encoding: PCMEncoding
    var channels: Int
    /// Bytes per frame (all channels); ≥ channels × encoding.bytes (WAV `nBlockAlign`).
    var blockAlign: Int
    var bigEndian: Bool

    /// Decodes `frames` whole frames from `bytes`, averaging the channels to mono (as FunASR's and
    /// Whisper's loaders do), appending to `out`. Integers are scaled by 1/2^(bits−1) (8-bit is unsigned,
    /// offset 128, per the WAV spec), so integer PCM lands in [−1, 1); floats are passed through.
    func decodeMono(_ bytes: UnsafeRawBufferPointer, frames: Int, into out: inout [Float]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: frames))
        out.withUnsafeMutableBufferPointer { dst in
            decode(bytes, frames: frames, into: UnsafeMutablePointer(dst.baseAddress! + start))
        }
    }

    private func decode(_ src: UnsafeRawBufferPointer, frames: Int, into dst: UnsafeMutablePointer<Float>) {
        let ch = channels, stride = blockAlign, size = encoding.bytes, be = bigEndian
        let gain = 1 / Float(ch)
        for f in 0..<frames {
            var acc: Float = 0
            var off = f * stride
            for _ in 0..<ch {
                acc += sample(src, off, be)
                off += size
            }
            dst[f] = ch == 1 ? acc : acc * gain
        }
    }

    @inline(__always)
    private func sample(_ p: UnsafeRawBufferPointer, _ o: Int, _ be: Bool) -> Float {
        switch encoding {
        case .unsigned8:
            return (Float(p[o]) - 128) * (1 / 128)
        case .signed16:
            let raw = p.loadUnaligned(fromByteOffset: o, as: UInt16.self)
            return Float(Int16(bitPattern: be ? raw.byteSwapped : raw.littleEndian)) * (1 / 32768)
        case .signed24:
            let b0 = UInt32(p[o]), b1 = UInt32(p[o + 1]), b2 = UInt32(p[o + 2])
            let u = be ? (b0 << 24 | b1 << 16 | b2 << 8) : (b2 << 24 | b1 << 16 | b0 << 8)
            return Float(Int32(bitPattern: u) >> 8) * (1 / 8_388_608)
        case .signed32:
            let raw = p.loadUnaligned(fromByteOffset: o, as: UInt32.self)
            return Float(Int32(bitPattern: be ? raw.byteSwapped : raw.littleEndian)) * (1 / 2_147_483_648)
        case .float32:
            let raw = p.loadUnaligned(fromByteOffset: o, as: UInt32.self)
            return Float(bitPattern: be ? raw.byteSwapped : raw.littleEndian)
        case .float64:
            let raw = p.loadUnaligned(fromByteOffset: o, as: UInt64.self)
            return Float(Double(bitPattern: be ? raw.byteSwapped : raw.littleEndian))
        }
    }
}

/// Something that yields mono samples at a fixed rate: the native WAV decoder or an ffmpeg subprocess.
protocol MonoSource: AnyObject {
    /// Rate of the samples `read` returns.
    var outputRate: Int { get }
    /// Appends up to `maxFrames` mono samples to `out`; returns how many (0 only at the end).
    func read(maxFrames: Int, into out: inout [Float]) throws(AudioError) -> Int
    /// Bytes held in internal buffers (for the memory-boundedness test).
    var bufferBytes: Int { get }
    /// Releases the file / subprocess.
    func close()
}

/// Pulls whole PCM frames from a `ByteInput`, optionally limited to a byte count, dropping a partial
/// frame at the end.
final class PCMFrameReader {
    let input: ByteInput
    let layout: PCMLayout
    /// Bytes of sample data left, or `nil` to read to end of input.
    private(set) var remaining: Int64?

    init(input: ByteInput, layout: PCMLayout, dataBytes: Int64?) {
        self.input = input
        self.layout = layout
        self.remaining = dataBytes
    }

    /// Appends up to `maxFrames` mono samples; returns the count, 0 at the end (a trailing partial frame
    /// — a data chunk cut mid-frame — is discarded).
    func read(maxFrames: Int, into out: inout [Float]) throws(AudioError) -> Int {
        let block = layout.blockAlign
        let bufferFrames = max(1, input.capacity / block)
        var want = min(maxFrames, bufferFrames)
        if let r = remaining { want = Int(min(Int64(want), r / Int64(block))) }
        guard want > 0 else { return 0 }
        let have = try input.fill(atLeast: want * block)
        let frames = min(want, have / block)
        guard frames > 0 else { return 0 }
        input.consume(frames * block) { layout.decodeMono($0, frames: frames, into: &out) }
        if let r = remaining { remaining = r - Int64(frames * block) }
        return frames
    }
}
