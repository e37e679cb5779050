import Foundation
import Testing

/// Weights are memory-mapped read-only, so two processes using the same model share one physical copy
/// (at fp32 and fp16 precision; int8 packs private copies at load).
@Suite("weights are shared between processes")
struct SharedWeightsTests {
    /// Bytes of `model.bin` resident in `pid` that are shared with another process (`Shared_Clean` of the
    /// mapping in /proc/PID/smaps), or nil while the file is not mapped yet.
    static func sharedModelBytes(pid: Int32, modelPath: String) -> Int? {
        // procfs files report a size of 0, so read them as a stream rather than by size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps") else { return nil }
        defer { try? handle.close() }
        let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var inModel = false
        var shared = 0
        var found = false
        for line in smaps.split(separator: "\n") {
            if let first = line.first, first.isHexDigit, line.contains("-") && line.split(separator: " ").count >= 5 {
                inModel = line.hasSuffix(modelPath)
                found = found || inModel
            } else if inModel, line.hasPrefix("Shared_Clean:") {
                shared += (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
            }
        }
        return found ? shared : nil
    }

    @Test("two transcriptions at once share the model's pages")
    func twoProcessesShareWeights() throws {
        let model = try CommandRunner.asset("models/whisper-tiny.en")
        let audio = try CommandRunner.asset("audio/pyannote/sample.wav")
        let modelBin = model + "/model.bin"
        let size = (try FileManager.default.attributesOfItem(atPath: modelBin)[.size] as? Int) ?? 0
        let executable = try CommandRunner.executable
        // Loop over the clip many times so both processes are alive together for a while.
        let processes = (0..<2).map { _ -> Process in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: executable)
            // fp32 keeps the weights mapped; int8 (the default) converts them into private packed copies.
            p.arguments = ["transcribe"] + Array(repeating: audio, count: 8) + ["--model", model, "--vad", "none",
                                                                              "--precision", "fp32"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            return p
        }
        for p in processes { try p.run() }
        defer { for p in processes where p.isRunning { p.terminate(); p.waitUntilExit() } }
        var best = [0, 0]
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, processes.allSatisfy(\.isRunning) {
            for (i, p) in processes.enumerated() {
                best[i] = max(best[i], Self.sharedModelBytes(pid: p.processIdentifier, modelPath: modelBin) ?? 0)
            }
            if best.allSatisfy({ $0 >= size / 2 }) { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        print("model.bin \(size) bytes; shared resident pages: \(best[0]) and \(best[1]) bytes")
        #expect(best[0] >= size / 2 && best[1] >= size / 2,
                "each process should share at least half of model.bin with the other: \(best) of \(size)")
    }
}
