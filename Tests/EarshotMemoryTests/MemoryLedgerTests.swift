import Dispatch
import Foundation
import Testing
@testable import EarshotMemory

@Suite("MemoryLedger")
struct MemoryLedgerTests {
    @Test func reserveReleaseAndPeaks() throws {
        let ledger = MemoryLedger()
        let a = try ledger.reserve(.mib(10), category: .weights)
        var b: MemoryReservation? = try ledger.reserve(.mib(5), category: .activations)
        #expect(ledger.currentTotal == .mib(15))
        #expect(ledger.current(.activations) == .mib(5))
        b = nil  // deinit releases
        #expect(b == nil)
        #expect(ledger.currentTotal == .mib(10))
        #expect(ledger.peak(.activations) == .mib(5))
        #expect(ledger.peakTotal == .mib(15))
        a.release()
        a.release()  // exactly once
        #expect(a.isReleased && a.bytes == .zero)
        #expect(ledger.currentTotal == .zero)
        #expect(ledger.snapshot().liveReservations == 0)
        ledger.resetPeaks()
        #expect(ledger.peakTotal == .zero && ledger.peak(.weights) == .zero)
    }

    @Test func limitEnforcement() throws {
        let ledger = MemoryLedger(limit: .mib(100))
        let held = try ledger.reserve(.mib(70), category: .weights)
        #expect(ledger.available == .mib(30))
        #expect(throws: MemoryError.overLimit(requested: .mib(40), category: .activations, inUse: .mib(70),
                                              limit: .mib(100))) {
            try ledger.reserve(.mib(40), category: .activations)
        }
        #expect(ledger.tryReserve(.mib(31), category: .features) == nil)
        let exact = try #require(ledger.tryReserve(.mib(30), category: .features))
        #expect(ledger.available == .zero)
        // The error says what was asked, what is in use, the limit, and what to do.
        let message = MemoryError.overLimit(requested: .mib(40), category: .activations, inUse: .mib(70),
                                            limit: .mib(100)).description
        for part in ["40.0 MiB", "70.0 MiB", "100.0 MiB", "110.0 MiB", "--memory-limit", "--batch-size-s"] {
            #expect(message.contains(part), "missing \(part) in: \(message)")
        }
        // Resize: growing is checked, failure changes nothing; shrinking always works.
        #expect(throws: MemoryError.self) { try exact.resize(to: .mib(31)) }
        #expect(exact.bytes == .mib(30))
        try exact.resize(to: .mib(10))
        #expect(ledger.current(.features) == .mib(10) && ledger.available == .mib(20))
        #expect(throws: MemoryError.self) { try ledger.reserve(ByteCount(-1), category: .other) }
        held.release()
        exact.release()
        #expect(throws: MemoryError.self) { try exact.resize(to: .mib(1)) }
    }

    @Test("many threads: peaks exact, totals back to zero, never negative")
    func concurrency() throws {
        let ledger = MemoryLedger(timelineCapacity: 64)
        let threads = 8, perThread = 500, size = 4096
        let holders = Locked<[MemoryReservation]>([])
        // Phase 1: everyone reserves and holds: the peak is exactly the sum.
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let category = MemoryCategory.allCases[t % MemoryCategory.allCases.count]
            var mine: [MemoryReservation] = []
            for _ in 0..<perThread { mine.append(try! ledger.reserve(ByteCount(size), category: category)) }
            holders.withLock { $0 += mine }
        }
        let expected = ByteCount(threads * perThread * size)
        #expect(ledger.currentTotal == expected)
        #expect(ledger.peakTotal == expected)
        #expect(MemoryCategory.allCases.map { ledger.peak($0).bytes }.reduce(0, +) == expected.bytes)
        // Phase 2: release concurrently (twice each) while churning and sampling; nothing goes negative.
        let all = holders.withLock { $0 }
        let negative = Locked(false)
        DispatchQueue.concurrentPerform(iterations: threads + 1) { t in
            if t == threads {
                for _ in 0..<2000 {
                    let s = ledger.snapshot()
                    if s.currentTotal.bytes < 0 || s.current.values.contains(where: { $0.bytes < 0 }) {
                        negative.withLock { $0 = true }
                    }
                }
                return
            }
            for i in stride(from: t, to: all.count, by: threads) {
                all[i].release()
                all[i].release()
                if let r = ledger.tryReserve(ByteCount(i % 100), category: .outputs) { r.release() }
            }
        }
        #expect(negative.withLock { $0 } == false)
        #expect(ledger.currentTotal == .zero)
        #expect(ledger.snapshot().liveReservations == 0)
        #expect(ledger.peakTotal == expected)
        // The timeline is bounded and keeps the peak.
        let timeline = ledger.timeline()
        #expect(timeline.count <= 65)
        #expect(timeline.map(\.total).max() == expected)
    }

    @Test("limit holds under contention")
    func concurrentLimit() {
        let limit = ByteCount(2000)
        let ledger = MemoryLedger(limit: limit)
        let refused = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            var held: [MemoryReservation] = []
            for i in 0..<5000 {
                if let r = ledger.tryReserve(ByteCount(100 + (i * 37 + t) % 900), category: .activations) {
                    held.append(r)
                } else {
                    refused.withLock { $0 += 1 }
                }
                if held.count > 3 { held.removeFirst().release() }
            }
        }
        #expect(ledger.peakTotal <= limit)
        #expect(ledger.currentTotal == .zero)
        #expect(refused.withLock { $0 } > 0)
    }

    @Test("timeline does not grow with input length")
    func timelineBounded() throws {
        let ledger = MemoryLedger(timelineCapacity: 32)
        var peak = 0
        for i in 0..<100_000 {
            let size = (i * 7919) % 1000
            let r = try ledger.reserve(ByteCount(size), category: .features)
            peak = max(peak, size)
            r.release()
        }
        let t = ledger.timeline()
        #expect(t.count <= 33)
        #expect(t.map(\.total.bytes).max() == peak)
        #expect(zip(t, t.dropFirst()).allSatisfy { $0.time <= $1.time })
    }
}
