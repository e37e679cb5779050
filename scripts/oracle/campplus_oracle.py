#!/usr/bin/env python3
"""FunASR oracle for Earshot's CAM++ (Sources/EarshotFunASR/Speaker): builds CAMPPlus with FunASR's own
class (funasr/models/campplus/model.py, funasr 1.4.3) from the ModelScope config
(funasr/models/campplus/template.yaml: feat_dim 80, embedding 192, growth 32, bn_size 4, 128 channels),
gives it seeded random weights (BatchNorm running statistics accumulated on real fbank features, then
random affine terms), saves it as the ModelScope repo iic/speech_campplus_sv_zh-cn_16k-common lays it out
(config.yaml, configuration.json naming the weights, campplus_cn_common.bin = torch.save(state_dict)),
loads it back with funasr.AutoModel and runs FunASR's own speaker path on real recordings: sv_chunk cuts
1.5 s windows (0.75 s hop, zero-padded at the end) from a speech region, AutoModel.inference(...,
model=<CAM++>) extracts features (Kaldi fbank 80, mean-subtracted) and embeddings, as auto_model.py does.

  SMALL (default): growth 4, bn_size 1, 8 channels, 32-d output (< 1 MB); committed under
                   Tests/EarshotFunASRTests/Fixtures/campplus/small/ with the embeddings.
  FULL  (--full):  the real size (≈ 7.2 M parameters); written to $EARSHOT_CACHE/models/campplus-random/
                   with its embeddings (oracle.json there); not committed.

Run: ~/.cache/earshot/venv-funasr/bin/python scripts/oracle/campplus_oracle.py [--full]
"""
import argparse, json, os, sys
import numpy as np
import soundfile as sf
import torch
import yaml

CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "EarshotFunASRTests", "Fixtures", "campplus")
FULL_CONF = dict(feat_dim=80, embedding_size=192, growth_rate=32, bn_size=4, init_channels=128,
                 config_str="batchnorm-relu", memory_efficient=True, output_level="segment")
SMALL_CONF = dict(FULL_CONF, growth_rate=4, bn_size=1, init_channels=8, embedding_size=32)
# (recording, start second, seconds): a speech region per recording, as a VAD would give it.
REGIONS = [("audio/pyannote/sample.wav", 3.0, 4.2), ("audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav", 0.5, 2.4),
           ("audio/zh/asr_example.wav", 0.2, 1.1)]


def read(rel):
    x, fs = sf.read(os.path.join(CACHE, rel), dtype="float32")
    assert fs == 16000 and x.ndim == 1, rel
    return x


def build(conf, seed):
    from funasr.models.campplus.model import CAMPPlus
    from funasr.models.campplus.utils import extract_feature
    torch.manual_seed(seed)
    model = CAMPPlus(**conf)
    bns = [m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    for m in bns:
        m.reset_running_stats(); m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for rel, _, _ in REGIONS:
            x = torch.from_numpy(read(rel))
            chunks = [x[i:i + 24000] for i in range(0, max(1, x.shape[0] - 24000), 12000)][:8]
            feats, _, _ = extract_feature(chunks)
            model(feats)
    model.eval()
    g = torch.Generator().manual_seed(seed + 1)
    for m in bns:
        if m.affine:
            m.weight.data = 1 + 0.2 * torch.randn(m.weight.shape, generator=g)
            m.bias.data = 0.1 * torch.randn(m.bias.shape, generator=g)
    return model


def save(model, conf, out):
    os.makedirs(out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(out, "campplus_cn_common.bin"))
    with open(os.path.join(out, "config.yaml"), "w") as f:
        yaml.safe_dump({"model": "CAMPPlus", "model_conf": conf, "frontend": "WavFrontend",
                        "frontend_conf": {"fs": 16000}}, f, sort_keys=False)
    with open(os.path.join(out, "configuration.json"), "w") as f:
        json.dump({"framework": "pytorch", "task": "speaker-verification",
                   "model": {"type": "cam++"},
                   "file_path_metas": {"init_param": "campplus_cn_common.bin", "config": "config.yaml"}}, f, indent=2)


def run(out):
    from funasr import AutoModel
    from funasr.models.campplus.utils import sv_chunk, extract_feature
    am = AutoModel(model=out, device="cpu", ncpu=2, disable_update=True, disable_pbar=True, disable_log=True)
    cases = []
    for rel, start, seconds in REGIONS:
        x = read(rel)
        a = int(start * 16000)
        n = min(int(seconds * 16000), x.shape[0] - a)
        segs = sv_chunk([[start, start + n / 16000.0, x[a:a + n]]])
        windows = [s[2] for s in segs]
        one = [am.inference([w], input_len=None, model=am.model, kwargs=am.kwargs)[0]["spk_embedding"][0]
               for w in windows]
        batch = am.inference(windows, input_len=None, model=am.model, kwargs=am.kwargs)
        batched = torch.cat([r["spk_embedding"] for r in batch], dim=0)
        emb = torch.stack(one)
        print(rel, len(windows), "windows, batched vs one-by-one max diff",
              float((batched - emb).abs().max()), "norm", float(emb.norm(dim=1).mean()), file=sys.stderr)
        feats, _, _ = extract_feature([torch.from_numpy(windows[0])])
        cases.append({"recording": rel, "startSample": a, "sampleCount": n,
                      "windows": [[float(s[0]), float(s[1])] for s in segs],
                      "embeddings": emb.tolist(), "firstWindowFeatures": feats[0].tolist()[:20]})
    with open(os.path.join(out, "oracle.json"), "w") as f:
        json.dump({"parameters": sum(p.numel() for p in am.model.parameters()), "cases": cases}, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    conf, out, seed = (FULL_CONF, os.path.join(CACHE, "models", "campplus-random"), 777) if args.full else \
        (SMALL_CONF, os.path.join(FIXTURES, "small"), 555)
    model = build(conf, seed)
    print("parameters", sum(p.numel() for p in model.parameters()), file=sys.stderr)
    save(model, conf, out)
    run(out)


if __name__ == "__main__":
    main()
