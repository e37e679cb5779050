import Foundation

/// The process's resident memory as the kernel reports it (`/proc/self/status`).
enum ResidentMemory {
    /// Current resident set (VmRSS), in bytes.
    static var current: Int { field("VmRSS:") }
    /// Peak resident set since start or the last reset (VmHWM), in bytes.
    static var peak: Int { field("VmHWM:") }

    private static func field(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let digits = line.dropFirst(name.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first
            return (digits.flatMap { Int($0) } ?? 0) * 1024
        }
        return 0
    }
}
