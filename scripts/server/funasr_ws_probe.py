#!/usr/bin/env python3
"""Misbehaving FunASR websocket clients, for Tests/EarshotCLITests/FunASRWebSocketTests.swift.

Usage: funasr_ws_probe.py PORT WAV CASE...
Each CASE connects to ws://127.0.0.1:PORT/ and does one thing wrong (or right); the script prints one JSON
line per case: {"case": ..., "messages": [server text messages as JSON], "close_code": int|None,
"close_reason": str|None, "error": str|None}. Cases:
  malformed     config message that is not JSON
  audio_first   a binary frame before any config message
  bad_mode      {"mode": "turbo"}
  bad_fs        audio_fs = -5
  idle          config, then silence (the server's idle timeout must close it)
  disconnect    config + 2 s of audio, then the TCP connection is dropped without a close frame
  offline       a well-behaved offline client (the server must still serve after the others)
  resampled     the WAV resampled to 8 kHz, sent with audio_fs 8000 (offline)
  container     the WAV file's bytes as they are (wav_format "wav", offline): decoded after the end
Needs the `websockets` package (the venv made by scripts/setup-venv.sh).
"""
import asyncio
import json
import sys
import wave

import websockets

PORT = int(sys.argv[1])
WAV = sys.argv[2]
URI = f"ws://127.0.0.1:{PORT}/"


def pcm16k():
    with wave.open(WAV, "rb") as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.readframes(w.getnframes())


def downsample_to_8k(pcm: bytes) -> bytes:
    # Average pairs of samples: a crude low-pass, enough for speech below 4 kHz.
    import array
    a = array.array("h", pcm)
    out = array.array("h", ((a[i] + a[i + 1]) // 2 for i in range(0, len(a) - 1, 2)))
    return out.tobytes()


async def collect(ws, timeout):
    """Reads text messages until the server closes the connection or `timeout` passes."""
    messages = []
    code = reason = None
    try:
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout)
            messages.append(json.loads(raw))
            if messages[-1].get("is_final") and "error" not in messages[-1]:
                break
    except websockets.exceptions.ConnectionClosed as closed:
        if closed.rcvd is not None:
            code, reason = closed.rcvd.code, closed.rcvd.reason
    except asyncio.TimeoutError:
        reason = "client timeout"
    return messages, code, reason


def config(mode="offline", **extra):
    message = {"mode": mode, "wav_name": "probe", "wav_format": "pcm", "audio_fs": 16000, "is_speaking": True,
               "chunk_size": [5, 10, 5], "chunk_interval": 10, "itn": True, "hotwords": ""}
    message.update(extra)
    return json.dumps(message)


async def send_audio(ws, pcm, frame=1920):
    for i in range(0, len(pcm), frame):
        await ws.send(pcm[i:i + frame])


async def run(case):
    result = {"case": case, "messages": [], "close_code": None, "close_reason": None, "error": None}
    try:
        async with websockets.connect(URI, subprotocols=["binary"], ping_interval=None, max_size=None) as ws:
            timeout = 30
            if case == "malformed":
                await ws.send("{mode: offline")
            elif case == "audio_first":
                await ws.send(pcm16k()[:3840])
            elif case == "bad_mode":
                await ws.send(config(mode="turbo"))
            elif case == "bad_fs":
                await ws.send(config(audio_fs=-5))
            elif case == "idle":
                await ws.send(config())
                timeout = 60
            elif case == "disconnect":
                await ws.send(config(mode="2pass"))
                await send_audio(ws, pcm16k()[:64000])
                ws.transport.abort()   # no close frame: the peer just vanishes
                result["close_reason"] = "client aborted"
                return result
            elif case in ("offline", "resampled", "container"):
                if case == "offline":
                    await ws.send(config())
                    await send_audio(ws, pcm16k())
                elif case == "resampled":
                    await ws.send(config(audio_fs=8000))
                    await send_audio(ws, downsample_to_8k(pcm16k()), frame=960)
                else:
                    await ws.send(config(wav_format="wav"))
                    with open(WAV, "rb") as f:
                        await send_audio(ws, f.read(), frame=4096)
                await ws.send(json.dumps({"is_speaking": False}))
                timeout = 120
            result["messages"], result["close_code"], result["close_reason"] = await collect(ws, timeout)
    except Exception as error:  # noqa: BLE001 - reported to the test
        result["error"] = f"{type(error).__name__}: {error}"
    return result


async def main():
    for case in sys.argv[3:]:
        print(json.dumps(await run(case)), flush=True)


asyncio.run(main())
