"""How recognisable are the DDPM's digits? A CNN judge trained on 90 % of the real digits only (its
accuracy and confident fraction on the other 10 % are reported, and how often it is confident on noise)
labels samples; a sample counts as recognisable when the judge gives one class probability >= 0.9.

  /usr/bin/python3 models/train/evaluate_ddpm.py [--name ddpm-digits] [--samples 256]
  node scripts/draw-digits.mjs --out DIR && /usr/bin/python3 models/train/evaluate_ddpm.py --from-engine DIR

Writes models/<name>/sample-quality.json.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import safetensors_io  # noqa: E402
from models import ddim_strided, ddpm_ancestral, unet_from_tensors  # noqa: E402

CONFIDENT = 0.9
DDPM_GRID_FILES = {"ancestral, 1000 steps, sigma = beta": "samples-ancestral-1000.png",
                   "strided DDIM, 50 steps, eta 0": "samples-ddim-50.png",
                   "strided DDIM, 10 steps, eta 0": "samples-ddim-10.png",
                   "strided DDPM, 50 steps, eta 1": "samples-strided-50-eta1.png",
                   "strided DDPM, 10 steps, eta 1": "samples-strided-10-eta1.png"}


def augment(x, rng):
    """Random small affine maps (rotation within 12 degrees, scale 0.9-1.1, shift within 2 px): samples
    are neither centred nor sized exactly like the training digits."""
    n = x.shape[0]
    angle = torch.from_numpy(rng.uniform(-0.21, 0.21, n)).float()
    scale = torch.from_numpy(rng.uniform(0.9, 1.1, n)).float()
    shift = torch.from_numpy(rng.uniform(-2 / 14, 2 / 14, (n, 2))).float()
    theta = torch.stack([torch.stack([torch.cos(angle) / scale, -torch.sin(angle) / scale, shift[:, 0]], 1),
                         torch.stack([torch.sin(angle) / scale, torch.cos(angle) / scale, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1  # background stays -1


def judge_batch(x, y, rng):
    """A training batch for the judge: the real digits (augmented, one-hot), plus things that are not one
    digit and must not get a confident answer, with soft targets: overlays of two digits (the two labels
    in proportion) and noise (clamped Gaussian, and smoothed blobs with a digit's range and ink) with a
    uniform target. Without them a CNN is confident on half of pure-noise images."""
    n = x.shape[0]
    x = augment(x, rng)
    target = F.one_hot(y, 10).float()
    partner = torch.from_numpy(rng.permutation(n))
    mix = torch.from_numpy(rng.uniform(0.3, 0.7, n)).float()
    overlay = mix[:, None, None, None] * x + (1 - mix[:, None, None, None]) * x[partner]
    overlay_target = mix[:, None] * target + (1 - mix[:, None]) * target[partner]
    k = n // 4
    gaussian = torch.from_numpy(rng.standard_normal((k, 1, 28, 28))).float().clamp(-1, 1)
    blobs = F.avg_pool2d(torch.from_numpy(rng.standard_normal((k, 1, 28, 28))).float(), 5, 1, 2)
    blobs = (blobs * 6).clamp(-1, 1)
    noise = torch.cat([gaussian, blobs])
    uniform = torch.full((noise.shape[0], 10), 0.1)
    keep = y[partner] != y  # an overlay of two equal labels is still that digit: not a negative
    return (torch.cat([x, overlay[keep], noise]), torch.cat([target, overlay_target[keep], uniform]))


def train_classifier(images, labels, seed=0, epochs=20):
    """The judge: a CNN trained on 90 % of the real digits only (never on samples); the other 10 % give
    its accuracy and the confident fraction a real digit reaches."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    test, train = order[:len(images) // 10], order[len(images) // 10:]
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
                        nn.Linear(128, 10))
    cache = os.path.join(data.ROOT, "models", "checkpoints", "digit-judge-v2-seed%d-epochs%d.pt" % (seed, epochs))
    if os.path.exists(cache):  # the judge is deterministic for a seed: trained once per machine
        net.load_state_dict(torch.load(cache))
        return net.eval(), judge_held_out(net, x_test=torch.from_numpy(images[test]), y_test=labels[test])
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    batches = len(train) // 64
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=epochs * batches)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)
    for _ in range(epochs):
        net.train()
        for batch in np.array_split(rng.permutation(train), batches):
            x, target = judge_batch(x_all[batch], y_all[batch], rng)
            loss = -(target * F.log_softmax(net(x), 1)).sum(1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    torch.save(net.state_dict(), cache)
    return net.eval(), judge_held_out(net, x_all[test], labels[test])


def judge_held_out(net, x_test, y_test):
    with torch.no_grad():
        probs = torch.softmax(net.eval()(x_test), 1)
    real = judge(probs)
    real["accuracy"] = (probs.argmax(1).numpy() == np.asarray(y_test)).mean().item()
    return real


def judge(probs):
    """Confident fraction (max probability >= CONFIDENT), the class histogram of the confident ones and
    its entropy in bits (log2 10 = 3.32 for a perfectly even spread)."""
    confident = probs.max(1).values >= CONFIDENT
    histogram = np.bincount(probs.argmax(1)[confident].numpy(), minlength=10)
    q = histogram[histogram > 0] / max(1, histogram.sum())
    return {"recognisable_fraction": confident.float().mean().item(),
            "class_histogram_of_recognisable": histogram.tolist(),
            "class_entropy_bits": float(-(q * np.log2(q)).sum())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="ddpm-digits")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--from-grids", action="store_true",
                   help="classify the samples of the card's grid PNGs instead of drawing new ones")
    p.add_argument("--from-engine", metavar="DIR", action="append",
                   help="classify samples the engine drew through its public API (scripts/draw-digits.mjs); "
                        "repeat for several directories")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model_dir = os.path.join(data.ROOT, "models", args.name)
    if args.from_grids:
        evaluate_samples(model_dir, {sampler: samples_from_grid(os.path.join(model_dir, file))
                                     for sampler, file in DDPM_GRID_FILES.items()}, source="card grids")
        return
    if args.from_engine:
        samples, asked, engines = {}, {}, set()
        for directory in args.from_engine:
            manifest = json.load(open(os.path.join(directory, "manifest.json")))
            engines.add(manifest["engine"])
            for entry in manifest["samples"]:
                raw = np.fromfile(os.path.join(directory, entry["file"]), dtype="<f4")
                samples[entry["sampler"]] = torch.from_numpy(raw.reshape(-1, 1, 28, 28).copy())
                if entry.get("asked") is not None:
                    asked[entry["sampler"]] = torch.tensor(entry["asked"])
        write_grids(model_dir, {sampler: x[:36] for sampler, x in samples.items() if sampler in DDPM_GRID_FILES})
        evaluate_samples(model_dir, samples, source="the engine's public API (%s)" % ", ".join(sorted(engines)),
                         asked=asked)
        return
    config = json.load(open(os.path.join(model_dir, "config.json")))
    tensors, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    evaluate_samples(model_dir, draw_samples(unet_from_tensors(config, tensors), args.samples))


@torch.no_grad()
def draw_samples(model, count=64):
    """The card's samples: the same starting noise (seed 7) through five samplers."""
    start = torch.randn((count, 1, 28, 28), generator=torch.Generator().manual_seed(7))
    return {"ancestral, 1000 steps, sigma = beta": ddpm_ancestral(model, start.clone(),
                                                                   generator=torch.Generator().manual_seed(8)),
            "strided DDIM, 50 steps, eta 0": ddim_strided(model, start.clone(), stride=20),
            "strided DDIM, 10 steps, eta 0": ddim_strided(model, start.clone(), stride=100),
            "strided DDPM, 50 steps, eta 1": ddim_strided(model, start.clone(), stride=20, eta=1.0,
                                                          generator=torch.Generator().manual_seed(8)),
            "strided DDPM, 10 steps, eta 1": ddim_strided(model, start.clone(), stride=100, eta=1.0,
                                                          generator=torch.Generator().manual_seed(8))}


def write_grids(out_dir, grids):
    """The card's sample grids: square grids of 28 px tiles with 2 px gaps, drawn at 2x."""
    from PIL import Image

    for sampler, x in grids.items():
        side = int(np.sqrt(x.shape[0]))
        tiles = ((x[:, 0].numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
        grid = np.full((side * 30 + 2, side * 30 + 2), 255, np.uint8)
        for i in range(side * side):
            r, c = divmod(i, side)
            grid[2 + r * 30:2 + r * 30 + 28, 2 + c * 30:2 + c * 30 + 28] = tiles[i]
        Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(
            os.path.join(out_dir, DDPM_GRID_FILES[sampler]))


def samples_from_grid(path):
    """Recover the samples from a card grid PNG (tiles of 28 px with 2 px gaps, drawn at 2x)."""
    from PIL import Image

    grid = np.asarray(Image.open(path).convert("L"), dtype=np.float32)[::2, ::2]
    side = (grid.shape[0] - 2) // 30
    tiles = [grid[2 + r * 30:2 + r * 30 + 28, 2 + c * 30:2 + c * 30 + 28] for r in range(side) for c in range(side)]
    return torch.from_numpy(np.stack(tiles)[:, None] / 127.5 - 1.0).float()


def evaluate_samples(model_dir, samples, source="torch", asked=None):
    """Label the samples with the judge; write sample-quality.json. asked: per sampler, the digit each
    image was asked for (class-conditional samples), to count how often the judge confidently agrees."""
    asked = asked or {}
    images, labels = data.load_digits()
    classifier, real = train_classifier(images, labels)
    noise = torch.randn((256, 1, 28, 28), generator=torch.Generator().manual_seed(3)).clamp(-1, 1)
    with torch.no_grad():
        noise_result = judge(torch.softmax(classifier(noise), 1))
    result = {"confidence_threshold": CONFIDENT, "samples_from": source,
              "judge": {"held_out_real_digits": real, "gaussian_noise": noise_result}, "samplers": {}}
    print("judge: accuracy %.1f %%, confident on %.1f %% of held-out real digits, on %.1f %% of noise images" %
          (100 * real["accuracy"], 100 * real["recognisable_fraction"], 100 * noise_result["recognisable_fraction"]))
    for sampler, x in samples.items():
        with torch.no_grad():
            probs = torch.softmax(classifier(x.float()), 1)
        verdict = judge(probs)
        verdict["count"] = int(x.shape[0])
        agreement = ""
        if sampler in asked:
            confident_as_asked = (probs.max(1).values >= CONFIDENT) & (probs.argmax(1) == asked[sampler])
            verdict["asked_digit_fraction"] = confident_as_asked.float().mean().item()
            agreement = ", confidently the asked digit %.1f %%" % (100 * verdict["asked_digit_fraction"])
        result["samplers"][sampler] = verdict
        print("%-52s recognisable %.1f %% of %d, class entropy %.2f bits%s" %
              (sampler, 100 * verdict["recognisable_fraction"], x.shape[0], verdict["class_entropy_bits"], agreement),
              flush=True)
    with open(os.path.join(model_dir, "sample-quality.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
