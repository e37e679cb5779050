import Foundation
import EarshotMemory

/// The `--profile` table: wall and CPU seconds per stage, each stage's share of the stages' total wall time,
/// and the encoder's and decoder's arithmetic rate.
enum ProfileText {
    static func render(_ times: StageTimes, audioSeconds: Double) -> String {
        let rows = times.snapshot
        let totalWall = rows.reduce(0) { $0 + $1.entry.wallSeconds }
        var text = "profile (\(String(format: "%.1f", audioSeconds)) s of audio)\n"
        text += "stage          wall s    CPU s   share   calls     GFLOP  GFLOP/s\n"
        for (stage, entry) in rows {
            let share = totalWall > 0 ? entry.wallSeconds / totalWall * 100 : 0
            let work = entry.operations > 0
                ? String(format: "%9.1f %8.1f", entry.operations / 1e9, entry.gigaOperationsPerSecond)
                : "        -        -"
            text += stage.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                + String(format: "%10.2f %8.2f %6.1f%% %7d ", entry.wallSeconds, entry.cpuSeconds, share, entry.calls)
                + work + "\n"
        }
        let cpu = rows.reduce(0) { $0 + $1.entry.cpuSeconds }
        text += "total     " + String(format: "%10.2f %8.2f (stages only; model load and warm-up excluded)\n", totalWall, cpu)
        return text
    }
}
