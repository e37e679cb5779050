/// What the first bytes of a file say it is.
enum ContainerKind: Equatable {
    /// RIFF/RIFX/RF64/BW64 with form type `WAVE`.
    case wav
    /// A magic number of a container ffmpeg decodes (FLAC, Ogg, MP3/ID3, MP4/M4A, WebM/Matroska, AIFF, CAF…).
    case knownOther(String)
    /// Nothing recognised (might still be raw ADTS/MP3 frames; only ffmpeg can tell).
    case unknown

    /// Classifies a file from its first (up to 12) bytes.
    static func sniff(_ b: [UInt8]) -> ContainerKind {
        func tag(_ at: Int, _ s: String) -> Bool {
            let u = Array(s.utf8)
            return b.count >= at + u.count && Array(b[at ..< at + u.count]) == u
        }
        if (tag(0, "RIFF") || tag(0, "RIFX") || tag(0, "RF64") || tag(0, "BW64")) && tag(8, "WAVE") { return .wav }
        if tag(0, "fLaC") { return .knownOther("FLAC") }
        if tag(0, "OggS") { return .knownOther("Ogg") }
        if tag(0, "ID3") { return .knownOther("MP3") }
        if tag(4, "ftyp") { return .knownOther("MP4/M4A") }
        if tag(0, "FORM") { return .knownOther("AIFF") }
        if tag(0, "caff") { return .knownOther("CAF") }
        if tag(0, ".snd") { return .knownOther("AU") }
        if tag(0, "#!AMR") { return .knownOther("AMR") }
        if b.count >= 4 && b[0] == 0x1A && b[1] == 0x45 && b[2] == 0xDF && b[3] == 0xA3 { return .knownOther("WebM/Matroska") }
        if tag(0, "RIFF") { return .knownOther("RIFF") }  // AVI etc.
        if b.count >= 2 && b[0] == 0xFF && (b[1] & 0xE0) == 0xE0 { return .knownOther("MPEG audio/ADTS") }
        return .unknown
    }
}

/// Thrown inside the WAV parser when the codec is not decoded natively, so the reader can hand the file
/// to ffmpeg instead.
struct UnsupportedWAVCodec: Error {
    let description: String
}

/// Native streaming WAV decoder: RIFF (little-endian), RIFX (big-endian), RF64/BW64 (64-bit sizes in
/// `ds64`); `WAVE_FORMAT_PCM` 8 (unsigned)/16/24/32-bit, `WAVE_FORMAT_IEEE_FLOAT` 32/64-bit, and both
/// inside `WAVE_FORMAT_EXTENSIBLE`. Chunks other than `fmt `/`ds64`/`data` are skipped (with the RIFF
/// pad byte after odd-sized chunks). A data size of 0xFFFFFFFF, or one larger than the file, means
/// "read to end of file" (recordings written by a streaming writer that never patched the header).
final class WAVDecoder: MonoSource {
    let frames: PCMFrameReader
    let sampleRate: Int
    let channels: Int
    /// Frames in the data chunk (known or estimated from the file size), `nil` for a pipe to EOF.
    let estimatedFrames: Int64?

    var outputRate: Int { sampleRate }
    /// Highest sample rate accepted from a header (the highest rate of real PCM recorders).
    static let maxSampleRate = 768_000
    var bufferBytes: Int { frames.input.capacity }

    /// Parses the header up to the start of the sample data. Throws `AudioError`, or returns
    /// `.failure(UnsupportedWAVCodec)` when the file is a well-formed WAV in a codec not decoded here.
    /// `header` is the file's first 12 bytes, already consumed from `input` (`RIFF`, size, `WAVE`).
    static func open(_ input: ByteInput, header head: [UInt8]) throws(AudioError) -> Result<WAVDecoder, UnsupportedWAVCodec> {
        let path = input.path
        let magic = String(decoding: head[0 ..< 4], as: UTF8.self)
        let bigEndian = magic == "RIFX"
        let is64 = magic == "RF64" || magic == "BW64"
        func u16(_ b: [UInt8], _ o: Int) -> Int {
            bigEndian ? Int(b[o]) << 8 | Int(b[o + 1]) : Int(b[o]) | Int(b[o + 1]) << 8
        }
        func u32(_ b: [UInt8], _ o: Int) -> Int64 {
            bigEndian ? Int64(u16(b, o)) << 16 | Int64(u16(b, o + 2)) : Int64(u16(b, o)) | Int64(u16(b, o + 2)) << 16
        }
        var layout: PCMLayout?
        var rate = 0
        var ds64DataSize: Int64?
        while true {
            let got = try input.fill(atLeast: 8)
            if got < 8 {
                let what = layout == nil ? "before a 'fmt ' chunk" : "before a 'data' chunk"
                throw AudioError(.truncated, path: path,
                                 "WAV header is cut off \(what) (file ends at byte \(input.consumed + Int64(got))); the file is incomplete — re-export or re-download it")
            }
            let hdr = input.take(8)
            let id = String(decoding: hdr[0 ..< 4], as: UTF8.self)
            let size = u32(hdr, 4)
            switch id {
            case "fmt ":
                guard size >= 16 else {
                    throw AudioError(.notAudio, path: path, "WAV 'fmt ' chunk is only \(size) bytes (needs 16); the file is corrupt")
                }
                let keep = Int(min(size, 64))
                let have = try input.fill(atLeast: keep)
                guard have >= keep else {
                    throw AudioError(.truncated, path: path, "WAV header is cut off inside the 'fmt ' chunk; the file is incomplete")
                }
                let f = input.take(keep)
                let rest = size + (size & 1) - Int64(keep)
                if try input.skip(rest) < rest {
                    throw AudioError(.truncated, path: path, "WAV header is cut off inside the 'fmt ' chunk; the file is incomplete")
                }
                var tag = u16(f, 0)
                let ch = u16(f, 2), bits = u16(f, 14), block = u16(f, 12)
                rate = Int(u32(f, 4))
                if tag == 0xFFFE && f.count >= 26 { tag = u16(f, 24) }  // SubFormat GUID's first two bytes
                guard ch > 0, rate > 0 else {
                    throw AudioError(.notAudio, path: path, "WAV 'fmt ' chunk declares \(ch) channels at \(rate) Hz; the file is corrupt")
                }
                // A rate from a damaged or hostile header would otherwise size the resampler's filter (its
                // length grows with the downsampling ratio): 522 MHz → 16 kHz asked for 1.9 GB (found by
                // FuzzWAV). Real recordings stop at 768 kHz.
                guard rate <= WAVDecoder.maxSampleRate else {
                    throw AudioError(.notAudio, path: path, "WAV 'fmt ' chunk declares \(rate) Hz, above the \(WAVDecoder.maxSampleRate) Hz this reader accepts; the header is corrupt — re-export the file")
                }
                let enc: PCMEncoding
                switch (tag, bits) {
                case (1, 8): enc = .unsigned8
                case (1, 16): enc = .signed16
                case (1, 24): enc = .signed24
                case (1, 32): enc = .signed32
                case (3, 32): enc = .float32
                case (3, 64): enc = .float64
                default:
                    return .failure(UnsupportedWAVCodec(description: String(format4: tag) + ", \(bits)-bit"))
                }
                guard block >= ch * enc.bytes else {
                    throw AudioError(.notAudio, path: path,
                                     "WAV block align \(block) is smaller than \(ch) channels × \(enc.bytes) bytes; the file is corrupt")
                }
                layout = PCMLayout(encoding: enc, channels: ch, blockAlign: block, bigEndian: bigEndian)
            case "ds64" where is64:
                let keep = Int(min(size, 64))
                guard try input.fill(atLeast: keep) >= keep, keep >= 16 else {
                    throw AudioError(.truncated, path: path, "RF64 header is cut off inside the 'ds64' chunk")
                }
                let d = input.take(keep)
                var v: Int64 = 0
                for i in 0 ..< 8 { v |= Int64(d[8 + i]) << (8 * Int64(i)) }
                ds64DataSize = v
                _ = try input.skip(size + (size & 1) - Int64(keep))
            case "data":
                guard let layout else {
                    throw AudioError(.notAudio, path: path, "WAV 'data' chunk comes before any 'fmt ' chunk; the file is corrupt")
                }
                var dataBytes: Int64? = size
                if size == 0xFFFF_FFFF { dataBytes = is64 ? ds64DataSize : nil }
                if let d = dataBytes, let fileSize = input.regularFileSize, input.consumed + d > fileSize { dataBytes = nil }
                let bytesForEstimate = dataBytes ?? input.regularFileSize.map { $0 - input.consumed }
                let decoder = WAVDecoder(
                    frames: PCMFrameReader(input: input, layout: layout, dataBytes: dataBytes),
                    sampleRate: rate, channels: layout.channels,
                    estimatedFrames: bytesForEstimate.map { $0 / Int64(layout.blockAlign) })
                return .success(decoder)
            default:
                let skip = size + (size & 1)
                if try input.skip(skip) < skip {
                    throw AudioError(.truncated, path: path, "WAV file is cut off inside its '\(id)' chunk before any audio data; the file is incomplete")
                }
            }
        }
    }

    private init(frames: PCMFrameReader, sampleRate: Int, channels: Int, estimatedFrames: Int64?) {
        self.frames = frames
        self.sampleRate = sampleRate
        self.channels = channels
        self.estimatedFrames = estimatedFrames
    }

    func read(maxFrames: Int, into out: inout [Float]) throws(AudioError) -> Int {
        try frames.read(maxFrames: maxFrames, into: &out)
    }

    func close() { frames.input.closeNow() }
}

extension String {
    /// `0x0002`-style rendering of a WAV format tag, with the common names.
    init(format4 tag: Int) {
        let names: [Int: String] = [2: "MS ADPCM", 6: "A-law", 7: "µ-law", 0x11: "IMA ADPCM", 0x31: "GSM 6.10",
                                    0x55: "MPEG layer 3", 0x50: "MPEG", 0xFFFE: "extensible"]
        let hex = String(tag, radix: 16, uppercase: true)
        let pad = Swift.String(repeating: "0", count: Swift.max(0, 4 - hex.count))
        self = "format 0x" + pad + hex + (names[tag].map { " (\($0))" } ?? "")
    }
}
