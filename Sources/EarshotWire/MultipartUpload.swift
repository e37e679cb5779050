import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `multipart/form-data` request body as ``MultipartFormReader`` read it: the text fields, and the `file`
/// part in a temporary file that this object owns (deleted by ``remove()`` or when it is released).
public final class MultipartUpload: @unchecked Sendable {
    /// Text fields by name, each with its values in order (`timestamp_granularities[]` repeats).
    public var fields: [String: [String]]
    /// The temporary file holding the `file` part, or `nil` when there was none.
    public let filePath: String?
    /// The `filename` the client gave the `file` part.
    public let fileName: String?
    /// Bytes in the `file` part.
    public let fileBytes: Int

    public init(fields: [String: [String]], filePath: String?, fileName: String?, fileBytes: Int) {
        self.fields = fields
        self.filePath = filePath
        self.fileName = fileName
        self.fileBytes = fileBytes
    }

    deinit { remove() }

    /// Deletes the temporary file (idempotent).
    public func remove() {
        if let filePath { unlink(filePath) }
    }

    /// The `boundary` parameter of a `multipart/form-data` content type, or `nil` when the type is not that.
    public static func boundary(contentType: String?) -> String? {
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
    public static func dispositionParameter(_ name: String, in header: String) -> String? {
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
}
