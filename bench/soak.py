#!/usr/bin/env python3
"""Soak: does anything leak over hours of audio? Resident memory and open file descriptors of one long-lived
Earshot process, sampled every second, with their least-squares slope after a warm-up.

  pipeline  `earshot transcribe` over one long recording (default: the 2-hour english-120min-seed0.wav that
            scripts/make-long-recording.py makes) in one process. Slope in MiB per hour of audio.
  server    `earshot serve` under a mix of valid and invalid requests from several clients for M minutes:
            short and 2-min recordings, a body that is not audio, a truncated WAV, an unknown model, a missing
            file field, an upload above --max-upload, and clients that hang up mid-upload. Every response's
            status is checked against what that kind must get; anything else is reported. Slope in MiB per
            hour of wall time, and the RSS/fd count at the end against the first minute.

Usage (quiet machine; see bench/README.md):
  bench/soak.py pipeline [--audio FILE]
  bench/soak.py server --minutes 20 --clients 6 --memory-limit 300MB
"""
import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import CACHE, ROOT, Server, default_clips, duration, is_openai_error, load_average, transcribe  # noqa: E402


def process_sample(pid):
    """(resident bytes, open fds) of a live process, or None once it is gone."""
    try:
        rss = 0
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None


def slope(points):
    """Least-squares slope of (x, y) points; 0 for fewer than two."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


class Sampler(threading.Thread):
    """Samples a process's RSS and fd count every `period` seconds until stopped or the process ends."""

    def __init__(self, pid, period=1.0):
        super().__init__(daemon=True)
        self.pid, self.period, self.samples, self.stopped = pid, period, [], threading.Event()
        self.start_time = time.time()

    def run(self):
        while not self.stopped.is_set():
            sample = process_sample(self.pid)
            if sample is None:
                return
            self.samples.append((time.time() - self.start_time, *sample))
            self.stopped.wait(self.period)

    def summary(self, warmup_s, x_scale=1.0):
        """Slopes after `warmup_s` seconds; x is scaled (e.g. wall seconds → audio hours)."""
        late = [s for s in self.samples if s[0] >= warmup_s]
        rss = [(t * x_scale, r / 2**20) for t, r, _ in late]
        fds = [(t * x_scale, f) for t, _, f in late]
        first_minute = [s for s in late if s[0] < warmup_s + 60] or late[:1]
        return {
            "samples": len(self.samples), "after_warmup": len(late),
            "rss_mib_first": first_minute[0][1] / 2**20 if first_minute else None,
            "rss_mib_max": max(r for _, r, _ in late) / 2**20 if late else None,
            "rss_mib_last": late[-1][1] / 2**20 if late else None,
            "rss_slope_mib": slope(rss), "fds_first": first_minute[0][2] if first_minute else None,
            "fds_max": max(f for _, _, f in late) if late else None, "fds_last": late[-1][2] if late else None,
            "fd_slope": slope(fds),
        }


def pipeline(args):
    audio = args.audio or os.path.join(CACHE, "long", "english-120min-seed0.wav")
    if not os.path.exists(audio):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts/make-long-recording.py"), "--minutes", "120",
                        "--out", audio], check=True, stdout=subprocess.DEVNULL)
    seconds = duration(audio)
    out = open(os.devnull, "w")
    started = time.time()
    child = subprocess.Popen([args.earshot, "transcribe", audio, "--model", args.model, "--output-format", "txt",
                              "--no-progress", *args.extra.split()], stdout=out, stderr=subprocess.PIPE)
    sampler = Sampler(child.pid, period=0.5)
    sampler.start()
    _, stderr = child.communicate()
    wall = time.time() - started
    sampler.stopped.set()
    sampler.join()
    # x in hours of audio: the pipeline runs at a steady pace, so wall time maps linearly onto the recording.
    report = {"scenario": "pipeline", "audio": os.path.basename(audio), "audio_hours": seconds / 3600,
              "wall_s": wall, "exit_code": child.returncode, "stderr_tail": stderr.decode(errors="replace")[-300:],
              **sampler.summary(warmup_s=min(30, wall / 4), x_scale=(seconds / 3600) / wall),
              "slope_units": "MiB (or fds) per hour of audio", "load_average": load_average()}
    print(json.dumps(report, indent=2))


def multipart(fields, file_bytes=None, filename="a.wav"):
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    if file_bytes is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                     f"Content-Type: audio/wav\r\n\r\n".encode() + file_bytes + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return boundary, b"".join(parts)


def raw_post(port, boundary, body, hang_up_after=None, timeout=600):
    """POSTs over a plain socket; returns the status code, or None when we hung up on purpose."""
    head = (f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head)
        if hang_up_after is not None:
            s.sendall(body[:hang_up_after])
            return None
        try:
            s.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the server answered early (413 before reading the whole body) and closed: read its answer
        reply = b""
        try:
            while b"\r\n" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except ConnectionResetError:
            pass
        line = reply.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) > 1 else -1


def server(args):
    clips = default_clips()
    two_minutes = os.path.join(CACHE, "long", "mixed-2min-seed11.wav")
    if not os.path.exists(two_minutes):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts/make-long-recording.py"), "--minutes", "2",
                        "--gap-min", "0.3", "--gap-max", "3", "--seed", "11", "--out", two_minutes],
                       check=True, stdout=subprocess.DEVNULL)
    clip_bytes = open(clips[0], "rb").read()
    srv = Server(args.earshot, args.model, ["--memory-limit", args.memory_limit, "--max-queue", "8",
                                            "--max-upload", "8MB"])
    port = srv.port
    # kind → (action, statuses it may get). 429 is always allowed (the queue is bounded by design).
    kinds = {
        "short": (lambda: transcribe(srv.url, random.choice(clips))[0], {200}),
        "two-minute": (lambda: transcribe(srv.url, two_minutes)[0], {200}),
        "not-audio": (lambda: raw_post(port, *multipart({"model": "whisper-1"}, os.urandom(50_000))), {400}),
        "truncated-wav": (lambda: raw_post(port, *multipart({"model": "whisper-1"}, clip_bytes[:30])), {400}),
        "unknown-model": (lambda: raw_post(port, *multipart({"model": "no-such-model"}, clip_bytes)), {400, 404}),
        "no-file": (lambda: raw_post(port, *multipart({"model": "whisper-1"})), {400}),
        "too-big": (lambda: raw_post(port, *multipart({"model": "whisper-1"}, os.urandom(9_000_000))), {413}),
        "hang-up": (lambda: raw_post(port, *multipart({"model": "whisper-1"}, clip_bytes), hang_up_after=40_000),
                    {None}),
    }
    weights = {"short": 8, "two-minute": 1, "not-audio": 1, "truncated-wav": 1, "unknown-model": 1, "no-file": 1,
               "too-big": 1, "hang-up": 2}
    sampler = Sampler(srv.process.pid)
    sampler.start()
    stop_at = time.time() + args.minutes * 60
    lock = threading.Lock()
    counts, unexpected = {}, []

    def client(seed):
        rng = random.Random(seed)
        names = [k for k, w in weights.items() for _ in range(w)]
        while time.time() < stop_at:
            kind = rng.choice(names)
            action, allowed = kinds[kind]
            try:
                status = action()
            except OSError as e:  # a reset connection where a status was due
                status = f"error {e!r}"
            with lock:
                counts.setdefault(kind, {}).setdefault(str(status), 0)
                counts[kind][str(status)] += 1
                if status not in allowed and status != 429:
                    unexpected.append((kind, status))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(2)   # the last requests' memory goes back
    end_sample = process_sample(srv.process.pid)
    sampler.stopped.set()
    sampler.join()
    peak, code = srv.stop()
    report = {"scenario": "server", "minutes": args.minutes, "clients": args.clients, "counts": counts,
              "unexpected": unexpected[:20], "unexpected_count": len(unexpected),
              **sampler.summary(warmup_s=60, x_scale=1 / 3600),
              "rss_mib_idle_end": end_sample[0] / 2**20 if end_sample else None,
              "fds_idle_end": end_sample[1] if end_sample else None, "peak_rss_mib": peak / 2**20,
              "slope_units": "MiB (or fds) per hour of wall time", "exit_code": code, "load_average": load_average()}
    print(json.dumps(report, indent=2))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--earshot", default=os.path.join(ROOT, ".build/release/earshot"))
    parser.add_argument("--model", default=os.path.join(CACHE, "models/whisper-tiny.en"))
    sub = parser.add_subparsers(dest="scenario", required=True)
    p = sub.add_parser("pipeline")
    p.add_argument("--audio")
    p.add_argument("--extra", default="", help="extra `earshot transcribe` arguments, space-separated")
    s = sub.add_parser("server")
    s.add_argument("--minutes", type=float, default=20)
    s.add_argument("--clients", type=int, default=6)
    s.add_argument("--memory-limit", default="300MB")
    args = parser.parse_args()
    {"pipeline": pipeline, "server": server}[args.scenario](args)


if __name__ == "__main__":
    main()
