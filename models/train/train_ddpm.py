"""Train the epsilon-prediction DDPM U-Net on OpenCV's 5,000 handwritten digits; resumable.

  nice -n 10 /usr/bin/python3 models/train/train_ddpm.py --name ddpm-digits

Su's schedule (T = 1000, alpha_t = sqrt(1 - 0.02 t / T)), loss = per-image SUM of squared errors
(docs/ALGORITHMS.md 6.2), t index k uniform in [0, T), EMA weights for sampling. Checkpoints go to
models/checkpoints/<name>.pt; rerunning the command resumes (--new-schedule: a warm restart).
"""
import argparse
import copy
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import sitting  # noqa: E402
from models import UNet, ddpm_schedule, unet_from_tensors  # noqa: E402

CHECKPOINT_DIR = os.path.join(data.ROOT, "models", "checkpoints")


def model_from_checkpoint(path, ema=True):
    checkpoint = torch.load(path, map_location="cpu")
    model = UNet(**checkpoint["model_config"])
    model.load_state_dict(checkpoint["ema" if ema else "model"])
    model.eval()
    return model, checkpoint


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="ddpm-digits")
    p.add_argument("--base-channels", type=int, default=32)
    p.add_argument("--multipliers", default="1,2,2")
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--time-dim", type=int, default=64)
    p.add_argument("--groups", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    sitting.add_arguments(p, steps=4000, lr=2e-3, warmup=200)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checkpoint-dir", default=CHECKPOINT_DIR)
    p.add_argument("--init-from", default=None,
                   help="start a new run from a shipped model directory (models/<name>): its weights, and a time MLP "
                        "fitted to its time table (the export keeps only the table)")
    p.add_argument("--classes", type=int, default=0,
                   help="class-conditional with this many classes (the digits' labels), 0: unconditional")
    p.add_argument("--label-dropout", type=float, default=0.1,
                   help="conditional: fraction of labels replaced by 'any class' (trains that row too)")
    p.add_argument("--condition-from", default=None,
                   help="start a conditional net from an unconditional checkpoint of the same shape")
    p.add_argument("--widen-from", default=None,
                   help="start a new run from a narrower run's checkpoint (its EMA weights), every channel width "
                        "scaled to --base-channels by copying channels (see widen_unet)")
    return p


def channel_map(wide, narrow, groups):
    """Which narrow channel each wide channel copies. Copies stay in their source's GroupNorm group
    (contiguous groups): group g of the wide net holds group g's channels, then repeats of its first ones."""
    wide_group, narrow_group = wide // groups, narrow // groups
    return torch.tensor([(j // wide_group) * narrow_group + (j % wide_group) % narrow_group for j in range(wide)])


def widen_unet(narrow, wide, noise=0.01, seed=0):
    """Net2Wider for the U-Net: every wide channel copies a narrow one (output dimensions), and a
    convolution's inputs are divided by how often their channel was copied, so each pre-activation is
    the narrow net's. Only the GroupNorm statistics change (a group now counts some channels twice), so
    the widened net starts close to the narrow one; a little noise (noise x each tensor's std) breaks the
    copies' symmetry."""
    groups = narrow.config["groups"]
    generator = torch.Generator().manual_seed(seed)
    narrow_state, wide_state = narrow.state_dict(), wide.state_dict()
    for key, target in wide_state.items():
        source = narrow_state[key].clone()
        for dim in range(source.dim()):
            if source.shape[dim] == target.shape[dim]:
                continue
            index = channel_map(target.shape[dim], source.shape[dim], groups)
            source = source.index_select(dim, index)
            if source.dim() == 4 and dim == 1:  # a convolution's input channels: share out the copies
                copies = torch.bincount(index, minlength=narrow_state[key].shape[1]).float()
                source = source / copies[index][None, :, None, None]
        if noise and source.dim() > 1:
            source = source + noise * source.std() * torch.randn(source.shape, generator=generator)
        target.copy_(source)
    wide.load_state_dict(wide_state)


def init_from_shipped(model, model_dir):
    """Load an exported U-Net into a trainable one. The export ships time_table = MLP(sinusoid(k)), not the
    MLP, so the MLP is refitted to the table (the same architecture made it, so an exact fit exists)."""
    import json

    import safetensors_io

    config = json.load(open(os.path.join(model_dir, "config.json")))
    if config["architecture"] != model.config:
        raise SystemExit("%s has another configuration: %s" % (model_dir, config["architecture"]))
    tensors, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    shipped = unet_from_tensors(config, tensors)
    state = {k: v for k, v in shipped.state_dict().items() if not k.startswith("time_")}
    model.load_state_dict(state, strict=False)
    target = shipped.time_table.float()
    k = torch.arange(target.shape[0])
    optimizer = torch.optim.Adam(list(model.time_in.parameters()) + list(model.time_out.parameters()), 3e-3)
    for step in range(1500):
        loss = (model.time_embedding(k) - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print("time MLP fitted to %s's table: rms error %.2e (table rms %.2e)" %
          (model_dir, loss.sqrt().item(), target.square().mean().sqrt().item()), flush=True)
    return {"model": os.path.relpath(model_dir, data.ROOT), "steps": config["training"]["steps"],
            "minutes": config["training"]["minutes"]}


def main(argv=None):
    args = build_parser().parse_args(argv)

    torch.set_num_threads(args.threads)
    images, labels = data.load_digits()
    images, labels = torch.from_numpy(images), torch.from_numpy(labels)
    _, _, bar_alpha, bar_beta = ddpm_schedule(1000)
    bar_alpha, bar_beta = bar_alpha.float(), bar_beta.float()

    os.makedirs(args.checkpoint_dir, exist_ok=True)
    path = os.path.join(args.checkpoint_dir, args.name + ".pt")
    torch.manual_seed(args.seed)
    model = UNet(base_channels=args.base_channels, multipliers=[int(m) for m in args.multipliers.split(",")],
                 blocks=args.blocks, time_dim=args.time_dim, groups=args.groups, classes=args.classes)
    ema = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    step, history, elapsed = 0, {"train": []}, 0.0
    generator = torch.Generator().manual_seed(args.seed)
    if os.path.exists(path):
        checkpoint = torch.load(path, map_location="cpu")
        if checkpoint["model_config"] != model.config:
            raise SystemExit("checkpoint %s has another configuration" % path)
        model.load_state_dict(checkpoint["model"])
        ema.load_state_dict(checkpoint["ema"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        step, history, elapsed = checkpoint["step"], checkpoint["history"], checkpoint["elapsed"]
        generator.set_state(checkpoint["generator"])
        print("resumed %s at step %d (%.1f min trained)" % (args.name, step, elapsed / 60), flush=True)
    elif args.init_from:
        history["init_from"] = init_from_shipped(model, args.init_from)
        ema.load_state_dict(model.state_dict())
    elif args.condition_from:
        source, source_checkpoint = model_from_checkpoint(args.condition_from)
        missing = model.load_state_dict(source.state_dict(), strict=False).missing_keys
        if missing != ["class_table.weight"]:
            raise SystemExit("%s does not match this net: missing %s" % (args.condition_from, missing))
        history["conditioned_from"] = {"checkpoint": os.path.relpath(args.condition_from, data.ROOT),
                                       "steps": source_checkpoint["step"],
                                       "minutes": source_checkpoint["elapsed"] / 60,
                                       "history": {key: value for key, value in source_checkpoint["history"].items()
                                                   if key != "train"}}
        ema.load_state_dict(model.state_dict())
    elif args.widen_from:
        narrow, narrow_checkpoint = model_from_checkpoint(args.widen_from)
        widen_unet(narrow, model)
        history["widened_from"] = {"checkpoint": os.path.relpath(args.widen_from, data.ROOT),
                                   "base_channels": narrow.config["base_channels"],
                                   "steps": narrow_checkpoint["step"], "minutes": narrow_checkpoint["elapsed"] / 60,
                                   "init_from": narrow_checkpoint["history"].get("init_from")}
        ema.load_state_dict(model.state_dict())
    params = sum(p_.numel() for p_ in model.parameters())
    print("%s: %d parameters, %d images" % (args.name, params, len(images)), flush=True)

    def save():
        checkpoint = {"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
                      "step": step, "history": history, "elapsed": elapsed, "generator": generator.get_state(),
                      "model_config": model.config, "args": vars(args), "parameters": params}
        torch.save(checkpoint, path + ".tmp")
        os.replace(path + ".tmp", path)

    schedule = sitting.Schedule(args, history, step)
    this_sitting = sitting.Sitting(args, save)
    running = None
    while not schedule.done(step):
        t0 = time.time()
        for group in optimizer.param_groups:
            group["lr"] = schedule.learning_rate(step)
        index = torch.randint(0, len(images), (args.batch,), generator=generator)
        k = torch.randint(0, 1000, (args.batch,), generator=generator)
        noise = torch.randn((args.batch, 1, 28, 28), generator=generator)
        x0 = images[index]
        xt = bar_alpha[k][:, None, None, None] * x0 + bar_beta[k][:, None, None, None] * noise
        label = None
        if args.classes:
            label = labels[index].clone()
            label[torch.rand(args.batch, generator=generator) < args.label_dropout] = args.classes
        loss = (model(xt, k, label) - noise).square().sum(dim=(1, 2, 3)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 100.0)
        optimizer.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for p_ema, p_model in zip(ema.parameters(), model.parameters()):
                p_ema.mul_(decay).add_(p_model, alpha=1 - decay)
        step += 1
        elapsed += time.time() - t0
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        history["train"].append([step, loss.item(), elapsed])
        if step % args.log_every == 0:
            print("step %d  loss %.2f (smoothed %.2f)  lr %.2e  %.2f s/step  %.1f min" %
                  (step, loss.item(), running, schedule.learning_rate(step), elapsed / step, elapsed / 60), flush=True)
        this_sitting.save_if_due()
        if this_sitting.stopping(step):
            break
    save()
    return model, ema, history


if __name__ == "__main__":
    main()
