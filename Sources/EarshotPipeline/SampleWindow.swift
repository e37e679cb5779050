/// The most recent samples of a stream, addressed by absolute sample index; older samples are dropped
/// when no pending chunk needs them, so memory stays bounded whatever the stream's length.
struct SampleWindow {
    private var samples: [Float] = []
    /// Absolute index of `samples[0]`.
    private(set) var start = 0

    /// Absolute index one past the newest sample.
    var end: Int { start + samples.count }

    /// Bytes currently held (capacity, since that is what is allocated).
    var byteCount: Int { samples.capacity * MemoryLayout<Float>.size }

    mutating func append(_ new: [Float]) { samples.append(contentsOf: new) }

    /// Copies an absolute range (clamped to what is held).
    func slice(_ range: Range<Int>) -> [Float] { Array(view(range).samples) }

    /// An absolute range, clamped to what is held: where the clamped range starts and its samples.
    func view(_ range: Range<Int>) -> (start: Int, samples: ArraySlice<Float>) {
        let lower = max(range.lowerBound, start)
        let upper = min(range.upperBound, end)
        guard lower < upper else { return (lower, []) }
        return (lower, samples[(lower - start)..<(upper - start)])
    }

    /// Forgets everything before absolute index `index`.
    mutating func discard(before index: Int) {
        let count = min(max(index - start, 0), samples.count)
        guard count > 0 else { return }
        // Shift down in place rather than reallocating, so capacity (and memory) stays put.
        samples.removeFirst(count)
        start += count
    }
}
