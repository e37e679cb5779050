#!/usr/bin/env python3
"""Builds a long, deterministic recording from the real clips in the Earshot asset cache, for tests and
benchmarks (long files are never committed).

    scripts/make-long-audio.py --minutes N --out FILE [--seed S] [--clips DIR...]

The clips (16 kHz mono 16-bit WAV: LibriVox, pyannote, FunASR zh, cards — fetched by scripts/fetch-assets.sh)
are concatenated in a pseudo-random order, separated by gaps of 0 to 4 s filled with low-level noise
(uniform, ±4 LSB: real recordings are never digitally silent, and exact zeros make FunASR's VAD take
log(0)). Gaps of 0 s join clips into longer stretches of speech, and now and then a run of 12 clips is
joined with no gap at all, so stretches longer than 60 s occur and the VAD's forced cut is exercised. Same arguments → byte-identical file (own LCG, standard library only).
The output is truncated to exactly N minutes.
"""
import argparse, os, struct, sys, wave

CLIP_DIRS = ["audio/librivox", "audio/pyannote", "audio/zh", "audio/cards"]
GAPS_S = [0.0, 0.0, 0.05, 0.2, 0.5, 0.8, 1.0, 1.5, 2.0, 4.0]


class LCG:
    """Numerical Recipes 32-bit LCG: deterministic across Python versions and platforms."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFF

    def next(self):
        self.state = (1664525 * self.state + 1013904223) & 0xFFFFFFFF
        return self.state

    def below(self, n):
        return (self.next() >> 8) % n


def load_clips(cache, dirs):
    clips = []
    for d in dirs:
        path = os.path.join(cache, d)
        if not os.path.isdir(path):
            sys.exit(f"make-long-audio: {path} is missing; run scripts/fetch-assets.sh")
        for name in sorted(os.listdir(path)):
            if not name.endswith(".wav"):
                continue
            with wave.open(os.path.join(path, name)) as w:
                if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (16000, 1, 2):
                    sys.exit(f"make-long-audio: {name} is not 16 kHz mono 16-bit")
                clips.append((f"{d}/{name}", w.readframes(w.getnframes())))
    if not clips:
        sys.exit("make-long-audio: no clips found; run scripts/fetch-assets.sh")
    return clips


def noise(rng, samples):
    return struct.pack(f"<{samples}h", *[(rng.next() >> 16) % 9 - 4 for _ in range(samples)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=20240508)
    ap.add_argument("--clips", nargs="*", default=CLIP_DIRS, help="clip folders under the cache")
    a = ap.parse_args()
    cache = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))
    clips = load_clips(cache, a.clips)
    rng = LCG(a.seed)
    total = int(round(a.minutes * 60 * 16000))
    written = 0
    tmp = a.out + ".part"
    with wave.open(tmp, "wb") as out:
        out.setnchannels(1); out.setsampwidth(2); out.setframerate(16000)
        run = 0   # clips still to join without a gap
        while written < total:
            _, pcm = clips[rng.below(len(clips))]
            if run == 0 and rng.below(8) == 0:
                run = 12
            gap = 0 if run > 0 else int(GAPS_S[rng.below(len(GAPS_S))] * 16000)
            run = max(0, run - 1)
            for chunk in (noise(rng, gap), pcm):
                take = min(len(chunk) // 2, total - written)
                out.writeframes(chunk[: 2 * take])
                written += take
    os.replace(tmp, a.out)
    print(f"{a.out}: {written} samples ({written / 16000 / 60:.2f} min) from {len(clips)} clips")


if __name__ == "__main__":
    main()
