#!/usr/bin/env python3
"""FunASR oracle for Earshot's Paraformer: builds Paraformer, BiCifParaformer and SeacoParaformer with
FunASR's own classes from the real paraformer-large configs (funasr 1.3.9 sdist, see paraformer_assets.py),
gives them seeded random weights, saves each as a ModelScope model directory (config.yaml, model.pt,
am.mvn, tokens.json, seg_dict for SeACo), loads it back with funasr.AutoModel (funasr 1.4.3, torch 2.13 CPU)
and runs FunASR's inference on real recordings, one clip at a time and both clips in one batch, capturing
the intermediate tensors at FunASR's own call sites (instance-level wrappers, nothing re-implemented).

  SMALL (--small): same architecture, tiny widths; model + outputs committed under
                   Tests/EarshotFunASRTests/Fixtures/paraformer/{paraformer,bicif,seaco}-small/ and the
                   shared front-end tensors under …/paraformer/inputs/.
  FULL  (--full):  the real paraformer-large sizes; written only to
                   $EARSHOT_CACHE/models/paraformer-large-random/{paraformer,bicif,seaco}/ (benches).
  BENCH (--bench DIR --clip WAV): three timed FunASR inferences (after a 1 s warm-up) + peak RSS, as JSON.

Random weights make CIF fire arbitrarily, so each model's CIF output layer is re-scaled once on the Mandarin
clip (calibrate_cif) and SeACo's NO_BIAS logit is offset (calibrate_no_bias); see the fixture README.

Run: $(scripts/setup-paraformer-oracle.sh)/bin/python scripts/oracle/paraformer_oracle.py --small [--full]
"""
import argparse, json, logging, math, os, resource, shutil, sys, time
from contextlib import contextmanager
import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paraformer_assets as pa

CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "EarshotFunASRTests", "Fixtures", "paraformer")
FULL_DIR = os.path.join(CACHE, "models", "paraformer-large-random")
SDIST = os.path.join(CACHE, "downloads", "funasr-1.3.9.tar.gz")
CLIPS = [("zh", "audio/zh/asr_example.wav"),
         ("en", "audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")]
VARIANTS = [("paraformer", "Paraformer", 101), ("bicif", "BiCifParaformer", 202), ("seaco", "SeacoParaformer", 303)]
# SeACo hotwords, FunASR's string form (whitespace-separated words, funasr/models/seaco_paraformer/model.py:
# generate_hotwords_list). Chinese words are split into characters through seg_dict, English words into the
# BPE pieces seg_dict lists. All characters and pieces are inside the SMALL vocabulary (ids < 255).
ENGLISH_SEG = {"dotting": ["do@@", "tting"]}
CIF_TARGET = 0.25   # mean alpha per 60 ms frame after calibration (≈ 4 tokens per second)
CIF_SPREAD = 1.5    # std of the alpha logit after calibration


def load_model(model_dir, ncpu=2):
    from funasr import AutoModel
    return AutoModel(model=model_dir, device="cpu", ncpu=ncpu, disable_update=True, disable_pbar=True,
                     disable_log=True, hub="ms")


class Recorder:
    """Wraps FunASR's own methods on one loaded model (instance attributes shadow the class methods, so
    FunASR's inference code calls the wrappers) and records clones of what passes through, one dict per
    model.inference call."""

    def __init__(self, am):
        self.am, self.calls = am, []

    def _wrap(self, obj, name, after):
        orig = getattr(obj, name)

        def wrapper(*args, **kwargs):
            out = orig(*args, **kwargs)
            after(self.calls[-1], args, kwargs, out)
            return out
        setattr(obj, name, wrapper)
        self._undo.append(lambda: delattr(obj, name) if name in vars(obj) else None)

    @contextmanager
    def active(self):
        import torchaudio.compliance.kaldi as kaldi
        import funasr.models.paraformer.model as pm
        import funasr.models.bicif_paraformer.model as bm
        import funasr.models.seaco_paraformer.model as sm
        m = self.am.model
        self._undo = []
        c = lambda t: t.detach().clone()
        orig_inf = m.inference

        def inference(*a, **k):
            # AutoModel deep-copies its kwargs per generate(), so the tokenizer is wrapped per call
            r = {"fbank": [], "ids": [], "tokens": [], "ts_in": [], "ts_out": []}
            self.calls.append(r)
            tok = k["tokenizer"]
            orig_ids = tok.ids2tokens

            def ids2tokens(ids):
                out = orig_ids(ids)
                r["ids"].append([int(x) for x in ids]); r["tokens"].append(list(out))
                return out
            tok.ids2tokens = ids2tokens
            try:
                return orig_inf(*a, **k)
            finally:
                del tok.ids2tokens
        m.inference = inference
        self._undo.append(lambda: delattr(m, "inference"))
        # kaldi.fbank, called once per item by WavFrontend.forward (funasr/frontends/wav_frontend.py:171)
        orig_fbank = kaldi.fbank

        def fbank(*a, **k):
            out = orig_fbank(*a, **k)
            self.calls[-1]["fbank"].append(c(out))
            return out
        kaldi.fbank = fbank
        self._undo.append(lambda: setattr(kaldi, "fbank", orig_fbank))

        def on_encode(r, a, k, out):   # Paraformer.encode (paraformer/model.py:286)
            r.update(speech=c(a[0]), speech_lengths=c(a[1]), encoder_out=c(out[0]), encoder_out_lens=c(out[1]))
        self._wrap(m, "encode", on_encode)

        def on_predictor(r, a, k, out):  # calc_predictor -> CifPredictorV2/V3.forward (cif_predictor.py:253)
            r.update(acoustic_embeds=c(out[0]), token_num=c(out[1]), alphas=c(out[2]), cif_peaks=c(out[3]))
        self._wrap(m, "calc_predictor", on_predictor)

        def on_decoder(r, a, k, out):   # cal_decoder_with_predictor: log_softmax(decoder(...)) (model.py:331)
            r.update(decoder_logprobs=c(out[0]))
        if hasattr(m, "cal_decoder_with_predictor"):
            self._wrap(m, "cal_decoder_with_predictor", on_decoder)
        if hasattr(m, "calc_predictor_timestamp"):
            def on_ts(r, a, k, out):    # CifPredictorV3.get_upsample_timestamp (bicif cif_predictor.py:301)
                r.update(us_alphas=c(out[2]), us_peaks=c(out[3]))
            self._wrap(m, "calc_predictor_timestamp", on_ts)
        if hasattr(m, "_seaco_decode_with_ASF"):
            def on_seaco(r, a, k, out):  # merged log-probs (seaco_paraformer/model.py:271)
                r.update(decoder_logprobs=c(out))
            self._wrap(m, "_seaco_decode_with_ASF", on_seaco)

            def on_dec(r, a, k, out):   # decoder(return_hidden, return_both) -> logits, hidden
                if k.get("return_both"):
                    r.update(decoder_logits=c(out[0]), decoder_hidden=c(out[1]))
            self._wrap(m.decoder, "forward", on_dec)

            def on_hw(r, a, k, out):
                r.update(hotword_ids=c(a[0]), hotword_lengths=c(a[1]), hotword_embeds=c(out))
            self._wrap(m, "_hotword_representation", on_hw)

            def on_sd(r, a, k, out):    # seaco_decoder called twice: cif_attended, dec_attended
                r.setdefault("seaco_attended", []).append(c(out[0]))
            self._wrap(m.seaco_decoder, "forward", on_sd)
            m._hw_hook = m.hotword_output_layer.register_forward_hook(
                lambda mod, inp, out: self.calls[-1].update(hotword_logits=c(out)))
            self._undo.append(lambda: m._hw_hook.remove())

        origs = {mod: mod.ts_prediction_lfr6_standard for mod in (pm, bm, sm)}

        def make_ts(orig):
            def ts(us_alphas, us_peaks, char_list, **k):
                self.calls[-1]["ts_in"].append({"alphas_arg": c(us_alphas), "peaks_arg": c(us_peaks),
                                                "upsample_rate": k.get("upsample_rate", 3)})
                out = orig(us_alphas, us_peaks, char_list, **k)
                self.calls[-1]["ts_out"].append([[int(x) for x in se] for se in out[1]])
                return out
            return ts
        for mod, orig in origs.items():
            mod.ts_prediction_lfr6_standard = make_ts(orig)
            self._undo.append(lambda mod=mod, orig=orig: setattr(mod, "ts_prediction_lfr6_standard", orig))
        try:
            yield self
        finally:
            for u in reversed(self._undo):
                u()


def read_clips():
    out = []
    for key, rel in CLIPS:
        path = os.path.join(CACHE, rel)
        if not os.path.exists(path):
            sys.exit(f"{path} missing; run scripts/fetch-assets.sh")
        wav, sr = sf.read(path, dtype="float32")
        assert sr == 16000 and wav.ndim == 1
        out.append((key, rel, wav))
    return out


def generate(am, clips, batch_size, **cfg):
    """AutoModel.generate on the clips; returns (results, list of per-inference-call records)."""
    rec = Recorder(am)
    with rec.active():
        # no key= : AutoModel would hand the whole key list to every item (auto_model.py:
        # prepare_data_iterator); results come back in input order and are matched by position
        res = am.generate(input=[w for _, _, w in clips], batch_size=batch_size, **cfg)
    return res, rec.calls


# ------------------------------------------------------------------------------------ model building

def build_dir(sdist, tokens, variant, cls, seed, small, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, f))
    no_bias = None
    if cls == "SeacoParaformer" and small:
        no_bias = len(tokens) - 27  # the real NO_BIAS 8377 is 27 below the vocabulary size 8404
    cfg = pa.model_config(sdist, cls, small, no_bias)
    pa.write_config(cfg, os.path.join(out_dir, "config.yaml"))
    pa.write_tokens(tokens, os.path.join(out_dir, "tokens.json"))
    with open(os.path.join(out_dir, "am.mvn"), "wb") as f:
        f.write(sdist.read(pa.AM_MVN))
    if cls == "SeacoParaformer":
        pa.write_seg_dict(tokens, ENGLISH_SEG, os.path.join(out_dir, "seg_dict"))
    # Built the way AutoModel.build_model does (funasr/auto/auto_model.py:522): model_conf merged with the
    # whole config, vocab_size = len(token list), input_size = frontend.output_size() = 80 * lfr_m.
    from funasr.register import tables
    import funasr.models  # noqa: F401  (fills the registry)
    torch.manual_seed(seed)
    conf = dict(cfg.get("model_conf", {}))
    conf.update(cfg)
    conf.update(vocab_size=len(tokens), input_size=80 * cfg["frontend_conf"]["lfr_m"])
    model = tables.model_classes.get(cls)(**conf)
    pa.randomize(model, seed)
    save_weights(model, out_dir)
    return cfg


def save_weights(model, out_dir):
    # ModelScope's model.pt is the bare state dict (an OrderedDict of fp32 tensors) written by torch.save;
    # FunASR's loader also accepts {"state_dict": …} (funasr/train_utils/load_pretrained_model.py).
    torch.save(model.state_dict(), os.path.join(out_dir, "model.pt"))


def calibrate_cif(model_dir, clips):
    """Re-scale predictor.cif_output so that on the Mandarin clip the alpha logit has mean
    logit(CIF_TARGET) and std CIF_SPREAD over valid frames (z' = CIF_SPREAD*(z-mean)/std + logit(target))."""
    am = load_model(model_dir)
    _, calls = generate(am, clips[:1], 1)
    enc, n = calls[0]["encoder_out"], int(calls[0]["encoder_out_lens"][0])
    p = am.model.predictor
    with torch.no_grad():
        h = torch.relu(p.cif_conv1d(p.pad(enc.transpose(1, 2)))).transpose(1, 2)[0, :n]
        z = p.cif_output(h)[:, 0]
        mean, std = float(z.mean()), float(z.std())
        k = CIF_SPREAD / std
        p.cif_output.weight.mul_(k)
        p.cif_output.bias.copy_((p.cif_output.bias - mean) * k + math.log(CIF_TARGET / (1 - CIF_TARGET)))
    save_weights(am.model, model_dir)
    return {"logit_mean_before": mean, "logit_std_before": std, "scale": k}


def calibrate_no_bias(model_dir, clips, hotwords):
    """Offset hotword_output_layer.bias[NO_BIAS] so that on the Mandarin clip (with hotwords) the hotword
    head picks NO_BIAS at about half the positions: both branches of _merge_res are exercised."""
    am = load_model(model_dir)
    m = am.model
    _, calls = generate(am, clips[:1], 1, hotword=hotwords)
    logits = calls[0]["hotword_logits"][0, : int(calls[0]["token_num"][0])]
    nb = m.NO_BIAS
    others = torch.cat([logits[:, :nb], logits[:, nb + 1:]], dim=1).max(dim=1).values
    margin = others - logits[:, nb]
    offset = float(margin.median()) + 1e-3
    with torch.no_grad():
        m.hotword_output_layer.bias[nb] += offset
    save_weights(m, model_dir)
    return {"no_bias": nb, "bias_offset": offset}


# ------------------------------------------------------------------------------------ fixtures

def fire_positions(peaks_row):
    # cif_v1: fires = fire_idxs + (prefix - floor(prefix)), so a frame fired iff fires >= 1
    # (funasr/models/paraformer/cif_predictor.py:cif_wo_hidden_v1)
    return [int(t) for t in torch.nonzero(peaks_row >= 1.0).flatten()]


def us_fire_positions(us_peaks_row):
    # cif_wo_hidden (integrate-and-fire with threshold 1 - 1e-4; timestamps use peaks >= 1 - 1e-4)
    return [int(t) for t in torch.nonzero(us_peaks_row >= 1.0 - 1e-4).flatten()]


# Tensors stored per run (the rest of a run is in the JSON: token ids, tokens, text, fire positions,
# timestamps). Hotwords change only the decoder stage, and the timestamp flag only the post-processing, so
# those runs store only what differs; decoder_logits (pre-softmax) equal log_softmax^-1 of the no-hotword
# run's decoder_logprobs and are not stored.
BASE = ["encoder_out", "encoder_out_lens", "alphas", "cif_peaks", "token_num", "acoustic_embeds",
        "decoder_logprobs", "us_alphas", "us_peaks"]
KEEP = {"single": BASE, "batch": BASE, "single_ts": [], "batch_ts": [], "batch_hw": [],
        "single_hw": ["decoder_logprobs", "hotword_ids", "hotword_lengths", "hotword_embeds", "hotword_logits",
                      "seaco_attended"]}


def record_run(blob, run, keys, results, calls):
    """Adds the tensors of one generate() call to the blob; returns the JSON description of the run."""
    entry = {"keys": keys, "calls": []}
    ri = 0
    for ci, r in enumerate(calls):
        b = int(r["encoder_out"].shape[0])
        call = {"batch": keys[ri:ri + b], "tensors": {}}
        prefix = f"{run}/call{ci}/"
        for name in KEEP[run]:
            if name not in r:
                continue
            for j, t in enumerate(r[name] if isinstance(r[name], list) else [r[name]]):
                n = f"{name}{j}" if isinstance(r[name], list) else name
                blob.add(prefix + n, t.numpy())
                call["tensors"][n] = prefix + n
        items = []
        for i in range(b):
            res = results[ri + i]
            it = {"key": keys[ri + i], "token_num": int(round(float(r["token_num"][i]))),
                  "fire_positions": fire_positions(r["cif_peaks"][i]),
                  "token_ids": r["ids"][i], "tokens": r["tokens"][i], "text": res["text"]}
            if "us_peaks" in r:
                it["us_fire_positions"] = us_fire_positions(r["us_peaks"][i][: int(r["encoder_out_lens"][i]) * 3])
            if "timestamp" in res:
                it["timestamp"] = res["timestamp"]
                it["timestamp_raw"] = r["ts_out"][i]
            items.append(it)
        call["items"] = items
        entry["calls"].append(call)
        ri += b
    return entry


def model_oracle(model_dir, clips, cls, hotwords):
    """All runs of one model directory: each clip alone, both clips in one batch of 2; plus timestamps on
    (plain Paraformer) or hotwords on (SeACo)."""
    am = load_model(model_dir)
    blob, runs, first_calls = pa.Blob(), {}, None
    keys = [k for k, _, _ in clips]
    variants = [("single", 1, {}), ("batch", 2, {})]
    if cls == "Paraformer":
        variants += [("single_ts", 1, {"pred_timestamp": True}), ("batch_ts", 2, {"pred_timestamp": True})]
    if cls == "SeacoParaformer":
        variants += [("single_hw", 1, {"hotword": hotwords}), ("batch_hw", 2, {"hotword": hotwords})]
    for run, bs, cfg in variants:
        results, calls = generate(am, clips, bs, **cfg)
        assert [len(c["ids"]) for c in calls] == ([1] * len(clips) if bs == 1 else [len(clips)]), run
        runs[run] = record_run(blob, run, keys, results, calls)
        if run.endswith("_ts"):
            for call, r in zip(runs[run]["calls"], calls):
                for it, tsin in zip(call["items"], r["ts_in"]):
                    it["ts_alphas_arg_len"] = int(tsin["alphas_arg"].shape[-1])
                    it["ts_upsample_rate"] = tsin["upsample_rate"]
        if run == "single":
            first_calls = calls
    return blob, runs, first_calls


def write_inputs(clips, calls, out_dir):
    """Front-end tensors per clip (from the single runs of the first model): kaldi.fbank output (frames,80)
    and the encoder input, LFR 7/6 + CMVN (T,560)."""
    os.makedirs(out_dir, exist_ok=True)
    blob, doc = pa.Blob(), {"clips": []}
    for (key, rel, wav), r in zip(clips, calls):
        blob.add(f"{key}/fbank", r["fbank"][0].numpy())
        blob.add(f"{key}/feats", r["speech"][0].numpy())
        doc["clips"].append({"key": key, "path": rel, "samples": int(len(wav)),
                             "fbank_frames": int(r["fbank"][0].shape[0]), "lfr_frames": int(r["speech"].shape[1])})
    doc["tensors"] = blob.write(os.path.join(out_dir, "tensors.bin"))
    with open(os.path.join(out_dir, "oracle.json"), "w") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)


def versions():
    import funasr, torchaudio
    return {"funasr": funasr.__version__, "torch": torch.__version__, "torchaudio": torchaudio.__version__,
            "numpy": np.__version__, "configs_from": os.path.basename(SDIST), "threads": torch.get_num_threads()}


def make_all(size, sdist, clips, hotwords_for):
    small = size == "small"
    raw, evidence = pa.sdist_token_list(sdist)
    full_tokens, fixed_ids = pa.fix_token_list(raw, evidence)
    tokens = pa.small_token_list(full_tokens, pa.SMALL["vocab"]) if small else full_tokens
    hotwords = hotwords_for(tokens)
    base = FIXTURES if small else FULL_DIR
    for variant, cls, seed in VARIANTS:
        out_dir = os.path.join(base, f"{variant}-small" if small else variant)
        build_dir(sdist, tokens, variant, cls, seed, small, out_dir)
        calib = {"cif": calibrate_cif(out_dir, clips)}
        if cls == "SeacoParaformer":
            calib["seaco"] = calibrate_no_bias(out_dir, clips, hotwords)
        blob, runs, first_calls = model_oracle(out_dir, clips, cls, hotwords)
        doc = {"command": "scripts/oracle/paraformer_oracle.py --" + size, "model": cls, "size": size,
               "seed": seed, "versions": versions(), "calibration": calib,
               "clips": [{"key": k, "path": rel, "samples": int(len(w))} for k, rel, w in clips],
               "hotwords": hotwords if cls == "SeacoParaformer" else None,
               "token_fix": {"ids_given_@@": fixed_ids, "evidence_ids": evidence} if not small else "see ../README.md", "runs": runs}
        doc["tensors"] = blob.write(os.path.join(out_dir, "oracle.bin"))
        with open(os.path.join(out_dir, "oracle.json"), "w") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
        if variant == "paraformer" and small:
            write_inputs(clips, first_calls, os.path.join(FIXTURES, "inputs"))
        print(f"{out_dir}: {pa.dir_size(out_dir)} bytes; calibration {calib}", flush=True)
        for run, e in runs.items():
            for call in e["calls"]:
                for it in call["items"]:
                    print(f"  {run} {it['key']}: N={it['token_num']} fires={len(it['fire_positions'])} "
                          f"text={it['text']!r}", flush=True)


def default_hotwords(tokens):
    """Two Chinese words made of vocabulary characters and one English word from ENGLISH_SEG."""
    cjk = [t for t in tokens if pa.CJK.match(t)]
    return f"{''.join(cjk[10:14])} {''.join(cjk[40:43])} dotting"


def bench(model_dir, clip, ncpu):
    wav, sr = sf.read(clip, dtype="float32")
    t0 = time.perf_counter()
    am = load_model(model_dir, ncpu=ncpu)
    load_s = time.perf_counter() - t0
    rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    am.generate(input=[wav[:16000]], batch_size=1)   # warm-up on 1 s
    runs = []
    for _ in range(3):  # the machine is shared: report every run and the minimum
        t0 = time.perf_counter()
        res = am.generate(input=[wav], batch_size=1)
        runs.append(round(time.perf_counter() - t0, 3))
    run_s = min(runs)
    print(json.dumps({"model_dir": model_dir, "clip": clip, "audio_s": len(wav) / sr, "threads": ncpu,
                      "load_s": round(load_s, 2), "inference_s": runs,
                      "ms_per_audio_s": round(1000 * run_s / (len(wav) / sr), 1),
                      "peak_rss_after_load_mb": round(rss_load, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "loadavg": os.getloadavg(), "text_chars": len(res[0]["text"])}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="write the committed SMALL fixtures")
    ap.add_argument("--full", action="store_true", help="write the FULL random models to the cache")
    ap.add_argument("--bench", metavar="MODEL_DIR")
    ap.add_argument("--clip", default=os.path.join(CACHE, "audio/zh/long.wav"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    logging.disable(logging.WARNING)
    if a.bench:
        return bench(a.bench, a.clip, a.threads)
    if not (a.small or a.full):
        ap.error("give --small and/or --full")
    sdist = pa.Sdist(SDIST)
    clips = read_clips()
    if a.small:
        make_all("small", sdist, clips, default_hotwords)
    if a.full:
        make_all("full", sdist, clips, default_hotwords)


if __name__ == "__main__":
    main()
