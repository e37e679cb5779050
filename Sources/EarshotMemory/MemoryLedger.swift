import Foundation

/// One point of a ledger's timeline: the total reserved bytes after an event, and which category changed.
///
/// When the timeline is decimated, a sample stands for an interval of events and is the one with the highest
/// total in that interval, so the timeline's maximum always equals the ledger's peak (until ``MemoryLedger/resetPeaks()``).
public struct MemorySample: Hashable, Sendable, Codable {
    /// Seconds since the ledger was created (monotonic clock).
    public var time: Double
    /// Total reserved bytes after the event.
    public var total: ByteCount
    /// The category whose reservation changed.
    public var category: MemoryCategory
    /// That category's reserved bytes after the event.
    public var categoryBytes: ByteCount
}

/// A bounded event log: at most `capacity` samples however long the run. When full, adjacent pairs are merged
/// (keeping the higher total) and each later sample covers twice as many events.
struct Timeline: Sendable {
    let capacity: Int
    private(set) var samples: [MemorySample] = []
    private var stride = 1
    private var pending: MemorySample?
    private var pendingCount = 0

    init(capacity: Int) {
        self.capacity = max(4, capacity + capacity % 2)
        samples.reserveCapacity(self.capacity)
    }

    mutating func record(_ sample: MemorySample) {
        if let p = pending, p.total > sample.total {} else { pending = sample }
        pendingCount += 1
        guard pendingCount >= stride, let p = pending else { return }
        samples.append(p)
        pending = nil
        pendingCount = 0
        if samples.count >= capacity {
            var merged: [MemorySample] = []
            merged.reserveCapacity(capacity)
            var i = 0
            while i + 1 < samples.count {
                merged.append(samples[i].total > samples[i + 1].total ? samples[i] : samples[i + 1])
                i += 2
            }
            if i < samples.count { merged.append(samples[i]) }
            samples = merged
            stride *= 2
        }
    }

    var all: [MemorySample] { pending.map { samples + [$0] } ?? samples }
}

/// A thread-safe account of reserved memory against an optional hard budget.
///
/// Code that is about to allocate something large calls ``reserve(_:category:label:)`` first; the returned
/// ``MemoryReservation`` gives the bytes back exactly once, on ``MemoryReservation/release()`` or when it is
/// deallocated. The ledger keeps current and peak bytes per ``MemoryCategory`` and in total, and a timeline whose
/// size is bounded by `timelineCapacity` regardless of input length.
///
/// The ledger accounts for what the engine *plans* to use; ``ProcessMemory`` measures what the process *does* use.
public final class MemoryLedger: Sendable {
    /// Per-category and total bytes at one moment.
    public struct Snapshot: Sendable, Equatable, Codable {
        /// Reserved now, per category (every category present).
        public var current: [MemoryCategory: ByteCount]
        /// Highest reserved since creation or the last ``MemoryLedger/resetPeaks()``, per category.
        public var peak: [MemoryCategory: ByteCount]
        /// Reserved now, all categories.
        public var currentTotal: ByteCount
        /// Highest total (the sum at one instant, not the sum of per-category peaks).
        public var peakTotal: ByteCount
        /// Reservations not yet released.
        public var liveReservations: Int
        /// The hard budget, if any.
        public var limit: ByteCount?
    }

    struct State {
        var current: [MemoryCategory: Int] = Dictionary(uniqueKeysWithValues: MemoryCategory.allCases.map { ($0, 0) })
        var peak: [MemoryCategory: Int] = Dictionary(uniqueKeysWithValues: MemoryCategory.allCases.map { ($0, 0) })
        var total = 0
        var peakTotal = 0
        var live = 0
        var timeline: Timeline

        mutating func apply(delta: Int, category: MemoryCategory, time: Double) {
            let value = current[category, default: 0] + delta
            precondition(value >= 0, "MemoryLedger: \(category) would go negative (bug in reservation bookkeeping)")
            current[category] = value
            total += delta
            if value > peak[category, default: 0] { peak[category] = value }
            if total > peakTotal { peakTotal = total }
            timeline.record(MemorySample(time: time, total: ByteCount(total), category: category,
                                         categoryBytes: ByteCount(value)))
        }
    }

    /// The hard budget for the sum of all reservations; `nil` means unlimited (accounting only).
    public let limit: ByteCount?
    let state: Locked<State>
    private let start: TimeInterval

    /// - Parameters:
    ///   - limit: hard budget for the total; `nil` to only account.
    ///   - timelineCapacity: most samples the timeline keeps (rounded up to even, at least 4).
    public init(limit: ByteCount? = nil, timelineCapacity: Int = 256) {
        self.limit = limit
        self.state = Locked(State(timeline: Timeline(capacity: timelineCapacity)))
        self.start = ProcessInfo.processInfo.systemUptime
    }

    var now: Double { ProcessInfo.processInfo.systemUptime - start }

    /// Reserves `bytes` for `category`, or throws if the total would pass ``limit``.
    /// - Throws: ``MemoryError/overLimit(requested:category:inUse:limit:)``, or
    ///   ``MemoryError/invalidRequest(_:)`` for a negative size.
    public func reserve(_ bytes: ByteCount, category: MemoryCategory, label: String? = nil) throws(MemoryError)
        -> MemoryReservation {
        guard bytes.bytes >= 0 else { throw .invalidRequest("cannot reserve a negative size (\(bytes.bytes) bytes)") }
        let time = now
        try state.withLock { (s: inout State) throws(MemoryError) in
            if let limit, s.total + bytes.bytes > limit.bytes {
                throw .overLimit(requested: bytes, category: category, inUse: ByteCount(s.total), limit: limit)
            }
            s.apply(delta: bytes.bytes, category: category, time: time)
            s.live += 1
        }
        return MemoryReservation(ledger: self, bytes: bytes.bytes, category: category, label: label)
    }

    /// Like ``reserve(_:category:label:)`` but returns `nil` instead of throwing.
    public func tryReserve(_ bytes: ByteCount, category: MemoryCategory, label: String? = nil) -> MemoryReservation? {
        try? reserve(bytes, category: category, label: label)
    }

    /// Bytes that can still be reserved before the limit (never negative); `nil` without a limit.
    public var available: ByteCount? {
        guard let limit else { return nil }
        return ByteCount(max(0, limit.bytes - state.withLock { $0.total }))
    }

    /// Reserved now, all categories.
    public var currentTotal: ByteCount { ByteCount(state.withLock { $0.total }) }
    /// Highest total since creation or the last ``resetPeaks()``.
    public var peakTotal: ByteCount { ByteCount(state.withLock { $0.peakTotal }) }
    /// Reserved now for `category`.
    public func current(_ category: MemoryCategory) -> ByteCount {
        ByteCount(state.withLock { $0.current[category, default: 0] })
    }
    /// Highest reserved for `category` since creation or the last ``resetPeaks()``.
    public func peak(_ category: MemoryCategory) -> ByteCount {
        ByteCount(state.withLock { $0.peak[category, default: 0] })
    }

    /// All counters at one instant.
    public func snapshot() -> Snapshot {
        state.withLock { (s: inout State) -> Snapshot in
            Snapshot(current: s.current.mapValues { ByteCount($0) }, peak: s.peak.mapValues { ByteCount($0) },
                     currentTotal: ByteCount(s.total), peakTotal: ByteCount(s.peakTotal),
                     liveReservations: s.live, limit: limit)
        }
    }

    /// The bounded timeline (at most `timelineCapacity` + 1 samples), oldest first.
    public func timeline() -> [MemorySample] { state.withLock { $0.timeline.all } }

    /// Sets every peak to the current value, to measure the next phase on its own. The timeline is kept.
    public func resetPeaks() {
        state.withLock { s in
            s.peak = s.current
            s.peakTotal = s.total
        }
    }

    // Called by MemoryReservation with the ledger lock held by this function.
    func change(_ reservation: MemoryReservation, to newBytes: Int?) throws(MemoryError) {
        let time = now
        try state.withLock { (s: inout State) throws(MemoryError) in
            guard !reservation._released else {
                if newBytes == nil { return }
                throw .invalidRequest("cannot resize a released reservation")
            }
            guard let newBytes else {
                reservation._released = true
                s.live -= 1
                s.apply(delta: -reservation._bytes, category: reservation.category, time: time)
                return
            }
            guard newBytes >= 0 else { throw .invalidRequest("cannot resize to a negative size (\(newBytes) bytes)") }
            let delta = newBytes - reservation._bytes
            if delta > 0, let limit, s.total + delta > limit.bytes {
                throw .overLimit(requested: ByteCount(delta), category: reservation.category,
                                 inUse: ByteCount(s.total), limit: limit)
            }
            reservation._bytes = newBytes
            s.apply(delta: delta, category: reservation.category, time: time)
        }
    }
}

/// Bytes reserved in a ``MemoryLedger``. They go back exactly once: on ``release()`` (idempotent) or on deinit.
///
/// Keep the reservation alive exactly as long as the memory it stands for.
public final class MemoryReservation: @unchecked Sendable {
    // @unchecked: `_bytes` and `_released` are only read and written under the owning ledger's lock.
    /// The ledger the bytes were reserved in.
    public let ledger: MemoryLedger
    /// What the bytes are for.
    public let category: MemoryCategory
    /// Optional free text for debugging ("encoder activations, batch 3").
    public let label: String?
    var _bytes: Int
    var _released = false

    init(ledger: MemoryLedger, bytes: Int, category: MemoryCategory, label: String?) {
        self.ledger = ledger
        self._bytes = bytes
        self.category = category
        self.label = label
    }

    deinit { release() }

    /// The bytes currently reserved (0 after release).
    public var bytes: ByteCount { ByteCount(ledger.state.withLock { _ in _released ? 0 : _bytes }) }
    /// Whether the bytes have been given back.
    public var isReleased: Bool { ledger.state.withLock { _ in _released } }

    /// Returns the bytes to the ledger. Calling it again does nothing.
    public func release() {
        try? ledger.change(self, to: nil)
    }

    /// Grows or shrinks the reservation in place (growing is checked against the limit; on failure nothing changes).
    public func resize(to newSize: ByteCount) throws(MemoryError) {
        try ledger.change(self, to: newSize.bytes)
    }
}
