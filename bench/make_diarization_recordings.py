#!/usr/bin/env python3
"""Two-speaker recordings with an exact reference, made by alternating clips of two real speakers.

Speakers (all in the asset cache, scripts/fetch-assets.sh):
  reader  — the LibriVox reader of audio/librivox/*.wav (5 clips, one reader)
  cards   — the speaker of audio/cards/00[1-5].wav (5 short clips)
  diane / sheila — the two callers of audio/pyannote/sample.wav, cut at their RTTM turns with every part where the
            other caller's turn overlaps removed (pieces of at least 0.8 s)

Each clip's leading and trailing silence is trimmed (10-ms frames whose RMS is below 1/100 of the clip's loudest
frame, i.e. −40 dB) so a turn starts and ends with speech; clips are then placed one speaker after the other with
a seeded gap of 0.4–1.0 s of digital silence. The reference RTTM lists every placed clip as one turn, to the
sample: start = first sample / 16000, duration = clip length / 16000.

Writes $EARSHOT_CACHE/diarization/<name>.wav (16-kHz mono s16) and <name>.rttm, and copies each RTTM into
Tests/EarshotSpeakerTests/Fixtures/ so the reference is committed. Deterministic (seed per recording).
Also writes the four-speaker reference of the 10-minute recording of scripts/make-long-recording.py
(long/english-10min-seed0.rttm; see long_reference).
Run: python3 bench/make_diarization_recordings.py   (numpy only)
"""
import os, random, wave
import numpy as np

CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "Tests", "EarshotSpeakerTests", "Fixtures")
SR = 16000
LIBRIVOX = ["audio/librivox/sense_and_sensibility_01_austen_64kb-%s.wav" % n for n in ("0870", "0880", "0890", "0920", "0930")]
CARDS = ["audio/cards/00%d.wav" % n for n in range(1, 6)]


def read(rel):
    with wave.open(os.path.join(CACHE, rel)) as w:
        assert w.getframerate() == SR and w.getnchannels() == 1 and w.getsampwidth() == 2, rel
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def trim(x):
    frames = len(x) // 160
    rms = np.sqrt(np.mean(x[:frames * 160].astype(np.float64).reshape(frames, 160) ** 2, axis=1))
    loud = np.nonzero(rms >= rms.max() / 100)[0]
    return x[loud[0] * 160:(loud[-1] + 1) * 160]


def caller_pieces():
    """Non-overlapping parts of each caller's RTTM turns in sample.wav."""
    turns = []
    with open(os.path.join(CACHE, "audio/pyannote/sample.rttm")) as f:
        for line in f:
            p = line.split()
            turns.append((float(p[3]), float(p[3]) + float(p[4]), p[7]))
    wav = read("audio/pyannote/sample.wav")
    pieces = {}
    for s, e, spk in turns:
        parts = [(s, e)]
        for s2, e2, other in turns:
            if other == spk:
                continue
            parts = [q for a, b in parts for q in ((a, min(b, s2)), (max(a, e2), b)) if q[1] - q[0] > 0]
        for a, b in parts:
            if b - a >= 0.8:
                pieces.setdefault(spk, []).append(wav[int(round(a * SR)):int(round(b * SR))])
    return {"diane": pieces["speaker90"], "sheila": pieces["speaker91"]}


def build(name, first, second, seed):
    rng = random.Random(seed)
    out, turns, t = [], [], 0
    queue = []
    for i in range(max(len(first[1]), len(second[1]))):
        if i < len(first[1]):
            queue.append((first[0], first[1][i]))
        if i < len(second[1]):
            queue.append((second[0], second[1][i]))
    for k, (spk, clip) in enumerate(queue):
        if k > 0:
            gap = int(rng.uniform(0.4, 1.0) * SR)
            out.append(np.zeros(gap, dtype=np.int16))
            t += gap
        turns.append((t, len(clip), spk))
        out.append(clip)
        t += len(clip)
    audio = np.concatenate(out)
    os.makedirs(os.path.join(CACHE, "diarization"), exist_ok=True)
    with wave.open(os.path.join(CACHE, "diarization", name + ".wav"), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(SR)
        w.writeframes(audio.tobytes())
    rttm = "".join("SPEAKER %s 1 %.4f %.4f <NA> <NA> %s <NA> <NA>\n" % (name, s / SR, n / SR, spk) for s, n, spk in turns)
    for path in (os.path.join(CACHE, "diarization", name + ".rttm"), os.path.join(FIXTURES, name + ".rttm")):
        with open(path, "w") as f:
            f.write(rttm)
    print("%s: %.1f s, %d turns" % (name, len(audio) / SR, len(turns)))


def long_reference(minutes=10, seed=0):
    """The exact speaker reference of scripts/make-long-recording.py's english-<minutes>min-seed<seed>.wav (if it is
    in the cache): from its clips.tsv, each LibriVox clip is a `reader` turn and each cards clip a `cards` turn
    (trimmed of leading and trailing silence exactly as above, measured on the source clip), and each copy of the
    pyannote call contributes sample.rttm's turns (speaker90 → diane, speaker91 → sheila) shifted to where it sits."""
    name = "english-%dmin-seed%d" % (minutes, seed)
    tsv = os.path.join(CACHE, "long", name + ".clips.tsv")
    if not os.path.exists(tsv):
        print("%s not found (scripts/make-long-recording.py --minutes %d); skipped" % (tsv, minutes))
        return
    call = []
    with open(os.path.join(CACHE, "audio/pyannote/sample.rttm")) as f:
        for line in f:
            p = line.split()
            call.append((float(p[3]), float(p[4]), {"speaker90": "diane", "speaker91": "sheila"}[p[7]]))
    turns = []
    with open(tsv) as f:
        next(f)
        for line in f:
            start, end, clip = line.split("\t")[:3]
            start = float(start)
            if clip.startswith("pyannote/"):
                turns += [(start + s, d, spk) for s, d, spk in call]
                continue
            x = read("audio/%s.wav" % clip if clip.startswith("cards/") else
                     "audio/librivox/%s.wav" % clip.split("/", 1)[1])
            frames = len(x) // 160
            rms = np.sqrt(np.mean(x[:frames * 160].astype(np.float64).reshape(frames, 160) ** 2, axis=1))
            loud = np.nonzero(rms >= rms.max() / 100)[0]
            turns.append((start + loud[0] * 160 / SR, (loud[-1] + 1 - loud[0]) * 160 / SR,
                          "cards" if clip.startswith("cards/") else "reader"))
    rttm = "".join("SPEAKER %s 1 %.4f %.4f <NA> <NA> %s <NA> <NA>\n" % (name, s, d, spk) for s, d, spk in turns)
    for path in (os.path.join(CACHE, "long", name + ".rttm"), os.path.join(FIXTURES, name + ".rttm")):
        with open(path, "w") as f:
            f.write(rttm)
    print("%s: %d turns, speakers %s" % (name, len(turns), sorted({t[2] for t in turns})))


def main():
    reader = [trim(read(p)) for p in LIBRIVOX]
    cards = [trim(read(p)) for p in CARDS]
    callers = caller_pieces()
    build("alt-reader-cards", ("reader", reader), ("cards", cards), seed=1)
    build("alt-callers", ("diane", callers["diane"]), ("sheila", callers["sheila"]), seed=2)
    build("alt-reader-sheila", ("reader", reader), ("sheila", callers["sheila"]), seed=3)
    long_reference(10)


if __name__ == "__main__":
    main()
