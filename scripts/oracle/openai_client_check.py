#!/usr/bin/env python3
"""Drives a running `earshot serve` with the official `openai` Python SDK, unchanged, and prints what it got.

Usage: openai_client_check.py --base-url http://127.0.0.1:PORT/v1 [--api-key KEY] AUDIO...

For each recording: every response_format (json, text, srt, vtt, verbose_json, verbose_json with word
timestamps), streaming (stream=True: the event types, the concatenated deltas and the done text), and a
translation (which an English-only model must refuse with 400). Then the errors the SDK raises for an unknown
model, a non-audio file, an empty file and an unknown response_format. Prints one JSON object on stdout; the
Swift test (Tests/EarshotCLITests/OpenAIClientTests.swift) asserts on it against `earshot transcribe`.
The SDK is used as any client would use it: `OpenAI(base_url=..., api_key=...)`, no patches; only retries are
off (max_retries=0) so that each request is made exactly once.
"""
import argparse
import json
import os
import sys

import openai
from openai import OpenAI


def error_info(exc):
    """The status and OpenAI error object an APIStatusError carries."""
    body = exc.body if isinstance(exc.body, dict) else {}
    return {"status": exc.status_code, "type": type(exc).__name__,
            "code": body.get("code"), "param": body.get("param"), "message": body.get("message")}


def expect_error(call):
    try:
        result = call()
    except openai.APIStatusError as exc:
        return error_info(exc)
    return {"status": 200, "unexpected_result": str(result)[:200]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", default="unused")
    parser.add_argument("--model", default="whisper-1")
    parser.add_argument("--scratch", default="/tmp")
    parser.add_argument("audio", nargs="+")
    args = parser.parse_args()

    client = OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=600)
    out = {"sdk_version": openai.__version__, "models": [m.id for m in client.models.list()], "files": {}}

    for path in args.audio:
        name = os.path.basename(path)
        r = {}
        with open(path, "rb") as f:
            r["json"] = client.audio.transcriptions.create(model=args.model, file=f).model_dump(exclude_none=True)
        for fmt in ("text", "srt", "vtt"):
            with open(path, "rb") as f:
                r[fmt] = client.audio.transcriptions.create(model=args.model, file=f, response_format=fmt)
        with open(path, "rb") as f:
            r["verbose_json"] = client.audio.transcriptions.create(
                model=args.model, file=f, response_format="verbose_json").model_dump(exclude_none=True)
        with open(path, "rb") as f:
            r["verbose_json_words"] = client.audio.transcriptions.create(
                model=args.model, file=f, response_format="verbose_json",
                timestamp_granularities=["word", "segment"]).model_dump(exclude_none=True)
        with open(path, "rb") as f:
            stream = client.audio.transcriptions.create(model=args.model, file=f, stream=True)
            events, deltas, done = [], "", None
            for event in stream:
                events.append(event.type)
                if event.type == "transcript.text.delta":
                    deltas += event.delta
                elif event.type == "transcript.text.done":
                    done = event.text
            r["stream"] = {"events": events, "deltas": deltas, "done": done}
        with open(path, "rb") as f:
            r["translation"] = expect_error(lambda: client.audio.translations.create(model=args.model, file=f))
        out["files"][name] = r

    first = args.audio[0]
    errors = {}
    with open(first, "rb") as f:
        errors["unknown_model"] = expect_error(
            lambda: client.audio.transcriptions.create(model="no-such-model", file=f))
    with open(first, "rb") as f:
        errors["unknown_format"] = expect_error(
            lambda: client.audio.transcriptions.create(model=args.model, file=f, response_format="docx"))
    not_audio = os.path.join(args.scratch, "not-audio.txt")
    with open(not_audio, "w") as f:
        f.write("this is a shopping list, not a recording\n" * 20)
    with open(not_audio, "rb") as f:
        errors["not_audio"] = expect_error(lambda: client.audio.transcriptions.create(model=args.model, file=f))
    empty = os.path.join(args.scratch, "empty.wav")
    open(empty, "wb").close()
    with open(empty, "rb") as f:
        errors["empty"] = expect_error(lambda: client.audio.transcriptions.create(model=args.model, file=f))
    out["errors"] = errors
    # The server still serves after the errors.
    with open(first, "rb") as f:
        out["after_errors"] = client.audio.transcriptions.create(model=args.model, file=f, response_format="text")
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
