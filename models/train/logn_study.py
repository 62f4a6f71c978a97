"""The log-n claim tested under control (docs/ALGORITHMS.md 2 and 7): does the entropy-invariant scale
help a causal character LM beyond its training length, trained in or applied post hoc?

Two GAU-LMs are trained from the same seed, data, steps and schedule, differing only in the normaliser:
softmax, and softmax_plus (softmax with the factor log(max(l, 16)) / log(L) trained in; in a causal LM
row i sees l = i + 1 keys, so training already covers every length from 1 to L):

  /usr/bin/python3 models/train/train_lm.py --name logn-study-softmax --normaliser softmax --steps 1500 --threads 1
  /usr/bin/python3 models/train/train_lm.py --name logn-study-softmax-plus --normaliser softmax_plus --steps 1500 --threads 1
  /usr/bin/python3 models/train/logn_study.py

Each is evaluated on the held-out text (the same first --tokens characters at every length n) under:
  full          full causal attention, as trained
  full+logn     the post-hoc scale max(1, log(l) / log(L)) on the scores (already inside softmax_plus)
  window        each query sees its last L keys: no unseen distance, no more keys than in training
                (a log-n factor is then at most 1: window + log-n is the window)
  window2L(+logn)  a window of 2L keys, without and with the post-hoc factor
  rerope(+logn) every key stays visible, but relative distances beyond L / 2 are read as L / 2 (Su's
                ReRoPE): no unseen distance, the near keys exactly as trained, and the number of keys
                grows with n, so what is left is the dilution the log-n scale is meant to fix.
                (Position interpolation, the other way to remove unseen distances, squeezes the near
                keys too, and ruins a character model at 2 L already: 1.69 -> 3.39 bits/char.)
and the attention entropy (nats, mean over layers and over the queries in the second half of the
window) is measured for full and full+logn: the quantity the scale is meant to hold constant.

Writes models/logn-study/results.json, models/logn-study/length.png and prints the tables.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import train_lm  # noqa: E402
from evaluate import per_position_bits  # noqa: E402
from models import rms_norm, rope_tables  # noqa: E402

NAMES = ["logn-study-softmax", "logn-study-softmax-plus"]
OUT_DIR = os.path.join(data.ROOT, "models", "logn-study")


MODES = ["full", "full+logn", "window", "window2L", "window2L+logn", "rerope", "rerope+logn"]


def mode_arguments(mode, model):
    base = mode.split("+")[0]
    window = {"window": model.train_length, "window2L": 2 * model.train_length}.get(base)
    rerope = model.train_length // 2 if base == "rerope" else None
    return {"window": window, "logn": mode.endswith("+logn"), "rerope": rerope}


@torch.no_grad()
def attention_entropy(model, ids, length, windows, logn):
    """Mean entropy (nats) of the attention rows of the queries at positions [length / 2, length), over
    every layer and `windows` windows of the held-out text."""
    chunk = torch.from_numpy(ids[np.arange(windows)[:, None] * length + np.arange(length)[None]])
    cos, sin = rope_tables(length, model.key_size, dtype=model.embeddings.weight.dtype)
    x = rms_norm(model.embeddings(chunk))
    total = []
    for layer in model.layers:
        out, attention = layer(x, cos, sin, None, logn, return_attention=True)
        rows = attention[:, length // 2:]
        total.append(float(-(rows * rows.clamp_min(1e-30).log()).sum(-1).mean()))
        x = rms_norm(x + model.residual_scale * out)
    return float(np.mean(total))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", default="128,256,512,1024,2048,4096")
    p.add_argument("--tokens", type=int, default=6 * 4096)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--plot-only", action="store_true", help="redraw the figure and tables from results.json")
    args = p.parse_args(argv)
    if args.plot_only:
        saved = json.load(open(os.path.join(OUT_DIR, "results.json")))
        plot(saved["models"], saved["lengths"], os.path.join(OUT_DIR, "length.png"))
        print(markdown_tables(saved["models"], saved["lengths"]))
        return
    torch.set_num_threads(args.threads)
    lengths = [int(n) for n in args.lengths.split(",")]
    train_text, valid_text = data.load_text()
    ids = data.encode(valid_text, data.build_vocab(train_text))
    results = []
    for name in NAMES:
        model, checkpoint = train_lm.model_from_checkpoint(os.path.join(train_lm.CHECKPOINT_DIR, name + ".pt"))
        normaliser = checkpoint["model_config"]["normaliser"]
        result = {"model": name, "normaliser": normaliser, "steps": checkpoint["step"],
                  "train_length": model.train_length, "final_valid_bits": checkpoint["history"].get("final_valid_bits"),
                  "bits": {}, "beyond_train_bits": {}, "entropy_nats": {}}
        for mode in MODES:
            if normaliser == "softmax_plus" and mode.endswith("+logn"):
                continue  # the factor is already inside softmax_plus
            result["bits"][mode], result["beyond_train_bits"][mode] = {}, {}
            for length in lengths:
                curve = per_position_bits(model, ids, length, args.tokens, **mode_arguments(mode, model))
                result["bits"][mode][str(length)] = float(curve.mean())
                result["beyond_train_bits"][mode][str(length)] = (
                    float(curve[model.train_length:].mean()) if length > model.train_length else None)
                print("%-24s %-10s n=%-5d %.4f bits/char" % (name, mode, length, curve.mean()), flush=True)
        for logn in ([False, True] if normaliser == "softmax" else [False]):
            key = "full+logn" if logn else "full"
            result["entropy_nats"][key] = {str(n): attention_entropy(model, ids, n, max(1, min(4, args.tokens // n)), logn)
                                           for n in lengths}
            print("%-24s entropy %-10s %s" % (name, key, result["entropy_nats"][key]), flush=True)
        results.append(result)
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "results.json"), "w") as f:
        json.dump({"lengths": lengths, "tokens": args.tokens, "models": results}, f, indent=1)
    plot(results, lengths, os.path.join(OUT_DIR, "length.png"))
    print(markdown_tables(results, lengths))


def markdown_tables(results, lengths):
    head = "| model | attention | " + " | ".join("n = %d" % n for n in lengths) + " |\n|---|---|" + "---|" * len(lengths)
    rows = ["| %s | %s | %s |" % (r["normaliser"], mode, " | ".join("%.3f" % values[str(n)] for n in lengths))
            for r in results for mode, values in r["bits"].items()]
    entropy = ["| %s | %s | %s |" % (r["normaliser"], mode, " | ".join("%.2f" % values[str(n)] for n in lengths))
               for r in results for mode, values in r["entropy_nats"].items()]
    return ("bits/char, mean over all positions:\n\n" + head + "\n" + "\n".join(rows) +
            "\n\nattention entropy (nats), queries in the second half of the window, mean over layers:\n\n" +
            head + "\n" + "\n".join(entropy) + "\n")


def plot(results, lengths, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), dpi=100)
    colours = {"full": "C0", "full+logn": "C1", "window": "C2", "window2L": "C5", "window2L+logn": "C6",
               "rerope": "C3", "rerope+logn": "C4"}
    near = ("window", "rerope", "rerope+logn")  # the modes with no unseen distance, drawn again close up
    for r in results:
        style = "-" if r["normaliser"] == "softmax" else "--"
        for mode, values in r["bits"].items():
            for ax in axes[:2] if mode in near else axes[:1]:
                ax.plot(lengths, [values[str(n)] for n in lengths], style, marker="o", ms=3, color=colours[mode],
                        label="%s, %s" % (r["normaliser"], mode))
        for mode, values in r["entropy_nats"].items():
            axes[2].plot(lengths, [values[str(n)] for n in lengths], style, marker="o", ms=3, color=colours[mode],
                         label="%s, %s" % (r["normaliser"], mode))
    uniform = [float(np.mean(np.log(np.arange(n // 2 + 1, n + 1)))) for n in lengths]
    axes[2].plot(lengths, uniform, ":", color="grey", label="uniform attention")
    axes[0].set_title("solid: softmax; dashed: softmax_plus (log n trained in)", fontsize=9)
    axes[1].set_title("close up: no unseen distance (window L, ReRoPE)", fontsize=9)
    axes[2].set_title("attention entropy, queries in the window's second half", fontsize=9)
    for ax, label in zip(axes, ["bits/char (mean over the window)", "bits/char", "nats"]):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("evaluation length n (trained at %d)" % results[0]["train_length"])
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
