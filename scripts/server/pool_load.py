#!/usr/bin/env python3
"""Bounded load through a pool of `earshot serve` processes, killing one mid-load.

Usage: pool_load.py URL --files F... [--requests 30] [--concurrency 6] [--kill-pid PID --kill-after N]
Sends REQUESTS transcriptions (POST URL/v1/audio/transcriptions, multipart, response_format=json), the files
in turn, at most CONCURRENCY at once. Once KILL-AFTER requests have been sent, it SIGKILLs KILL-PID (one of
the pool's processes). Every request has a client timeout (120 s); the script never waits longer. Prints one
JSON object: {"results": [{"index", "sent_after_kill", "status", "body", "error"}...], "killed": bool}.
A request that hangs shows up as error "timeout"; one that vanishes as a connection error.
Needs `requests` (the venv made by scripts/setup-venv.sh).
"""
import argparse
import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("--files", nargs="+", required=True)
parser.add_argument("--requests", type=int, default=30)
parser.add_argument("--concurrency", type=int, default=6)
parser.add_argument("--kill-pid", type=int)
parser.add_argument("--kill-after", type=int, default=8)
parser.add_argument("--timeout", type=float, default=120)
args = parser.parse_args()

lock = threading.Lock()
sent = 0
killed = False


def one(index):
    global sent, killed
    path = args.files[index % len(args.files)]
    with lock:
        sent += 1
        after_kill = killed
        if args.kill_pid and not killed and sent > args.kill_after:
            os.kill(args.kill_pid, signal.SIGKILL)
            killed = True
    result = {"index": index, "file": os.path.basename(path), "sent_after_kill": after_kill,
              "status": None, "body": None, "error": None}
    try:
        with open(path, "rb") as f:
            response = requests.post(args.url + "/v1/audio/transcriptions",
                                     files={"file": (os.path.basename(path), f, "audio/wav")},
                                     data={"model": "whisper-1", "response_format": "json"},
                                     timeout=args.timeout)
        result["status"] = response.status_code
        result["body"] = response.text[:500]
    except requests.exceptions.Timeout:
        result["error"] = "timeout"
    except Exception as error:  # noqa: BLE001 - reported to the test
        result["error"] = f"{type(error).__name__}: {error}"
    return result


with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
    results = list(pool.map(one, range(args.requests)))
print(json.dumps({"results": results, "killed": killed}))
