// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for Earshot's untrusted-bytes readers (docs/reliability.md, "Fuzzing").
// A separate package so the root's `swift build` is unaffected; built with
//   swift build -c release --sanitize fuzzer --sanitize address
// Each executable defines `LLVMFuzzerTestOneInput` (libFuzzer supplies `main`), hence `-parse-as-library`.

let fuzzSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

func fuzzTarget(_ name: String) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport", .product(name: "EarshotReaders", package: "Earshot")],
                      swiftSettings: fuzzSettings)
}

let package = Package(
    name: "EarshotFuzz",
    dependencies: [.package(name: "Earshot", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        fuzzTarget("FuzzWAV"),
        fuzzTarget("FuzzResampler"),
        fuzzTarget("FuzzCT2"),
        fuzzTarget("FuzzPyTorch"),
        fuzzTarget("FuzzYAML"),
        fuzzTarget("FuzzTokenizer"),
        // The server's parsers of client bytes (multipart uploads, FunASR websocket frames).
        .executableTarget(name: "FuzzMultipart",
                          dependencies: ["FuzzSupport", .product(name: "EarshotWire", package: "Earshot")],
                          swiftSettings: fuzzSettings),
        .executableTarget(name: "FuzzFunASRMessages",
                          dependencies: ["FuzzSupport", .product(name: "EarshotWire", package: "Earshot")],
                          swiftSettings: fuzzSettings),
    ]
)
