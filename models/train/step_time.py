"""What one training step costs for each shipped language model's architecture: train_lm.train_step (batch
32 x 128 characters, forward, backward, AdamW) on freshly initialised weights, one CPU thread, medians of
interleaved rounds (the order rotates each round). Run it on a quiet machine; bench/lm-compare.mjs puts
the figures in the README's model table.

  /usr/bin/python3 models/train/step_time.py [--rounds 7] [--steps 5]

Writes models/lm-step-times.json.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from train_lm import FAMILY_NAMES, FAMILIES, train_step  # noqa: E402

OUT = os.path.join(data.ROOT, "models", "lm-step-times.json")


def shipped_architectures():
    out = {}
    for name in sorted(os.listdir(os.path.join(data.ROOT, "models"))):
        path = os.path.join(data.ROOT, "models", name, "config.json")
        if os.path.exists(path):
            config = json.load(open(path, encoding="utf-8"))
            if config["family"] in FAMILY_NAMES:
                out[name] = (FAMILY_NAMES[config["family"]], config["architecture"], config["training"]["batch"])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=5, help="steps per model per round")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    runs = {}
    for name, (family, architecture, batch) in shipped_architectures().items():
        model = FAMILIES[family](**architecture)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
        ids = torch.randint(0, architecture["vocab_size"], (batch, architecture["train_length"] + 1))
        runs[name] = (model, optimizer, ids)

    for run in runs.values():
        train_step(*run)  # warm-up
    times = {name: [] for name in runs}
    order = list(runs)
    for r in range(args.rounds):
        for name in order[r % len(order):] + order[:r % len(order)]:
            start = time.process_time()
            for _ in range(args.steps):
                train_step(*runs[name])
            times[name].append((time.process_time() - start) / args.steps * 1000)
    result = {"method": "CPU time of train_lm.train_step (batch x train_length characters, forward, backward, "
                        "clip, AdamW), one thread, %d interleaved rounds of %d steps, median" % (args.rounds, args.steps),
              "machine": {"processor": platform.processor() or platform.machine(), "torch": torch.__version__},
              "models": {name: {"median_ms": float(np.median(t)), "rounds_ms": [round(v, 1) for v in t]}
                         for name, t in times.items()}}
    with open(OUT, "w") as f:
        json.dump(result, f, indent=1)
    for name, entry in result["models"].items():
        print("%-24s %.0f ms/step" % (name, entry["median_ms"]))


if __name__ == "__main__":
    main()
