import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a transcription spends its time: wall and CPU seconds per stage, accumulated over every call, with
/// the arithmetic each stage did (so its GFLOP/s can be read off).
///
/// Stages are measured one at a time on the thread that drives the work; CPU time is the whole process's
/// (`CLOCK_PROCESS_CPUTIME_ID`), so the kernels' worker threads count towards the stage that started them.
/// Measurements must not nest (a nested stage would be counted twice). Thread-safe.
public final class StageTimes: @unchecked Sendable {
    /// A stage of the work, in pipeline order.
    public enum Stage: String, CaseIterable, Sendable {
        /// Reading and decoding the file, resampling.
        case read
        /// Voice activity detection (features and FSMN).
        case vad
        /// Whisper log-mel features.
        case mel
        /// The audio encoder, cross-attention keys/values included.
        case encoder
        /// The text decoder's steps and the per-step token choice.
        case decoder
        /// Word alignment (cross-attention pass and dynamic time warping).
        case alignment
        /// Formatting and writing the transcript.
        case output
    }

    /// What one stage accumulated.
    public struct Entry: Sendable, Equatable {
        /// Seconds of wall-clock time.
        public var wallSeconds: Double = 0
        /// Seconds of CPU time (all threads of the process).
        public var cpuSeconds: Double = 0
        /// Times the stage ran.
        public var calls = 0
        /// Floating-point (or integer multiply-add) operations the stage did, counting a multiply-add as 2;
        /// 0 when not counted.
        public var operations: Double = 0

        /// Billions of operations per wall-clock second (0 when nothing was counted).
        public var gigaOperationsPerSecond: Double {
            wallSeconds > 0 ? operations / wallSeconds / 1e9 : 0
        }
    }

    private let lock = NSLock()
    private var entries: [Stage: Entry] = [:]

    public init() {}

    /// Runs `body`, adding its wall and CPU time (and `operations`) to `stage`.
    @discardableResult
    public func measure<T>(_ stage: Stage, operations: Double = 0, _ body: () throws -> T) rethrows -> T {
        let wall0 = Self.now(CLOCK_MONOTONIC), cpu0 = Self.now(CLOCK_PROCESS_CPUTIME_ID)
        defer {
            let wall = Self.now(CLOCK_MONOTONIC) - wall0, cpu = Self.now(CLOCK_PROCESS_CPUTIME_ID) - cpu0
            lock.withLock {
                entries[stage, default: Entry()].wallSeconds += wall
                entries[stage, default: Entry()].cpuSeconds += cpu
                entries[stage, default: Entry()].calls += 1
                entries[stage, default: Entry()].operations += operations
            }
        }
        return try body()
    }

    /// Adds operations to a stage without timing anything (when the count is known only afterwards).
    public func addOperations(_ operations: Double, to stage: Stage) {
        lock.withLock { entries[stage, default: Entry()].operations += operations }
    }

    /// The stages that ran, in pipeline order.
    public var snapshot: [(stage: Stage, entry: Entry)] {
        lock.withLock { Stage.allCases.compactMap { s in entries[s].map { (s, $0) } } }
    }

    private static func now(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
