import Foundation
import Hummingbird
import MultipartKit
#if canImport(Glibc)
import Glibc
#endif

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

/// A `multipart/form-data` request body read as it arrives: the `file` part goes straight into a temporary
/// file (the upload is never held in memory whole), the other fields (small) into strings.
///
/// The body may not exceed `maxUpload` bytes: a body that grows past it while streaming is refused with 413
/// as soon as it does. The temporary file belongs to the caller (``remove()``), whatever happens later.
final class MultipartUpload: @unchecked Sendable {
    /// Text fields by name, each with its values in order (`timestamp_granularities[]` repeats).
    var fields: [String: [String]]
    /// The temporary file holding the `file` part, or `nil` when there was none.
    let filePath: String?
    /// The `filename` the client gave the `file` part.
    let fileName: String?
    /// Bytes in the `file` part.
    let fileBytes: Int

    /// Largest text field accepted (a prompt is at most a few hundred tokens).
    static let maxFieldBytes = 64 << 10
    static let maxFields = 64

    /// Whether the request's end was read (the closing delimiter was not found before it: trailing bytes
    /// after it). Hummingbird's inbound-close watcher must not run then (it needs the end), so such a request
    /// is not cancelled when its client hangs up.
    let consumedEnd: Bool

    init(fields: [String: [String]], filePath: String?, fileName: String?, fileBytes: Int, consumedEnd: Bool = false) {
        self.fields = fields
        self.filePath = filePath
        self.fileName = fileName
        self.fileBytes = fileBytes
        self.consumedEnd = consumedEnd
    }

    deinit { remove() }

    /// Deletes the temporary file (idempotent).
    func remove() {
        if let filePath { unlink(filePath) }
    }

    /// The `boundary` parameter of a `multipart/form-data` content type, or `nil` when the type is not that.
    static func boundary(contentType: String?) -> String? {
        guard let contentType else { return nil }
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty || value.count > 200 ? nil : value
        }
        return nil
    }

    /// A `Content-Disposition` header's parameter (`name`, `filename`).
    static func dispositionParameter(_ name: String, in header: String) -> String? {
        var rest = Substring(header)
        while let semicolon = rest.firstIndex(of: ";") {
            rest = rest[rest.index(after: semicolon)...]
            let trimmed = rest.drop(while: { $0 == " " || $0 == "\t" })
            guard let equals = trimmed.firstIndex(of: "=") else { break }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = trimmed[trimmed.index(after: equals)...]
            var parsed: String
            if value.first == "\"" {
                value = value.dropFirst()
                var out = ""
                var escaped = false
                var end = value.endIndex
                for index in value.indices {
                    let c = value[index]
                    if escaped { out.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == "\"" {
                        end = index; break
                    } else { out.append(c) }
                }
                parsed = out
                rest = end < value.endIndex ? value[value.index(after: end)...] : value[value.endIndex...]
            } else {
                let end = value.firstIndex(of: ";") ?? value.endIndex
                parsed = value[..<end].trimmingCharacters(in: .whitespaces)
                rest = value[end...]
            }
            if key == name { return parsed }
        }
        return nil
    }

    /// Reads `body`, writing the `file` part to a new file in `directory`.
    /// - Throws: ``APIError`` 413 when the body passes `maxUpload`, 400 when it is not well-formed
    ///   multipart (cut short, two `file` parts, an oversized field).
    static func read(_ body: RequestBody, boundary: String, maxUpload: Int,
                     directory: String = NSTemporaryDirectory()) async throws -> MultipartUpload {
        let state = try ParseState(directory: directory)
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in state.header(name, value) }
        parser.onBody = { buffer in state.body(&buffer) }
        parser.onPartComplete = { state.partComplete() }
        var total = 0
        var consumedEnd = false
        // The closing delimiter; reading stops as soon as it has passed (see below).
        let closing = Array("\r\n--\(boundary)--".utf8)
        var tail: [UInt8] = []
        do {
            // Stop at the closing delimiter rather than at the end of the body: the request's end then stays
            // unread, for Hummingbird's inbound-close watcher (`consumeWithCancellationOnInboundClose`), which
            // must see it to notice a client that hangs up later.
            var iterator = body.makeAsyncIterator()
            func closed() -> Bool {
                var end = tail.count
                while end > 0, [13, 10, 32, 9].contains(tail[end - 1]) { end -= 1 }   // transport padding
                return Array(tail[..<end]).ends(with: closing)
            }
            while state.openPartName != nil || !closed(), let buffer = try await iterator.next() {
                tail = Array((tail + buffer.readableBytesView).suffix(closing.count + 16))
                total += buffer.readableBytes
                if total > maxUpload {
                    throw APIError(.contentTooLarge, "the upload is larger than this server's limit of \(maxUpload) bytes (--max-upload); send a shorter or more compressed recording",
                                   param: "file", code: "file_too_large")
                }
                do { try parser.execute(buffer) } catch {
                    throw APIError(.badRequest, "the request body is not valid multipart/form-data (\(error)); send the audio as a form part named 'file'")
                }
                if let failure = state.failure { throw failure }
            }
            consumedEnd = !closed()
            if let open = state.openPartName {
                throw APIError(.badRequest, "the multipart body ends inside the '\(open.isEmpty ? "next" : open)' part, before its closing boundary: the upload was cut short; send it again",
                               param: open.isEmpty ? nil : open)
            }
        } catch {
            state.closeFile()
            unlink(state.path)
            throw error
        }
        state.closeFile()
        if !state.sawFile { unlink(state.path) }
        return MultipartUpload(fields: state.fields, filePath: state.sawFile ? state.path : nil,
                               fileName: state.fileName, fileBytes: state.fileBytes, consumedEnd: consumedEnd)
    }

    /// The parser's callbacks write into this.
    private final class ParseState {
        let path: String
        private var fd: Int32
        var fields: [String: [String]] = [:]
        var fieldCount = 0
        var sawFile = false
        var fileName: String?
        var fileBytes = 0
        var failure: APIError?
        /// The part being read: its name, whether it is the file, and a text field's bytes so far.
        var openPartName: String?
        private var headers: [(String, String)] = []
        private var inFile = false
        private var started = false
        private var text: [UInt8] = []

        init(directory: String) throws {
            var template = Array(((directory as NSString).appendingPathComponent("earshot-upload-XXXXXX")).utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else {
                throw APIError(.internalServerError, "cannot create a temporary file for the upload in \(directory): \(String(cString: strerror(errno)))", type: "server_error")
            }
            path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }

        func closeFile() {
            if fd >= 0 { close(fd); fd = -1 }
        }

        func header(_ name: String, _ value: String) {
            headers.append((name, value))
            if openPartName == nil { openPartName = "" }
        }

        /// Decides what the part is once its headers are complete (at its first body bytes or its end).
        private func start() {
            guard !started else { return }
            started = true
            let disposition = headers.first { $0.0.lowercased() == "content-disposition" }?.1 ?? ""
            let name = MultipartUpload.dispositionParameter("name", in: disposition) ?? ""
            openPartName = name
            if name == "file" {
                if sawFile { fail(APIError(.badRequest, "the form has two 'file' parts; send one audio file per request", param: "file")) }
                sawFile = true
                inFile = true
                fileName = MultipartUpload.dispositionParameter("filename", in: disposition)
            } else {
                fieldCount += 1
                if fieldCount > MultipartUpload.maxFields {
                    fail(APIError(.badRequest, "the form has more than \(MultipartUpload.maxFields) fields"))
                }
            }
        }

        func body(_ buffer: inout ByteBuffer) {
            start()
            guard failure == nil else { return }
            if inFile {
                let count = buffer.readableBytes
                let ok = buffer.withUnsafeReadableBytes { raw -> Bool in
                    var offset = 0
                    while offset < raw.count {
                        let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                        if n < 0 { if errno == EINTR { continue }; return false }
                        offset += n
                    }
                    return true
                }
                if !ok {
                    fail(APIError(.internalServerError, "cannot store the upload: \(String(cString: strerror(errno)))", type: "server_error"))
                }
                fileBytes += count
            } else {
                if text.count + buffer.readableBytes > MultipartUpload.maxFieldBytes {
                    fail(APIError(.badRequest, "the form field '\(openPartName ?? "")' is longer than \(MultipartUpload.maxFieldBytes) bytes", param: openPartName))
                    return
                }
                text += buffer.readableBytesView
            }
        }

        func partComplete() {
            start()
            if !inFile, let name = openPartName, failure == nil {
                fields[name, default: []].append(String(decoding: text, as: UTF8.self))
            }
            headers = []
            text = []
            inFile = false
            started = false
            openPartName = nil
        }

        private func fail(_ error: APIError) {
            if failure == nil { failure = error }
        }
    }
}
