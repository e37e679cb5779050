/// A value produced by the pickle subset that `torch.save` writes for state dicts.
///
/// Lists and dicts are reference types because pickle mutates them after creation (`APPENDS`,
/// `SETITEMS`) and may refer to them again through the memo.
public indirect enum PickleValue: @unchecked Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A class or function named by `GLOBAL` / `STACK_GLOBAL` (module, name).
    case global(String, String)
    /// A tensor storage named by a persistent id.
    case storage(PyTorchStorageRef)
    /// A tensor rebuilt by `torch._utils._rebuild_tensor_v2`.
    case tensor(PyTorchTensor)
    /// Any other object: the callable that built it and its arguments (kept, not interpreted).
    case object(String, [PickleValue])

    /// The string, if this is one.
    public var string: String? { if case .string(let s) = self { return s }; return nil }
    /// The integer, if this is one (bools count as 0/1, as in Python).
    public var int: Int? {
        switch self {
        case .int(let v): return v
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
}

/// A mutable pickle list.
public final class PickleList { public var items: [PickleValue] = [] }

/// A mutable pickle dict with keys in insertion order (like `OrderedDict`).
public final class PickleDict { public var entries: [(key: PickleValue, value: PickleValue)] = [] }

/// Where a tensor's storage lives: the zip entry `<archive>/data/<key>` and its element type.
public struct PyTorchStorageRef: Sendable {
    /// The storage key (file name under `data/`).
    public let key: String
    /// Element type, from the storage class name (`torch.FloatStorage` …).
    public let dtype: PyTorchDType
    /// Number of elements the pickle says the storage holds.
    public let count: Int
}

/// Runs the pickle opcodes needed for PyTorch state dicts (protocols 2–5): containers, scalars, strings,
/// globals, `REDUCE`/`BUILD`/`NEWOBJ`, memo and persistent ids. Opcode values are from CPython's
/// `Lib/pickletools.py`. Persistent ids are handed to `persistentLoad`; calls are handed to `reduce`.
struct PickleMachine {
    var reader: BinaryReader
    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]
    let persistentLoad: (PickleValue) throws(CheckpointError) -> PickleValue
    let reduce: (String, String, [PickleValue]) throws(CheckpointError) -> PickleValue

    init(bytes: UnsafeRawBufferPointer, path: String, offset: Int = 0,
         persistentLoad: @escaping (PickleValue) throws(CheckpointError) -> PickleValue,
         reduce: @escaping (String, String, [PickleValue]) throws(CheckpointError) -> PickleValue) {
        self.reader = BinaryReader(bytes: bytes, path: path, offset: offset)
        self.persistentLoad = persistentLoad
        self.reduce = reduce
    }

    private func fail(_ message: String) -> CheckpointError {
        CheckpointError(.corrupt, path: reader.path, message: "pickle: \(message) (byte \(reader.offset) of the pickle)")
    }

    private mutating func pop() throws(CheckpointError) -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow") }
        return v
    }

    private mutating func popToMark() throws(CheckpointError) -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("MARK expected") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func line() throws(CheckpointError) -> String {
        var out: [UInt8] = []
        while true {
            let b = try reader.readInteger(as: UInt8.self, what: "pickle text line")
            if b == 0x0A { break }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func text(_ count: Int) throws(CheckpointError) -> String {
        String(decoding: try reader.readBytes(count, what: "pickle string"), as: UTF8.self)
    }

    /// Runs until `STOP` and returns the top of the stack.
    mutating func run() throws(CheckpointError) -> PickleValue {
        while true {
            let op = try reader.readInteger(as: UInt8.self, what: "pickle opcode")
            switch op {
            case 0x80: _ = try reader.readInteger(as: UInt8.self, what: "protocol")           // PROTO
            case 0x95: _ = try reader.readInteger(as: UInt64.self, what: "frame size")         // FRAME
            case 0x2E: return try pop()                                                         // STOP
            case 0x28: marks.append(stack.count)                                                // MARK
            case 0x29: stack.append(.tuple([]))                                                 // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popToMark()))                                    // TUPLE
            case 0x85: let a = try pop(); stack.append(.tuple([a]))                             // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))           // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))
            case 0x5D: stack.append(.list(PickleList()))                                        // EMPTY_LIST
            case 0x6C: let l = PickleList(); l.items = try popToMark(); stack.append(.list(l))  // LIST
            case 0x61: let v = try pop(); try appendItems([v])                                  // APPEND
            case 0x65: try appendItems(try popToMark())                                         // APPENDS
            case 0x7D: stack.append(.dict(PickleDict()))                                        // EMPTY_DICT
            case 0x64: let d = PickleDict(); try setItems(d, try popToMark()); stack.append(.dict(d)) // DICT
            case 0x73: let v = try pop(), k = try pop(); try setItemsOnTop([k, v])              // SETITEM
            case 0x75: try setItemsOnTop(try popToMark())                                       // SETITEMS
            case 0x4E: stack.append(.none)                                                      // NONE
            case 0x88: stack.append(.bool(true))                                                // NEWTRUE
            case 0x89: stack.append(.bool(false))                                               // NEWFALSE
            case 0x4A: stack.append(.int(Int(try reader.readInteger(as: Int32.self, what: "BININT"))))
            case 0x4B: stack.append(.int(Int(try reader.readInteger(as: UInt8.self, what: "BININT1"))))
            case 0x4D: stack.append(.int(Int(try reader.readInteger(as: UInt16.self, what: "BININT2"))))
            case 0x8A: stack.append(.int(try long(Int(try reader.readInteger(as: UInt8.self, what: "LONG1"))))) // LONG1
            case 0x8B: stack.append(.int(try long(Int(try reader.readInteger(as: Int32.self, what: "LONG4")))))
            case 0x49: try pushTextInt(try line())                                              // INT
            case 0x47:                                                                          // BINFLOAT (big-endian)
                let bits = try reader.readInteger(as: UInt64.self, what: "BINFLOAT")
                stack.append(.float(Double(bitPattern: bits.byteSwapped)))
            case 0x58: stack.append(.string(try text(Int(try reader.readInteger(as: UInt32.self, what: "BINUNICODE")))))
            case 0x8C: stack.append(.string(try text(Int(try reader.readInteger(as: UInt8.self, what: "SHORT_BINUNICODE")))))
            case 0x8D: stack.append(.string(try text(try reader.readSize64(what: "BINUNICODE8")))) // length ≥ 2^63 is refused, not trapped (FuzzPyTorch)
            case 0x54: stack.append(.string(try text(Int(try reader.readInteger(as: Int32.self, what: "BINSTRING")))))
            case 0x55: stack.append(.string(try text(Int(try reader.readInteger(as: UInt8.self, what: "SHORT_BINSTRING")))))
            case 0x42: stack.append(.bytes(Array(try reader.readBytes(Int(try reader.readInteger(as: UInt32.self, what: "BINBYTES")), what: "bytes"))))
            case 0x43: stack.append(.bytes(Array(try reader.readBytes(Int(try reader.readInteger(as: UInt8.self, what: "SHORT_BINBYTES")), what: "bytes"))))
            case 0x63: let module = try line(); stack.append(.global(module, try line()))       // GLOBAL
            case 0x93:                                                                          // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard let m = module.string, let n = name.string else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(.global(m, n))
            case 0x52:                                                                          // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try call(callable, args))
            case 0x81:                                                                          // NEWOBJ
                let args = try pop(), cls = try pop()
                stack.append(try call(cls, args))
            case 0x62: _ = try pop()                                                            // BUILD: state ignored
            case 0x51: stack.append(try persistentLoad(try pop()))                              // BINPERSID
            case 0x71: memo[Int(try reader.readInteger(as: UInt8.self, what: "BINPUT"))] = try top()
            case 0x72: memo[Int(try reader.readInteger(as: UInt32.self, what: "LONG_BINPUT"))] = try top()
            case 0x94: memo[memo.count] = try top()                                             // MEMOIZE
            case 0x68: try pushMemo(Int(try reader.readInteger(as: UInt8.self, what: "BINGET")))
            case 0x6A: try pushMemo(Int(try reader.readInteger(as: UInt32.self, what: "LONG_BINGET")))
            case 0x30: _ = try pop()                                                            // POP
            case 0x31: _ = try popToMark()                                                      // POP_MARK
            case 0x32: stack.append(try top())                                                  // DUP
            default:
                throw CheckpointError(.unsupportedVersion, path: reader.path,
                                      message: "pickle opcode 0x\(String(op, radix: 16)) at byte \(reader.offset - 1) of the pickle is not supported by this reader (state-dict subset only)")
            }
        }
    }

    private func top() throws(CheckpointError) -> PickleValue {
        guard let v = stack.last else { throw fail("memo store on an empty stack") }
        return v
    }

    private mutating func pushMemo(_ key: Int) throws(CheckpointError) {
        guard let v = memo[key] else { throw fail("memo key \(key) was never stored") }
        stack.append(v)
    }

    private mutating func pushTextInt(_ text: String) throws(CheckpointError) {
        switch text {
        case "00": stack.append(.bool(false))
        case "01": stack.append(.bool(true))
        default:
            guard let v = Int(text) else { throw fail("bad INT '\(text)'") }
            stack.append(.int(v))
        }
    }

    /// Little-endian two's-complement integer of `count` bytes (fits in 64 bits).
    private mutating func long(_ count: Int) throws(CheckpointError) -> Int {
        guard count >= 0 && count <= 8 else { throw fail("integer of \(count) bytes does not fit in 64 bits") }
        let bytes = try reader.readBytes(count, what: "LONG")
        if count == 0 { return 0 }
        var value: UInt64 = 0
        for i in (0..<count).reversed() { value = (value << 8) | UInt64(bytes[i]) }
        if count < 8 && bytes[count - 1] & 0x80 != 0 { value |= ~UInt64(0) << UInt64(count * 8) }
        return Int(bitPattern: UInt(value))
    }

    private mutating func appendItems(_ items: [PickleValue]) throws(CheckpointError) {
        guard case .list(let l)? = stack.last else {
            // Appending to something that is not a plain list (e.g. an opaque object): ignore.
            return
        }
        try refuseCycle(items, into: l)
        l.items.append(contentsOf: items)
    }

    /// Refuses to store `items` in `container` when one of them holds it: a list or dict that contains itself
    /// (pickle can say so through the memo) is a reference cycle ARC never frees. A state dict never has one
    /// (FuzzPyTorch found the leak under LeakSanitizer).
    private func refuseCycle(_ items: [PickleValue], into container: AnyObject) throws(CheckpointError) {
        var seen = Set<ObjectIdentifier>()
        var pending = items
        while let value = pending.popLast() {
            switch value {
            case .list(let l):
                if l === container { throw fail("a list that contains itself (a reference cycle; not a state dict)") }
                if seen.insert(ObjectIdentifier(l)).inserted { pending += l.items }
            case .dict(let d):
                if d === container { throw fail("a dict that contains itself (a reference cycle; not a state dict)") }
                if seen.insert(ObjectIdentifier(d)).inserted {
                    for entry in d.entries { pending.append(entry.key); pending.append(entry.value) }
                }
            case .tuple(let values), .object(_, let values):
                pending += values
            case .none, .bool, .int, .float, .string, .bytes, .global, .storage, .tensor:
                break
            }
        }
    }

    private mutating func setItemsOnTop(_ items: [PickleValue]) throws(CheckpointError) {
        guard case .dict(let d)? = stack.last else { return }   // opaque object with dict state: ignore
        try setItems(d, items)
    }

    private func setItems(_ d: PickleDict, _ items: [PickleValue]) throws(CheckpointError) {
        guard items.count % 2 == 0 else { throw fail("odd number of items for a dict") }
        try refuseCycle(items, into: d)
        var i = 0
        while i < items.count {
            d.entries.append((items[i], items[i + 1]))
            i += 2
        }
    }

    private func call(_ callable: PickleValue, _ args: PickleValue) throws(CheckpointError) -> PickleValue {
        guard case .global(let module, let name) = callable else {
            return .object("<computed>", [])
        }
        let list: [PickleValue]
        if case .tuple(let t) = args { list = t } else { list = [args] }
        return try reduce(module, name, list)
    }
}
