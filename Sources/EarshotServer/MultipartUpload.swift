import Foundation
import Hummingbird
import EarshotWire

extension MultipartUpload {
    /// Reads a request's `multipart/form-data` body with ``MultipartFormReader``, writing the `file` part to a
    /// new file in `directory`.
    ///
    /// Reading stops at the closing delimiter rather than at the end of the body: the request's end then stays
    /// unread, for Hummingbird's inbound-close watcher (`consumeWithCancellationOnInboundClose`), which must see
    /// it to notice a client that hangs up later.
    /// - Throws: ``APIError`` 413 when the body passes `maxUpload`, 400 when it is not well-formed multipart
    ///   (cut short, two `file` parts, an oversized field), 500 when the upload cannot be stored.
    static func read(_ body: RequestBody, boundary: String, maxUpload: Int,
                     directory: String = NSTemporaryDirectory()) async throws -> MultipartUpload {
        do {
            let reader = try MultipartFormReader(boundary: boundary, maxUpload: maxUpload, directory: directory)
            do {
                var iterator = body.makeAsyncIterator()
                while !reader.isComplete, let buffer = try await iterator.next() {
                    try reader.consume(buffer)
                }
                return try reader.finish()
            } catch {
                reader.abandon()
                throw error
            }
        } catch let error as MultipartFormError {
            throw APIError(error)
        }
    }
}

extension APIError {
    /// What a refused multipart body means for the client.
    init(_ error: MultipartFormError) {
        switch error {
        case .tooLarge:
            self.init(.contentTooLarge, error.description, param: "file", code: "file_too_large")
        case .storage:
            self.init(.internalServerError, error.description, type: "server_error")
        case .malformed, .cutShort, .twoFiles, .fieldTooLong, .tooManyFields:
            self.init(.badRequest, error.description, param: error.field)
        }
    }
}
