"""Model-directory assets for the Paraformer oracle (scripts/oracle/paraformer_oracle.py): the real
paraformer-large configs, token list and am.mvn taken from the funasr 1.3.9 sdist, small-size variants of the
configs, seeded random weights, and the tensor blob format of the fixtures.

Where each asset comes from (paths inside funasr-1.3.9.tar.gz; the 1.4.x sdists no longer carry the
repository tree, 1.3.9 is the one scripts/fetch-assets.sh already downloads):
  * configs   funasr/models/{paraformer,bicif_paraformer,seaco_paraformer}/template.yaml — the
              paraformer-large architecture (50 SAN-M encoder blocks of 512, 16 decoder blocks, CIF).
  * tokens    runtime/triton_gpu/model_repo_paraformer_large_online/feature_extractor/config.yaml, key
              `token_list` (8404 entries, the vocab8404 list of every paraformer-large model), read with
              YAML's BaseLoader so that every entry stays a string (`no`, `on`, `0`, `'t`, …).
  * am.mvn    runtime/triton_gpu/model_repo_paraformer_large_online/lfr_cmvn_pe/am.mvn (560-d Kaldi nnet1
              CMVN of paraformer-large; the same file ModelScope ships next to model.pt).

The token list in that config lost every `@@` continuation mark of the English BPE pieces, apparently by a
text substitution on the dumped YAML: 140 pieces then occur twice ("and" at 3 and 7776, "ing" at 85 and 1195,
…) and FunASR refuses such a list (funasr/tokenizer/abs_tokenizer.py:74 `Symbol "…" is duplicated`).
`fix_token_list` restores the marks it can:
  1. evidence: an entry that YAML 1.1 does not read back as the string written (`- 0`, `- no`, `- on`, `- -`,
     …) cannot have been written by the YAML dumper that made the file, which quotes such strings (`- '0'`,
     `- 'no'`); it was written unquoted because it ended in `@@` (`- 0@@`). 11 entries, 10 of them one of a
     duplicated pair (for 8 of those the marked one is the later id), plus `-@@` (id 1883);
  2. every other duplicated piece: the FIRST (lower) id gets the mark ("and" at 3 becomes "and@@"); which id
     carried it is not recoverable (a piece seen once keeps no mark, also not recoverable).
The choice only matters for English output of real weights, and a real model directory brings its own
tokens.json.
"""
import io, json, math, os, re, struct, tarfile
import numpy as np
import yaml

SDIST_NAME = "funasr-1.3.9"
TEMPLATES = {
    "Paraformer": "funasr/models/paraformer/template.yaml",
    "BiCifParaformer": "funasr/models/bicif_paraformer/template.yaml",
    "SeacoParaformer": "funasr/models/seaco_paraformer/template.yaml",
}
TOKENS_YAML = "runtime/triton_gpu/model_repo_paraformer_large_online/feature_extractor/config.yaml"
AM_MVN = "runtime/triton_gpu/model_repo_paraformer_large_online/lfr_cmvn_pe/am.mvn"

# SMALL: the same classes and layer structure, tiny widths, so that a model directory plus its oracle
# outputs stays under 1 MB. The vocabulary is the first 255 ids of the real list plus <unk> (the real list
# ends with <unk>; CharTokenizer's unk_symbol must exist). The SeACo decoder keeps the template's quirk of
# num_blocks < att_layer_num: att_layer_num is not in seaco_decoder_conf, so ParaformerSANMDecoder's
# default 6 applies and it has 6 cross-attention blocks (decoders2 = None, funasr/models/paraformer/
# decoder.py:ParaformerSANMDecoder.__init__), whatever num_blocks says.
SMALL = {"d": 24, "heads": 4, "units": 48, "enc_blocks": 2, "dec_blocks": 2, "vocab": 256,
         "seaco_units": 48, "seaco_blocks": 2}


class Sdist:
    """Read-only view of the funasr sdist tarball."""

    def __init__(self, path):
        self.path = path
        self.tar = tarfile.open(path, "r:gz")

    def read(self, member):
        return self.tar.extractfile(f"{SDIST_NAME}/{member}").read()


def sdist_token_list(sdist):
    """(tokens, evidence): the 8404 entries as strings, and the ids whose YAML 1.1 reading is not the
    string itself (see the module docstring)."""
    text = sdist.read(TOKENS_YAML).decode("utf-8")
    tokens = yaml.load(text, Loader=yaml.BaseLoader)["token_list"]
    typed = yaml.safe_load(text)["token_list"]
    assert len(tokens) == len(typed) == 8404, len(tokens)
    # "- -" is a nested list to YAML (BaseLoader gives [""]): the piece "-" written unquoted
    tokens = ["-" if t == [""] else t for t in tokens]
    assert all(isinstance(t, str) for t in tokens)
    evidence = [i for i, (t, y) in enumerate(zip(tokens, typed)) if not isinstance(y, str) or y != t]
    return tokens, evidence


def fix_token_list(tokens, evidence):
    """Restores `@@` marks (module docstring): the evidence ids, then the first id of every piece that is
    still duplicated. Returns (fixed list, sorted list of the ids given `@@`)."""
    marked = set(evidence)
    seen = {}
    for i, t in enumerate(tokens):
        seen.setdefault(t, []).append(i)
    for t, ids in seen.items():
        if len(ids) > 1 and not marked.intersection(ids):
            marked.add(ids[0])
    fixed = [t + "@@" if i in marked else t for i, t in enumerate(tokens)]
    assert len(set(fixed)) == len(fixed), "token list still has duplicates"
    return fixed, sorted(marked)


def small_token_list(tokens, n):
    """First n-1 ids of the real list plus <unk> (ids 0..2 stay <blank>, <s>, </s>)."""
    assert tokens[-1] == "<unk>"
    return tokens[: n - 1] + ["<unk>"]


def model_config(sdist, model_class, small, no_bias=None):
    """The template config of model_class (as ModelScope's config.yaml), with dither 0 and, when small,
    the SMALL widths. Returns the dict to be written as config.yaml."""
    cfg = yaml.safe_load(sdist.read(TEMPLATES[model_class]).decode("utf-8"))
    # WavFrontend dithers with 1.0 unless the config says otherwise (funasr/frontends/wav_frontend.py:
    # WavFrontend.__init__ default dither=1.0); Earshot never dithers. The SeACo template already sets 0.0.
    cfg["frontend_conf"]["dither"] = 0.0
    if small:
        s = SMALL
        cfg["encoder_conf"].update(output_size=s["d"], attention_heads=s["heads"], linear_units=s["units"],
                                   num_blocks=s["enc_blocks"])
        cfg["decoder_conf"].update(attention_heads=s["heads"], linear_units=s["units"],
                                   num_blocks=s["dec_blocks"], att_layer_num=s["dec_blocks"])
        cfg["predictor_conf"]["idim"] = s["d"]
        if model_class == "SeacoParaformer":
            cfg["model_conf"]["inner_dim"] = s["d"]
            cfg["seaco_decoder_conf"].update(attention_heads=s["heads"], linear_units=s["seaco_units"],
                                             num_blocks=s["seaco_blocks"])
    if no_bias is not None:
        cfg["model_conf"]["NO_BIAS"] = no_bias
    return cfg


def write_config(cfg, path):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f, allow_unicode=True, sort_keys=False)


def write_tokens(tokens, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tokens, f, ensure_ascii=False, indent=0)


CJK = re.compile(r"^[\u4E00-\u9FA5]$")


def write_seg_dict(tokens, english, path):
    """A seg_dict in ModelScope's format (`word piece piece …` per line, funasr/models/seaco_paraformer/
    model.py:load_seg_dict): every CJK character of the vocabulary maps to itself (what the real 8.29 MB
    seg_dict does for Chinese), plus the given English words → BPE pieces."""
    with open(path, "w", encoding="utf-8") as f:
        for t in tokens:
            if CJK.match(t):
                f.write(f"{t} {t}\n")
        for word, pieces in english.items():
            f.write(f"{word} {' '.join(pieces)}\n")


def randomize(model, seed):
    """Seeded random weights. PyTorch's default initialisation is kept for Linear / Conv1d / LSTM /
    ConvTranspose1d / Embedding (drawn from the seeded generator when the model was built); LayerNorm
    weights and biases, which default to 1 and 0, are perturbed so that a loader mixing them up fails."""
    import torch
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.copy_(1.0 + 0.2 * torch.randn(mod.weight.shape, generator=g))
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=g))


# ---------------------------------------------------------------------------------------------------
# Tensor blob: one little-endian binary file of concatenated arrays + a JSON index {name: {dtype, shape,
# offset, nbytes}} (offsets in bytes from the start of the .bin; dtype "float32" or "int32"; row-major).

class Blob:
    def __init__(self):
        self.buf = io.BytesIO()
        self.index = {}

    def add(self, name, array, dtype=None):
        a = np.asarray(array)
        if dtype is None:
            dtype = "int32" if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_ else "float32"
        a = np.ascontiguousarray(a, dtype="<i4" if dtype == "int32" else "<f4")
        assert name not in self.index, name
        self.index[name] = {"dtype": dtype, "shape": list(a.shape), "offset": self.buf.tell(), "nbytes": a.nbytes}
        self.buf.write(a.tobytes())

    def write(self, bin_path):
        with open(bin_path, "wb") as f:
            f.write(self.buf.getvalue())
        return self.index


def dir_size(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
