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
        .library(name: "Earshot", targets: ["EarshotWhisper", "EarshotFunASR", "EarshotAudio", "EarshotCheckpoint", "EarshotTensor", "EarshotText", "EarshotMemory", "EarshotPipeline"]),
        .executable(name: "earshot", targets: ["EarshotCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
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
        .target(name: "EarshotCheckpoint", dependencies: ["EarshotTensor", .product(name: "Yams", package: "Yams")],
                swiftSettings: swiftSettings),
        .target(name: "EarshotAudio", dependencies: ["EarshotTensor"], swiftSettings: swiftSettings),
        .target(name: "EarshotText", swiftSettings: swiftSettings),
        .target(name: "EarshotWhisper",
                dependencies: ["EarshotTensor", "EarshotCheckpoint", "EarshotAudio", "EarshotText", "EarshotMemory", "CZlib"],
                swiftSettings: swiftSettings),
        .target(name: "EarshotFunASR",
                dependencies: ["EarshotTensor", "EarshotCheckpoint", "EarshotAudio"],
                swiftSettings: swiftSettings),
        .target(name: "EarshotPipeline",
                dependencies: ["EarshotWhisper", "EarshotFunASR", "EarshotAudio", "EarshotMemory"],
                swiftSettings: swiftSettings),
        .executableTarget(name: "EarshotCLI",
                          dependencies: ["EarshotWhisper", "EarshotFunASR", "EarshotAudio", "EarshotCheckpoint",
                                         "EarshotPipeline", "EarshotMemory",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
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
        .testTarget(name: "EarshotMemoryTests", dependencies: ["EarshotMemory"], swiftSettings: swiftSettings),
        .testTarget(name: "EarshotCLITests", dependencies: ["EarshotCLI"], swiftSettings: swiftSettings),
    ]
)
