import Testing

/// All EarshotFunASR tests run one after another: they share two CPU cores with the other suites, and the
/// long-recording oracle tests would otherwise compete with each other for them.
@Suite("EarshotFunASR", .serialized) struct FunASRSuite {}
