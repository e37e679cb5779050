// Measures Earshot kernel throughput. Output: one line per measurement,
// `kind shape threads gflops`, read by bench/kernels/compare.py.
import CEarshotKernels
import EarshotTensor
import Foundation

func threadSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func wallSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Median over `samples` samples of at least 5 ms each (1 thread: thread CPU time; more: wall time).
func measure(threads: Int, samples: Int = 15, _ body: () -> Void) -> Double {
    let clock = threads == 1 ? threadSeconds : wallSeconds
    body()
    var reps = 1
    while true {
        let t0 = clock()
        for _ in 0..<reps { body() }
        if clock() - t0 >= 0.005 { break }
        reps *= 2
    }
    var times: [Double] = []
    for _ in 0..<samples {
        let t0 = clock()
        for _ in 0..<reps { body() }
        times.append((clock() - t0) / Double(reps))
    }
    times.sort()
    return times[times.count / 2]
}

let args = CommandLine.arguments
let threadList = args.count > 1 ? args[1].split(separator: ",").map { Int($0)! } : [1, 2]
let allShapes: [(Int, Int, Int)] = [(1500, 384, 384), (1500, 1536, 384), (1500, 384, 1536), (3000, 512, 512),
                                    (1, 384, 384), (1, 1536, 384), (8, 51864, 384), (1, 51864, 384)]
// Optional filters for tuning runs: KB_SHAPES="0,1" (indices), KB_KINDS="f32,i8", KB_NO_ATTENTION=1.
let env = ProcessInfo.processInfo.environment
let shapes = env["KB_SHAPES"].map { $0.split(separator: ",").map { allShapes[Int($0)!] } } ?? allShapes
let kinds = Set((env["KB_KINDS"] ?? "f32,f16w,i8").split(separator: ",").map(String.init))
print("# level \(Kernels.instructionSet)")
func fill(_ n: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
    for i in 0..<n { p[i] = Float((i * 7919) % 1000) / 1000 - 0.5 }
    return p
}
for (m, n, k) in shapes {
    let a = fill(m * k), w = fill(n * k), c = fill(m * n)
    let halves = UnsafeMutablePointer<UInt16>.allocate(capacity: n * k)
    for i in 0..<(n * k) { halves[i] = Float16(w[i]).bitPattern }
    let f32 = WeightMatrix(outputs: n, inputs: k, storage: .float32(w), owner: nil)
    let f16 = WeightMatrix(outputs: n, inputs: k, storage: .float16(halves), owner: nil)
    let i8 = f32.packedForInt8Kernels()
    let flops = 2.0 * Double(m * n * k)
    let shape = "\(m)x\(n)x\(k)"
    for threads in threadList {
        Kernels.threadCount = threads
        let variants: [(String, WeightMatrix)] = [("f32", f32), ("f16w", f16), ("i8", i8)]
        for (kind, weight) in variants {
            if (kind != "f32" && m > 1500) || !kinds.contains(kind) { continue }
            let t = measure(threads: threads) {
                Kernels.linear(a, rows: m, weight: weight, bias: nil, into: c)
            }
            print("\(kind) \(shape) \(threads) \(String(format: "%.1f", flops / t / 1e9))")
            fflush(stdout)
        }
    }
    a.deallocate(); w.deallocate(); c.deallocate(); halves.deallocate()
}

// Encoder self-attention, Whisper tiny: 6 heads × 1500×1500×64 (QKᵀ + PV = 4·h·T²·d flops).
if env["KB_NO_ATTENTION"] == nil {
    let t = 1500, heads = 6, d = 64, width = heads * d
    let qkv = fill(t * 3 * width), out = fill(t * width)
    for threads in threadList {
        Kernels.threadCount = threads
        let s = measure(threads: threads, samples: 7) {
            Kernels.attention(query: qkv, queryStride: 3 * width, key: qkv + width, keyStride: 3 * width,
                              value: qkv + 2 * width, valueStride: 3 * width, output: out, outputStride: width,
                              heads: heads, headDim: d, queryCount: t, keyCount: t, causalOffset: nil)
        }
        print("attention 6x1500x1500x64 \(threads) \(String(format: "%.1f", 4.0 * Double(heads * t * t * d) / s / 1e9)) ms=\(String(format: "%.2f", s * 1e3))")
    }
}

// Attention pieces (per head and 256-query block), for tuning: KB_ATTN_PARTS=1.
if env["KB_ATTN_PARTS"] != nil {
    let level = ek_level()
    let s = fill(256 * 1500), q = fill(1500 * 1152), o = fill(1500 * 384)
    let t1 = measure(threads: 1) { ek_sgemm(level, 256, 1500, 64, q, 1152, q + 384, 1152, 1, s, 1500, nil, 0) }
    let t2 = measure(threads: 1) { ek_softmax_rows(level, s, 256, 1500, 1500, 0.125, -1) }
    let t3 = measure(threads: 1) { ek_sgemm(level, 256, 64, 1500, s, 1500, q + 768, 1152, 0, o, 384, nil, 0) }
    print(String(format: "QK %.3f ms  softmax %.3f ms  PV %.3f ms (per item; 36 items)", t1 * 1e3, t2 * 1e3, t3 * 1e3))
}
