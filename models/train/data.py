"""Training data, extracted only from Debian packages, cached in models/data/ (gitignored).

Text: Jane Austen's six novels from `r-cran-janeaustenr` (an R lazy-load database, read by rdata.py).
Hard-wrapped lines are re-flowed into paragraphs, one paragraph per line. The last 5 % of every novel
is held out as validation text that training never sees.

Digits: the 5,000 20x20 handwritten digits of OpenCV's `digits.png` (package `opencv-doc`), padded
to 28x28 and scaled to [-1, 1].
"""
import glob
import json
import os
import subprocess
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA_DIR = os.path.join(ROOT, "models", "data")
JANEAUSTENR_DIR = "/usr/lib/R/site-library/janeaustenr"
DIGITS_PNG = "/usr/share/doc/opencv-doc/examples/data/digits.png"
NOVELS = ["sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion"]
VALIDATION_FRACTION = 0.05
UNKNOWN = "\ufffd"  # the symbol every character outside the vocabulary maps to


def package_version(name):
    """The installed version, or else the version apt would download (what _janeaustenr_dir unpacks)."""
    for command in (["dpkg-query", "-W", "-f=${Version}", name], ["apt-cache", "show", "--no-all-versions", name]):
        try:
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            continue
        version = next((line.split(":", 1)[1] for line in out.splitlines() if line.startswith("Version:")), out)
        if version.strip():
            return version.strip()
    return "unknown"


def _janeaustenr_dir():
    """The installed package, or the .deb unpacked into models/data/ when it is not installed."""
    if os.path.exists(os.path.join(JANEAUSTENR_DIR, "data", "Rdata.rdx")):
        return JANEAUSTENR_DIR
    unpacked = os.path.join(DATA_DIR, "deb", "usr", "lib", "R", "site-library", "janeaustenr")
    if not os.path.exists(os.path.join(unpacked, "data", "Rdata.rdx")):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["apt-get", "download", "r-cran-janeaustenr"], cwd=tmp, check=True)
            deb = glob.glob(os.path.join(tmp, "*.deb"))[0]
            subprocess.run(["dpkg", "-x", deb, os.path.join(DATA_DIR, "deb")], check=True)
    return unpacked


def _reflow(lines):
    """Join hard-wrapped lines into paragraphs (blank line = paragraph break)."""
    paragraphs, current = [], []
    for line in lines:
        line = (line or "").strip()
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n".join(paragraphs) + "\n"


def prepare_text():
    """Write models/data/austen_{train,valid}.txt and austen_meta.json; return their paths."""
    train_path = os.path.join(DATA_DIR, "austen_train.txt")
    valid_path = os.path.join(DATA_DIR, "austen_valid.txt")
    if os.path.exists(train_path) and os.path.exists(valid_path):
        return train_path, valid_path
    from rdata import read_lazy_load_db

    os.makedirs(DATA_DIR, exist_ok=True)
    objects = read_lazy_load_db(os.path.join(_janeaustenr_dir(), "data", "Rdata"))
    train_parts, valid_parts = [], []
    for novel in NOVELS:
        text = _reflow(objects[novel])
        cut = text.rfind("\n", 0, int(len(text) * (1 - VALIDATION_FRACTION))) + 1
        train_parts.append(text[:cut])
        valid_parts.append(text[cut:])
    with open(train_path, "w", encoding="utf-8") as f:
        f.write("".join(train_parts))
    with open(valid_path, "w", encoding="utf-8") as f:
        f.write("".join(valid_parts))
    meta = {"source": "Debian package r-cran-janeaustenr", "version": package_version("r-cran-janeaustenr"),
            "licence": "MIT (package); the novels are in the public domain", "novels": NOVELS,
            "validation": "last 5% of each novel (cut at a paragraph boundary)",
            "train_chars": sum(map(len, train_parts)), "valid_chars": sum(map(len, valid_parts))}
    with open(os.path.join(DATA_DIR, "austen_meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return train_path, valid_path


def build_vocab(text, min_count=1):
    """Characters seen at least min_count times in training text, sorted; index 0 is UNKNOWN."""
    counts = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    return [UNKNOWN] + sorted(ch for ch, n in counts.items() if n >= min_count and ch != UNKNOWN)


def encode(text, vocab):
    index = {ch: i for i, ch in enumerate(vocab)}
    return np.array([index.get(ch, 0) for ch in text], dtype=np.int64)


def decode(ids, vocab):
    return "".join(vocab[int(i)] for i in ids)


def load_text():
    """(train_text, valid_text)."""
    train_path, valid_path = prepare_text()
    with open(train_path, encoding="utf-8") as f:
        train = f.read()
    with open(valid_path, encoding="utf-8") as f:
        valid = f.read()
    return train, valid


def load_digits():
    """(images float32 [5000, 1, 28, 28] in [-1, 1], labels int64 [5000])."""
    cache = os.path.join(DATA_DIR, "digits.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        return z["images"], z["labels"]
    from PIL import Image

    sheet = np.asarray(Image.open(DIGITS_PNG).convert("L"), dtype=np.float32)  # 1000 x 2000
    rows, cols = sheet.shape[0] // 20, sheet.shape[1] // 20
    cells = sheet.reshape(rows, 20, cols, 20).transpose(0, 2, 1, 3).reshape(-1, 20, 20)
    labels = np.repeat(np.arange(10), len(cells) // 10)  # 5 rows of 100 digits per class
    padded = np.zeros((len(cells), 28, 28), dtype=np.float32)
    padded[:, 4:24, 4:24] = cells
    images = (padded / 127.5 - 1.0)[:, None]
    os.makedirs(DATA_DIR, exist_ok=True)
    np.savez_compressed(cache, images=images.astype(np.float32), labels=labels)
    return images.astype(np.float32), labels


if __name__ == "__main__":
    train, valid = load_text()
    vocab = build_vocab(train)
    print("train chars", len(train), "valid chars", len(valid), "vocab", len(vocab), repr("".join(vocab)))
    print("unknown rate valid", float((encode(valid, vocab) == 0).mean()))
    images, labels = load_digits()
    print("digits", images.shape, images.min(), images.max(), np.bincount(labels))
