import Foundation
import Metrics
import Prometheus
import EarshotMemory
import EarshotPipeline

/// The server's metrics, recorded through swift-metrics into a Prometheus registry and served as text at
/// `GET /metrics`.
///
/// swift-metrics has one process-wide backend, so the registry is bootstrapped once per process (``shared``);
/// every server in the process (tests start several) records into it, and counters are totals over all of
/// them. Gauges that describe the engine (queue depth, running jobs, audio in flight, ledger bytes, RSS) are
/// read from it when `/metrics` is scraped, so they are exact at that moment.
public final class ServerMetrics: Sendable {
    /// The process's metrics (bootstraps `MetricsSystem` with a `PrometheusMetricsFactory` on first use).
    public static let shared = ServerMetrics()

    /// Where the metrics live.
    public let registry: PrometheusCollectorRegistry

    static let latencyLabel = "earshot_request_duration_seconds"
    static let realTimeFactorLabel = "earshot_real_time_factor"

    private init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[Self.latencyLabel] = [
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
        ]
        // Wall seconds per audio second: < 1 is faster than real time.
        factory.valueHistogramBuckets[Self.realTimeFactorLabel] = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10]
        MetricsSystem.bootstrap(factory)
        self.registry = registry
    }

    /// Counts a finished request: `route` is the route pattern (`/v1/audio/transcriptions`, `ws`), `status`
    /// the HTTP status sent (101 for a websocket session).
    public func recordRequest(route: String, status: Int) {
        Counter(label: "earshot_http_requests_total", dimensions: [("route", route), ("status", String(status))]).increment()
    }

    /// Records how long a recognition request took from arrival to its last byte, and its real-time factor
    /// (wall seconds per second of audio) when it carried audio.
    public func recordRecognition(route: String, seconds: Double, audioSeconds: Double) {
        Metrics.Timer(label: Self.latencyLabel, dimensions: [("route", route)]).recordSeconds(seconds)
        if audioSeconds > 0 {
            Recorder(label: Self.realTimeFactorLabel, dimensions: [("route", route)], aggregate: true)
                .record(seconds / audioSeconds)
        }
    }

    /// A `kB` field of /proc/self/status (Linux), e.g. `RssAnon:` (heap, stacks) and `RssFile:` (mapped
    /// weights and code, which the kernel may evict and fault back in).
    static func statusKilobytes(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return nil }
        return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
    }

    /// Counts a heap trim made because the server went idle (`earshot_idle_heap_trims_total`).
    public func recordIdleTrim() {
        Counter(label: "earshot_idle_heap_trims_total").increment()
    }

    /// Sets the engine and process gauges from `status`, then renders every metric as Prometheus text.
    public func render(engine status: EngineStatus, requestsInFlight: Int) -> String {
        Gauge(label: "earshot_requests_in_flight").record(requestsInFlight)
        Gauge(label: "earshot_queue_depth").record(status.waitingJobs)
        Gauge(label: "earshot_running_jobs").record(status.runningJobs)
        Gauge(label: "earshot_job_capacity").record(status.jobCapacity)
        Gauge(label: "earshot_windows_in_flight").record(status.windowsInFlight)
        Gauge(label: "earshot_audio_seconds_in_flight").record(status.audioSecondsInFlight)
        Gauge(label: "earshot_batch_cap").record(status.batchCap)
        Gauge(label: "earshot_draining").record(status.draining ? 1 : 0)
        for category in MemoryCategory.allCases {
            Gauge(label: "earshot_ledger_bytes", dimensions: [("category", category.rawValue)])
                .record(status.ledger.current[category]?.bytes ?? 0)
        }
        Gauge(label: "earshot_ledger_peak_bytes").record(status.ledger.peakTotal.bytes)
        if let limit = status.ledger.limit { Gauge(label: "earshot_ledger_limit_bytes").record(limit.bytes) }
        if let rss = ProcessMemory.currentRSS() { Gauge(label: "earshot_process_resident_bytes").record(rss.bytes) }
        for (field, label) in [("RssAnon:", "earshot_process_resident_anonymous_bytes"), ("RssFile:", "earshot_process_resident_file_bytes")] {
            if let kB = Self.statusKilobytes(field) { Gauge(label: label).record(kB * 1024) }
        }
        if let heap = ProcessMemory.heapStatistics() {
            for (kind, bytes) in [("in_use", heap.inUse), ("free", heap.free), ("arena", heap.arena), ("mmapped", heap.mmapped)] {
                Gauge(label: "earshot_heap_bytes", dimensions: [("kind", kind)]).record(bytes.bytes)
            }
        }
        if let peak = ProcessMemory.peakRSS() { Gauge(label: "earshot_process_peak_resident_bytes").record(peak.bytes) }
        Gauge(label: "earshot_batches_run").record(status.batches)
        Gauge(label: "earshot_windows_recognised").record(status.windows)
        return registry.emitToString()
    }
}
