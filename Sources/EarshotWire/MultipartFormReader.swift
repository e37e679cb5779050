import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Why a `multipart/form-data` body was refused. The server maps each case to an HTTP status (413 for
/// ``tooLarge``, 500 for ``storage``, 400 for the rest); ``description`` says what was wrong and what to do.
public enum MultipartFormError: Error, Equatable, CustomStringConvertible {
    /// The body grew past the upload limit (bytes).
    case tooLarge(limit: Int)
    /// The bytes are not multipart (a boundary line not ending in CRLF, a bad header line, …).
    case malformed(String)
    /// The body ended before its closing boundary: inside a part (its name; empty when the part's headers were
    /// not complete) or between parts.
    case cutShort(part: String)
    /// A second part named `file`.
    case twoFiles
    /// A text field longer than ``MultipartFormReader/maxFieldBytes``.
    case fieldTooLong(name: String)
    /// More than ``MultipartFormReader/maxFields`` text fields.
    case tooManyFields
    /// The temporary file for the upload could not be created or written.
    case storage(String)

    /// The form field at fault, when there is one.
    public var field: String? {
        switch self {
        case .tooLarge, .twoFiles: "file"
        case .cutShort(let part): part.isEmpty ? nil : part
        case .fieldTooLong(let name): name
        case .malformed, .tooManyFields, .storage: nil
        }
    }

    public var description: String {
        switch self {
        case .tooLarge(let limit):
            "the upload is larger than this server's limit of \(limit) bytes (--max-upload); send a shorter or more compressed recording"
        case .malformed(let why):
            "the request body is not valid multipart/form-data (\(why)); send the audio as a form part named 'file'"
        case .cutShort(let part):
            "the multipart body ends \(part.isEmpty ? "" : "inside the '\(part)' part, ")before its closing boundary: the upload was cut short; send it again"
        case .twoFiles:
            "the form has two 'file' parts; send one audio file per request"
        case .fieldTooLong(let name):
            "the form field '\(name)' is longer than \(MultipartFormReader.maxFieldBytes) bytes"
        case .tooManyFields:
            "the form has more than \(MultipartFormReader.maxFields) fields"
        case .storage(let why):
            "cannot store the upload: \(why)"
        }
    }
}

/// Reads a `multipart/form-data` body as its bytes arrive: the `file` part goes straight into a temporary
/// file (an upload is never held in memory whole), the other fields (small) into strings.
///
/// Feed it with ``consume(_:)`` until ``isComplete`` (the closing delimiter has passed) or the body ends, then
/// call ``finish()``. Whatever happens, no temporary file is left behind: a thrown error removes it, and so
/// does dropping the reader before ``finish()``; after it, the returned ``MultipartUpload`` owns the file.
public final class MultipartFormReader {
    /// Largest text field accepted (a prompt is at most a few hundred tokens).
    public static let maxFieldBytes = 64 << 10
    /// Most text fields accepted in one form.
    public static let maxFields = 64

    private var parser: MultipartStreamParser
    private let maxUpload: Int
    private let state: PartSink
    private var total = 0
    private var done = false

    /// - Parameters:
    ///   - boundary: the content type's `boundary` (``MultipartUpload/boundary(contentType:)``).
    ///   - maxUpload: the most body bytes accepted (``MultipartFormError/tooLarge(limit:)`` past it).
    ///   - directory: where the temporary file for the `file` part is created.
    /// - Throws: ``MultipartFormError/storage(_:)`` when no temporary file can be created there.
    public init(boundary: String, maxUpload: Int, directory: String = NSTemporaryDirectory()) throws {
        self.maxUpload = maxUpload
        state = try PartSink(directory: directory)
        parser = MultipartStreamParser(boundary: boundary)
    }

    deinit { if !done { state.discard() } }

    /// Whether the closing delimiter has been read: the form is whole, and the rest of the body (an epilogue,
    /// transport padding) need not be read.
    public var isComplete: Bool { parser.isClosed }

    /// Parses the next bytes of the body.
    /// - Throws: ``MultipartFormError``; the temporary file is removed then.
    public func consume(_ buffer: ByteBuffer) throws {
        try consume(bytes: buffer.readableBytesView)
    }

    /// Parses the next bytes of the body, given as bytes rather than a NIO buffer.
    public func consume<Bytes: Collection>(bytes: Bytes) throws where Bytes.Element == UInt8 {
        precondition(!done, "MultipartFormReader used after finish or after an error")
        do {
            total += bytes.count
            if total > maxUpload { throw MultipartFormError.tooLarge(limit: maxUpload) }
            let events: [MultipartStreamParser.Event]
            do { events = try parser.consume(bytes) } catch { throw MultipartFormError.malformed(error.description) }
            for event in events {
                switch event {
                case .partBegin(let headers): state.begin(headers)
                case .body(let bytes): state.body(bytes)
                case .partEnd: state.end()
                }
                if let failure = state.failure { throw failure }
            }
        } catch {
            abandon()
            throw error
        }
    }

    /// The parsed form.
    /// - Throws: ``MultipartFormError/cutShort(part:)`` when the closing delimiter has not been read.
    public func finish() throws -> MultipartUpload {
        precondition(!done, "MultipartFormReader finished twice")
        guard parser.isClosed else {
            abandon()
            throw MultipartFormError.cutShort(part: state.openPartName ?? "")
        }
        done = true
        state.closeFile()
        if !state.sawFile { unlink(state.path) }
        return MultipartUpload(fields: state.fields, filePath: state.sawFile ? state.path : nil,
                               fileName: state.fileName, fileBytes: state.fileBytes)
    }

    /// Gives up on the body: closes and removes the temporary file. Idempotent.
    public func abandon() {
        guard !done else { return }
        done = true
        state.discard()
    }
}

/// Where the parser's callbacks write: the temporary file for the `file` part, the text fields, the part open.
private final class PartSink {
    let path: String
    private var fd: Int32
    var fields: [String: [String]] = [:]
    var fieldCount = 0
    var sawFile = false
    var fileName: String?
    var fileBytes = 0
    var failure: MultipartFormError?
    /// The part being read (empty when its `Content-Disposition` names none), `nil` between parts.
    var openPartName: String?
    private var inFile = false
    private var text: [UInt8] = []

    init(directory: String) throws {
        var template = Array(((directory as NSString).appendingPathComponent("earshot-upload-XXXXXX")).utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw MultipartFormError.storage("cannot create a temporary file in \(directory): \(String(cString: strerror(errno)))")
        }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    func closeFile() {
        if fd >= 0 { close(fd); fd = -1 }
    }

    func discard() {
        closeFile()
        unlink(path)
    }

    /// A part begins: decides from its `Content-Disposition` whether it is the file or a text field.
    func begin(_ headers: [MultipartStreamParser.Header]) {
        let disposition = headers.first { $0.name.lowercased() == "content-disposition" }?.value ?? ""
        let name = MultipartUpload.dispositionParameter("name", in: disposition) ?? ""
        openPartName = name
        text = []
        inFile = name == "file"
        if inFile {
            if sawFile { fail(.twoFiles) }
            sawFile = true
            fileName = MultipartUpload.dispositionParameter("filename", in: disposition)
        } else {
            fieldCount += 1
            if fieldCount > MultipartFormReader.maxFields { fail(.tooManyFields) }
        }
    }

    func body(_ bytes: [UInt8]) {
        guard failure == nil else { return }
        if inFile {
            if !writeAll(bytes) { fail(.storage(String(cString: strerror(errno)))) }
            fileBytes += bytes.count
        } else {
            if text.count + bytes.count > MultipartFormReader.maxFieldBytes {
                fail(.fieldTooLong(name: openPartName ?? ""))
                return
            }
            text += bytes
        }
    }

    /// Writes the bytes to the file, retrying short writes; `false` on an error (`errno`).
    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
    }

    /// The part's closing delimiter was read: a text field is complete.
    func end() {
        if !inFile, let name = openPartName, failure == nil {
            fields[name, default: []].append(String(decoding: text, as: UTF8.self))
        }
        text = []
        inFile = false
        openPartName = nil
    }

    private func fail(_ error: MultipartFormError) {
        if failure == nil { failure = error }
    }
}
