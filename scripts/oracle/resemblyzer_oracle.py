#!/usr/bin/env python3
"""Oracle d-vectors from resemblyzer 0.1.4 itself (its VoiceEncoder, preprocess_wav, wav_to_mel_spectrogram,
with torch 2.13.0+cpu, librosa 0.11.0, numpy 1.26.4, webrtcvad 2.0.10), on real recordings of the asset cache.

For each recording it writes, into Tests/EarshotSpeakerTests/Fixtures/resemblyzer_oracle.json:
  * voice_flags: webrtcvad's decision (mode 3) for every 30 ms window of the volume-normalised wav, exactly
    as resemblyzer's audio.trim_long_silences computes them (the only step Earshot does not reimplement);
  * preprocessed_samples: len(preprocess_wav(path));
  * utterance: VoiceEncoder.embed_utterance(preprocess_wav(path)) (rate 1.3, min_coverage 0.75), plus the
    number of partials and the first partial embeddings;
  * windows: single 1.6-s partials as Earshot's SpeakerEmbedder.embed sees them: raw samples
    wav[start:start+length] → audio.normalize_volume(-30 dBFS, increase_only) → zero-padded to 25,600
    samples → wav_to_mel_spectrogram → first 160 frames → VoiceEncoder.forward.

Setup (scripts/setup-resemblyzer-oracle.sh installs resemblyzer and webrtcvad with --no-deps into
$EARSHOT_CACHE/resemblyzer-py; torch/librosa/scipy come from the FunASR oracle venv):
  PYTHONPATH=$EARSHOT_CACHE/resemblyzer-py $EARSHOT_CACHE/venv-funasr/bin/python scripts/oracle/resemblyzer_oracle.py

webrtcvad 2.0.10 imports pkg_resources only for its version string; setuptools ≥ 81 no longer ships it, so a
stub module answering get_distribution(...).version is installed before the import (no behaviour changes).
"""
import json, os, sys, types

if "pkg_resources" not in sys.modules:
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        stub = types.ModuleType("pkg_resources")
        stub.get_distribution = lambda name: types.SimpleNamespace(version="2.0.10")
        sys.modules["pkg_resources"] = stub

import numpy as np
import struct
import torch
import webrtcvad
import librosa
from resemblyzer import VoiceEncoder, preprocess_wav, audio
from resemblyzer.hparams import sampling_rate, vad_window_length, audio_norm_target_dBFS, partials_n_frames

CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "Tests", "EarshotSpeakerTests", "Fixtures", "resemblyzer_oracle.json")
RECORDINGS = [
    "audio/pyannote/sample.wav",
    "audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
    "audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
    "audio/librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
    "audio/librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
    "audio/librivox/sense_and_sensibility_01_austen_64kb-0930.wav",
    "audio/zh/asr_example.wav",
]
PARTIAL_SAMPLES = partials_n_frames * 160   # 25,600


def voice_flags(wav):
    """resemblyzer audio.trim_long_silences up to the webrtcvad calls (same code path, flags returned)."""
    samples_per_window = (vad_window_length * sampling_rate) // 1000
    wav = wav[:len(wav) - (len(wav) % samples_per_window)]
    pcm_wave = struct.pack("%dh" % len(wav), *(np.round(wav * audio.int16_max)).astype(np.int16))
    vad = webrtcvad.Vad(mode=3)
    return [bool(vad.is_speech(pcm_wave[s * 2:(s + samples_per_window) * 2], sample_rate=sampling_rate))
            for s in range(0, len(wav), samples_per_window)]


def rounded(v):
    return [float(np.float32(x)) for x in np.asarray(v, dtype=np.float32)]


def main():
    torch.set_num_threads(1)
    encoder = VoiceEncoder("cpu", verbose=False)
    out = {"resemblyzer": "0.1.4", "torch": torch.__version__, "librosa": librosa.__version__,
           "numpy": np.__version__, "recordings": []}
    for rel in RECORDINGS:
        path = os.path.join(CACHE, rel)
        raw, sr = librosa.load(path, sr=None)
        assert sr == sampling_rate, (rel, sr)
        normalized = audio.normalize_volume(raw, audio_norm_target_dBFS, increase_only=True)
        pre = preprocess_wav(path)
        embed, partials, slices = encoder.embed_utterance(pre, return_partials=True)
        windows = []
        length = len(raw)
        for start, count in [(0, PARTIAL_SAMPLES), (length // 3, PARTIAL_SAMPLES),
                             (max(0, length - PARTIAL_SAMPLES), PARTIAL_SAMPLES), (length // 2, 12_800)]:
            w = raw[start:start + count]
            n = audio.normalize_volume(w, audio_norm_target_dBFS, increase_only=True)
            n = np.pad(n, (0, max(0, PARTIAL_SAMPLES - len(n))), "constant")
            mel = audio.wav_to_mel_spectrogram(n)[:partials_n_frames]
            with torch.no_grad():
                e = encoder(torch.from_numpy(mel[None])).numpy()[0]
            windows.append({"start": int(start), "count": int(len(w)), "embedding": rounded(e),
                            "mel_sum": float(mel.astype(np.float64).sum())})
        out["recordings"].append({
            "path": rel, "samples": int(length),
            "voice_flags": "".join("1" if f else "0" for f in voice_flags(normalized)),
            "preprocessed_samples": int(len(pre)),
            "partials": int(len(partials)),
            "partial_starts": [int(s.start) for s in slices],
            "utterance": rounded(embed),
            "first_partials": [rounded(p) for p in partials[:3]],
            "windows": windows,
        })
        print(f"{rel}: {length} samples → {len(pre)} after trimming, {len(partials)} partials", file=sys.stderr)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(OUT, os.path.getsize(OUT), "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
