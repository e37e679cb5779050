import CEarshotKernels
import Dispatch

/// Dense math used by the models. Every function works on raw row-major fp32 buffers with explicit
/// row strides (leading dimensions), so callers can address heads or column slices without copying.
///
/// The hot paths call into the C target `CEarshotKernels`, which picks AVX-512, AVX2+FMA or portable
/// code at run time (see `Kernels.instructionSet`). Large products are split into independent halves
/// (rows or columns) across `threadCount` Dispatch workers, with no barriers inside.
public enum Kernels {
    /// How `B` is laid out in a matrix product.
    public enum BLayout: Sendable {
        /// `B` is `[n][k]` (row per output column, PyTorch `Linear.weight`); computes `A · Bᵀ`.
        case transposed
        /// `B` is `[k][n]`; computes `A · B`.
        case normal
    }

    /// The instruction-set level a kernel runs at.
    public enum InstructionSet: Int32, Sendable, CaseIterable, Comparable, CustomStringConvertible {
        /// Plain C compiled for baseline x86-64 (SSE2).
        case portable = 0
        /// AVX2 + FMA + F16C.
        case avx2 = 1
        /// AVX-512 F/BW/VL/DQ.
        case avx512 = 2
        /// AVX-512 plus VNNI (int8 dot products).
        case avx512VNNI = 3

        /// Orders levels from least to most capable.
        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

        /// A short name for logs and benchmark output.
        public var description: String {
            switch self {
            case .portable: return "portable"
            case .avx2: return "avx2"
            case .avx512: return "avx512"
            case .avx512VNNI: return "avx512-vnni"
            }
        }
    }

    /// Worker threads used by the large kernels. Set once at start-up (CLI `--threads`).
    nonisolated(unsafe) public static var threadCount: Int = 2

    /// The best level this CPU supports.
    public static var hardwareInstructionSet: InstructionSet {
        InstructionSet(rawValue: ek_instruction_set()) ?? .portable
    }

    /// The level kernels called from the current thread use (hardware level under any caps).
    public static var instructionSet: InstructionSet { InstructionSet(rawValue: ek_level()) ?? .portable }

    /// Runs `body` with kernels called from this thread (and the workers they start) capped at `level`.
    /// Meant for tests that compare the AVX2 and portable paths on an AVX-512 machine; does not nest.
    public static func withInstructionSet<R>(_ level: InstructionSet, _ body: () throws -> R) rethrows -> R {
        ek_set_thread_level(level.rawValue)
        defer { ek_set_thread_level(-1) }
        return try body()
    }

    /// Caps the level for the whole process (benchmarks); `nil` removes the cap.
    public static func forceInstructionSet(_ level: InstructionSet?) {
        ek_force_level(level?.rawValue ?? -1)
    }

    /// `C[m×n] = A[m×k] · op(B) (+ bias[n]) (+ C if accumulate)`.
    public static func sgemm(m: Int, n: Int, k: Int,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int, bLayout: BLayout,
                             c: UnsafeMutablePointer<Float>, ldc: Int,
                             bias: UnsafePointer<Float>? = nil, accumulate: Bool = false) {
        let level = ek_level()
        let transposed = bLayout == .transposed
        let (a, b, c, bias) = (Shared(a), Shared(b), Shared(c), bias.map(Shared.init))
        forEachPart(m: m, n: n, k: k, columnAlign: 32) { rows, cols in
            let bOffset = transposed ? cols.lowerBound * ldb : cols.lowerBound
            ek_sgemm(level, rows.count, cols.count, k, a.p + rows.lowerBound * lda, lda, b.p + bOffset, ldb,
                     transposed ? 1 : 0, c.p + rows.lowerBound * ldc + cols.lowerBound, ldc,
                     bias.map { $0.p + cols.lowerBound }, accumulate ? 1 : 0)
        }
    }

    /// `y[m×N] = x[m×K] · Wᵀ (+ bias) (+ y if accumulate)` for a weight matrix in any stored precision.
    ///
    /// fp16 weights are widened on the fly with fp32 accumulation; int8 weights use per-row dynamically
    /// quantized activations (see ``PackedInt8Weights``). The unpacked `.int8` storage is packed on every
    /// call — convert such matrices once with ``WeightMatrix/packedForInt8Kernels()``.
    public static func linear(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int? = nil,
                              weight: WeightMatrix, bias: UnsafePointer<Float>?,
                              into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, accumulate: Bool = false) {
        let n = weight.outputs, k = weight.inputs
        let ldx = ldx ?? k, ldy = ldy ?? n
        switch weight.storage {
        case .float32(let w):
            sgemm(m: m, n: n, k: k, a: x, lda: ldx, b: w, ldb: k, bLayout: .transposed,
                  c: y, ldc: ldy, bias: bias, accumulate: accumulate)
        case .float16(let w):
            let level = ek_level()
            let (x, w, y, bias) = (Shared(x), Shared(w), Shared(y), bias.map(Shared.init))
            forEachPart(m: m, n: n, k: k, columnAlign: 32) { rows, cols in
                ek_sgemm_f16w(level, rows.count, cols.count, k, x.p + rows.lowerBound * ldx, ldx,
                              w.p + cols.lowerBound * k, k, y.p + rows.lowerBound * ldy + cols.lowerBound, ldy,
                              bias.map { $0.p + cols.lowerBound }, accumulate ? 1 : 0)
            }
        case .int8(let values, let scales):
            let packed = PackedInt8Weights(int8Rows: values, scales: scales, outputs: n, inputs: k)
            int8Linear(x, rows: m, ldx: ldx, weight: packed, bias: bias, into: y, ldy: ldy, accumulate: accumulate)
        case .packedInt8(let packed):
            int8Linear(x, rows: m, ldx: ldx, weight: packed, bias: bias, into: y, ldy: ldy, accumulate: accumulate)
        }
    }

    /// int8 product: quantize the activation rows once, then split the packed weight panels across workers.
    private static func int8Linear(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int, weight: PackedInt8Weights,
                                   bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, ldy: Int,
                                   accumulate: Bool) {
        guard m > 0 else { return }
        let level = ek_level()
        let k = weight.inputs, kp = weight.paddedInputs
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: m * kp)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: m)
        defer { q.deallocate(); scales.deallocate() }
        ek_i8_quantize_rows(level, x, m, k, ldx, q, kp, scales)
        let (qs, ss, y, bias) = (Shared(UnsafePointer(q)), Shared(UnsafePointer(scales)), Shared(y), bias.map(Shared.init))
        forEachPart(m: m, n: weight.outputs, k: k / 4 + 1, columnAlign: 16) { rows, cols in
            ek_gemm_i8(level, rows.count, cols.lowerBound, cols.upperBound, k, qs.p + rows.lowerBound * kp, kp,
                       ss.p + rows.lowerBound, weight.data, weight.compensation, weight.scales,
                       y.p + rows.lowerBound * ldy, ldy, bias?.p, accumulate ? 1 : 0)
        }
    }

    // MARK: - Work splitting

    /// Multiply-adds below which a product runs on the calling thread: 2²¹ ≈ 2 M FMAs is ~10–20 µs on one
    /// core, where a Dispatch hand-off (a few µs) starts to pay.
    static let parallelThreshold = 1 << 21

    /// Calls `body` once per part with the row and column ranges it owns. Large-M products split rows
    /// (each worker packs B itself), others split columns in multiples of `columnAlign`.
    static func forEachPart(m: Int, n: Int, k: Int, columnAlign: Int,
                            _ body: (_ rows: Range<Int>, _ cols: Range<Int>) -> Void) {
        let parts = threadCount
        guard parts > 1, m > 0, n > 0, m * n * max(k, 1) >= parallelThreshold else {
            body(0..<m, 0..<n)
            return
        }
        if m >= 128 {
            let chunk = (m + parts - 1) / parts
            let step = (chunk + 11) / 12 * 12   // whole 12-row micro-tiles (also multiples of 6 and 4)
            let count = (m + step - 1) / step
            runParallel(count) { i in body(i * step..<min(m, (i + 1) * step), 0..<n) }
        } else {
            let chunk = (n + parts - 1) / parts
            let step = (chunk + columnAlign - 1) / columnAlign * columnAlign
            let count = (n + step - 1) / step
            runParallel(count) { i in body(0..<m, i * step..<min(n, (i + 1) * step)) }
        }
    }

    /// Runs `count` independent iterations on Dispatch workers (inline when `count` is 1).
    static func runParallel(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 {
            body(0)
        } else {
            withoutActuallyEscaping(body) { body in
                let box = Shared(body)
                DispatchQueue.concurrentPerform(iterations: count) { box.p($0) }
            }
        }
    }
}

/// Wraps a value (a pointer or closure) handed to Dispatch workers that touch disjoint memory.
struct Shared<T>: @unchecked Sendable {
    let p: T
    init(_ p: T) { self.p = p }
}
