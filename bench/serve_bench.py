#!/usr/bin/env python3
"""Benchmarks `earshot serve` as clients see it: burst, sustained load and head-of-line blocking.

Each scenario starts its own server process (the same binary and model for every run in one invocation),
drives it over loopback with plain HTTP (the OpenAI transcription route, multipart upload), and reads the
server's peak RSS from /proc/PID/status (VmHWM) before stopping it with SIGTERM. Only the standard library.

  burst  12 requests at once under a memory limit that cannot hold them all: how many are answered, how many
         get 429/503 with OpenAI's error object, whether anything else happened, peak RSS against the limit.
  load   N concurrent clients for M minutes over recordings of mixed length (429 → wait Retry-After, retry):
         errors, p50/p99 latency, throughput (audio s per wall s), peak RSS; then the same distinct files
         transcribed offline in one `earshot transcribe` process, for the throughput ratio.
  hol    short requests one after another on an idle server, then again while a long file is being
         transcribed; p50 ratio. With --serial the server runs one request at a time (--max-jobs 1), as
         whisper.cpp's server does.

Usage (see bench/README.md):
  bench/serve_bench.py burst --memory-limit 260MB
  bench/serve_bench.py load --memory-limit 300MB --clients 16 --minutes 10
  bench/serve_bench.py hol --long ~/.cache/earshot/long/short-utt-30min.wav [--serial]
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def duration(path):
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def load_average():
    return open("/proc/loadavg").read().split()[:3]


class Server:
    """An `earshot serve` child process on a free loopback port."""

    def __init__(self, binary, model, extra):
        self.port = free_port()
        self.log = open(os.path.join("/tmp", f"earshot-serve-{self.port}.log"), "w")
        args = [binary, "serve", "--model", model, "--port", str(self.port)] + extra
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited with {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        raise SystemExit("server did not become healthy in 120 s")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def status_field(self, name):
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        peak = self.status_field("VmHWM")
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = "killed after 120 s"
        return peak, code


def transcribe(url, path, timeout=1800, response_format="json"):
    """POSTs one file; returns (status, seconds, parsed body or text, headers)."""
    boundary = uuid.uuid4().hex
    with open(path, "rb") as f:
        audio = f.read()
    parts = []
    for name, value in (("model", "whisper-1"), ("response_format", response_format)):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{os.path.basename(path)}"\r\n'
                 f"Content-Type: audio/wav\r\n\r\n".encode() + audio + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(f"{url}/v1/audio/transcriptions", data=b"".join(parts), method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    start = time.time()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            body = r.read()
            return r.status, time.time() - start, json.loads(body), dict(r.headers)
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body.decode(errors="replace")
        return e.code, time.time() - start, parsed, dict(e.headers)
    except Exception as e:  # connection reset, timeout: reported as a failure of its own kind
        return None, time.time() - start, repr(e), {}


def is_openai_error(body):
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and "message" in body["error"]


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def default_clips():
    librivox = os.path.join(CACHE, "audio/librivox")
    return sorted(os.path.join(librivox, f) for f in os.listdir(librivox) if f.endswith(".wav"))


def burst(args):
    server = Server(args.earshot, args.model, ["--memory-limit", args.memory_limit, "--max-queue", str(args.max_queue)]
                    + args.server_args)
    clips = args.files or default_clips()
    results = [None] * args.requests
    barrier = threading.Barrier(args.requests)

    def client(i):
        barrier.wait()
        results[i] = transcribe(server.url, clips[i % len(clips)])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    peak, code = server.stop()
    answered = sum(1 for r in results if r[0] == 200)
    refused = sum(1 for r in results if r[0] in (429, 503) and is_openai_error(r[2]))
    retry_after = sum(1 for r in results if r[0] == 429 and "Retry-After" in r[3])
    other = [(r[0], r[2]) for r in results if r[0] != 200 and not (r[0] in (429, 503) and is_openai_error(r[2]))]
    limit = parse_size(args.memory_limit)
    report = {"scenario": "burst", "requests": args.requests, "answered": answered, "refused_429_503": refused,
              "429_with_retry_after": retry_after, "other_failures": other, "peak_rss_mib": peak / 2**20,
              "limit_mib": limit / 2**20, "peak_within_limit": peak <= limit, "exit_code": code,
              "load_average": load_average()}
    print(json.dumps(report, indent=2))
    return report


def load(args):
    files = args.files or mixed_recordings()
    server = Server(args.earshot, args.model, ["--memory-limit", args.memory_limit, "--max-queue", str(args.max_queue)]
                    + args.server_args)
    stop_at = time.time() + args.minutes * 60
    lock = threading.Lock()
    latencies, audio_done, errors, throttled = [], [0.0], [], [0]
    rss_samples = []

    def client(i):
        k = i
        while time.time() < stop_at:
            path = files[k % len(files)]
            status, seconds, body, headers = transcribe(server.url, path)
            with lock:
                if status == 200:
                    latencies.append(seconds)
                    audio_done[0] += duration(path)
                    k += 1
                elif status == 429:
                    throttled[0] += 1
                else:
                    errors.append((status, str(body)[:200]))
                    k += 1
            if status == 429:
                time.sleep(float(headers.get("Retry-After", "1")))

    def sampler():
        while time.time() < stop_at:
            rss_samples.append(server.status_field("VmRSS"))
            time.sleep(1)

    started = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    threads.append(threading.Thread(target=sampler))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - started
    peak, code = server.stop()
    throughput = audio_done[0] / wall
    # The same distinct files, transcribed offline in one process (same model, precision and limit).
    distinct = sorted(set(files))
    offline_start = time.time()
    subprocess.run([args.earshot, "transcribe", "--model", args.model, "--memory-limit", args.memory_limit,
                    "--no-progress", *distinct], check=True, stdout=subprocess.DEVNULL)
    offline_wall = time.time() - offline_start
    offline = sum(duration(f) for f in distinct) / offline_wall
    limit = parse_size(args.memory_limit)
    report = {"scenario": "load", "clients": args.clients, "minutes": args.minutes, "requests_ok": len(latencies),
              "errors_other_than_429": errors, "throttled_429": throttled[0],
              "p50_s": percentile(latencies, 50), "p99_s": percentile(latencies, 99),
              "throughput_audio_s_per_s": throughput, "offline_audio_s_per_s": offline,
              "throughput_ratio": throughput / offline, "peak_rss_mib": peak / 2**20, "limit_mib": limit / 2**20,
              "peak_within_limit": peak <= limit, "rss_after_mib": rss_samples[-1] / 2**20 if rss_samples else None,
              "exit_code": code, "load_average": load_average()}
    print(json.dumps(report, indent=2))
    return report


def hol(args):
    extra = ["--max-jobs", "1"] if args.serial else []
    server = Server(args.earshot, args.model, extra + args.server_args)
    shorts = args.files or default_clips()
    shorts = [f for f in shorts if duration(f) <= 10.5] or shorts[:3]
    transcribe(server.url, shorts[0])   # warm the path once
    idle = [transcribe(server.url, f)[1] for _ in range(args.rounds) for f in shorts]
    long_result = {}

    def long_request():
        long_result["r"] = transcribe(server.url, args.long)

    t = threading.Thread(target=long_request)
    t.start()
    time.sleep(args.head_start)
    busy = []
    for _ in range(args.rounds):
        for f in shorts:
            status, seconds, _, _ = transcribe(server.url, f)
            if status == 200:
                busy.append(seconds)
            if not t.is_alive():
                break
    long_running_during_all = t.is_alive()
    t.join()
    peak, code = server.stop()
    report = {"scenario": "hol", "serial": args.serial, "short_files": [os.path.basename(f) for f in shorts],
              "idle_p50_s": statistics.median(idle), "busy_p50_s": statistics.median(busy) if busy else None,
              "ratio": (statistics.median(busy) / statistics.median(idle)) if busy else None,
              "busy_requests": len(busy), "long_file_s": duration(args.long),
              "long_status": long_result["r"][0], "long_latency_s": long_result["r"][1],
              "long_still_running_after_shorts": long_running_during_all, "peak_rss_mib": peak / 2**20,
              "exit_code": code, "load_average": load_average()}
    print(json.dumps(report, indent=2))
    return report


def mixed_recordings():
    """Real recordings of mixed length: the LibriVox clips (10–35 s) and 2- and 5-minute recordings of
    real clips with pauses (scripts/make-long-recording.py, made once into the cache)."""
    out = default_clips()
    for minutes, seed in ((2, 11), (5, 12)):
        path = os.path.join(CACHE, "long", f"mixed-{minutes}min-seed{seed}.wav")
        if not os.path.exists(path):
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts/make-long-recording.py"), "--minutes",
                            str(minutes), "--gap-min", "0.3", "--gap-max", "3", "--seed", str(seed), "--out", path],
                           check=True, stdout=subprocess.DEVNULL)
        out.append(path)
    return out


def parse_size(text):
    units = {"KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "B": 1}
    t = text.strip().upper()
    for unit in sorted(units, key=len, reverse=True):
        if t.endswith(unit):
            return int(float(t[: -len(unit)]) * units[unit])
    return int(t)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--earshot", default=os.path.join(ROOT, ".build/release/earshot"))
    parser.add_argument("--model", default=os.path.join(CACHE, "models/whisper-tiny.en"))
    parser.add_argument("--server-args", default="", help="extra `earshot serve` arguments, space-separated")
    sub = parser.add_subparsers(dest="scenario", required=True)
    b = sub.add_parser("burst")
    b.add_argument("--memory-limit", default="260MB")
    b.add_argument("--requests", type=int, default=12)
    b.add_argument("--max-queue", type=int, default=4)
    b.add_argument("files", nargs="*")
    l = sub.add_parser("load")
    l.add_argument("--memory-limit", default="300MB")
    l.add_argument("--clients", type=int, default=16)
    l.add_argument("--minutes", type=float, default=10)
    l.add_argument("--max-queue", type=int, default=16)
    l.add_argument("files", nargs="*")
    h = sub.add_parser("hol")
    h.add_argument("--long", default=os.path.join(CACHE, "long/short-utt-30min.wav"))
    h.add_argument("--serial", action="store_true", help="one request at a time (--max-jobs 1)")
    h.add_argument("--rounds", type=int, default=2)
    h.add_argument("--head-start", type=float, default=3.0, help="seconds the long file runs alone first")
    h.add_argument("files", nargs="*")
    args = parser.parse_args()
    args.server_args = args.server_args.split()
    {"burst": burst, "load": load, "hol": hol}[args.scenario](args)


if __name__ == "__main__":
    main()
