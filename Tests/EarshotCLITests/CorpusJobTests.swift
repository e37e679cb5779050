import Foundation
import Testing
import EarshotCheckpoint
import EarshotMemory

/// `earshot transcribe --manifest`, run as a user would on a tree of real recordings: outputs mirror the tree
/// (duplicate basenames in different folders never collide), clashing names are refused, a bad file is
/// reported while the rest go on, a rerun skips what the journal says is done, and N shards run as separate
/// processes — one killed with SIGKILL mid-way and rerun — give exactly the files of one full run.
@Suite("corpus jobs: --manifest, journal, --shard", .serialized)
struct CorpusJobTests {
    let tiny: String

    init() throws {
        tiny = try CommandRunner.asset("models/whisper-tiny.en")
    }

    /// A tree of real clips: the five cards as `cards/00N.wav`, LibriVox clips under the same names in
    /// `books/` and `books/more/`, and three ~40-s recordings made of LibriVox clips in `long/`.
    static func makeTree(in directory: String) throws -> String {
        let root = directory + "/corpus"
        let fm = FileManager.default
        for sub in ["cards", "books/more", "long"] { try fm.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true) }
        for n in 1...5 { try fm.copyItem(atPath: try CommandRunner.asset("audio/cards/00\(n).wav"), toPath: root + "/cards/00\(n).wav") }
        let clips = try ["0870", "0880", "0890", "0920", "0930"].map {
            try CommandRunner.asset("audio/librivox/sense_and_sensibility_01_austen_64kb-\($0).wav")
        }
        for (n, clip) in clips.prefix(3).enumerated() { try fm.copyItem(atPath: clip, toPath: root + "/books/00\(n + 1).wav") }
        for (n, clip) in clips.suffix(2).enumerated() { try fm.copyItem(atPath: clip, toPath: root + "/books/more/00\(n + 1).wav") }
        for (n, rotation) in [0, 2, 4].enumerated() {
            let order = Array(clips[rotation...] + clips[..<rotation])
            try concatenate(order + order, into: root + "/long/talk\(n + 1).wav")
        }
        return root
    }

    /// Joins 16-kHz mono WAVs into one (Python's `wave`, as the other test recordings are made).
    static func concatenate(_ inputs: [String], into output: String) throws {
        let script = """
            import sys, wave
            out = wave.open(sys.argv[1], 'wb')
            for i, path in enumerate(sys.argv[2:]):
                w = wave.open(path)
                if i == 0: out.setparams(w.getparams())
                out.writeframes(w.readframes(w.getnframes()))
            out.close()
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, output] + inputs
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "could not write \(output)")
    }

    /// Regular, non-hidden files under `directory`, relative to it, with their bytes.
    static func outputs(_ directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let relative = enumerator?.nextObject() as? String {
            let path = directory + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  !(relative as NSString).lastPathComponent.hasPrefix(".") else { continue }
            files[relative] = FileManager.default.contents(atPath: path)
        }
        return files
    }

    /// Hidden leftovers: temporaries a run left behind.
    static func partials(_ directory: String) -> [String] {
        (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".partial") }
    }

    static func journalPaths(_ directory: String) throws -> [String: [String]] {
        var byJournal: [String: [String]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasPrefix(".earshot-journal") {
            let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            byJournal[name] = text.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["path"] as? String
            }
        }
        return byJournal
    }

    @Test("outputs mirror the input tree; a rerun skips finished files; a bad file fails alone", .timeLimit(.minutes(10)))
    func mirrorsResumesAndReportsFailures() throws {
        let work = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let tree = try Self.makeTree(in: work)
        try FileManager.default.removeItem(atPath: tree + "/long")   // short files only here
        try Data("this is not audio\n".utf8).write(to: URL(fileURLWithPath: tree + "/books/more/broken.wav"))
        let out = work + "/out"
        let first = try CommandRunner.run(["transcribe", "--manifest", tree, "--output-dir", out, "--model", tiny,
                                           "--output-format", "json", "--no-progress"])
        #expect(first.status == 1, "a failed file makes the exit status non-zero: \(first.stderr)")
        #expect(first.stderr.contains("books/more/broken.wav"), "\(first.stderr)")
        #expect(first.stderr.contains("10 transcribed") && first.stderr.contains("1 failed"), "\(first.stderr)")
        let files = try Self.outputs(out)
        let expected = (1...5).map { "cards/00\($0).json" } + (1...3).map { "books/00\($0).json" }
            + (1...2).map { "books/more/00\($0).json" }
        #expect(Set(files.keys) == Set(expected), "\(files.keys.sorted())")
        // Same basename in three folders: three different transcripts, each of its own recording.
        let texts = try expected.map { name -> String in
            let object = try JSONSerialization.jsonObject(with: try #require(files[name])) as? [String: Any]
            return try #require(object?["text"] as? String)
        }
        #expect(Set(texts.prefix(5)).count == 5 && Set([texts[0], texts[5], texts[8]]).count == 3, "\(texts)")
        let single = try CommandRunner.run(["transcribe", tree + "/books/002.wav", "--model", tiny, "--output-format", "json", "--no-progress"])
        #expect(single.status == 0)
        #expect(Data(single.stdout.utf8) == files["books/002.json"], "a corpus output equals transcribing the file alone")
        #expect(Self.partials(out).isEmpty)

        // Rerun: everything journaled is skipped; only the broken file is tried (and fails) again.
        let before = try FileManager.default.attributesOfItem(atPath: out + "/cards/001.json")[.modificationDate] as? Date
        let second = try CommandRunner.run(["transcribe", "--manifest", tree, "--output-dir", out, "--model", tiny,
                                            "--output-format", "json", "--no-progress"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("0 transcribed, 10 already done (skipped), 1 failed"), "\(second.stderr)")
        let after = try FileManager.default.attributesOfItem(atPath: out + "/cards/001.json")[.modificationDate] as? Date
        #expect(before == after, "a skipped file's output is not rewritten")
        // A deleted output is redone; the broken file removed, the run succeeds.
        try FileManager.default.removeItem(atPath: out + "/books/more/001.json")
        try FileManager.default.removeItem(atPath: tree + "/books/more/broken.wav")
        let third = try CommandRunner.run(["transcribe", "--manifest", tree, "--output-dir", out, "--model", tiny,
                                           "--output-format", "json", "--no-progress"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stderr.contains("1 transcribed, 9 already done"), "\(third.stderr)")
        #expect(try Self.outputs(out) == files)
        // --fail-fast with --overwrite: a broken file first in line stops the run with a non-zero status.
        try Data("still not audio\n".utf8).write(to: URL(fileURLWithPath: tree + "/books/000.wav"))
        let stopped = try CommandRunner.run(["transcribe", "--manifest", tree, "--output-dir", out, "--model", tiny,
                                             "--output-format", "json", "--no-progress", "--overwrite", "--fail-fast", "--jobs", "1"])
        #expect(stopped.status == 1)
        #expect(stopped.stderr.contains("not started (--fail-fast)"), "\(stopped.stderr)")
    }

    @Test("inputs that would write the same output are refused with their names, before any model loads")
    func clashingNamesRefused() throws {
        let work = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let tree = try Self.makeTree(in: work)
        try FileManager.default.copyItem(atPath: tree + "/cards/001.wav", toPath: tree + "/cards/001.flac")
        let list = work + "/list.txt"
        try "# a list with relative paths\ncorpus/cards/001.wav\n\ncorpus/cards/001.flac\ncorpus/cards/002.wav\n"
            .write(toFile: list, atomically: true, encoding: .utf8)
        for manifest in [tree, list] {
            let result = try CommandRunner.run(["transcribe", "--manifest", manifest, "--output-dir", work + "/out",
                                                "--model", work + "/no-model-here"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("001.txt") && result.stderr.contains("001.flac")
                    && result.stderr.contains("001.wav") && !result.stderr.contains("002"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: work + "/out/cards"))
        }
        let missing = try CommandRunner.run(["transcribe", "--manifest", work + "/nothing.txt", "--output-dir", work + "/out"])
        #expect(missing.status != 0 && missing.stderr.contains("nothing.txt"), "\(missing.stderr)")
        let noDir = try CommandRunner.run(["transcribe", "--manifest", tree])
        #expect(noDir.status != 0 && noDir.stderr.contains("--output-dir"), "\(noDir.stderr)")
        // Plain `transcribe FILES --output-dir` refuses files whose outputs share a name, naming them.
        let plain = try CommandRunner.run(["transcribe", tree + "/cards/001.wav", tree + "/books/001.wav", tree + "/cards/002.wav",
                                           "--output-dir", work + "/plain", "--model", tiny])
        #expect(plain.status == 1 && plain.stderr.contains("001.txt") && plain.stderr.contains("books/001.wav")
                && plain.stderr.contains("--manifest"), "\(plain.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/plain/002.txt"))
        let both = try CommandRunner.run(["transcribe", "--manifest", tree, tree + "/cards/002.wav", "--output-dir", work + "/out"])
        #expect(both.status != 0 && both.stderr.contains("not both"), "\(both.stderr)")
    }

    @Test("--shard deals by duration: N shards cover the manifest exactly once, balanced within the longest file")
    func shardsCoverOnceBalanced() throws {
        let work = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let tree = try Self.makeTree(in: work)
        for count in [1, 2, 3, 4] {
            var seen: [String: Double] = [:]
            var loads: [Double] = []
            for index in 0..<count {
                let result = try CommandRunner.run(["transcribe", "--manifest", tree, "--output-dir", work + "/out",
                                                    "--shard", "\(index)/\(count)", "--dry-run"])
                #expect(result.status == 0, "\(result.stderr)")
                let rows = result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: "\t") }
                var load = 0.0
                for row in rows {
                    #expect(seen[String(row[0])] == nil, "\(row[0]) is in two shards")
                    seen[String(row[0])] = Double(row[1])
                    load += Double(row[1]) ?? 0
                }
                loads.append(load)
            }
            #expect(seen.count == 13, "every file in exactly one of \(count) shards: \(seen.keys.sorted())")
            let longest = seen.values.max() ?? 0
            #expect((loads.max() ?? 0) - (loads.min() ?? 0) <= longest + 1e-6, "shard loads \(loads)")
        }
        let bad = try CommandRunner.run(["transcribe", "--manifest", tree, "--output-dir", work + "/out", "--shard", "3/3"])
        #expect(bad.status != 0 && bad.stderr.contains("--shard"), "\(bad.stderr)")
    }

    @Test("three shards as processes, one killed with SIGKILL mid-way and rerun: the union equals one full run",
          .timeLimit(.minutes(15)))
    func killedShardResumes() throws {
        let work = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let tree = try Self.makeTree(in: work)
        let full = work + "/full", sharded = work + "/sharded"
        let common = ["--model", tiny, "--output-format", "json", "--no-progress"]
        let reference = try CommandRunner.run(["transcribe", "--manifest", tree, "--output-dir", full] + common)
        #expect(reference.status == 0, "\(reference.stderr)")

        // Shard 1 runs one file at a time and is killed as soon as its first file is journaled.
        var processes: [Process] = []
        for index in 0..<3 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try CommandRunner.executable)
            process.arguments = ["transcribe", "--manifest", tree, "--output-dir", sharded, "--shard", "\(index)/3"]
                + common + (index == 1 ? ["--jobs", "1"] : [])
            process.standardError = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        let journal = sharded + "/.earshot-journal-1-of-3.jsonl"
        while processes[1].isRunning {
            // The journal is polled while empty: FileBytes, not String(contentsOfFile:), which leaks on empty files.
            if let data = FileBytes.read(journal), data.contains(UInt8(ascii: "\n")) {
                kill(processes[1].processIdentifier, SIGKILL)
                break
            }
            usleep(5_000)
        }
        for process in processes { process.waitUntilExit() }
        #expect(processes[1].terminationReason == .uncaughtSignal, "shard 1 finished before it could be killed")
        #expect(processes[0].terminationStatus == 0 && processes[2].terminationStatus == 0)
        let killedLines = (try? String(contentsOfFile: journal, encoding: .utf8))?.split(separator: "\n").count ?? 0
        let share = try CommandRunner.run(["transcribe", "--manifest", tree, "--output-dir", sharded, "--shard", "1/3", "--dry-run"])
        let shareSize = share.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.count
        #expect(killedLines < shareSize, "the kill came after shard 1 had finished (\(killedLines) of \(shareSize))")
        // Every output present after the kill is complete: it equals the full run's.
        let partial = try Self.outputs(sharded)
        let want = try Self.outputs(full)
        for (name, bytes) in partial { #expect(want[name] == bytes, "\(name) differs from the full run after the kill") }

        let rerun = try CommandRunner.run(["transcribe", "--manifest", tree, "--output-dir", sharded, "--shard", "1/3"] + common)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("\(killedLines) already done"), "\(rerun.stderr)")
        #expect(try Self.outputs(sharded) == want, "the union of the shards differs from one full run")
        #expect(want.count == 13)
        #expect(Self.partials(sharded).isEmpty, "temporaries left: \(Self.partials(sharded))")
        // No file was done by two shards.
        let journals = try Self.journalPaths(sharded)
        #expect(journals.count == 3)
        var owner: [String: String] = [:]
        for (name, paths) in journals {
            for path in Set(paths) {
                #expect(owner[path] == nil, "\(path) journaled by \(owner[path] ?? "") and \(name)")
                owner[path] = name
            }
        }
        #expect(owner.count == 13)
    }

    @Test("a corpus run under --memory-limit 250MB keeps the process's peak RSS under it", .timeLimit(.minutes(10)), .disabled(if: ProcessMemory.sanitizer != nil, "measures RSS, which a sanitizer's shadow memory inflates"))
    func peakWithinMemoryLimit() throws {
        let work = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let tree = try Self.makeTree(in: work)
        let limitMiB = 250.0 * 1_000_000 / 1_048_576   // 250MB
        let result = try CommandRunner.run(["transcribe", "--manifest", tree, "--output-dir", work + "/out", "--model", tiny,
                                            "--memory-limit", "250MB", "--no-progress"],
                                           launcher: ["/usr/bin/time", "-f", "maxrss_kib %M", "-o", work + "/time.txt"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.outputs(work + "/out").count == 13)
        // The kernel's high-water mark of the child, measured outside it.
        let time = try String(contentsOfFile: work + "/time.txt", encoding: .utf8)
        let kib = try #require(time.split(separator: "\n").first { $0.hasPrefix("maxrss_kib") }.flatMap { Double($0.split(separator: " ")[1]) })
        #expect(kib / 1024 <= limitMiB, "peak RSS \(kib / 1024) MiB over the 250MB limit")
        #expect(result.stderr.contains("peak RSS"), "\(result.stderr)")
    }
}
