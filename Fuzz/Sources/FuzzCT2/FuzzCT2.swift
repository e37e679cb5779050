import EarshotCheckpoint
import FuzzSupport

/// The CTranslate2 `model.bin` parser: the input is a model directory's `model.bin`; every variable's bytes
/// are touched (first and last byte), so a view past the mapped file would fault.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCT2(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    Scratch.write(data, size, name: "model.bin")
    guard let checkpoint = try? CTranslate2Checkpoint.open(directory: Scratch.directory) else { return 0 }
    var sum = 0
    for name in checkpoint.variableNames {
        guard let variable = checkpoint.variable(name) else { continue }
        precondition(variable.bytes.count == variable.count * variable.dtype.byteWidth, "\(name): byte count does not match its shape")
        if let first = variable.bytes.first, let last = variable.bytes.last { sum &+= Int(first) &+ Int(last) }
    }
    for alias in checkpoint.aliases.keys { precondition(checkpoint.variable(alias) != nil, "alias \(alias) does not resolve") }
    _ = checkpoint.totalTensorBytes &+ sum
    return 0
}
