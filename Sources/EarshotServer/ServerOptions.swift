import EarshotMemory

/// How `earshot serve` listens and what it admits: address, limits on uploads and waiting requests, the
/// API key. The memory limit itself belongs to the engine (`EngineOptions`).
public struct ServerOptions: Sendable {
    /// Interface to bind; loopback unless the operator says otherwise.
    public var host = "127.0.0.1"
    public var port = 8000
    /// Uploads above this size are refused with 413 before they are read whole.
    public var maxUpload = ByteCount(512 << 20)
    /// Requests that may wait for admission before new ones get 429.
    public var maxQueue = 16
    /// When set, every API request must carry `Authorization: Bearer <key>`.
    public var apiKey: String?

    public init() {}
}
