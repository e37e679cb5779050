#!/usr/bin/env python3
"""Checks `earshot transcribe --output-format jsonl` labels with the training tools' own readers.

Run with the FunASR venv's python (~/.cache/earshot/venv-funasr/bin/python):

    python bench/check_labels.py OUTPUT_DIR [--expect-utterances]

- FunASR: `labels.funasr.jsonl` is read with FunASR's training jsonl index
  (funasr.datasets.audio_datasets.index_ds.IndexDSJsonl, what `funasr/bin/train_ds.py` builds for
  `dataset_conf.index_ds: IndexDSJsonl`), and every item's `source` is loaded with FunASR's
  `load_audio_text_image_video` at 16 kHz; `source_len` must equal the samples / 160 (scp2jsonl's count)
  and `target_len` scp2jsonl's count of the target.
- Hugging Face audiofolder (when `metadata.jsonl` exists): every line has `file_name` (relative to the
  folder, an audio file that exists and decodes as 16-kHz mono) and `text`; with `datasets` installed it is
  also loaded with `datasets.load_dataset("audiofolder", data_dir=…)`.
Prints one JSON summary line; exits non-zero on the first mismatch.
"""
import json
import os
import sys


def main():
    out = sys.argv[1]
    funasr_path = os.path.join(out, "labels.funasr.jsonl")
    from funasr.datasets.audio_datasets.index_ds import IndexDSJsonlRankFull
    from funasr.utils.load_utils import load_audio_text_image_video

    index = IndexDSJsonlRankFull(funasr_path, max_source_length=10**9, max_token_length=10**9)
    raw = [json.loads(line) for line in open(funasr_path, encoding="utf-8")]
    assert len(index) == len(raw), f"FunASR's index read {len(index)} of {len(raw)} lines"
    for item, line in zip(index, raw):
        assert item["target"] == line["target"] and item["source"] == line["source"], (item, line)
        audio = load_audio_text_image_video(item["source"], fs=16000)
        samples = int(audio.shape[-1])
        assert item["source_len"] == int(samples * 1000 / 16000 / 10), (item, samples)
        target = item["target"]
        assert item["target_len"] == (len(target.split()) if " " in target else len(target)), item
    summary = {"funasr_items": len(index)}

    metadata = os.path.join(out, "metadata.jsonl")
    if os.path.exists(metadata):
        import soundfile
        rows = [json.loads(line) for line in open(metadata, encoding="utf-8")]
        for row in rows:
            path = os.path.join(out, row["file_name"])
            info = soundfile.info(path)
            assert info.samplerate == 16000 and info.channels == 1, (path, info)
            assert isinstance(row["text"], str) and row["text"], row
        summary["audiofolder_rows"] = len(rows)
        try:
            import datasets  # noqa: F401
        except ImportError:
            summary["datasets"] = "not installed: layout checked, load_dataset not run"
        else:
            ds = datasets.load_dataset("audiofolder", data_dir=out, split="train")
            assert len(ds) == len(rows), (len(ds), len(rows))
            summary["datasets_rows"] = len(ds)
        if "--expect-utterances" in sys.argv:
            assert len(rows) == len(index), (len(rows), len(index))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
