"""Golden vectors for the engine's language-model runtime on small random-weight models, covering what the
shipped models may not: every normaliser (softmax, softmax_plus, relu2) for GAU-LM, RoFormerV2, log-n past
the training length, and sliding windows. Same layout as models/train/export.py writes for shipped models
(tests/golden/runtime/<name>/{config.json, model.safetensors}, tests/golden/runtime_<name>.safetensors,
manifest tests/golden/runtime_golden.json), computed in float64 from the weights as stored (float32).

  /usr/bin/python3 tests/golden/gen_runtime_golden.py
"""
import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
import safetensors_io  # noqa: E402
from models import RMS_EPS, ROPE_BASE, GauLM, RoFormerV2LM, rope_tables  # noqa: E402

GOLDEN = os.path.join(ROOT, "tests", "golden")
VOCAB = ["\ufffd"] + list(" etaoinshrdlucmfwypvbgkjqxz.,;'!?-ETAOINSH")
TRAIN_LENGTH = 32
LENGTH = 150
MODES = {"full": dict(window=None, logn=False), "full_logn": dict(window=None, logn=True),
         "window_16": dict(window=16, logn=False), "window_48_logn": dict(window=48, logn=True)}
MODELS = {
    "gau-softmax": ("gau", dict(normaliser="softmax")),
    "gau-softmax-plus": ("gau", dict(normaliser="softmax_plus")),
    "gau-relu2": ("gau", dict(normaliser="relu2")),
    "roformer-softmax": ("roformer", dict(normaliser="softmax")),
}


def build(family, kwargs, seed):
    torch.manual_seed(seed)
    if family == "gau":
        model = GauLM(len(VOCAB), hidden=32, layers=2, expansion=64, key_size=16, train_length=TRAIN_LENGTH, **kwargs)
        with torch.no_grad():  # trained scales are far from 1: make q and k differ
            for layer in model.layers:
                layer.q_scale.copy_(1 + 0.5 * torch.randn_like(layer.q_scale))
                layer.k_scale.copy_(1 + 0.5 * torch.randn_like(layer.k_scale))
    else:
        model = RoFormerV2LM(len(VOCAB), hidden=32, layers=2, heads=4, intermediate=64,
                             train_length=TRAIN_LENGTH, **kwargs)
    # Sharper attention than a fresh init, so the normaliser and the window matter.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "q_dense" in name or "k_dense" in name or "i_dense" in name:
                p.mul_(2.0)
    return model.eval()


def config_json(name, family, model):
    gau = family == "gau"
    c = model.config
    return {"format": "gyre-model", "format_version": 1, "name": "runtime-" + name,
            "family": "gau-lm" if gau else "roformer-v2", "architecture": c,
            "norm": {"type": "rmsnorm", "eps": RMS_EPS, "gain": False, "offset": False, "placement": "post"},
            "rope": {"base": ROPE_BASE, "layout": "interleaved", "dim": c["key_size"] if gau else c["hidden"] // c["heads"]},
            "tokenizer": {"type": "char", "vocab": VOCAB, "unknown_id": 0},
            "weights": {"file": "model.safetensors", "dtype": "F32"},
            "note": "random weights for the engine's runtime tests (tests/golden/gen_runtime_golden.py)"}


def main():
    manifest = {"generator": "tests/golden/gen_runtime_golden.py", "models": {}}
    generator = torch.Generator().manual_seed(99)
    ids = torch.randint(1, len(VOCAB), (1, LENGTH), generator=generator)
    prompt = "".join(VOCAB[i] for i in ids[0])
    for seed, (name, (family, kwargs)) in enumerate(MODELS.items()):
        model = build(family, kwargs, seed + 1)
        model_dir = os.path.join(GOLDEN, "runtime", name)
        os.makedirs(model_dir, exist_ok=True)
        tensors = {k: v for k, v in model.state_dict().items() if k != "residual_scale"}
        safetensors_io.save_file(tensors, os.path.join(model_dir, "model.safetensors"), dtype="F32")
        with open(os.path.join(model_dir, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config_json(name, family, model), f, indent=1, ensure_ascii=False)
        shipped, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
        model.load_state_dict({k: torch.from_numpy(v) for k, v in shipped.items()})
        model = model.double()
        positions = sorted(set(range(0, LENGTH, 7)) | {LENGTH - 1})
        out = {"prompt_ids": ids[0], "logit_positions": torch.tensor(positions)}
        with torch.no_grad():
            for mode, kw in MODES.items():
                logits, hidden = model(ids, return_hidden=True, **kw)
                logp = torch.log_softmax(logits[0], -1)
                out[mode + ".logits"] = logits[0, positions]
                out[mode + ".nll"] = -logp[:-1].gather(1, ids[0, 1:, None])[:, 0]
                dim = model.key_size if family == "gau" else model.head_size
                cos, sin = rope_tables(LENGTH, dim, dtype=torch.float64)
                blocks = model.layers if family == "gau" else model.attentions
                for layer in (0, len(blocks) - 1):
                    _, attention = blocks[layer](hidden[layer], cos, sin, return_attention=True, **kw)
                    out["%s.attention_layer%d_last_query" % (mode, layer)] = attention[0, ..., -1, :]
        safetensors_io.save_file(out, os.path.join(GOLDEN, "runtime_%s.safetensors" % name), dtype="F32")
        manifest["models"]["runtime-" + name] = {
            "file": "runtime_%s.safetensors" % name, "model": "tests/golden/runtime/%s/" % name,
            "prompt": prompt, "length": LENGTH,
            "modes": {mode: {"window": kw["window"], "logn": kw["logn"]} for mode, kw in MODES.items()},
            "tolerance": {"logits_abs": 1e-4, "nll_abs": 1e-4, "attention_abs": 1e-5},
            "computed_in": "float64 from the stored float32 weights"}
    with open(os.path.join(GOLDEN, "runtime_golden.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
