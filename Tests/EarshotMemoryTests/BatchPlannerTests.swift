import Testing
@testable import EarshotMemory

/// FunASR's loop as written in reference/funasr.md §1.3 (whole file, CPU budget-0 rule left out), for comparison.
func funasrReference(_ durationsMs: [Int], batchSizeS: Int, thresholdS: Int) -> [[Int]] {
    let n = durationsMs.count
    let order = durationsMs.indices.sorted { (durationsMs[$0], $0) < (durationsMs[$1], $1) }
    let budget = max(max(batchSizeS * 1000, 1), order.first.map { durationsMs[$0] } ?? 0)
    let threshold = thresholdS * 1000
    var batches: [[Int]] = [], beg = 0, maxLen = 0
    for j in 0..<n {
        let length = durationsMs[order[j]]
        let padded = max(maxLen, length) * (j - beg + 1)
        if j < n - 1 && length < threshold && padded < budget {
            maxLen = max(maxLen, length)
            continue
        }
        batches.append(Array(order[beg...j]))
        beg = j + 1
        maxLen = length
    }
    return batches
}

private func items(_ seconds: [Double]) -> [WorkItem] {
    seconds.enumerated().map { WorkItem(id: $0.offset, durationMs: Int(($0.element * 1000).rounded())) }
}

private func ids(_ batches: [PlannedBatch]) -> [[Int]] { batches.map { $0.items.map(\.id) } }

@Suite("BatchPlanner")
struct BatchPlannerTests {
    @Test("FunASR worked example [5,12,3,40,70,8] s, batch_size_s 60, threshold 60")
    func funasrExample() throws {
        let input = items([5, 12, 3, 40, 70, 8])
        // Sorted: 3(2) 5(0) 8(5) 12(1) 40(3) 70(4). Padded 3,10,24,48 < 60; adding 40 s gives 40×5 = 200 ≥ 60:
        // FunASR admits it and closes (overshoot). 70 s ≥ threshold runs alone.
        let funasr = try BatchPlanner.plan(input, configuration: .init(batchSizeS: 60, batchSizeThresholdS: 60))
        #expect(ids(funasr) == [[2, 0, 5, 1, 3], [4]])
        #expect(ids(funasr) == funasrReference(input.map(\.durationMs), batchSizeS: 60, thresholdS: 60))
        #expect(funasr[0].paddedMs == 200_000 && funasr[0].reason == .budget)
        #expect(funasr[1].reason == .threshold)
        // Strict cap (C++ runtime rule): 12×4 = 48 ≤ 60 but 40×5 > 60, so 40 s waits for the next batch.
        let strict = try BatchPlanner.plan(input, configuration: .init(batchSizeS: 60, batchSizeThresholdS: 60,
                                                                       strictCap: true))
        #expect(ids(strict) == [[2, 0, 5, 1], [3], [4]])
        #expect(strict.allSatisfy { $0.paddedMs <= 60_000 || $0.count == 1 })
    }

    @Test("31 × 9.9 s with 300 s: FunASR overshoots to 306.9 s, strict stops at 297 s")
    func overshootByOne() throws {
        let input = items(Array(repeating: 9.9, count: 40))
        let funasr = try BatchPlanner.plan(input)
        #expect(funasr.map(\.count) == [31, 9])
        #expect(funasr[0].paddedMs == 306_900)
        let strict = try BatchPlanner.plan(input, configuration: .init(strictCap: true))
        #expect(strict.map(\.count) == [30, 10])
        #expect(strict.allSatisfy { $0.paddedMs <= 300_000 })
    }

    @Test("an item over the threshold runs alone (FunASR would batch it with the shorter ones)")
    func thresholdAlone() throws {
        let input = items([10, 35, 50])
        #expect(funasrReference(input.map(\.durationMs), batchSizeS: 300, thresholdS: 30) == [[0, 1], [2]])
        let ours = try BatchPlanner.plan(input, configuration: .init(batchSizeThresholdS: 30))
        #expect(ids(ours) == [[0], [1], [2]])
        #expect(ours.map(\.reason) == [.threshold, .threshold, .threshold])
    }

    @Test("matches FunASR's loop exactly when nothing reaches the threshold and the window holds the file",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func matchesReference(seed: UInt64) throws {
        var rng = SplitMix(seed: seed)
        let n = 1 + Int(rng.next() % 200)
        let durations = (0..<n).map { _ in 200 + Int(rng.next() % 29_800) }
        let budgetS = [0, 1, 30, 60, 300][Int(seed % 5)]
        let config = BatchPlanner.Configuration(batchSizeS: Double(budgetS), batchSizeThresholdS: 60,
                                                lookAhead: .items(n))
        let ours = try BatchPlanner.plan(durations.enumerated().map { WorkItem(id: $0.offset, durationMs: $0.element) },
                                         configuration: config)
        #expect(ids(ours) == funasrReference(durations, batchSizeS: budgetS, thresholdS: 60))
    }

    @Test("strict cap never exceeds the budget; count cap holds", arguments: [11, 12, 13, 14])
    func strictNeverExceeds(seed: UInt64) throws {
        var rng = SplitMix(seed: seed)
        let input = (0..<500).map { WorkItem(id: $0, durationMs: 100 + Int(rng.next() % 59_000)) }
        for budget in [20.0, 60, 120, 300] {
            let batches = try BatchPlanner.plan(input, configuration: .init(batchSizeS: budget, strictCap: true,
                                                                            maxBatchSize: 16, lookAhead: .items(48)))
            #expect(batches.allSatisfy { $0.paddedMs <= Int(budget * 1000) || $0.count == 1 })
            #expect(batches.allSatisfy { $0.count <= 16 })
            #expect(batches.reduce(0) { $0 + $1.count } == input.count)
        }
    }

    @Test("look-ahead bound: never holds more than N items, or more than S seconds")
    func lookAheadBound() throws {
        var planner = BatchPlanner(configuration: .init(lookAhead: .items(8)))
        var emitted: [PlannedBatch] = []
        for i in 0..<1000 {
            emitted += try planner.push(id: i, durationMs: 1000 + (i * 7331) % 20_000)
            #expect(planner.pendingCount < 8)
        }
        emitted += try planner.finish()
        #expect(planner.maxPendingObserved == 8)
        #expect(emitted.reduce(0) { $0 + $1.count } == 1000)
        // Every batch comes from one window of 8 consecutive arrivals.
        #expect(emitted.allSatisfy { b in Set(b.items.map { $0.sequence / 8 }).count == 1 })

        var timed = BatchPlanner(configuration: .init(lookAhead: .seconds(60)))
        var held = 0
        for i in 0..<300 {
            let d = 1000 + (i * 7331) % 20_000
            let out = try timed.push(id: i, durationMs: d)
            held = out.isEmpty ? held + d : timed.pendingCount == 0 ? 0 : d
            #expect(held <= 60_000)
        }
    }

    @Test("memory: batches shrink until cost ≤ available; an item that cannot fit names its smallest budget")
    func memoryAware() throws {
        // 1000 bytes per padded millisecond: 10 s × n costs n × 10 MB.
        let cost: BatchPlanner.CostModel = { count, longest in ByteCount(count * longest * 1000) }
        let input = items(Array(repeating: 10, count: 50))
        let batches = try BatchPlanner.plan(input, cost: cost, available: ByteCount(100_000_000))
        #expect(batches.map(\.count) == [10, 10, 10, 10, 10])
        #expect(batches.dropLast().allSatisfy { $0.reason == .memory })
        #expect(batches.allSatisfy { ($0.estimatedCost ?? .zero) <= ByteCount(100_000_000) })

        // One 200 s item alone needs 200 MB.
        var planner = BatchPlanner(cost: cost, available: ByteCount(100_000_000))
        #expect(throws: MemoryError.itemDoesNotFit(id: 7, durationMs: 200_000, needs: ByteCount(200_000_000),
                                                   available: ByteCount(100_000_000))) {
            try planner.push(id: 7, durationMs: 200_000)
        }
        #expect(planner.pendingCount == 0)
        let message = MemoryError.itemDoesNotFit(id: 7, durationMs: 200_000, needs: ByteCount(200_000_000),
                                                 available: ByteCount(100_000_000)).description
        #expect(message.contains("smallest workable budget") && message.contains("190.7 MiB"))
        // …and that budget is indeed workable.
        planner.available = ByteCount(200_000_000)
        #expect(try planner.push(id: 7, durationMs: 200_000).isEmpty)
        #expect(try planner.finish().map(\.count) == [1])

        // Available lowered after items were accepted: flush fails, keeps the window, works once raised.
        var late = BatchPlanner(cost: cost, available: ByteCount(300_000_000))
        _ = try late.push(id: 0, durationMs: 250_000)
        late.available = ByteCount(100_000_000)
        #expect(throws: MemoryError.self) { try late.flush() }
        #expect(late.pendingCount == 1)
        late.available = ByteCount(250_000_000)
        #expect(try late.flush().count == 1)
    }

    @Test("chronological re-ordering with bounded buffering")
    func reorder() throws {
        var rng = SplitMix(seed: 42)
        let input = (0..<400).map { WorkItem(id: 1000 + $0, durationMs: 500 + Int(rng.next() % 40_000)) }
        var planner = BatchPlanner(configuration: .init(batchSizeS: 60, lookAhead: .items(16)))
        var reorderer = ChronologicalReorderer<String>()
        var output: [OrderedResult<String>] = []
        var windowBatches: [PlannedBatch] = []
        func runWindow() {
            // Finish the window's batches in reverse (longest first) — the worst order for buffering.
            for batch in windowBatches.reversed() {
                output += reorderer.complete(batch, results: batch.items.map { "text \($0.id)" })
            }
            windowBatches = []
        }
        for item in input {
            windowBatches += try planner.push(item)
            if planner.pendingCount == 0 { runWindow() }
        }
        windowBatches += try planner.finish()
        runWindow()
        #expect(output.map(\.item.id) == input.map(\.id))
        #expect(output.map(\.result) == input.map { "text \($0.id)" })
        #expect(reorderer.bufferedCount == 0)
        #expect(reorderer.maxBuffered <= 16)
        // Items complete one by one: each is yielded as soon as every earlier one is done.
        var r = ChronologicalReorderer<Int>()
        let b = { (s: Int) in BatchItem(id: s, durationMs: 1, sequence: s) }
        #expect(r.complete(b(1), result: 1).isEmpty)
        #expect(r.complete(b(0), result: 0).map(\.result) == [0, 1])
        #expect(r.complete(b(2), result: 2).map(\.result) == [2])
    }

    @Test func legacyNames() {
        #expect(BatchPlanner.thresholdS(fromBatchSizeTokenThresholdS: 40) == 40)
        #expect(BatchPlanner.batchSizeS(fromBatchSizeToken: 6000) == 360)
        let config = BatchPlanner.Configuration(batchSizeS: BatchPlanner.batchSizeS(fromBatchSizeToken: 3000),
                                                batchSizeThresholdS: BatchPlanner.thresholdS(fromBatchSizeTokenThresholdS: 30))
        #expect(config.batchSizeMs == 180_000 && config.thresholdMs == 30_000)
    }

    @Test func histogramAndValidation() throws {
        var planner = BatchPlanner(configuration: .init(batchSizeS: 60))
        for d in [5, 12, 3, 40, 70, 8] { _ = try planner.push(id: d, durationMs: d * 1000) }
        _ = try planner.finish()
        #expect(planner.batchSizeHistogram == [5: 1, 1: 1])
        #expect(throws: MemoryError.self) { try planner.push(id: 0, durationMs: -1) }
        #expect(try planner.finish().isEmpty)
    }
}

/// Deterministic RNG for property tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
