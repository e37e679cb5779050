import Foundation

/// A value guarded by a lock. `Synchronization.Mutex` would do, but it needs macOS 15; `NSLock` builds everywhere.
public final class Locked<State>: @unchecked Sendable {
    private let lock = NSLock()
    private var state: State

    public init(_ state: State) { self.state = state }

    /// Runs `body` with exclusive access to the state. `body` must not call back into the same lock.
    public func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }
}
