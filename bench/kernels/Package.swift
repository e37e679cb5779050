// swift-tools-version: 6.1
// Kernel benchmark, a package of its own so the root package's build (and CI) never compiles it.
// Sources/CEarshotKernels and Sources/EarshotTensor are symlinks to the engine's targets.
import PackageDescription

let package = Package(
    name: "KernelBench",
    targets: [
        .target(name: "CEarshotKernels", cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]),
        .target(name: "EarshotTensor", dependencies: ["CEarshotKernels"]),
        .executableTarget(name: "KernelBench", dependencies: ["EarshotTensor", "CEarshotKernels"]),
    ],
    swiftLanguageModes: [.v5]
)
