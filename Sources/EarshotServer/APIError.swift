import Foundation
import Hummingbird
import EarshotPipeline

/// An error as the OpenAI API reports it: an HTTP status and the JSON body
/// `{"error": {"message", "type", "param", "code"}}` (the shape OpenAI's SDKs parse into `APIError`).
///
/// Every failure of `earshot serve` is one of these; the message says what was wrong and what to do.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    /// `invalid_request_error`, `authentication_error`, `rate_limit_error`, `server_error`, …
    public var type: String
    /// The request field at fault, when there is one.
    public var param: String?
    /// A machine-readable code (`invalid_api_key`, `model_not_found`, …).
    public var code: String?
    /// Seconds for `Retry-After` (429 and 503).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ message: String, type: String = "invalid_request_error",
                param: String? = nil, code: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(message)" }

    /// 400 for a bad or missing form field.
    static func badField(_ param: String, _ message: String, code: String? = nil) -> APIError {
        APIError(.badRequest, message, param: param, code: code)
    }

    /// 503 while the server drains.
    static let shuttingDown = APIError(.serviceUnavailable,
                                       "the server is shutting down and takes no new requests; retry on another instance",
                                       type: "server_error", code: "shutting_down", retryAfter: 1)

    /// What an engine error means for the client.
    init(_ error: EngineError) {
        switch error {
        case .busy(let seconds):
            self.init(.tooManyRequests, "\(error); the request was not started", type: "rate_limit_error",
                      code: "rate_limit_exceeded", retryAfter: seconds)
        case .shuttingDown:
            self = .shuttingDown
        case .cancelled:
            self.init(.internalServerError, "the request was cancelled", type: "server_error")
        case .invalid(let why):
            self.init(.badRequest, why)
        case .failed:
            self.init(.internalServerError, "\(error)", type: "server_error")
        }
    }

    /// The JSON body.
    public var body: String {
        struct Body: Encodable {
            struct Inner: Encodable {
                let message: String; let type: String; let param: String?; let code: String?
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(message, forKey: .message)
                    try c.encode(type, forKey: .type)
                    try c.encode(param, forKey: .param)   // explicit nulls, as OpenAI sends them
                    try c.encode(code, forKey: .code)
                }
                enum CodingKeys: String, CodingKey { case message, type, param, code }
            }
            let error: Inner
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Body(error: .init(message: message, type: type, param: param, code: code))))
            ?? Data("{\"error\":{}}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The HTTP response.
    public var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body + "\n")))
    }
}
