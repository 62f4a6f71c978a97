"""Re-encode shipped models in another weight dtype, without their training checkpoints, and measure
what it costs: F16 storage (half the bytes) and int8 weight-only quantisation (per output channel).

  /usr/bin/python3 models/train/reencode.py --dtype F16 [names]      # rewrite models/<name>/ in F16
  /usr/bin/python3 models/train/reencode.py --dtype I8 [LM names]    # rewrite in int8 per row
  /usr/bin/python3 models/train/reencode.py --measure-only [names]   # report only, write nothing

For each language model: bits/char on held-out text (up to 256 windows of the training length) with
the weights as they are, rounded to F16, and quantised to int8 with one scale per output row
(symmetric, scale = max |row| / 127; safetensors_io.quantise_int8_rows). --dtype I8 ships that: 2-D
matrices (embeddings and output included) as I8 with an F32 '<name>.quant_scale' per row, vectors F32.
Re-encode from F32 weights: an I8 model re-encoded again is quantised twice. Rewriting a model also rewrites config.json (dtype, SHA-256)
and its golden vectors, which are computed in float64 from the weights exactly as stored, so the
engine's golden tests keep their tolerances. Results go to models/weight-dtypes.json.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import export  # noqa: E402
import safetensors_io  # noqa: E402
from models import unet_from_tensors  # noqa: E402
from train_lm import window_bits_per_char  # noqa: E402

RESULTS = os.path.join(export.MODELS_DIR, "weight-dtypes.json")


def int8_per_row(array):
    """Symmetric int8 quantisation of a [rows, ...] matrix with one scale per row, dequantised."""
    return safetensors_io.dequantise_int8_rows(*safetensors_io.quantise_int8_rows(array))


def int8_bytes(tensors):
    """Bytes of an int8 encoding: matrices as int8 plus an f32 scale per row; vectors stay f32."""
    return sum(v.size + 4 * v.shape[0] if v.ndim >= 2 else 4 * v.size for v in tensors.values())


def measure_lm(config, tensors, valid_ids):
    length = config["architecture"]["train_length"]

    def bits(weights):
        return window_bits_per_char(export.lm_from_tensors(config, weights), valid_ids, length, max_windows=256)

    f16 = {k: v.astype(np.float16).astype(np.float32) for k, v in tensors.items()}
    int8 = {k: int8_per_row(v) if v.ndim >= 2 else v for k, v in tensors.items()}
    return {"windows": min(256, (len(valid_ids) - 1) // length), "window_length": length,
            "bits_per_char": {"F32": bits(tensors), "F16": bits(f16), "int8_per_row": bits(int8)},
            "bytes": {"F32": int(sum(4 * v.size for v in tensors.values())),
                      "F16": int(sum(2 * v.size for v in tensors.values())), "int8_per_row": int(int8_bytes(tensors))}}


def rewrite(name, config, tensors, dtype):
    """Store the weights as `dtype`, update config.json and regenerate the golden vectors."""
    out_dir = os.path.join(export.MODELS_DIR, name)
    path = os.path.join(out_dir, "model.safetensors")
    _, metadata = safetensors_io.load_file(path)
    safetensors_io.save_file(tensors, path, dtype=dtype, metadata=metadata)
    config["weights"]["dtype"] = dtype
    if hasattr(export, "file_sha256"):
        config["weights"]["sha256"] = export.file_sha256(path)
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1, ensure_ascii=False)
    shipped, _ = safetensors_io.load_file(path)
    if config["family"] == "ddpm-unet":
        return export.golden_ddpm(name, unet_from_tensors(config, shipped))
    _, valid_text = data.load_text()
    return export.golden_lm(name, export.lm_from_tensors(config, shipped), config["tokenizer"]["vocab"], valid_text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*")
    p.add_argument("--dtype", default="F16", choices=["F32", "F16", "I8"])
    p.add_argument("--measure-only", action="store_true")
    p.add_argument("--keep-measurements", action="store_true",
                   help="rewrite without re-measuring (keeps models/weight-dtypes.json)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.names or sorted(n for n in os.listdir(export.MODELS_DIR)
                                 if os.path.exists(os.path.join(export.MODELS_DIR, n, "config.json")))
    results = json.load(open(RESULTS)) if os.path.exists(RESULTS) else {}
    golden_entries = {}
    for name in names:
        model_dir = os.path.join(export.MODELS_DIR, name)
        config = json.load(open(os.path.join(model_dir, "config.json"), encoding="utf-8"))
        stored, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
        tensors = {k: np.asarray(v, dtype=np.float32) for k, v in stored.items()}
        if config["family"] == "ddpm-unet" and args.dtype == "I8":
            p.error("int8 is for the language models (%s is a U-Net)" % name)
        if config["family"] != "ddpm-unet" and not args.keep_measurements:
            train_text, valid_text = data.load_text()
            valid_ids = data.encode(valid_text, config["tokenizer"]["vocab"])
            results[name] = measure_lm(config, tensors, valid_ids)
            print(name, json.dumps(results[name]), flush=True)
        if not args.measure_only:
            golden_entries[name] = rewrite(name, config, tensors, args.dtype)
            print("rewrote %s in %s" % (name, args.dtype), flush=True)
    with open(RESULTS, "w") as f:
        json.dump(results, f, indent=1)
    if golden_entries:
        export.update_manifest(golden_entries)


if __name__ == "__main__":
    main()
