#!/usr/bin/env python3
"""Diarization error rate (DER), standard definition (NIST md-eval / pyannote.metrics DiarizationErrorRate):

    DER = (missed speech + false alarm + speaker confusion) / total reference speech

* A no-score collar of `collar` seconds (default 0.25) on each side of every reference turn boundary is
  removed from scoring (md-eval's `-c 0.25`; pyannote's `collar=0.5` means the same ±0.25 s).
* Overlapped speech is scored (each reference speaker counts).
* Speakers are mapped one-to-one, reference to hypothesis, to maximise the total time they are both active in
  the scored region (the optimal mapping; exhaustive search, fine for the handful of speakers a recording has).
* On every elementary interval (between consecutive boundaries) with R reference and H hypothesis speakers,
  C of them mapped pairs both active: miss = max(0, R − H), false alarm = max(0, H − R),
  confusion = min(R, H) − C, all times the interval's length.

Standard library only. Usage:
    python3 bench/der.py REF.rttm HYP.rttm [--collar 0.25] [--file ID]
prints one JSON line (der, miss, false_alarm, confusion, total, speakers in each).
"""
import argparse, itertools, json, sys


def read_rttm(path, file_id=None):
    """SPEAKER lines → [(start, end, speaker)] (optionally of one file id)."""
    turns = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 8 or p[0] != "SPEAKER":
                continue
            if file_id is not None and p[1] != file_id:
                continue
            start, dur = float(p[3]), float(p[4])
            if dur > 0:
                turns.append((start, start + dur, p[7]))
    return turns


def _no_score_zones(reference, collar):
    zones = []
    if collar > 0:
        for s, e, _ in reference:
            zones.append((s - collar, s + collar))
            zones.append((e - collar, e + collar))
    return zones


def _active(turns, t0, t1):
    return {spk for s, e, spk in turns if s < t1 and e > t0}


def _intervals(reference, hypothesis, collar):
    """Elementary scored intervals (t0, t1, ref speakers, hyp speakers)."""
    zones = _no_score_zones(reference, collar)
    cuts = set()
    for s, e, _ in reference + hypothesis:
        cuts.update((s, e))
    for s, e in zones:
        cuts.update((s, e))
    points = sorted(cuts)
    out = []
    for t0, t1 in zip(points, points[1:]):
        if t1 - t0 <= 1e-9:
            continue
        mid = (t0 + t1) / 2
        if any(s <= mid < e for s, e in zones):
            continue
        out.append((t0, t1, _active(reference, t0, t1), _active(hypothesis, t0, t1)))
    return out


def optimal_mapping(intervals):
    """Reference → hypothesis one-to-one mapping maximising co-activity time (exhaustive)."""
    refs = sorted({r for _, _, rs, _ in intervals for r in rs})
    hyps = sorted({h for _, _, _, hs in intervals for h in hs})
    overlap = {(r, h): 0.0 for r in refs for h in hyps}
    for t0, t1, rs, hs in intervals:
        for r in rs:
            for h in hs:
                overlap[(r, h)] += t1 - t0
    best, best_map = -1.0, {}
    if len(refs) <= len(hyps):
        for perm in itertools.permutations(hyps, len(refs)):
            score = sum(overlap[(r, h)] for r, h in zip(refs, perm))
            if score > best + 1e-12:
                best, best_map = score, dict(zip(refs, perm))
    else:
        for perm in itertools.permutations(refs, len(hyps)):
            score = sum(overlap[(r, h)] for r, h in zip(perm, hyps))
            if score > best + 1e-12:
                best, best_map = score, dict(zip(perm, hyps))
    return best_map


def der(reference, hypothesis, collar=0.25):
    """Components of the DER of `hypothesis` against `reference` (lists of (start, end, speaker))."""
    intervals = _intervals(reference, hypothesis, collar)
    mapping = optimal_mapping(intervals)
    total = miss = fa = conf = 0.0
    for t0, t1, rs, hs in intervals:
        d = t1 - t0
        nr, nh = len(rs), len(hs)
        correct = sum(1 for r in rs if mapping.get(r) in hs)
        total += nr * d
        miss += max(0, nr - nh) * d
        fa += max(0, nh - nr) * d
        conf += (min(nr, nh) - correct) * d
    value = (miss + fa + conf) / total if total > 0 else 0.0
    return {"der": value, "miss": miss, "false_alarm": fa, "confusion": conf, "total": total,
            "reference_speakers": len({s for _, _, s in reference}),
            "hypothesis_speakers": len({s for _, _, s in hypothesis}), "mapping": mapping}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reference")
    ap.add_argument("hypothesis")
    ap.add_argument("--collar", type=float, default=0.25, help="seconds each side of reference boundaries")
    ap.add_argument("--file", default=None, help="only this RTTM file id")
    a = ap.parse_args()
    result = der(read_rttm(a.reference, a.file), read_rttm(a.hypothesis, a.file), a.collar)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
