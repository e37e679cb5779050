/// One unit of work offered to the ``BatchPlanner``: a speech segment, offered in chronological order.
public struct WorkItem: Hashable, Sendable, Codable {
    /// The caller's identifier (e.g. the VAD segment index); echoed back, never interpreted.
    public var id: Int
    /// Segment length in milliseconds.
    public var durationMs: Int

    public init(id: Int, durationMs: Int) {
        self.id = id
        self.durationMs = durationMs
    }
}

/// A ``WorkItem`` placed in a batch, with the arrival index the planner gave it.
public struct BatchItem: Hashable, Sendable, Codable {
    /// The caller's identifier.
    public var id: Int
    /// Segment length in milliseconds.
    public var durationMs: Int
    /// Arrival index (0, 1, 2, … in push order): the key ``ChronologicalReorderer`` restores order with.
    public var sequence: Int
}

/// A batch chosen by the ``BatchPlanner``: items sorted by ascending duration (ties in arrival order).
public struct PlannedBatch: Hashable, Sendable, Codable {
    /// Why a batch ended where it did.
    public enum CloseReason: String, Hashable, Sendable, Codable {
        /// The padded-size budget (`batchSizeS`) was reached (FunASR mode) or the next item would pass it (strict).
        case budget
        /// The item is ≥ `batchSizeThresholdS` and runs alone, or the next item is and closed this batch.
        case threshold
        /// `maxBatchSize` items.
        case maxBatchSize
        /// The next item would make `cost(count, longest)` exceed `available`.
        case memory
        /// The look-ahead window ran out of items (window full, ``BatchPlanner/flush()`` or end of input).
        case windowEnd
    }

    /// The items, shortest first.
    public var items: [BatchItem]
    /// Length of the longest item (what every item is padded to).
    public var longestMs: Int
    /// Sum of the items' lengths.
    public var totalMs: Int
    /// `cost(count, longestMs)` when the planner has a cost model.
    public var estimatedCost: ByteCount?
    /// Why the batch ended.
    public var reason: CloseReason

    /// Number of items.
    public var count: Int { items.count }
    /// Padded size, FunASR's batch cost: `longestMs × count`.
    public var paddedMs: Int { longestMs * items.count }
}

/// Groups speech segments into batches with FunASR's `inference_with_vad` semantics (reference/funasr.md §1.3),
/// over a bounded look-ahead window instead of the whole file, with an optional memory cost model.
///
/// Items are pushed in chronological order. When the window is full (``Configuration/lookAhead``), its items are
/// sorted by duration and packed shortest-first:
/// - a batch grows while its padded size `longest × count` stays under `batchSizeS`. In the default mode this is
///   FunASR's rule: the item that makes `padded ≥ budget` is still admitted and closes the batch (a batch can pass
///   the budget by one item). With `strictCap` an item is admitted only if `longest × (count+1) ≤ budget`
///   (FunASR's C++ runtime, §1.5), so a batch never passes the budget unless a single item alone does;
/// - an item with duration ≥ `batchSizeThresholdS` runs alone (the current batch is closed first);
/// - at most `maxBatchSize` items per batch;
/// - with a cost model, an item is admitted only if `cost(count+1, longest) ≤ available`; an item that does not fit
///   even alone is an error that states the smallest workable budget for it.
///
/// Batches are emitted shortest-first, not chronologically; ``ChronologicalReorderer`` restores input order.
/// Not thread-safe: one planner per stream (it is a value type).
public struct BatchPlanner: Sendable {
    /// Memory needed to run one batch of `batchCount` items padded to `longestMs`, excluding weights.
    /// Must be non-decreasing in both arguments. The model provides it (see docs/memory.md).
    public typealias CostModel = @Sendable (_ batchCount: Int, _ longestMs: Int) -> ByteCount

    /// How many items the planner may hold before it must plan: a count, an amount of audio, or both.
    public struct LookAhead: Hashable, Sendable {
        /// Plan when this many items are held.
        public var maxItems: Int?
        /// Plan before the held audio would pass this many milliseconds (one longer item is held alone).
        public var maxDurationMs: Int?

        public init(maxItems: Int?, maxDurationMs: Int?) {
            self.maxItems = maxItems.map { max(1, $0) }
            self.maxDurationMs = maxDurationMs.map { max(1, $0) }
        }
        /// Hold at most `n` items.
        public static func items(_ n: Int) -> LookAhead { LookAhead(maxItems: n, maxDurationMs: nil) }
        /// Hold at most `s` seconds of audio.
        public static func seconds(_ s: Double) -> LookAhead {
            LookAhead(maxItems: nil, maxDurationMs: Int((s * 1000).rounded()))
        }
    }

    /// Packing parameters. Times are kept in milliseconds, as in FunASR.
    public struct Configuration: Hashable, Sendable {
        /// Padded-size budget per batch (`batch_size_s` × 1000). 0 puts every item alone (FunASR on CPU).
        public var batchSizeMs: Int
        /// Items at least this long run alone (`batch_size_threshold_s` × 1000).
        public var thresholdMs: Int
        /// Never admit the item that crosses the budget (C++ runtime rule) instead of FunASR's overshoot.
        public var strictCap: Bool
        /// Most items per batch, if any.
        public var maxBatchSize: Int?
        /// The bounded window the sort works over.
        public var lookAhead: LookAhead

        /// - Parameters:
        ///   - batchSizeS: `batch_size_s`, default 300 s.
        ///   - batchSizeThresholdS: `batch_size_threshold_s`, default 60 s.
        ///   - strictCap: never pass the budget (default false = FunASR's rule).
        ///   - maxBatchSize: count cap (default none).
        ///   - lookAhead: window (default 64 items).
        public init(batchSizeS: Double = 300, batchSizeThresholdS: Double = 60, strictCap: Bool = false,
                    maxBatchSize: Int? = nil, lookAhead: LookAhead = .items(64)) {
            self.batchSizeMs = max(0, Int((batchSizeS * 1000).rounded()))
            self.thresholdMs = max(0, Int((batchSizeThresholdS * 1000).rounded()))
            self.strictCap = strictCap
            self.maxBatchSize = maxBatchSize.map { max(1, $0) }
            self.lookAhead = lookAhead
        }
    }

    /// FunASR 0.x's `batch_size_token_threshold_s` (§1.4) is the same quantity as `batch_size_threshold_s`, in the
    /// same unit: a segment at least this long is not batched with others. Use for the CLI alias
    /// `--batch-size-token-threshold-s`. (It never splits a segment; VAD's maximum segment length does that.)
    public static func thresholdS(fromBatchSizeTokenThresholdS seconds: Double) -> Double { seconds }

    /// FunASR 0.x's `batch_size_token` (LFR frames; §1.4: ms = tokens × 60) as a `batch_size_s` budget. 6000 → 360 s.
    public static func batchSizeS(fromBatchSizeToken tokens: Int) -> Double { Double(tokens) * 60 / 1000 }

    /// The packing parameters.
    public let configuration: Configuration
    /// The memory cost of a batch, if memory-aware planning is wanted.
    public let cost: CostModel?
    /// Memory available to one batch (used only with a cost model). May be changed between pushes, e.g. to
    /// `ledger.available` minus fixed costs.
    public var available: ByteCount?

    private var window: [BatchItem] = []
    private var windowMs = 0
    private var nextSequence = 0
    /// Items held now (never more than `lookAhead.maxItems`).
    public var pendingCount: Int { window.count }
    /// Most items held at once so far.
    public private(set) var maxPendingObserved = 0
    /// Batch size → number of batches emitted so far.
    public private(set) var batchSizeHistogram: [Int: Int] = [:]

    public init(configuration: Configuration = Configuration(), cost: CostModel? = nil, available: ByteCount? = nil) {
        self.configuration = configuration
        self.cost = cost
        self.available = available
    }

    /// Offers the next segment (chronological order). Returns the batches planned because the window filled.
    /// - Throws: ``MemoryError/itemDoesNotFit(id:durationMs:needs:available:)`` if the item alone needs more than
    ///   ``available`` (the item is rejected and gets no sequence number); ``MemoryError/invalidRequest(_:)`` for a
    ///   negative duration. If planning a full window throws (``available`` was lowered), the window is kept:
    ///   raise ``available`` and call ``flush()``.
    public mutating func push(_ item: WorkItem) throws(MemoryError) -> [PlannedBatch] {
        guard item.durationMs >= 0 else {
            throw .invalidRequest("segment \(item.id) has a negative duration (\(item.durationMs) ms)")
        }
        try checkFitsAlone(id: item.id, durationMs: item.durationMs)
        var out: [PlannedBatch] = []
        if let maxMs = configuration.lookAhead.maxDurationMs, !window.isEmpty, windowMs + item.durationMs > maxMs {
            out += try flush()
        }
        window.append(BatchItem(id: item.id, durationMs: item.durationMs, sequence: nextSequence))
        nextSequence += 1
        windowMs += item.durationMs
        maxPendingObserved = max(maxPendingObserved, window.count)
        let fullByCount = configuration.lookAhead.maxItems.map { window.count >= $0 } ?? false
        let fullByTime = configuration.lookAhead.maxDurationMs.map { windowMs >= $0 } ?? false
        if fullByCount || fullByTime { out += try flush() }
        return out
    }

    /// Convenience for ``push(_:)``.
    public mutating func push(id: Int, durationMs: Int) throws(MemoryError) -> [PlannedBatch] {
        try push(WorkItem(id: id, durationMs: durationMs))
    }

    /// Plans every held item now (end of input, or a latency deadline). On error the window is kept.
    public mutating func flush() throws(MemoryError) -> [PlannedBatch] {
        guard !window.isEmpty else { return [] }
        let batches = try pack(window)
        window.removeAll(keepingCapacity: true)
        windowMs = 0
        for b in batches { batchSizeHistogram[b.count, default: 0] += 1 }
        return batches
    }

    /// End of input: same as ``flush()``.
    public mutating func finish() throws(MemoryError) -> [PlannedBatch] { try flush() }

    /// Plans a whole list by streaming it through a planner (the look-ahead bound still applies).
    public static func plan(_ items: [WorkItem], configuration: Configuration = Configuration(),
                            cost: CostModel? = nil, available: ByteCount? = nil) throws(MemoryError) -> [PlannedBatch] {
        var planner = BatchPlanner(configuration: configuration, cost: cost, available: available)
        var out: [PlannedBatch] = []
        for item in items { out += try planner.push(item) }
        out += try planner.finish()
        return out
    }

    private func checkFitsAlone(id: Int, durationMs: Int) throws(MemoryError) {
        guard let cost, let available else { return }
        let needs = cost(1, durationMs)
        if needs > available {
            throw .itemDoesNotFit(id: id, durationMs: durationMs, needs: needs, available: available)
        }
    }

    private func fits(count: Int, longestMs: Int) -> Bool {
        guard let cost, let available else { return true }
        return cost(count, longestMs) <= available
    }

    /// FunASR's loop (§1.3) over one window, with the differences listed on the type.
    func pack(_ items: [BatchItem]) throws(MemoryError) -> [PlannedBatch] {
        let sorted = items.sorted { ($0.durationMs, $0.sequence) < ($1.durationMs, $1.sequence) }
        // Every item must fit alone; report the one needing the most (its need is the smallest workable budget).
        if cost != nil, available != nil, let worst = sorted.last(where: { !fits(count: 1, longestMs: $0.durationMs) }) {
            try checkFitsAlone(id: worst.id, durationMs: worst.durationMs)
        }
        let budget = configuration.batchSizeMs
        var batches: [PlannedBatch] = []
        var current: [BatchItem] = []
        var longest = 0

        func close(_ reason: PlannedBatch.CloseReason) {
            guard !current.isEmpty else { return }
            batches.append(PlannedBatch(items: current, longestMs: longest, totalMs: current.reduce(0) { $0 + $1.durationMs },
                                        estimatedCost: cost.map { $0(current.count, longest) }, reason: reason))
            current.removeAll(keepingCapacity: true)
            longest = 0
        }

        for item in sorted {
            let length = item.durationMs
            if length >= configuration.thresholdMs {
                close(.threshold)
                current = [item]
                longest = length
                close(.threshold)
                continue
            }
            if !current.isEmpty {
                let newLongest = max(longest, length), newCount = current.count + 1
                if let cap = configuration.maxBatchSize, newCount > cap {
                    close(.maxBatchSize)
                } else if !fits(count: newCount, longestMs: newLongest) {
                    close(.memory)
                } else if configuration.strictCap, newLongest * newCount > budget {
                    close(.budget)
                }
            }
            current.append(item)
            longest = max(longest, length)
            // FunASR: the item that brings the padded size to the budget is admitted, then closes the batch.
            if !configuration.strictCap, longest * current.count >= budget { close(.budget) }
        }
        close(.windowEnd)
        return batches
    }
}

/// One result back in input order.
public struct OrderedResult<Result: Sendable>: Sendable {
    /// The item the result belongs to.
    public var item: BatchItem
    /// The caller's result for it.
    public var result: Result
}

/// Restores chronological order: feed it each batch's results as batches finish (in any order), and it returns the
/// results whose every earlier item is done, in input order (FunASR restores order per file, §1.6; this does it
/// incrementally). It buffers only results that are waiting for an earlier item — at most the items planned but
/// not yet yielded, i.e. bounded by the planner's look-ahead times the windows in flight.
public struct ChronologicalReorderer<Result: Sendable>: Sendable {
    private var buffer: [Int: OrderedResult<Result>] = [:]
    /// The sequence number that must complete before anything more is yielded.
    public private(set) var nextSequence: Int
    /// Results held waiting for an earlier item.
    public var bufferedCount: Int { buffer.count }
    /// Most results held at once so far.
    public private(set) var maxBuffered = 0

    /// - Parameter firstSequence: the first sequence number the planner assigned (0 for a fresh planner).
    public init(firstSequence: Int = 0) { nextSequence = firstSequence }

    /// Records one batch's results, `results[i]` belonging to `batch.items[i]`, and returns what is now in order.
    /// Every item needs a result (FunASR drops the whole file's text on a count mismatch; here that is a bug).
    public mutating func complete(_ batch: PlannedBatch, results: [Result]) -> [OrderedResult<Result>] {
        precondition(results.count == batch.items.count,
                     "ChronologicalReorderer: \(results.count) results for a batch of \(batch.items.count) items")
        for (item, result) in zip(batch.items, results) { insert(item, result) }
        return drain()
    }

    /// Records one item's result and returns what is now in order.
    public mutating func complete(_ item: BatchItem, result: Result) -> [OrderedResult<Result>] {
        insert(item, result)
        return drain()
    }

    private mutating func insert(_ item: BatchItem, _ result: Result) {
        precondition(item.sequence >= nextSequence && buffer[item.sequence] == nil,
                     "ChronologicalReorderer: item \(item.id) (sequence \(item.sequence)) completed twice")
        buffer[item.sequence] = OrderedResult(item: item, result: result)
        maxBuffered = max(maxBuffered, buffer.count)
    }

    private mutating func drain() -> [OrderedResult<Result>] {
        var out: [OrderedResult<Result>] = []
        while let next = buffer.removeValue(forKey: nextSequence) {
            out.append(next)
            nextSequence += 1
        }
        return out
    }
}
