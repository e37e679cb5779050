// swift-tools-version: 6.1
import PackageDescription

// Dependencies point one way: kernels → tensor → (checkpoint, audio, text) → model families → CLI.
// Swift code is compiled for baseline x86-64 so one binary runs on any CPU; instruction-set specific code
// lives in the C target `CEarshotKernels`, which selects AVX-512 / AVX2 / portable paths at run time.

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

// Kernels must be fast in debug and test builds too (tests run real models).
let cSettings: [CSetting] = [
    .unsafeFlags(["-O3", "-fno-math-errno"]),
]

let package = Package(
    name: "Earshot",
    products: [
        .library(name: "Earshot", targets: ["EarshotWhisper", "EarshotFunASR", "EarshotAudio", "EarshotCheckpoint", "EarshotTensor", "EarshotText", "EarshotMemory", "EarshotSpeech", "EarshotSpeaker", "EarshotPipeline", "EarshotWire", "EarshotServer"]),
        .executable(name: "earshot", targets: ["EarshotCLI"]),
        // The untrusted-bytes readers alone (audio files, checkpoints, configs, tokenizer files), for the fuzz
        // package in Fuzz/: depending on it does not pull the server's dependencies into a sanitizer build.
        .library(name: "EarshotReaders", targets: ["EarshotAudio", "EarshotCheckpoint", "EarshotText"]),
        // The server's parsers of client bytes (multipart forms, FunASR websocket messages, PCM frames), for
        // the fuzz package: NIOCore's ByteBuffer, but not Hummingbird or the engine.
        .library(name: "EarshotWire", targets: ["EarshotWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // `earshot serve`: HTTP + WebSocket server, logging, metrics, graceful shutdown, streaming multipart.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.65.0"),
    ],
    targets: [
        .target(name: "CEarshotKernels", cSettings: cSettings),
        // zlib, for Whisper's compression-ratio check (faster-whisper's get_compression_ratio uses zlib).
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // <malloc.h> (mallinfo2, malloc_trim, mallopt), which Glibc does not export; header-only, no link line.
        .systemLibrary(name: "CMalloc"),
        // Memory budget, ledger, batch planner, memory and time reports; depends on nothing but Foundation/Glibc.
        .target(name: "EarshotMemory", dependencies: ["CMalloc"], swiftSettings: swiftSettings),
        .target(name: "EarshotTensor", dependencies: ["CEarshotKernels"], swiftSettings: swiftSettings),
        // What every recognizer family and the pipeline share: audio chunks, transcript segments, and the
        // SpeechRecognizer contract (windows in, segments out, a batch's memory cost).
        .target(name: "EarshotSpeech", dependencies: ["EarshotMemory"], swiftSettings: swiftSettings),
        .target(name: "EarshotCheckpoint", dependencies: ["EarshotTensor", .product(name: "Yams", package: "Yams")],
                swiftSettings: swiftSettings),
        .target(name: "EarshotAudio", dependencies: ["EarshotTensor"], swiftSettings: swiftSettings),
        .target(name: "EarshotText", swiftSettings: swiftSettings),
        .target(name: "EarshotWhisper",
                dependencies: ["EarshotTensor", "EarshotCheckpoint", "EarshotAudio", "EarshotText", "EarshotMemory",
                               "EarshotSpeech", "CZlib"],
                swiftSettings: swiftSettings),
        .target(name: "EarshotFunASR",
                dependencies: ["EarshotTensor", "EarshotCheckpoint", "EarshotAudio", "EarshotSpeech", "EarshotMemory"],
                swiftSettings: swiftSettings),
        // Speakers: FunASR's clustering back end, resemblyzer's d-vector, diarization over FSMN-VAD speech regions.
        .target(name: "EarshotSpeaker",
                dependencies: ["EarshotSpeech", "EarshotAudio", "EarshotCheckpoint", "EarshotTensor", "EarshotMemory",
                               "EarshotFunASR"],
                swiftSettings: swiftSettings),
        .target(name: "EarshotPipeline",
                dependencies: ["EarshotSpeech", "EarshotWhisper", "EarshotFunASR", "EarshotAudio", "EarshotMemory",
                               "EarshotSpeaker"],
                swiftSettings: swiftSettings),
        // What clients send the server, parsed: multipart/form-data uploads, FunASR's websocket messages, PCM.
        .target(name: "EarshotWire",
                dependencies: ["EarshotSpeech", .product(name: "NIOCore", package: "swift-nio")],
                swiftSettings: swiftSettings),
        // The server: OpenAI audio API and FunASR's websocket protocol over one shared pipeline engine.
        .target(name: "EarshotServer",
                dependencies: ["EarshotPipeline", "EarshotWhisper", "EarshotFunASR", "EarshotAudio", "EarshotMemory",
                               "EarshotWire",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "Metrics", package: "swift-metrics"),
                               .product(name: "Prometheus", package: "swift-prometheus"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                swiftSettings: swiftSettings),
        .executableTarget(name: "EarshotCLI",
                          dependencies: ["EarshotWhisper", "EarshotFunASR", "EarshotAudio", "EarshotCheckpoint",
                                         "EarshotPipeline", "EarshotSpeaker", "EarshotMemory", "EarshotServer",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log")],
                          swiftSettings: swiftSettings),
        .testTarget(name: "EarshotTensorTests", dependencies: ["EarshotTensor"], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotCheckpointTests", dependencies: ["EarshotCheckpoint", "EarshotText"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotAudioTests", dependencies: ["EarshotAudio"], resources: [.copy("Fixtures")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotWhisperTests", dependencies: ["EarshotWhisper", "EarshotAudio", "EarshotText"], resources: [.copy("Fixtures")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotFunASRTests", dependencies: ["EarshotFunASR"], resources: [.copy("Fixtures")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotTextTests", dependencies: ["EarshotText"], resources: [.copy("Fixtures")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotSpeakerTests", dependencies: ["EarshotSpeaker", "EarshotFunASR", "EarshotAudio"],
                    resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotMemoryTests", dependencies: ["EarshotMemory"], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotServerTests",
                    dependencies: ["EarshotServer", "EarshotWire", "EarshotPipeline", "EarshotWhisper", "EarshotFunASR", "EarshotMemory",
                                   .product(name: "HummingbirdTesting", package: "hummingbird")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EarshotCLITests", dependencies: ["EarshotCLI"], swiftSettings: swiftSettings),
    ]
)
