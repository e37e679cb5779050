import Foundation
import Testing
@testable import EarshotMemory

@Suite("ProcessMemory", .serialized)
struct ProcessMemoryTests {
    @Test func readsCounters() throws {
        let rss = try #require(ProcessMemory.currentRSS())
        let hwm = try #require(ProcessMemory.peakRSS())
        #expect(rss.bytes > 1 << 20)
        #expect(hwm >= rss)
        #expect(ProcessMemory.heapStatistics() != nil)
    }

    @Test("VmHWM rises after touching 50 MB and drops after clear_refs", .disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates"))
    func highWaterMark() throws {
        _ = ProcessMemory.configureAllocator()
        #expect(ProcessMemory.configureAllocator() == false)  // only once
        try #require(ProcessMemory.resetPeak(), "cannot write /proc/self/clear_refs here")
        let before = try #require(ProcessMemory.peakRSS())
        let size = 50 << 20
        let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        for page in stride(from: 0, to: size, by: 4096) { block.storeBytes(of: 1, toByteOffset: page, as: UInt8.self) }
        let touched = try #require(ProcessMemory.peakRSS())
        #expect(touched.bytes >= before.bytes + 45 << 20, "VmHWM \(touched) after touching 50 MiB (was \(before))")
        block.deallocate()
        ProcessMemory.trimHeap()
        #expect(ProcessMemory.resetPeak())
        let after = try #require(ProcessMemory.peakRSS())
        let current = try #require(ProcessMemory.currentRSS())
        // Other suites run beside this one and move the process's RSS, so the reset is judged against the
        // resident set read right after it: without the reset VmHWM would stay ≥ 45 MiB above it.
        #expect(after.bytes < current.bytes + 20 << 20, "VmHWM \(after) after reset, RSS \(current) (peak was \(touched))")
    }
}
