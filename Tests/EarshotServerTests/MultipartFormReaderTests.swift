import Foundation
import Testing
import EarshotWire

/// The multipart reader on its own (the routes' tests drive it through HTTP): bodies fed in any chunking,
/// and the promise that no temporary file outlives a refused body or a released upload.
@Suite struct MultipartFormReaderTests {
    static let boundary = "9a8f3a6c0f2e4d7bb1f0d2c4e6a8b0c2"

    /// A body as httpx (the openai SDK) lays it out: two fields, then the file.
    static func body(file: [UInt8], closing: Bool = true, twoFiles: Bool = false) -> [UInt8] {
        var text = ""
        for (name, value) in [("model", "whisper-1"), ("response_format", "verbose_json")] {
            text += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        var bytes = Array(text.utf8)
        for _ in 0..<(twoFiles ? 2 : 1) {
            bytes += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.wav\"\r\nContent-Type: audio/wav\r\n\r\n".utf8)
            bytes += file + Array("\r\n".utf8)
        }
        if closing { bytes += Array("--\(boundary)--\r\n".utf8) }
        return bytes
    }

    /// A fresh directory for the reader's temporary files, and a count of what is left in it.
    final class Directory {
        let path = NSTemporaryDirectory() + "earshot-multipart-\(UUID().uuidString)"
        init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var entries: Int { (try? FileManager.default.contentsOfDirectory(atPath: path).count) ?? -1 }
    }

    static let file: [UInt8] = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) }

    @Test("any chunking gives the same form; the upload owns its file until released", arguments: [1, 3, 64, 100_000])
    func chunking(chunk: Int) throws {
        let directory = Directory()
        let reader = try MultipartFormReader(boundary: Self.boundary, maxUpload: 1 << 20, directory: directory.path)
        let body = Self.body(file: Self.file) + Array("\r\ntrailing transport padding".utf8)
        var offset = 0
        while !reader.isComplete, offset < body.count {
            try reader.consume(bytes: body[offset..<min(body.count, offset + chunk)])
            offset += chunk
        }
        // Complete once the closing delimiter is read, whatever follows it in the same chunk.
        #expect(reader.isComplete)
        var upload: MultipartUpload? = try reader.finish()
        #expect(upload?.fields == ["model": ["whisper-1"], "response_format": ["verbose_json"]])
        #expect(upload?.fileName == "clip.wav" && upload?.fileBytes == Self.file.count)
        let path = try #require(upload?.filePath)
        let stored = try #require(FileManager.default.contents(atPath: path))
        #expect(Array(stored) == Self.file)
        #expect(directory.entries == 1)
        upload = nil
        #expect(directory.entries == 0)
    }

    @Test("refused bodies name the fault and leave no temporary file")
    func refusals() throws {
        let cases: [([UInt8], Int, MultipartFormError)] = [
            (Self.body(file: Self.file, closing: false), 1 << 20, .cutShort(part: "file")),
            (Self.body(file: Self.file), 4096, .tooLarge(limit: 4096)),
            (Self.body(file: Self.file, twoFiles: true), 1 << 20, .twoFiles),
        ]
        for (body, limit, expected) in cases {
            let directory = Directory()
            let reader = try MultipartFormReader(boundary: Self.boundary, maxUpload: limit, directory: directory.path)
            #expect(throws: expected) {
                var offset = 0
                while !reader.isComplete, offset < body.count {
                    try reader.consume(bytes: body[offset..<min(body.count, offset + 512)])
                    offset += 512
                }
                _ = try reader.finish()
            }
            #expect(directory.entries == 0, "\(expected)")
        }
    }

    /// Reads `body` whole (in 7-byte chunks) into a form.
    static func read(_ body: [UInt8], in directory: Directory) throws -> MultipartUpload {
        let reader = try MultipartFormReader(boundary: boundary, maxUpload: 1 << 20, directory: directory.path)
        var offset = 0
        while !reader.isComplete, offset < body.count {
            try reader.consume(bytes: body[offset..<min(body.count, offset + 7)])
            offset += 7
        }
        return try reader.finish()
    }

    @Test("a byte ≥ 0x80 in a part's header name is a 400, not a crash (MultipartKit 4.7.1 trapped on it)")
    func nonASCIIHeaderName() throws {
        let directory = Directory()
        var body = Self.body(file: Self.file)
        let name = try #require(body.firstIndex(of: UInt8(ascii: "C")))   // "Content-Disposition" of the first part
        body[name + 2] = 0x8C
        #expect(throws: MultipartFormError.self) { _ = try Self.read(body, in: directory) }
        #expect(directory.entries == 0)
    }

    @Test("a preamble, an epilogue, UTF-8 file names, a part without headers and blanks after a boundary are read")
    func lenientWhereTheRFCsAre() throws {
        let directory = Directory()
        let b = Self.boundary
        let text = "This is the preamble.\r\n--\(b)  \t\r\n\r\nno headers\r\n--\(b)\r\n"
            + "Content-Disposition: form-data; name=\"file\"; filename=\"会议 \\\"1\\\".wav\"\r\n\r\n"
            + "RIFF…\r\n--\(b)--\r\nThis is the epilogue, --\(b)--\r\n"
        let upload = try Self.read(Array(text.utf8), in: directory)
        #expect(upload.fields == ["": ["no headers"]])
        #expect(upload.fileName == "会议 \"1\".wav" && upload.fileBytes == "RIFF…".utf8.count)
    }

    @Test("a body that ends between parts, before the closing boundary, is cut short")
    func endsBetweenParts() throws {
        let directory = Directory()
        let body = Self.body(file: Self.file, closing: false) + Array("--\(Self.boundary)".utf8)
        #expect(throws: MultipartFormError.cutShort(part: "")) { _ = try Self.read(Array(body), in: directory) }
        #expect(directory.entries == 0)
    }

    @Test("a reader dropped mid-body (the client went away) removes its temporary file")
    func droppedReader() throws {
        let directory = Directory()
        do {
            let reader = try MultipartFormReader(boundary: Self.boundary, maxUpload: 1 << 20, directory: directory.path)
            try reader.consume(bytes: Self.body(file: Self.file).prefix(3000))
            #expect(directory.entries == 1)
        }
        #expect(directory.entries == 0)
    }

    @Test("PCM frames split anywhere, odd lengths included, decode as the whole stream does")
    func pcmFrames() {
        let bytes: [UInt8] = (0..<1001).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var whole = PCM16Stream()
        let expected = whole.samples(from: bytes)
        #expect(expected.count == 500 && whole.hasPendingByte)
        #expect(expected[0] == Float(Int16(bitPattern: UInt16(bytes[0]) | UInt16(bytes[1]) << 8)) / 32768)
        for split in [1, 3, 499, 1000] {
            var stream = PCM16Stream()
            let samples = stream.samples(from: bytes[..<split]) + stream.samples(from: bytes[split...])
            #expect(samples == expected, "split at \(split)")
        }
    }
}

/// Inputs found by FuzzMultipart (Fuzz/regressions/, docs/reliability.md), read as the fuzz target reads them:
/// the Content-Type line, then the body.
@Suite struct MultipartFuzzRegressionTests {
    @Test("the input that trapped MultipartKit 4.7.1 (a 0x8C byte in a header name) is refused as malformed")
    func headerNameByte0x8C() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions/multipart-header-name-byte-0x8c.txt").path
        let input = try #require(FileManager.default.contents(atPath: path))
        let newline = try #require(input.firstIndex(of: 10))
        let boundary = try #require(MultipartUpload.boundary(contentType: String(decoding: input[..<newline], as: UTF8.self)))
        let directory = MultipartFormReaderTests.Directory()
        let reader = try MultipartFormReader(boundary: boundary, maxUpload: 1 << 20, directory: directory.path)
        let error = #expect(throws: MultipartFormError.self) {
            try reader.consume(bytes: input[(newline + 1)...])
            _ = try reader.finish()
        }
        #expect(error.map { if case .malformed = $0 { true } else { false } } == true, "\(String(describing: error))")
        #expect(directory.entries == 0)
    }
}
