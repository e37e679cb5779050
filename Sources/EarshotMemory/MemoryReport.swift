import Foundation

/// Everything `--memory-report` prints: per-stage peaks from a ``MemoryLedger``, the batch sizes the
/// ``BatchPlanner`` chose, the process peak RSS, the limit and the bounded timeline.
public struct MemoryReport: Sendable, Codable, Equatable {
    /// Output format for ``render(format:)``.
    public enum Format: String, Sendable, CaseIterable {
        /// A readable table (for stderr).
        case text
        /// Stable, sorted-key JSON (bytes as integers).
        case json
    }

    /// One stage's numbers.
    public struct Stage: Sendable, Codable, Equatable {
        /// The ledger category.
        public var category: MemoryCategory
        /// Highest reserved bytes.
        public var peak: ByteCount
        /// Reserved bytes when the report was made.
        public var current: ByteCount
    }

    /// One histogram bin: `batches` batches had `size` items.
    public struct BatchSizeBin: Sendable, Codable, Equatable {
        public var size: Int
        public var batches: Int
    }

    /// Per-stage peaks in ``MemoryCategory`` order (weights, audio, features, activations, KV cache, outputs, other).
    public var stages: [Stage]
    /// Highest ledger total at one instant (not the sum of stage peaks).
    public var ledgerPeak: ByteCount
    /// Batch-size histogram, ascending by size.
    public var batchSizes: [BatchSizeBin]
    /// Process peak RSS (VmHWM), if it could be read.
    public var processPeakRSS: ByteCount?
    /// The hard budget, if any.
    public var limit: ByteCount?
    /// The ledger's bounded timeline.
    public var timeline: [MemorySample]

    public init(stages: [Stage], ledgerPeak: ByteCount, batchSizes: [Int: Int], processPeakRSS: ByteCount?,
                limit: ByteCount?, timeline: [MemorySample]) {
        self.stages = stages
        self.ledgerPeak = ledgerPeak
        self.batchSizes = batchSizes.sorted { $0.key < $1.key }.map { BatchSizeBin(size: $0.key, batches: $0.value) }
        self.processPeakRSS = processPeakRSS
        self.limit = limit
        self.timeline = timeline
    }

    /// Collects a report from a ledger and a planner's histogram; reads the process peak RSS unless one is given.
    public init(ledger: MemoryLedger, batchSizes: [Int: Int] = [:],
                processPeakRSS: ByteCount? = ProcessMemory.peakRSS()) {
        let s = ledger.snapshot()
        self.init(stages: MemoryCategory.allCases.map {
                      Stage(category: $0, peak: s.peak[$0] ?? .zero, current: s.current[$0] ?? .zero)
                  },
                  ledgerPeak: s.peakTotal, batchSizes: batchSizes, processPeakRSS: processPeakRSS,
                  limit: s.limit, timeline: ledger.timeline())
    }

    /// The report as text (a table) or JSON.
    public func render(format: Format) -> String {
        switch format {
        case .text: renderText()
        case .json: renderJSON()
        }
    }

    private func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }

    private func renderText() -> String {
        var lines = ["memory report"]
        let percent: (ByteCount) -> String = { value in
            guard let limit, limit.bytes > 0 else { return "" }
            return String(format: "%5.1f%%", 100 * Double(value.bytes) / Double(limit.bytes))
        }
        lines.append(pad("stage", 14) + pad("peak", 12, right: true) + pad("now", 12, right: true)
            + (limit == nil ? "" : pad("of limit", 10, right: true)))
        for stage in stages where stage.category != .other || stage.peak.bytes > 0 {
            lines.append(pad(stage.category.description, 14) + pad(stage.peak.description, 12, right: true)
                + pad(stage.current.description, 12, right: true) + pad(percent(stage.peak), 10, right: true))
        }
        lines.append(pad("ledger peak", 14) + pad(ledgerPeak.description, 12, right: true) + pad("", 12)
            + pad(percent(ledgerPeak), 10, right: true))
        lines.append(pad("process RSS", 14) + pad(processPeakRSS?.description ?? "n/a", 12, right: true)
            + "  (peak, VmHWM)")
        lines.append(pad("limit", 14) + pad(limit?.description ?? "none", 12, right: true))
        if batchSizes.isEmpty {
            lines.append("batches: none planned")
        } else {
            let total = batchSizes.reduce(0) { $0 + $1.batches }
            let bins = batchSizes.map { "\($0.size)×\($0.batches)" }.joined(separator: " ")
            lines.append("batches: \(total) (items×batches: \(bins))")
        }
        if let first = timeline.first, let last = timeline.last {
            lines.append("timeline: \(timeline.count) samples over "
                + String(format: "%.2f", last.time - first.time) + " s  " + sparkline(width: 48))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The timeline's totals as a one-line bar chart (max per column), scaled to the ledger peak.
    func sparkline(width: Int) -> String {
        let bars = Array("▁▂▃▄▅▆▇█")
        guard !timeline.isEmpty else { return "" }
        let top = max(1, timeline.map(\.total.bytes).max() ?? 1)
        let columns = min(width, timeline.count)
        return String((0..<columns).map { c in
            let lo = c * timeline.count / columns, hi = max(lo + 1, (c + 1) * timeline.count / columns)
            let v = timeline[lo..<hi].map(\.total.bytes).max() ?? 0
            return bars[min(bars.count - 1, v * (bars.count - 1) / top)]
        })
    }

    private func renderJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
