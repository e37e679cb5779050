#!/usr/bin/env python3
"""FunASR oracle for Earshot's CT-Transformer punctuation (funasr/models/ct_transformer/{model.py,utils.py}).

Builds CTTransformer with FunASR's own classes from the ct-punc-c template config (funasr 1.3.9 sdist,
funasr/models/ct_transformer/template.yaml; the large cn-en `ct-punc` config is not in the sdist or the wheel),
gives it seeded random weights, saves it as a ModelScope directory (config.yaml, model.pt = the bare state dict
written by torch.save, tokens.json), loads it back with funasr.AutoModel (funasr 1.4.3, torch CPU) and runs
FunASR's own punctuation inference on real texts. The model's `punc_forward` is wrapped on the instance to
record each mini-sentence's ids and logits (nothing re-implemented).

  SMALL (--small): tiny widths; committed under Tests/EarshotFunASRTests/Fixtures/punctuation/:
      punc-small/        balanced random model (every class occurs; exercises the carry rule)
      punc-nostop-small/ the same weights with the 。/？ logits pushed down, so mini-sentences never end and
                         the > 200-token forced cut at the last comma happens
      punc-template-small/ punc-small's weights under the template's literal punc_list (ASCII ',' and '?')
      oracle.json        per model and text: tokens, ids, punc_array, text, mini-sentence calls (ids + logits)
      pipeline.json      AutoModel(model=bicif-small, vad_model=…, punc_model=punc-small) on the Mandarin clip
                         with sentence_timestamp=True: text, timestamp, sentence_info
  FULL  (--full):  the template's real sizes (embed 256, 4 SAN-M blocks of 256, 8 heads, FFN 1024) with a
                   272,727-entry token list; written only to $EARSHOT_CACHE/models/ct-punc-random/ (benches).

punc_list: the template lists ASCII ',' and '?' while FunASR's inference code compares against '，' and '？'
(model.py:inference) and ModelScope's ct-punc models write '，'/'？' in their output, so the fixture models use
the full-width list ['<unk>', '_', '，', '。', '？', '、']; punc-template-small checks that Earshot follows the
list a config gives, whatever it is.

Run: ~/.cache/earshot/venv-funasr/bin/python scripts/oracle/punctuation_oracle.py --small [--full]
"""
import argparse, copy, json, logging, os, re, shutil, sys
import numpy as np
import soundfile as sf
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paraformer_assets as pa

CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "EarshotFunASRTests", "Fixtures", "punctuation")
PARAFORMER = os.path.join(ROOT, "Tests", "EarshotFunASRTests", "Fixtures", "paraformer")
FULL_DIR = os.path.join(CACHE, "models", "ct-punc-random")
SDIST = os.path.join(CACHE, "downloads", "funasr-1.3.9.tar.gz")
TEMPLATE = "funasr/models/ct_transformer/template.yaml"
FULL_PUNC = ["<unk>", "_", "，", "。", "？", "、"]
SMALL = {"d": 32, "heads": 4, "units": 64, "blocks": 2}
SEED = 411
# Target share of each class (argmax) after calibrating the decoder bias of punc-small.
TARGET = [0.01, 0.52, 0.2, 0.14, 0.08, 0.05]


def librivox_texts():
    out = []
    with open(os.path.join(CACHE, "audio/librivox/transcription"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"<s>(.*)</s>\s*\((\S+)\)", line.strip())
            if m:
                out.append((m.group(2), m.group(1).strip()))
    return out


def texts():
    zh = open(os.path.join(CACHE, "audio/zh/asr_example.txt"), encoding="utf-8").read().strip()
    en = librivox_texts()
    long_parts = []
    for i, (_, t) in enumerate(en * 3):
        long_parts.append(t)
        if i % 2 == 0:
            long_parts.append(zh[: 8 + i])
    return [
        ("zh", zh),
        ("en_0870", en[0][1]),
        ("en_0880", en[1][1]),
        ("en_all", " ".join(t for _, t in en)),
        # mixed: ASCII runs glued to CJK, upper case (str.capitalize lowers the rest), digits, an apostrophe,
        # a full-width space (str.split splits on it), a tab
        ("mixed", "我们今天用iPhone测试一下NASA的模型 hello world 这个效果怎么样 ok\u3000it's 2024年\t达摩院"),
        ("ends_with_period", "he was not an ill disposed young man."),
        ("one_word", "hello"),
        ("one_char", "好"),
        ("long", " ".join(long_parts)),
    ]


def build_tokens(all_texts, small):
    from funasr.models.ct_transformer.utils import split_words
    if not small:
        # the real ct-punc-c list has 272,727 entries; a synthetic list of that size (text tokens first)
        words = []
        for _, t in all_texts:
            for w in split_words(t):
                if w not in words:
                    words.append(w)
        return ["<s>", "</s>"] + words + [f"tok{i}" for i in range(272727 - len(words) - 3)] + ["<unk>"]
    # CJK characters of the Paraformer fixture vocabulary (so the ASR output of bicif-small maps to real ids),
    # then every split_words unit of the texts except a few left out on purpose (they become <unk>)
    para = json.load(open(os.path.join(PARAFORMER, "bicif-small", "tokens.json"), encoding="utf-8"))
    cjk = [t for t in para if pa.CJK.match(t)]
    words = []
    for _, t in all_texts:
        for w in split_words(t):
            if w not in words and w not in cjk:
                words.append(w)
    left_out = {"amiable", "respectable", "模", "NASA"}
    words = [w for w in words if w not in left_out]
    return ["<s>", "</s>"] + cjk + words + ["<unk>"]


def model_config(sdist, small, punc_list):
    cfg = yaml.safe_load(sdist.read(TEMPLATE).decode("utf-8"))
    cfg["model_conf"]["punc_list"] = list(punc_list)
    if small:
        s = SMALL
        cfg["model_conf"].update(embed_unit=s["d"], att_unit=s["d"])
        cfg["encoder_conf"].update(input_size=s["d"], output_size=s["d"], attention_heads=s["heads"],
                                   linear_units=s["units"], num_blocks=s["blocks"])
    return cfg


def write_dir(cfg, tokens, state_dict, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, f))
    pa.write_config(cfg, os.path.join(out_dir, "config.yaml"))
    pa.write_tokens(tokens, os.path.join(out_dir, "tokens.json"))
    # ModelScope's model.pt is the bare state dict written by torch.save
    torch.save(state_dict, os.path.join(out_dir, "model.pt"))


def build_model(cfg, tokens, seed):
    """As AutoModel.build_model does (funasr/auto/auto_model.py): model_conf merged with the config,
    vocab_size = len(token list)."""
    from funasr.register import tables
    import funasr.models  # noqa: F401
    torch.manual_seed(seed)
    conf = dict(cfg.get("model_conf", {}))
    conf.update(cfg)
    conf.update(vocab_size=len(tokens))
    model = tables.model_classes.get("CTTransformer")(**conf)
    pa.randomize(model, seed)
    # default Embedding init is N(0,1): keep it; the decoder gets a wider spread so classes differ by token
    with torch.no_grad():
        model.decoder.weight.mul_(4.0)
    return model.eval()


def class_shares(model, tokenizer, all_texts):
    from funasr.models.ct_transformer.utils import split_words
    counts = np.zeros(len(TARGET))
    with torch.no_grad():
        for _, t in all_texts:
            ids = tokenizer.encode(split_words(t))
            for k in range(0, len(ids), 20):
                chunk = torch.tensor([ids[k:k + 20]])
                y, _ = model.punc_forward(chunk, torch.tensor([chunk.shape[1]]))
                for c in y[0].argmax(-1).tolist():
                    counts[c] += 1
    return counts / counts.sum()


def calibrate(model, tokenizer, all_texts):
    """Moves the decoder bias until the argmax shares approach TARGET (every class occurs)."""
    shares = None
    for _ in range(300):
        shares = class_shares(model, tokenizer, all_texts)
        with torch.no_grad():
            model.decoder.bias += 0.5 * torch.tensor(np.log((np.array(TARGET) + 1e-3) / (shares + 1e-3)),
                                                     dtype=torch.float32)
        if np.abs(shares - TARGET).max() < 0.03:
            break
    return [round(float(s), 3) for s in shares]


def load(model_dir, **kw):
    from funasr import AutoModel
    return AutoModel(model=model_dir, device="cpu", ncpu=2, disable_update=True, disable_pbar=True,
                     disable_log=True, hub="ms", **kw)


def run_texts(model_dir, all_texts, logits_for):
    am = load(model_dir)
    m = am.model
    calls = []
    orig = m.punc_forward

    def punc_forward(*a, **k):
        y, h = orig(*a, **k)
        calls.append({"ids": [int(x) for x in k["text"][0]], "logits": y[0].detach().clone()})
        return y, h
    m.punc_forward = punc_forward
    from funasr.models.ct_transformer.utils import split_words
    out = []
    for key, t in all_texts:
        calls.clear()
        res = am.generate(input=t)
        r = res[0]
        tokens = split_words(t)
        item = {"key": key, "input": t, "tokens": tokens,
                "ids": [int(x) for x in am.kwargs["tokenizer"].encode(tokens)],
                "text": r["text"],
                "punc_array": [int(x) for x in r["punc_array"]] if r["punc_array"] is not None else None,
                "calls": [{"ids": c["ids"], "argmax": [int(x) for x in c["logits"].argmax(-1)]} for c in calls]}
        if key in logits_for:
            for c, cj in zip(calls, item["calls"]):
                cj["logits"] = [[float(v) for v in row] for row in c["logits"]]
        out.append(item)
    del m.punc_forward
    return out


def pipeline_oracle(punc_dir, out_path):
    """FunASR's AutoModel with model=bicif-small, vad_model=fsmn-vad, punc_model=punc_dir on the Mandarin clip,
    sentence_timestamp=True. The VAD model's inference is wrapped to return one segment covering the whole clip,
    so FunASR's inference_with_vad (joining, punctuation, sentence_info) runs on exactly what `earshot transcribe
    --vad none` recognises (one window, the whole clip)."""
    clip = os.path.join(CACHE, "audio/zh/asr_example.wav")
    wav, sr = sf.read(clip, dtype="float32")
    assert sr == 16000
    am = load(os.path.join(PARAFORMER, "bicif-small"), vad_model=os.path.join(CACHE, "models/fsmn-vad"),
              punc_model=punc_dir)
    clip_ms = int(len(wav) * 1000 / 16000)
    vm = am.vad_model
    orig = vm.inference

    def vad_inference(data_in, data_lengths=None, key=None, **kw):
        res, meta = orig(data_in, data_lengths=data_lengths, key=key, **kw)
        res[0]["value"] = [[0, clip_ms]]
        return res, meta
    vm.inference = vad_inference
    res = am.generate(input=wav, sentence_timestamp=True)[0]
    doc = {"command": "scripts/oracle/punctuation_oracle.py --small", "clip": "audio/zh/asr_example.wav",
           "samples": int(len(wav)), "vad_segments": [[0, clip_ms]], "text": res["text"],
           "timestamp": res.get("timestamp"), "sentence_info": [
               {"text": s["text"], "start": int(s["start"]), "end": int(s["end"]),
                "timestamp": [[int(a), int(b)] for a, b in s["timestamp"]]} for s in res.get("sentence_info", [])],
           "versions": versions()}
    with open(out_path, "w") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
    print("pipeline:", doc["text"], [s["text"] for s in doc["sentence_info"]])


def versions():
    import funasr
    return {"funasr": funasr.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "config_from": os.path.basename(SDIST) + ":" + TEMPLATE}


def make(size, sdist):
    small = size == "small"
    all_texts = texts()
    tokens = build_tokens(all_texts, small)
    cfg = model_config(sdist, small, FULL_PUNC)
    model = build_model(cfg, tokens, SEED)
    from funasr.tokenizer.char_tokenizer import CharTokenizer
    tokenizer = CharTokenizer(token_list=tokens, unk_symbol="<unk>")
    shares = calibrate(model, tokenizer, all_texts)
    base = FIXTURES if small else FULL_DIR
    main_dir = os.path.join(base, "punc-small" if small else "ct-punc")
    write_dir(cfg, tokens, model.state_dict(), main_dir)
    print(f"{main_dir}: {pa.dir_size(main_dir)} bytes; class shares {shares}", flush=True)
    if not small:
        doc = {"command": "scripts/oracle/punctuation_oracle.py --full", "seed": SEED, "class_shares": shares,
               "versions": versions(), "split_size": 20,
               "models": {"ct-punc": run_texts(main_dir, all_texts, logits_for={"zh", "mixed"})}}
        with open(os.path.join(base, "oracle.json"), "w") as f:
            json.dump(doc, f, ensure_ascii=False, indent=0)
        return
    nostop = copy.deepcopy(model.state_dict())
    nostop["decoder.bias"][3] -= 50.0
    nostop["decoder.bias"][4] -= 50.0
    nostop_dir = os.path.join(base, "punc-nostop-small")
    write_dir(cfg, tokens, nostop, nostop_dir)
    template_dir = os.path.join(base, "punc-template-small")
    tcfg = model_config(sdist, small, yaml.safe_load(sdist.read(TEMPLATE).decode())["model_conf"]["punc_list"])
    write_dir(tcfg, tokens, model.state_dict(), template_dir)

    doc = {"command": "scripts/oracle/punctuation_oracle.py --small", "seed": SEED, "class_shares": shares,
           "versions": versions(), "split_size": 20, "models": {}}
    doc["models"]["punc-small"] = run_texts(main_dir, all_texts, logits_for={"mixed", "zh"})
    doc["models"]["punc-nostop-small"] = run_texts(nostop_dir, [t for t in all_texts if t[0] in ("long", "en_all")],
                                                   logits_for=set())
    doc["models"]["punc-template-small"] = run_texts(template_dir, [t for t in all_texts if t[0] in ("long", "mixed")],
                                                     logits_for=set())
    with open(os.path.join(base, "oracle.json"), "w") as f:
        json.dump(doc, f, ensure_ascii=False, indent=0)
    for name, items in doc["models"].items():
        for it in items:
            print(f"  {name} {it['key']}: {len(it['tokens'])} tokens, {len(it['calls'])} calls: {it['text'][:80]!r}")
    pipeline_oracle(main_dir, os.path.join(base, "pipeline.json"))
    sentence_cases(os.path.join(base, "sentences.json"))


def sentence_cases(out_path):
    """FunASR's own helpers that put punctuation onto the timeline (funasr/auto/auto_model.py:_join_vad_texts,
    _merge_timestamp_units; funasr/utils/timestamp_tools.py:timestamp_sentence) on fixed inputs."""
    from funasr.auto import auto_model as am_mod
    from funasr.utils.timestamp_tools import timestamp_sentence

    class NoJieba:
        jieba_usr_dict = None
        punc_list = FULL_PUNC
    joins = [["欢迎 大家", "来体验", "hello world", "达摩院", "  ", "ok", "好"], ["  a b ", "c"], []]
    merges = [
        # words as a recogniser with multi-character words gives them (Whisper-like), units from split_words
        {"text": "欢迎大家 Hello, world. 来体验", "words": ["欢迎", "大家", " Hello,", " world.", "来体验"],
         "timestamps": [[0, 400], [400, 1000], [1000, 1500], [1500, 2100], [2100, 3000]]},
        {"text": "ab cd", "words": ["ab", "ce"], "timestamps": [[0, 10], [10, 20]]},
    ]
    sentences = [
        {"text": "欢 迎 大 家 hello world 来 体 验", "punc": [1, 2, 1, 3, 1, 4, 1, 5, 3],
         "timestamps": [[i * 100, i * 100 + 90] for i in range(9)]},
        {"text": "he was not an ill man", "punc": [1, 1, 2, 1, 1, 3],
         "timestamps": [[i * 100, i * 100 + 90] for i in range(6)]},
    ]
    doc = {"joins": [{"texts": j, "joined": am_mod._join_vad_texts(j)} for j in joins], "merges": [], "sentences": []}
    from funasr.models.ct_transformer.utils import split_words
    for m in merges:
        tokens = split_words(m["text"])
        r = am_mod._merge_timestamp_units(m["text"], m["words"], m["timestamps"], [1] * len(tokens), NoJieba())
        doc["merges"].append(dict(m, tokens=tokens, merged=None if r is None else r[1]))
    for c in sentences:
        res = timestamp_sentence(c["punc"], c["timestamps"], c["text"])
        doc["sentences"].append(dict(c, tokens=c["text"].split(), result=[
            {"text": r["text"], "start": int(r["start"]), "end": int(r["end"])} for r in res]))
    with open(out_path, "w") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--sentences", action="store_true", help="only rewrite Fixtures/punctuation/sentences.json")
    a = ap.parse_args()
    logging.disable(logging.WARNING)
    if a.sentences:
        return sentence_cases(os.path.join(FIXTURES, "sentences.json"))
    if not (a.small or a.full):
        ap.error("give --small and/or --full")
    sdist = pa.Sdist(SDIST)
    if a.small:
        make("small", sdist)
    if a.full:
        make("full", sdist)


if __name__ == "__main__":
    main()
