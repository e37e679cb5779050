import Foundation
import Testing
@testable import EarshotMemory

@Suite("MemoryReport")
struct MemoryReportTests {
    @Test func rendersTextAndJSON() throws {
        let ledger = MemoryLedger(limit: .gib(1))
        let w = try ledger.reserve(.mib(75), category: .weights)
        do {
            let a = try ledger.reserve(.mib(120), category: .activations)
            let k = try ledger.reserve(.mib(30), category: .kvCache)
            _ = (a, k)
        }
        let report = MemoryReport(ledger: ledger, batchSizes: [1: 3, 12: 2], processPeakRSS: .mib(300))
        #expect(report.ledgerPeak == .mib(225))
        #expect(report.stages.first { $0.category == .activations }?.peak == .mib(120))
        #expect(report.stages.first { $0.category == .activations }?.current == .zero)
        let text = report.render(format: .text)
        for part in ["weights", "75.0 MiB", "activations", "120.0 MiB", "KV cache", "ledger peak", "225.0 MiB",
                     "300.0 MiB", "1.0 GiB", "batches: 5", "1×3", "12×2", "timeline:"] {
            #expect(text.contains(part), "missing \(part) in:\n\(text)")
        }
        let json = report.render(format: .json)
        let decoded = try JSONDecoder().decode(MemoryReport.self, from: Data(json.utf8))
        #expect(decoded == report)
        #expect(json.contains("\"ledgerPeak\" : 235929600"))
        w.release()
    }
}
