"""Export the shipped models to ONNX for the onnxruntime-web peer in the model benchmarks.

  /usr/bin/python3 bench/export_onnx.py [names...] [--opset 17]

Reads models/<name>/config.json + model.safetensors (the exact weights the engine loads) and writes
bench/onnx/<name>.onnx (generated, gitignored) plus bench/onnx/manifest.json describing the inputs.
Language models take `ids` int64 [batch, n] (n dynamic, up to --max-length) and return `logits`
[batch, n, vocab] under full causal attention as trained; RoPE tables are baked in as constants
(computed in float64, stored as float32). ORT has no KV cache: decoding with it recomputes the prefix.
The U-Net takes `x` float32 [batch, 1, 28, 28] and `k` int64 [batch] (k = t - 1) and returns `eps`.
"""
import argparse
import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
import export  # noqa: E402
import safetensors_io  # noqa: E402
from models import GauLM, rope_tables, unet_from_tensors  # noqa: E402

OUT_DIR = os.path.join(ROOT, "bench", "onnx")


class LanguageModelForOnnx(torch.nn.Module):
    """Full-attention forward with precomputed RoPE tables (no float64 ops in the graph)."""

    def __init__(self, model, max_length):
        super().__init__()
        self.model = model
        dim = model.key_size if isinstance(model, GauLM) else model.head_size
        cos, sin = rope_tables(max_length, dim)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, ids):
        return self.model(ids, rope=(self.cos, self.sin))


def export_one(name, opset, max_length):
    model_dir = os.path.join(ROOT, "models", name)
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    tensors, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    path = os.path.join(OUT_DIR, name + ".onnx")
    if config["family"] == "ddpm-unet":
        model = unet_from_tensors(config, tensors)
        size, channels = config["image"]["size"], config["image"]["channels"]
        args = (torch.randn(2, channels, size, size), torch.tensor([10, 500]))
        torch.onnx.export(model, args, path, input_names=["x", "k"], output_names=["eps"], opset_version=opset,
                          dynamic_axes={"x": {0: "batch"}, "k": {0: "batch"}, "eps": {0: "batch"}})
        with torch.no_grad():
            reference = model(*args)
        entry = {"inputs": {"x": ["batch", channels, size, size], "k": ["batch"]}, "output": "eps"}
    else:
        model = LanguageModelForOnnx(export.lm_from_tensors(config, tensors), max_length).eval()
        args = (torch.randint(0, config["architecture"]["vocab_size"], (1, 64)),)
        torch.onnx.export(model, args, path, input_names=["ids"], output_names=["logits"], opset_version=opset,
                          dynamic_axes={"ids": {0: "batch", 1: "n"}, "logits": {0: "batch", 1: "n"}})
        with torch.no_grad():
            reference = model(*args)
        entry = {"inputs": {"ids": ["batch", "n"]}, "output": "logits", "max_length": max_length,
                 "attention": "full causal, as trained"}
    try:
        import onnx
        onnx.checker.check_model(onnx.load(path))
        entry["checked"] = "onnx.checker %s" % onnx.__version__
    except ImportError:
        entry["checked"] = "onnx package not installed: graph not checked"
    entry.update({"file": name + ".onnx", "opset": opset, "weights": "models/%s/model.safetensors" % name,
                  "reference_output_sum": float(reference.double().sum())})
    print("%s -> %s (%.1f MB, opset %d)" % (name, os.path.relpath(path, ROOT), os.path.getsize(path) / 1e6, opset))
    return entry


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*")
    p.add_argument("--opset", type=int, default=17, choices=range(13, 18))
    p.add_argument("--max-length", type=int, default=4096)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    names = args.names or sorted(d for d in os.listdir(os.path.join(ROOT, "models"))
                                 if os.path.exists(os.path.join(ROOT, "models", d, "model.safetensors")))
    os.makedirs(OUT_DIR, exist_ok=True)
    manifest = {name: export_one(name, args.opset, args.max_length) for name in names}
    with open(os.path.join(OUT_DIR, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
