#!/usr/bin/env python3
"""SIGTERM while a request is in flight: it must complete, new connections must be refused or get 503.

Usage: drain_probe.py PORT PID FILE
Starts POST /v1/audio/transcriptions of FILE; once the server's /metrics shows a running job, sends SIGTERM
to PID, then opens a new connection (GET /health and a second transcription). Prints one JSON object:
{"in_flight": {"status", "body", "error"}, "alive_at_term": bool, "after_term": [{"what", "status", "body", "error"}...]}.
Needs `requests` (the venv made by scripts/setup-venv.sh).
"""
import json
import os
import signal
import sys
import threading
import time

import requests

port, pid, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
base = f"http://127.0.0.1:{port}"
in_flight = {"status": None, "body": None, "error": None}


def transcribe(record):
    try:
        with open(path, "rb") as f:
            response = requests.post(base + "/v1/audio/transcriptions",
                                     files={"file": (os.path.basename(path), f, "audio/wav")},
                                     data={"model": "whisper-1", "response_format": "json"}, timeout=300)
        record["status"], record["body"] = response.status_code, response.text
    except Exception as error:  # noqa: BLE001 - reported to the test
        record["error"] = f"{type(error).__name__}: {error}"


worker = threading.Thread(target=transcribe, args=(in_flight,))
worker.start()
# Poll (bounded) until the engine runs the job: the request is in flight, not merely connecting.
for _ in range(600):
    text = requests.get(base + "/metrics", timeout=10).text
    running = [l for l in text.splitlines() if l.startswith("earshot_running_jobs ")]
    if running and float(running[0].split()[1]) >= 1:
        break
    time.sleep(0.05)
else:
    print(json.dumps({"error": "the request never started running"}))
    sys.exit(1)
os.kill(pid, signal.SIGTERM)
alive_at_term = worker.is_alive()   # the request had not been answered when the signal went out
time.sleep(0.5)   # let the signal be handled: the listener closes, /health turns 503
after = []
for what in ("health", "transcription"):
    record = {"what": what, "status": None, "body": None, "error": None}
    try:
        if what == "health":
            response = requests.get(base + "/health", timeout=10)
            record["status"], record["body"] = response.status_code, response.text[:300]
        else:
            transcribe(record)
    except Exception as error:  # noqa: BLE001
        record["error"] = f"{type(error).__name__}: {error}"
    after.append(record)
worker.join(timeout=300)
print(json.dumps({"in_flight": in_flight, "alive_at_term": alive_at_term, "after_term": after}))
