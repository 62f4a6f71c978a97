"""Train a character-level causal LM (GAU-LM or RoFormerV2) on Jane Austen; resumable.

  nice -n 10 /usr/bin/python3 models/train/train_lm.py --name gau-lm-softmax-plus --normaliser softmax_plus

Checkpoints go to models/checkpoints/<name>.pt every --checkpoint-seconds and at the end; rerunning the
same command resumes from the checkpoint (the schedule is defined by --steps or --deadline; add
--new-schedule to continue a finished run with a fresh warm-up and cosine). --max-minutes stops this
sitting early (checkpointed, resumable).
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import sitting  # noqa: E402
from models import FlashLM, GauLM, RoFormerV2LM  # noqa: E402

FAMILIES = {"gau": GauLM, "roformer": RoFormerV2LM, "flash": FlashLM}
FAMILY_NAMES = {cls.family: key for key, cls in FAMILIES.items()}  # config.json's family -> --family

CHECKPOINT_DIR = os.path.join(data.ROOT, "models", "checkpoints")
LN2 = math.log(2.0)


def build_model(args, vocab_size):
    if args.family == "gau":
        return GauLM(vocab_size, hidden=args.hidden, layers=args.layers, expansion=args.expansion,
                     key_size=args.key_size, normaliser=args.normaliser, train_length=args.length)
    if args.family == "flash":
        return FlashLM(vocab_size, hidden=args.hidden, layers=args.layers, expansion=args.expansion,
                       key_size=args.key_size, chunk=args.chunk, train_length=args.length)
    return RoFormerV2LM(vocab_size, hidden=args.hidden, layers=args.layers, heads=args.heads,
                        intermediate=args.intermediate, normaliser=args.normaliser, train_length=args.length)


def model_from_checkpoint(path):
    """(model in eval mode, checkpoint dict) for export and evaluation."""
    checkpoint = torch.load(path, map_location="cpu")
    config = dict(checkpoint["model_config"])
    model = FAMILIES[checkpoint["family"]](**config)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return model, checkpoint


@torch.no_grad()
def window_bits_per_char(model, ids, length, max_windows=None, batch=32):
    """Mean loss (bits/char) over consecutive non-overlapping windows of `length` tokens (+1 target)."""
    count = (len(ids) - 1) // length
    if max_windows:
        count = min(count, max_windows)
    starts = np.arange(count) * length
    total, n = 0.0, 0
    for b in range(0, count, batch):
        idx = starts[b:b + batch, None] + np.arange(length + 1)[None]
        chunk = torch.from_numpy(ids[idx])
        logits = model(chunk[:, :-1])
        total += F.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten(), reduction="sum").item()
        n += chunk[:, 1:].numel()
    return total / n / LN2


def init_from_shipped(model, model_dir, vocab):
    """Load a shipped model (models/<name>: config.json and its weights, dequantised if int8) into `model`.
    The returned record counts every step and minute the shipped weights had seen, including the run they
    were themselves initialised from, so that a continued run's step count is its total."""
    import json

    import safetensors_io

    config = json.load(open(os.path.join(model_dir, "config.json"), encoding="utf-8"))
    if config["tokenizer"]["vocab"] != vocab or config["architecture"] != model.config:
        raise SystemExit("--init-from %s: another vocabulary or configuration" % model_dir)
    tensors, _ = safetensors_io.load_file(os.path.join(model_dir, config["weights"]["file"]))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    training = config["training"]
    before = training.get("initialised_from") or {"step": 0, "minutes": 0.0}
    return {"name": config["name"], "model": os.path.relpath(model_dir, data.ROOT), "shipped": True,
            "weights_dtype": config["weights"]["dtype"], "normaliser": config["architecture"]["normaliser"],
            "step": before["step"] + training["steps"], "minutes": round(before["minutes"] + training["minutes"], 1),
            "earlier": training.get("initialised_from")}


def train_step(model, optimizer, chunk):
    """One step on a batch of [batch, length + 1] ids (inputs and next-character targets); the loss in nats."""
    logits = model(chunk[:, :-1])
    loss = F.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True)
    p.add_argument("--family", choices=sorted(FAMILIES), default="gau")
    p.add_argument("--normaliser", choices=["softmax", "softmax_plus", "relu2"], default="softmax_plus")
    p.add_argument("--hidden", type=int, default=160)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--expansion", type=int, default=320)
    p.add_argument("--key-size", type=int, default=64)
    p.add_argument("--chunk", type=int, default=32, help="FLASH: the mixed-chunk attention's chunk length c")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=576)
    p.add_argument("--length", type=int, default=128, help="training length L")
    sitting.add_arguments(p, steps=1500, lr=3e-3, warmup=100)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--residual-warmup", type=int, default=200, help="steps for the residual alpha 0 -> 1")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checkpoint-dir", default=CHECKPOINT_DIR)
    p.add_argument("--init-from", default=None,
                   help="start a new run from the weights of another checkpoint with the same shape (for "
                        "example another normaliser), or of a shipped model directory (models/<name>, which "
                        "continues its step count); the optimizer starts fresh")
    p.add_argument("--tiny", action="store_true", help="smoke test: a slice of the data, no final full eval")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    torch.set_num_threads(args.threads)
    train_text, valid_text = data.load_text()
    vocab = data.build_vocab(train_text)
    if args.tiny:
        train_text, valid_text = train_text[:200_000], valid_text[:20_000]
    train_ids, valid_ids = data.encode(train_text, vocab), data.encode(valid_text, vocab)

    os.makedirs(args.checkpoint_dir, exist_ok=True)
    path = os.path.join(args.checkpoint_dir, args.name + ".pt")
    torch.manual_seed(args.seed)
    model = build_model(args, len(vocab))
    decay = [p_ for n, p_ in model.named_parameters() if p_.dim() >= 2]
    no_decay = [p_ for n, p_ in model.named_parameters() if p_.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98))
    step, history, elapsed = 0, {"train": [], "valid": []}, 0.0
    rng = np.random.default_rng(args.seed)
    if os.path.exists(path):
        checkpoint = torch.load(path, map_location="cpu")
        if checkpoint["vocab"] != vocab or checkpoint["model_config"] != model.config:
            raise SystemExit("checkpoint %s was trained with another vocabulary or configuration" % path)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        step, history, elapsed = checkpoint["step"], checkpoint["history"], checkpoint["elapsed"]
        rng.bit_generator.state = checkpoint["rng"]
        torch.set_rng_state(checkpoint["torch_rng"])
        print("resumed %s at step %d (%.1f min trained)" % (args.name, step, elapsed / 60), flush=True)
    elif args.init_from and os.path.isdir(args.init_from):
        history["init_from"] = init_from_shipped(model, args.init_from, vocab)
        step, elapsed = history["init_from"]["step"], history["init_from"]["minutes"] * 60
        history["schedule"] = {"start_step": step, "start_time": time.time()}  # warm-up and cosine from here
        print("continuing the shipped %s at step %d" % (args.init_from, step), flush=True)
    elif args.init_from:
        source = torch.load(os.path.join(args.checkpoint_dir, args.init_from + ".pt"), map_location="cpu")
        shape = {k: v for k, v in source["model_config"].items() if k != "normaliser"}
        if source["vocab"] != vocab or shape != {k: v for k, v in model.config.items() if k != "normaliser"}:
            raise SystemExit("--init-from %s: another vocabulary or shape" % args.init_from)
        model.load_state_dict(source["model"])
        history["init_from"] = {"name": args.init_from, "step": source["step"],
                                "normaliser": source["model_config"]["normaliser"],
                                "minutes": round(source["elapsed"] / 60, 1)}
        print("initialised from %s at step %d" % (args.init_from, source["step"]), flush=True)
    params = sum(p_.numel() for p_ in model.parameters())
    print("%s: %d parameters, vocab %d, %d train / %d valid chars" %
          (args.name, params, len(vocab), len(train_ids), len(valid_ids)), flush=True)

    def save():
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                      "history": history, "elapsed": elapsed, "rng": rng.bit_generator.state,
                      "torch_rng": torch.get_rng_state(), "vocab": vocab, "family": args.family,
                      "model_config": model.config, "args": vars(args), "parameters": params}
        torch.save(checkpoint, path + ".tmp")
        os.replace(path + ".tmp", path)

    schedule = sitting.Schedule(args, history, step)
    this_sitting = sitting.Sitting(args, save)
    model.train()
    while not schedule.done(step):
        t0 = time.time()
        model.residual_scale.fill_(min(1.0, (step + 1) / args.residual_warmup))
        for group in optimizer.param_groups:
            group["lr"] = schedule.learning_rate(step)
        starts = rng.integers(0, len(train_ids) - args.length - 1, size=args.batch)
        chunk = torch.from_numpy(train_ids[starts[:, None] + np.arange(args.length + 1)[None]])
        loss = train_step(model, optimizer, chunk)
        step += 1
        elapsed += time.time() - t0
        history["train"].append([step, loss.item() / LN2, elapsed])
        if step % args.eval_every == 0:
            model.eval()
            bits = window_bits_per_char(model, valid_ids, args.length, max_windows=64)
            model.train()
            history["valid"].append([step, bits, elapsed])
            print("step %d  train %.3f  valid %.3f bits/char  lr %.2e  %.2f s/step  %.1f min" %
                  (step, loss.item() / LN2, bits, schedule.learning_rate(step), elapsed / step, elapsed / 60),
                  flush=True)
        this_sitting.save_if_due()
        if this_sitting.stopping(step):
            break
    model.residual_scale.fill_(1.0)
    if schedule.done(step) and not args.tiny:
        model.eval()
        history["final_valid_bits"] = window_bits_per_char(model, valid_ids, args.length)
        print("final: %.4f bits/char on all %d validation chars (windows of %d)" %
              (history["final_valid_bits"], len(valid_ids), args.length), flush=True)
    save()
    return model, history


if __name__ == "__main__":
    main()
