import EarshotCheckpoint
import FuzzSupport

/// The PyTorch checkpoint reader (zip archive + pickle state dict): every tensor found is converted to
/// floats, which reads its whole storage through its shape, strides and offset.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPyTorch(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Scratch.write(data, size, name: "model.pt")
    guard let checkpoint = try? PyTorchCheckpoint(path: path) else { return 0 }
    var total = 0
    for tensor in checkpoint.tensors where total < 1 << 22 {
        total += tensor.floats().count
    }
    return 0
}
