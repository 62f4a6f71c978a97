"""How recognisable are the DDPM's digits? A small CNN classifier trained on 90 % of the real digits
(its accuracy on the other 10 % is reported) labels the samples drawn for the model card; a sample
counts as recognisable when the classifier gives one class probability >= 0.9.

  /usr/bin/python3 models/train/evaluate_ddpm.py [--name ddpm-digits]

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
                   "strided DDIM, 10 steps, eta 0": "samples-ddim-10.png"}


def train_classifier(images, labels, seed=0, epochs=6):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    test, train = order[:len(images) // 10], order[len(images) // 10:]
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.Adam(net.parameters(), 2e-3)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)
    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(train), len(train) // 64):
            x = x_all[batch]
            shift = rng.integers(-2, 3, size=2)  # small translations: samples are not perfectly centred
            x = torch.roll(x, shifts=(int(shift[0]), int(shift[1])), dims=(2, 3))
            loss = F.cross_entropy(net(x), y_all[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        accuracy = (net(x_all[test]).argmax(1) == y_all[test]).float().mean().item()
    return net, accuracy


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="ddpm-digits")
    p.add_argument("--samples", type=int, default=36)
    p.add_argument("--from-grids", action="store_true",
                   help="classify the samples of the card's grid PNGs instead of drawing new ones")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    model_dir = os.path.join(data.ROOT, "models", args.name)
    if args.from_grids:
        evaluate_samples(model_dir, {sampler: samples_from_grid(os.path.join(model_dir, file))
                                     for sampler, file in DDPM_GRID_FILES.items()})
        return
    config = json.load(open(os.path.join(model_dir, "config.json")))
    tensors, _ = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    evaluate_samples(model_dir, draw_samples(unet_from_tensors(config, tensors), args.samples))


@torch.no_grad()
def draw_samples(model, count=64):
    """The card's samples: the same starting noise (seed 7) through three samplers."""
    start = torch.randn((count, 1, 28, 28), generator=torch.Generator().manual_seed(7))
    return {"ancestral, 1000 steps, sigma = beta": ddpm_ancestral(model, start.clone(),
                                                                   generator=torch.Generator().manual_seed(8)),
            "strided DDIM, 50 steps, eta 0": ddim_strided(model, start.clone(), stride=20),
            "strided DDIM, 10 steps, eta 0": ddim_strided(model, start.clone(), stride=100)}


def samples_from_grid(path):
    """Recover the samples from a card grid PNG (tiles of 28 px with 2 px gaps, drawn at 2x)."""
    from PIL import Image

    grid = np.asarray(Image.open(path).convert("L"), dtype=np.float32)[::2, ::2]
    side = (grid.shape[0] - 2) // 30
    tiles = [grid[2 + r * 30:2 + r * 30 + 28, 2 + c * 30:2 + c * 30 + 28] for r in range(side) for c in range(side)]
    return torch.from_numpy(np.stack(tiles)[:, None] / 127.5 - 1.0).float()


def evaluate_samples(model_dir, samples):
    """Label the samples with a classifier trained on real digits; write sample-quality.json."""
    images, labels = data.load_digits()
    classifier, accuracy = train_classifier(images, labels)
    result = {"classifier_test_accuracy": accuracy, "confidence_threshold": CONFIDENT, "samplers": {}}
    for sampler, x in samples.items():
        with torch.no_grad():
            probs = torch.softmax(classifier(x.float()), 1)
        confident = probs.max(1).values >= CONFIDENT
        result["samplers"][sampler] = {
            "recognisable_fraction": confident.float().mean().item(),
            "class_histogram_of_recognisable": np.bincount(probs.argmax(1)[confident].numpy(), minlength=10).tolist()}
        print("%-40s recognisable %.0f %%" % (sampler, 100 * confident.float().mean().item()), flush=True)
    print("classifier accuracy on held-out real digits: %.1f %%" % (100 * accuracy))
    with open(os.path.join(model_dir, "sample-quality.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
