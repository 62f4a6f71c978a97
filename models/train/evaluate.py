"""Reference length-extrapolation evaluation of the GAU-LM variants (docs/ALGORITHMS.md 2, 5 and 7).

For every model and every evaluation length n in 128 .. 4096, the held-out text (the concatenated
validation tails of the six novels, never seen in training) is cut into non-overlapping windows of
n + 1 characters; the per-position loss (bits/char) is averaged over the windows, under three
attention modes:
  full        full causal attention, as trained
  full+logn   full attention with the post-hoc log-n scale max(1, log(l)/log(L_train)) on the scores
              (softmax_plus already contains it, so for that model the row equals `full`)
  window128   sliding window: each query sees its last 128 keys (the training length)
The same first `--tokens` characters are used at every length, so the columns are comparable.
A FLASH model (flash-lm) has no window or log-n option: it is evaluated in its one mode, `full`
(mixed-chunk attention as trained):

  /usr/bin/python3 models/train/evaluate.py flash-lm --tokens 8192    # as the GAU-LMs' files

  /usr/bin/python3 models/train/evaluate.py [names...]

Writes models/<name>/length-extrapolation.json, the figure of every evaluated variant
models/gau-lm-softmax-plus/length-extrapolation-all.png, and prints the table.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import train_lm  # noqa: E402

DEFAULT_NAMES = ["gau-lm-softmax-plus", "gau-lm-softmax", "gau-lm-relu2"]
LN2 = math.log(2.0)


def modes(window, flash=False):
    if flash:
        return {"full": dict(window=None, logn=False)}
    return {"full": dict(window=None, logn=False), "full+logn": dict(window=None, logn=True),
            "window%d" % window: dict(window=window, logn=False)}


@torch.no_grad()
def per_position_bits(model, ids, length, tokens, **kwargs):
    """[length] mean loss in bits at each position over floor(tokens / length) windows."""
    count = tokens // length
    total = torch.zeros(length, dtype=torch.float64)
    batch = max(1, 8192 // length)
    for b in range(0, count, batch):
        starts = np.arange(b, min(count, b + batch)) * length
        chunk = torch.from_numpy(ids[starts[:, None] + np.arange(length + 1)[None]])
        logits = model(chunk[:, :-1], **kwargs)
        loss = F.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none")
        total += loss.sum(0).double()
    return (total / count / LN2).numpy()


def evaluate_model(name, ids, lengths, tokens, window):
    model, checkpoint = train_lm.model_from_checkpoint(os.path.join(train_lm.CHECKPOINT_DIR, name + ".pt"))
    train_length = checkpoint["model_config"]["train_length"]
    flash = checkpoint["family"] == "flash"
    result = {"model": name, "normaliser": checkpoint["model_config"].get("normaliser", "flash_mixed_chunk"),
              "train_length": train_length,
              "steps": checkpoint["step"], "tokens": tokens, "window": window, "mean_bits": {},
              "beyond_train_bits": {}, "curve_4096_bins": {}}
    if flash:
        result["chunk"] = checkpoint["model_config"]["chunk"]
        del result["window"]  # FLASH has none
    for mode, kwargs in modes(window, flash).items():
        result["mean_bits"][mode], result["beyond_train_bits"][mode] = {}, {}
        for length in lengths:
            start = time.time()
            if mode == "full+logn" and result["normaliser"] == "softmax_plus":
                curve = np.array(result["_curves"]["full"][str(length)])  # identical by definition
            else:
                curve = per_position_bits(model, ids, length, tokens, **kwargs)
            result.setdefault("_curves", {}).setdefault(mode, {})[str(length)] = curve.tolist()
            result["mean_bits"][mode][str(length)] = float(curve.mean())
            result["beyond_train_bits"][mode][str(length)] = (float(curve[train_length:].mean())
                                                              if length > train_length else None)
            print("%-22s %-10s n=%-5d %.4f bits/char  (%.0f s)" % (name, mode, length, curve.mean(),
                                                                  time.time() - start), flush=True)
    longest = str(max(lengths))
    bins = np.arange(0, int(longest) + 1, 64)
    for mode, curves in result["_curves"].items():
        curve = np.array(curves[longest])
        result["curve_4096_bins"][mode] = [float(curve[a:b].mean()) for a, b in zip(bins[:-1], bins[1:])]
    result["curve_bin_size"] = 64
    del result["_curves"]
    return result


def markdown_table(results, lengths):
    head = "| model | attention | " + " | ".join("n = %d" % n for n in lengths) + " |\n"
    head += "|---|---|" + "---|" * len(lengths) + "\n"
    rows = []
    for r in results:
        for mode, values in r["mean_bits"].items():
            note = " (= full: built in)" if mode == "full+logn" and r["normaliser"] == "softmax_plus" else ""
            rows.append("| %s | %s%s | %s |" % (r["model"], mode, note,
                                                 " | ".join("%.3f" % values[str(n)] for n in lengths)))
    return head + "\n".join(rows) + "\n"


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4), dpi=100, sharey=True, squeeze=False)
    for ax, r in zip(axes[0], results):
        size = r["curve_bin_size"]
        for mode, curve in r["curve_4096_bins"].items():
            x = np.arange(len(curve)) * size + size / 2
            ax.plot(x, curve, label=mode, lw=1.2, ls="--" if mode == "full+logn" else "-")
        ax.axvline(r["train_length"], color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_title("%s (trained at %d)" % (r["model"], r["train_length"]))
        ax.set_xlabel("position (mean over bins of %d)" % size)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    axes[0][0].set_ylabel("loss, bits/char")
    top = max(max(max(c) for c in r["curve_4096_bins"].values()) for r in results)
    axes[0][0].set_ylim(1.2, min(8.0, top + 0.2))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", default=DEFAULT_NAMES)
    p.add_argument("--lengths", default="128,512,1024,2048,4096")
    p.add_argument("--tokens", type=int, default=6 * 4096, help="held-out characters used at every length")
    p.add_argument("--window", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    lengths = [int(n) for n in args.lengths.split(",")]
    train_text, valid_text = data.load_text()
    if len(valid_text) < args.tokens + 1:
        raise SystemExit("validation text has only %d characters" % len(valid_text))
    results = []
    for name in args.names:
        ids = data.encode(valid_text, data.build_vocab(train_text))
        result = evaluate_model(name, ids, lengths, args.tokens, args.window)
        out_dir = os.path.join(data.ROOT, "models", name)
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "length-extrapolation.json"), "w") as f:
            json.dump(result, f, indent=1)
        results.append(result)
    every = [json.load(open(path)) for path in (os.path.join(data.ROOT, "models", n, "length-extrapolation.json")
                                                for n in DEFAULT_NAMES) if os.path.exists(path)]
    if every:
        plot(every, os.path.join(data.ROOT, "models", DEFAULT_NAMES[0], "length-extrapolation-all.png"))
    print()
    print(markdown_table(results, lengths))


if __name__ == "__main__":
    main()
