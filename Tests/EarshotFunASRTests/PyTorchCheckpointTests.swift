@testable import EarshotCheckpoint
import Foundation
import Testing

/// Builds small torch.save-format archives (stored ZIP + protocol-2 pickle, the layout `torch.save` writes)
/// so the reader can be tested on dtypes and structures the FSMN-VAD checkpoint does not contain.
struct TorchArchiveWriter {
    struct Storage { let key: String; let className: String; let count: Int; let bytes: [UInt8] }
    var pickle: [UInt8] = [0x80, 0x02]
    var storages: [Storage] = []

    mutating func op(_ b: UInt8) { pickle.append(b) }
    mutating func string(_ s: String) { op(0x58); pickle += le(UInt32(s.utf8.count)); pickle += Array(s.utf8) }
    mutating func int(_ v: Int) { op(0x4A); pickle += le(UInt32(bitPattern: Int32(v))) }
    mutating func global(_ module: String, _ name: String) { op(0x63); pickle += Array("\(module)\n\(name)\n".utf8) }
    mutating func intTuple(_ values: [Int]) { op(0x28); for v in values { int(v) }; op(0x74) }

    /// Pushes a tensor built by `_rebuild_tensor_v2` on a new storage.
    mutating func tensor(className: String, count: Int, bytes: [UInt8], offset: Int, shape: [Int], strides: [Int]) {
        let key = String(storages.count)
        storages.append(Storage(key: key, className: className, count: count, bytes: bytes))
        global("torch._utils", "_rebuild_tensor_v2")
        op(0x28)                                   // MARK (args)
        op(0x28); string("storage"); global("torch", className); string(key); string("cpu"); int(count); op(0x74)
        op(0x51)                                   // BINPERSID
        int(offset); intTuple(shape); intTuple(strides)
        op(0x89)                                   // requires_grad False
        global("collections", "OrderedDict"); op(0x29); op(0x52)
        op(0x74); op(0x52)                         // TUPLE, REDUCE
    }

    func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    /// The archive bytes: stored entries `archive/data.pkl`, `archive/data/<key>`, central directory, EOCD.
    func archive() -> [UInt8] {
        var files: [(String, [UInt8])] = [("archive/data.pkl", pickle + [0x2E])]
        for s in storages { files.append(("archive/data/" + s.key, s.bytes)) }
        var out: [UInt8] = [], central: [UInt8] = []
        for (name, data) in files {
            let offset = out.count
            out += le(UInt32(0x0403_4b50)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0)) + le(UInt32(0))
            out += le(UInt32(data.count)) + le(UInt32(data.count)) + le(UInt16(name.utf8.count)) + le(UInt16(0))
            out += Array(name.utf8) + data
            central += le(UInt32(0x0201_4b50)) + le(UInt16(20)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0))
            central += le(UInt32(0)) + le(UInt32(0)) + le(UInt32(data.count)) + le(UInt32(data.count))
            central += le(UInt16(name.utf8.count)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0))
            central += le(UInt32(0)) + le(UInt32(offset)) + Array(name.utf8)
        }
        let cdOffset = out.count
        out += central
        out += le(UInt32(0x0605_4b50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(files.count)) + le(UInt16(files.count))
        out += le(UInt32(central.count)) + le(UInt32(cdOffset)) + le(UInt16(0))
        return out
    }
}

func writeTemp(_ bytes: [UInt8], name: String) throws -> String {
    let path = NSTemporaryDirectory() + "earshot-\(UUID().uuidString)-\(name)"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

extension FunASRSuite {
    @Suite("PyTorch checkpoint reader") struct PyTorchCheckpointTests {
        @Test("reads the real FSMN-VAD model.pt: 24 tensors, shapes, a strided conv weight")
        func realCheckpoint() throws {
            let ckpt = try PyTorchCheckpoint(path: try Assets.vadModel() + "/model.pt")
            #expect(ckpt.tensors.count == 24)
            #expect(ckpt.tensors.reduce(0) { $0 + $1.count } == 428_738)   // funasr.md §2.3
            let w = try ckpt.tensor("encoder.in_linear1.linear.weight")
            #expect(w.shape == [140, 400] && w.dtype == .float32 && w.isContiguous)
            let conv = try ckpt.tensor("encoder.fsmn.0.fsmn_block.conv_left.weight")
            #expect(conv.shape == [128, 1, 20, 1] && conv.strides == [1, 128, 128, 1] && !conv.isContiguous)
            // Element [d,0,k,0] lives at storage index d + 128·k.
            let values = conv.floats()
            let raw = conv.storage.bindMemory(to: Float.self)
            #expect(values[5 * 20 + 3] == raw[5 + 128 * 3])
        }

        @Test("half, bfloat16, long storages, storage offsets and nested dicts")
        func synthetic() throws {
            var w = TorchArchiveWriter()
            w.op(0x7D); w.op(0x28)                                   // EMPTY_DICT, MARK
            w.string("half")
            let halves: [Float16] = [1.5, -2, 0.25, 1024]
            w.tensor(className: "HalfStorage", count: 4, bytes: halves.flatMap { w.le($0.bitPattern) },
                     offset: 1, shape: [3], strides: [1])
            w.string("inner")
            w.op(0x7D); w.op(0x28)
            w.string("bf16")
            w.tensor(className: "BFloat16Storage", count: 2, bytes: w.le(UInt16(0x3FC0)) + w.le(UInt16(0xC000)),
                     offset: 0, shape: [2], strides: [1])
            w.string("long")
            w.tensor(className: "LongStorage", count: 4, bytes: [Int64(7), -3, 9, 11].flatMap { w.le($0) },
                     offset: 0, shape: [2, 2], strides: [1, 2])
            w.op(0x75)                                               // SETITEMS (inner)
            w.op(0x75)                                               // SETITEMS (outer)
            let path = try writeTemp(w.archive(), name: "synthetic.pt")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let ckpt = try PyTorchCheckpoint(path: path)
            #expect(ckpt.tensors.map(\.name) == ["half", "inner.bf16", "inner.long"])
            #expect(try ckpt.tensor("half").floats() == [-2, 0.25, 1024])
            #expect(try ckpt.tensor("inner.bf16").floats() == [1.5, -2])
            #expect(try ckpt.tensor("inner.long").floats() == [7, 9, -3, 11])   // transposed view
        }

        @Test("errors name the file and the tensor")
        func errors() throws {
            let model = try Assets.vadModel() + "/model.pt"
            let ckpt = try PyTorchCheckpoint(path: model)
            let missing = #expect(throws: CheckpointError.self) { try ckpt.tensor("encoder.nope") }
            #expect(missing?.code == .missingTensor && missing?.description.contains("encoder.nope") == true)
            let shape = #expect(throws: CheckpointError.self) { try ckpt.floats("encoder.in_linear1.linear.bias", shape: [7]) }
            #expect(shape?.code == .shapeMismatch && shape?.description.contains("model.pt") == true)

            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model)))
            let truncated = try writeTemp(Array(bytes.prefix(bytes.count / 2)), name: "truncated.pt")
            defer { try? FileManager.default.removeItem(atPath: truncated) }
            let e1 = #expect(throws: CheckpointError.self) { try PyTorchCheckpoint(path: truncated) }
            #expect(e1?.path == truncated)
            let text = try writeTemp(Array("not a checkpoint".utf8), name: "text.pt")
            defer { try? FileManager.default.removeItem(atPath: text) }
            #expect(throws: CheckpointError.self) { try PyTorchCheckpoint(path: text) }
            let e3 = #expect(throws: CheckpointError.self) { try PyTorchCheckpoint(path: "/nonexistent/model.pt") }
            #expect(e3?.code == .fileNotFound)
        }
    }
}
