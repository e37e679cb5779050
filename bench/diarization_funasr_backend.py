#!/usr/bin/env python3
"""What FunASR's own clustering back end (funasr 1.4.3 `ClusterBackend` + `campplus.utils.postprocess`) makes of
Earshot's window embeddings: runs `earshot diarize --dump-embeddings` on each recording, clusters the dumped
d-vectors with FunASR's Python code (spectral clustering, merge_by_cos at --merge-thr; or --num-speakers), and
scores the turns with bench/der.py. Used to choose the merge threshold for resemblyzer d-vectors and to check the
Swift port of the back end against FunASR on the same embeddings.

Run: $EARSHOT_CACHE/venv-funasr/bin/python bench/diarization_funasr_backend.py [--merge-thr 0.87] [--num-speakers 2]
"""
import argparse, json, os, subprocess, sys, tempfile
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from der import der, read_rttm
from diarization_bench import CACHE, RECORDINGS
from funasr.models.campplus.cluster_backend import ClusterBackend
from funasr.models.campplus.utils import postprocess


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--earshot", default=".build/release/earshot")
    ap.add_argument("--merge-thr", type=float, nargs="+", default=[0.78, 0.85, 0.87, 0.9])
    ap.add_argument("--num-speakers", type=int)
    a = ap.parse_args()
    print("| recording | back end | DER | speakers (ref / found) |")
    print("|---|---|---|---|")
    for name, wav, rttm in RECORDINGS:
        with tempfile.TemporaryDirectory() as tmp:
            dump = os.path.join(tmp, "emb.jsonl")
            subprocess.run([a.earshot, "diarize", os.path.join(CACHE, wav), "--dump-embeddings", dump],
                           check=True, capture_output=True)
            rows = [json.loads(line) for line in open(dump)]
        x = np.array([r["vector"] for r in rows], dtype=np.float32)
        segments = [[r["start"], r["end"]] for r in rows]
        settings = [("num_speakers=%d" % a.num_speakers, 0.78, {"oracle_num": a.num_speakers})] if a.num_speakers \
            else [("merge_thr=%.2f" % t, t, {}) for t in a.merge_thr]
        for label, thr, kw in settings:
            labels = ClusterBackend(merge_thr=thr)(x.copy(), **kw)
            turns = postprocess(segments, None, labels, x)
            r = der(read_rttm(os.path.join(CACHE, rttm)), [(s, e, str(l)) for s, e, l in turns])
            print("| %s | %s | %.2f %% | %d / %d |" % (name, label, 100 * r["der"], r["reference_speakers"],
                                                       r["hypothesis_speakers"]))


if __name__ == "__main__":
    main()
