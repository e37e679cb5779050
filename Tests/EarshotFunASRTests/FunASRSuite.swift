import Testing

/// All EarshotFunASR tests run one after another: they share two CPU cores with other work, and the
/// constant-memory test reads this process's resident size, which parallel tests would disturb.
@Suite("EarshotFunASR", .serialized) struct FunASRSuite {}
