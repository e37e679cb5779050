#!/usr/bin/env python3
"""Runs funasr-onnx 0.4.3's offline FSMN-VAD (Fsmn_vad, the peer) on one file and prints the segment list as
JSON, like `earshot vad FILE --format json`. Usage: funasr_onnx_vad.py FILE [MODEL_DIR] [THREADS]"""
import json, os, sys
from funasr_onnx import Fsmn_vad

path = sys.argv[1]
model = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot")), "models", "fsmn-vad")
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
result = Fsmn_vad(model, intra_op_num_threads=threads)(path)
print(json.dumps([[int(s), int(e)] for s, e in (result[0] if result else [])], separators=(",", ":")))
