"""Joins KernelBench and openblas_bench.py outputs of several alternating rounds and prints per-shape
median GFLOP/s and the median of the per-round ratios (ours ÷ OpenBLAS)."""
import statistics
import sys
from collections import defaultdict


def load(path):
    rows = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        kind, shape, threads, gflops = line.split()[:4]
        rows[(kind, shape, int(threads))] = float(gflops)
    return rows


def main():
    rounds = [(load(ours), load(theirs)) for ours, theirs in zip(sys.argv[1::2], sys.argv[2::2])]
    keys = list(rounds[0][0].keys())
    print(f"{'kind':<10}{'shape (M,N,K)':<18}{'thr':>4}{'ours':>9}{'OpenBLAS':>10}{'ratio':>8}")
    for key in keys:
        kind, shape, threads = key
        ours = [r[0][key] for r in rounds if key in r[0]]
        base_key = ("f32", shape, threads)
        theirs = [r[1][base_key] for r in rounds if base_key in r[1]]
        ratios = [r[0][key] / r[1][base_key] for r in rounds if key in r[0] and base_key in r[1]]
        o = statistics.median(ours)
        t = f"{statistics.median(theirs):10.1f}" if theirs else f"{'-':>10}"
        q = f"{statistics.median(ratios):8.2f}" if ratios else f"{'-':>8}"
        print(f"{kind:<10}{shape:<18}{threads:>4}{o:9.1f}{t}{q}")


if __name__ == "__main__":
    main()
