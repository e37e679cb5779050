#!/usr/bin/env python3
"""FunASR oracle for Earshot's speaker clustering (Sources/EarshotSpeaker/Clustering): runs FunASR's own
ClusterBackend (funasr/models/campplus/cluster_backend.py, funasr 1.4.3) and its post-processing
(funasr/models/campplus/utils.py: sv_chunk, postprocess) on fixed embeddings and writes what they return.

Embeddings: two synthetic pools of 192-d "speaker" vectors (seeded numpy; one centre per speaker plus
noise, speakers take turns of 3..40 windows), quantised to int8/32 so that Swift reads exactly the floats
FunASR clustered. Pool A: 2100 rows, 4 well-separated speakers. Pool B: 600 rows, 6 speakers, noisier, two
of them close (centroid cosine above merge_thr 0.78, so FunASR's merge step joins them when the count is
automatic). Each case clusters rows [offset, offset+n) with and without a given speaker count, covering
N < 20 (all speaker 0), the spectral path (20 <= N < 2048) and the K-means path (N >= 2048 with a count).

Every ClusterBackend call is preceded by np.random.seed(0): AutoModel.build_model calls
set_all_random_seed(0) (funasr/auto/auto_model.py), and the spectral path's k_means uses numpy's global
generator, so a fresh AutoModel's first clustering starts from that state. Earshot's default seed is 0.

Writes Tests/EarshotSpeakerTests/Fixtures/clustering/{pools.bin, cases.json}.
Run: ~/.cache/earshot/venv-funasr/bin/python scripts/oracle/cluster_oracle.py
"""
import json, os, sys
import numpy as np
import scipy.linalg
import torch
from funasr.models.campplus.cluster_backend import ClusterBackend, SpectralCluster
from funasr.models.campplus.utils import postprocess, sv_chunk

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "EarshotSpeakerTests", "Fixtures", "clustering")
DIM = 192
SCALE = 32.0  # int8 quantisation step 1/32


def make_pool(seed, rows, speakers, noise, close_pair=None):
    rng = np.random.RandomState(seed)
    centres = rng.normal(size=(speakers, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    if close_pair is not None:  # make speaker b a rotation of a by a small angle (cosine ~0.85)
        a, b = close_pair
        centres[b] = 0.85 * centres[a] + np.sqrt(1 - 0.85 ** 2) * centres[b]
        centres[b] /= np.linalg.norm(centres[b])
    labels = []
    while len(labels) < rows:
        labels += [rng.randint(speakers)] * rng.randint(3, 41)
    labels = np.array(labels[:rows])
    x = 2.0 * centres[labels] + noise * rng.normal(size=(rows, DIM)) / np.sqrt(DIM) * 2.0
    q = np.clip(np.round(x * SCALE), -127, 127).astype(np.int8)
    return q, labels


def window_times(n, seed):
    """Start/end times of n CAM++ windows as FunASR's sv_chunk cuts VAD regions (1.5 s windows, 0.75 s hop)."""
    rng = np.random.RandomState(seed)
    t, out, regions = 0.3, [], []
    while len(out) < n:
        dur = float(rng.uniform(0.4, 12.0))
        samples = int(round(dur * 16000))
        seg = [t, t + samples / 16000.0, np.zeros(samples, dtype=np.float32)]
        regions.append([t, samples])
        out += [[s[0], s[1]] for s in sv_chunk([seg])]
        t = seg[1] + float(rng.uniform(0.05, 2.0))
    return out[:n], regions


def main():
    os.makedirs(OUT, exist_ok=True)
    pools = {"A": make_pool(11, 2100, 4, 0.9), "B": make_pool(22, 600, 6, 1.3, close_pair=(1, 4))}
    with open(os.path.join(OUT, "pools.bin"), "wb") as f:
        f.write(pools["A"][0].tobytes())
        f.write(pools["B"][0].tobytes())
    cases_spec = [("A", 0, 15, None), ("A", 100, 19, None), ("A", 0, 20, None), ("A", 40, 50, None),
                  ("A", 0, 50, 2), ("A", 0, 500, None), ("A", 0, 500, 4), ("A", 300, 500, 6),
                  ("A", 0, 2048, 4), ("A", 0, 2100, 3), ("B", 0, 60, None), ("B", 0, 300, None),
                  ("B", 0, 600, None), ("B", 0, 600, 6), ("B", 100, 400, 2)]
    cases = []
    for pool, offset, n, k in cases_spec:
        q, truth = pools[pool]
        x = (q[offset:offset + n].astype(np.float32) / np.float32(SCALE)).astype(np.float32)
        np.random.seed(0)
        labels = ClusterBackend()(torch.from_numpy(x), oracle_num=k)
        labels = np.asarray(labels).astype(int)
        case = {"pool": pool, "offset": offset, "n": n, "speakers": k, "labels": labels.tolist()}
        if 20 <= n < 2048:  # the spectral path's eigenvalues (FunASR's own steps, float32 as FunASR runs them)
            sc = SpectralCluster()
            sim = sc.p_pruning(sc.get_sim_mat(x))
            lap = sc.get_laplacian(0.5 * (sim + sim.T))
            lambdas = scipy.linalg.eigh(lap, eigvals_only=True)
            case["eigenvalues"] = [float(v) for v in lambdas[:16]]
            # A given count that splits a repeated eigenvalue (k of several zero eigenvalues) leaves the
            # eigenvectors, hence the labels, to LAPACK's arbitrary basis of that eigenspace.
            if k is not None and lambdas[k] - lambdas[k - 1] < 1e-3:
                case["degenerate"] = True
        if n <= 600:  # post-processing (window times as sv_chunk cuts them, then FunASR's postprocess)
            times, regions = window_times(n, 1000 + n + offset)
            case["regions"] = regions
            turns = postprocess([[t[0], t[1], None] for t in times], None, labels.copy(), x)
            case["windows"] = times
            case["turns"] = [[float(a), float(b), int(s)] for a, b, s in turns]
        cases.append(case)
        print(pool, offset, n, k, "->", len(set(labels.tolist())), "clusters,", len(turns), "turns", file=sys.stderr)
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"dim": DIM, "scale": SCALE, "pools": {"A": [0, 2100], "B": [2100, 600]}, "cases": cases}, f)


if __name__ == "__main__":
    main()
