import EarshotWire
import FuzzSupport
#if canImport(Glibc)
import Glibc
#endif

/// The server's `multipart/form-data` reader, as `POST /v1/audio/transcriptions` drives it. Input: the
/// `Content-Type` header value up to the first newline, then the body. The body is fed in chunks whose sizes
/// cycle through a pattern taken from the input's length (1 byte, a few bytes, whole buffers), as a network
/// delivers them; reading stops at the closing delimiter as the server's does.
///
/// Checked on every input: a refused body leaves no temporary file; an accepted one has exactly
/// `fileBytes` bytes in its file, and no file is left once the upload is released.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipart(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let newline = input.firstIndex(of: 10) ?? input.count
    let contentType = String(decoding: input[..<newline], as: UTF8.self)
    let body = newline < input.count ? input[(newline + 1)...] : []
    guard let boundary = MultipartUpload.boundary(contentType: contentType) else { return 0 }
    let directory = Scratch.directory + "/multipart"
    mkdir(directory, 0o700)

    let chunkPatterns = [[1], [3, 1, 7], [64], [4096], [2, 500, 1]]
    let pattern = chunkPatterns[size % chunkPatterns.count]
    do {
        let reader = try MultipartFormReader(boundary: boundary, maxUpload: 1 << 20, directory: directory)
        var offset = body.startIndex
        var step = 0
        do {
            while !reader.isComplete, offset < body.endIndex {
                let end = min(body.endIndex, offset + pattern[step % pattern.count])
                try reader.consume(bytes: body[offset..<end])
                offset = end
                step += 1
            }
            let upload = try reader.finish()
            if let path = upload.filePath {
                var info = stat()
                precondition(stat(path, &info) == 0, "the upload's file \(path) is missing")
                precondition(Int(info.st_size) == upload.fileBytes,
                             "the upload's file holds \(info.st_size) bytes, fileBytes says \(upload.fileBytes)")
            }
            for (name, values) in upload.fields { _ = name.utf8.count + values.count }
        } catch {
            // A refused body: the reader has already removed its temporary file (checked below).
        }
    } catch {
        _ = "\(error)"   // the message is built as the server would build it
    }
    precondition(entries(of: directory) == 0, "a temporary upload file was left behind")
    return 0
}

/// Files in `directory` (`.` and `..` aside).
private func entries(of directory: String) -> Int {
    guard let dir = opendir(directory) else { return 0 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        if name != "." && name != ".." { count += 1 }
    }
    return count
}
