#!/usr/bin/env python3
"""DER of `earshot diarize` on the two-speaker call of pyannote-audio 4.0.7 (sample.wav + sample.rttm) and on the
alternating-speaker recordings of bench/make_diarization_recordings.py, scored by bench/der.py (0.25-s collar).
Accuracy only: speed is measured by the lead (callgrind / perf shares, never wall clock on a shared machine).

Run: python3 bench/diarization_bench.py [--earshot .build/release/earshot] [--num-speakers N]
"""
import argparse, json, os, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from der import der, read_rttm

CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))
RECORDINGS = [("sample", "audio/pyannote/sample.wav", "audio/pyannote/sample.rttm")] + [
    (n, "diarization/%s.wav" % n, "diarization/%s.rttm" % n)
    for n in ("alt-reader-cards", "alt-reader-sheila", "alt-callers")] + [
    ("english-10min-seed0", "long/english-10min-seed0.wav", "long/english-10min-seed0.rttm")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--earshot", default=".build/release/earshot")
    ap.add_argument("--num-speakers", type=int)
    a = ap.parse_args()
    print("| recording | DER | miss | false alarm | confusion | scored speech | speakers (ref / found) |")
    print("|---|---|---|---|---|---|---|")
    for name, wav, rttm in RECORDINGS:
        cmd = [a.earshot, "diarize", os.path.join(CACHE, wav), "--format", "rttm"]
        if a.num_speakers:
            cmd += ["--num-speakers", str(a.num_speakers)]
        hyp_text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        with tempfile.NamedTemporaryFile("w", suffix=".rttm", delete=False) as f:
            f.write(hyp_text)
        r = der(read_rttm(os.path.join(CACHE, rttm)), read_rttm(f.name))
        os.unlink(f.name)
        print("| %s | %.2f %% | %.2f s | %.2f s | %.2f s | %.2f s | %d / %d |" % (
            name, 100 * r["der"], r["miss"], r["false_alarm"], r["confusion"], r["total"],
            r["reference_speakers"], r["hypothesis_speakers"]))


if __name__ == "__main__":
    main()
