"""OpenBLAS (numpy's bundled scipy-openblas) GEMM throughput, C = A·Wᵀ with W stored [N][K].

Prints `f32 MxNxK threads gflops` lines, the same format as KernelBench. 1 thread: median thread-CPU
time (time.thread_time); 2 threads: median wall time. Samples of ≥ 5 ms, 15 samples.
"""
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

SHAPES = [(1500, 384, 384), (1500, 1536, 384), (1500, 384, 1536), (3000, 512, 512),
          (1, 384, 384), (1, 1536, 384), (8, 51864, 384), (1, 51864, 384)]


def measure(fn, clock):
    fn()
    reps = 1
    while True:
        t0 = clock()
        for _ in range(reps):
            fn()
        if clock() - t0 >= 0.005:
            break
        reps *= 2
    times = []
    for _ in range(15):
        t0 = clock()
        for _ in range(reps):
            fn()
        times.append((clock() - t0) / reps)
    times.sort()
    return times[len(times) // 2]


def main():
    threads = [int(t) for t in (sys.argv[1] if len(sys.argv) > 1 else "1,2").split(",")]
    info = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
    print(f"# openblas {info[0].get('version')} core {info[0].get('architecture')}")
    rng = np.random.default_rng(0)
    for m, n, k in SHAPES:
        a = rng.random((m, k), dtype=np.float32) - 0.5
        w = rng.random((n, k), dtype=np.float32) - 0.5
        c = np.empty((m, n), dtype=np.float32)
        for t in threads:
            with threadpool_limits(limits=t, user_api="blas"):
                if m == 1:  # OpenBLAS routes M=1 sgemm poorly (swift-numerics.md §1); numpy uses gemv for a vector
                    x = a[0]
                    out = c[0]
                    fn = lambda: np.matmul(w, x, out=out)
                else:
                    fn = lambda: np.matmul(a, w.T, out=c)
                s = measure(fn, time.thread_time if t == 1 else time.perf_counter)
            print(f"f32 {m}x{n}x{k} {t} {2.0 * m * n * k / s / 1e9:.1f}", flush=True)


if __name__ == "__main__":
    main()
