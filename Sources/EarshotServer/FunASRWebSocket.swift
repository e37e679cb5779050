import Hummingbird
import HummingbirdWebSocket

/// FunASR's websocket protocol at `/` (placeholder: the `server-ws` branch provides the real one).
public enum FunASRWebSocket {
    /// Adds the websocket routes to `router`; `ServerApplication` calls this when it builds the server.
    public static func register(on router: Router<BasicWebSocketRequestContext>, context: ServerContext) {
    }
}
