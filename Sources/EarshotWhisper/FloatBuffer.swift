/// A heap buffer of fp32 values with a fixed capacity, freed when the last reference goes away.
/// Activations, KV caches and encoder outputs live in these so their sizes can be reported.
final class FloatBuffer: @unchecked Sendable {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>

    init(count: Int, zeroed: Bool = false) {
        self.count = max(count, 1)
        pointer = .allocate(capacity: self.count)
        if zeroed { pointer.initialize(repeating: 0, count: self.count) }
    }

    deinit { pointer.deallocate() }

    var byteCount: Int { count * MemoryLayout<Float>.size }

    subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }
}

extension Array where Element == Float {
    /// Calls `body` with a pointer to the elements (non-empty arrays only).
    @inline(__always)
    func withPointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}

/// An owned buffer of IEEE half bit patterns (fp16 weights converted at load, cross-attention memory).
final class HalfBuffer: @unchecked Sendable {
    let count: Int
    let pointer: UnsafeMutablePointer<UInt16>

    init(count: Int) {
        self.count = max(count, 1)
        pointer = .allocate(capacity: self.count)
    }

    deinit { pointer.deallocate() }

    var byteCount: Int { count * MemoryLayout<UInt16>.size }
}
