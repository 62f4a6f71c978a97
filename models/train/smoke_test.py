"""Smoke test of the training code (run by `npm test`; a few seconds, no downloads).

Trains every model family for a few steps on tiny configurations and a small synthetic corpus,
checks that a run resumes from its checkpoint, exports to safetensors + config.json + golden vectors
and reloads them, and checks the reference invariants the engine relies on (causality, RoPE's relative
property, softmax_plus at the training length, the sliding window, the DDPM schedule).
Exits non-zero on any failure; the last line reads `smoke: N passed, M failed`.
"""
import math
import os
import shutil
import sys
import tempfile
import time
import traceback

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import export  # noqa: E402
import models  # noqa: E402
import safetensors_io  # noqa: E402
import train_ddpm  # noqa: E402
import train_lm  # noqa: E402

torch.set_num_threads(1)
SYNTHETIC_WORDS = ("the house was quiet and Elinor walked to Barton Cottage while Marianne read; "
                   "Mr. Darcy said, \"It is a truth!\" 1811 ").split(" ")


def synthetic_text(seed, chars):
    rng = np.random.default_rng(seed)
    words = rng.choice(SYNTHETIC_WORDS, size=chars // 4)
    return " ".join(words)[:chars] + "\n"


def synthetic_digits():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(64, 1, 28, 28)).astype(np.float32)
    return images, np.arange(64) % 10


TMP = tempfile.mkdtemp(prefix="gyre-smoke-")
data.load_text = lambda: (synthetic_text(1, 60_000), synthetic_text(2, 6_000))
data.load_digits = synthetic_digits
export.CHECKPOINT_DIR = os.path.join(TMP, "checkpoints")
export.MODELS_DIR = os.path.join(TMP, "models")
export.GOLDEN_DIR = os.path.join(TMP, "golden")
os.makedirs(export.GOLDEN_DIR)
TINY_LM = ["--tiny", "--batch", "4", "--length", "32", "--hidden", "32", "--layers", "2", "--expansion", "64",
           "--key-size", "16", "--heads", "2", "--intermediate", "64", "--eval-every", "2", "--warmup", "2",
           "--residual-warmup", "3", "--checkpoint-dir", export.CHECKPOINT_DIR]

results = []


def check(name):
    def wrap(fn):
        start = time.time()
        try:
            fn()
            results.append(True)
            print("ok   %-55s %.1f s" % (name, time.time() - start), flush=True)
        except Exception:  # report every failure, keep going
            results.append(False)
            print("FAIL %s" % name, flush=True)
            traceback.print_exc()
        return fn
    return wrap


def roundtrip_lm(name):
    """The shipped weights reproduce the checkpoint's logits; golden logits match a fresh F32 forward."""
    model, checkpoint = train_lm.model_from_checkpoint(os.path.join(export.CHECKPOINT_DIR, name + ".pt"))
    import json
    config = json.load(open(os.path.join(export.MODELS_DIR, name, "config.json"), encoding="utf-8"))
    assert config["tokenizer"]["vocab"] == checkpoint["vocab"] and config["tokenizer"]["vocab"][0] == data.UNKNOWN
    tensors, _ = safetensors_io.load_file(os.path.join(export.MODELS_DIR, name, "model.safetensors"))
    shipped = export.lm_from_tensors(config, tensors)
    golden, _ = safetensors_io.load_file(os.path.join(export.GOLDEN_DIR, name + ".safetensors"))
    ids = torch.from_numpy(golden["prompt_ids"])[None]
    with torch.no_grad():
        assert torch.equal(model(ids), shipped(ids))
        for mode, kwargs in export.LM_MODES.items():
            logits = shipped(ids, **kwargs)[0, torch.from_numpy(golden["logit_positions"])].numpy()
            assert np.abs(logits - golden[mode + ".logits"]).max() < 1e-4, mode


@check("GAU-LM softmax / softmax_plus / relu2: train, resume, export, golden")
def _():
    for normaliser in models.NORMALISERS:
        name = "gau-" + normaliser
        train_lm.main(["--name", name, "--normaliser", normaliser, "--steps", "3"] + TINY_LM)
        _, history = train_lm.main(["--name", name, "--normaliser", normaliser, "--steps", "5"] + TINY_LM)
        assert [s for s, *_ in history["train"]] == [1, 2, 3, 4, 5], history["train"]
        assert all(math.isfinite(loss) for _, loss, _ in history["train"])
        entry = export.export_lm(name)
        assert entry["length"] > 128 and set(entry["modes"]) == set(export.LM_MODES)
        roundtrip_lm(name)
    # a variant warm-started from another normaliser's weights
    _, history = train_lm.main(["--name", "gau-warm", "--normaliser", "relu2", "--init-from", "gau-softmax_plus",
                                "--steps", "2"] + TINY_LM)
    assert history["init_from"]["name"] == "gau-softmax_plus" and len(history["train"]) == 2
    # a warm restart continues a finished run with a fresh warm-up from the current step
    _, history = train_lm.main(["--name", "gau-warm", "--normaliser", "relu2", "--steps", "6",
                                "--new-schedule"] + TINY_LM)
    assert history["schedule"]["start_step"] == 2 and history["restarts"][0]["step"] == 2
    assert [s for s, *_ in history["train"]] == [1, 2, 3, 4, 5, 6], history["train"]


@check("RoFormerV2: train, export, golden")
def _():
    train_lm.main(["--name", "roformer", "--family", "roformer", "--normaliser", "softmax", "--steps", "4"]
                  + TINY_LM)
    export.export_lm("roformer")
    roundtrip_lm("roformer")
    # continuing a shipped model: its weights, its step count, a fresh warm-up and cosine from there
    _, history = train_lm.main(["--name", "roformer-continued", "--family", "roformer", "--normaliser", "softmax",
                                "--init-from", os.path.join(export.MODELS_DIR, "roformer"), "--steps", "6"] + TINY_LM)
    assert history["init_from"]["step"] == 4 and history["schedule"]["start_step"] == 4
    assert [s for s, *_ in history["train"]] == [5, 6], history["train"]


def tiny_unet_args():
    """train_ddpm arguments for a U-Net small enough to train a few steps in a test."""
    return ["--base-channels", "8", "--groups", "4", "--time-dim", "16", "--batch", "4", "--log-every", "1",
            "--checkpoint-dir", export.CHECKPOINT_DIR]


@check("DDPM U-Net: train, resume, export (time table), golden trajectory")
def _():
    tiny = ["--name", "ddpm"] + tiny_unet_args()
    train_ddpm.main(tiny + ["--steps", "2"])
    _, _, history = train_ddpm.main(tiny + ["--steps", "3"])
    assert len(history["train"]) == 3
    entry = export.export_ddpm("ddpm", figures=False)
    golden, _ = safetensors_io.load_file(os.path.join(export.GOLDEN_DIR, entry["file"]))
    assert golden["ddim.x"].shape == (10, 1, 28, 28)
    import json
    config = json.load(open(os.path.join(export.MODELS_DIR, "ddpm", "config.json")))
    tensors, _ = safetensors_io.load_file(os.path.join(export.MODELS_DIR, "ddpm", "model.safetensors"))
    model = models.unet_from_tensors(config, tensors)
    ema, _ = train_ddpm.model_from_checkpoint(os.path.join(export.CHECKPOINT_DIR, "ddpm.pt"))
    x, k = torch.from_numpy(golden["eps.x"]), torch.from_numpy(golden["eps.k"])
    with torch.no_grad():
        # the shipped time table equals the trained time MLP; golden eps match an F32 forward
        assert (model(x, k) - ema(x, k)).abs().max() < 1e-5
        assert np.abs(model(x, k).numpy() - golden["eps.eps"]).max() < 1e-4


@check("DDPM U-Net: --widen-from (exact at 2x, close at 1.5x), then trains")
def _():
    tiny = tiny_unet_args()
    train_ddpm.main(tiny + ["--name", "narrow", "--steps", "2"])
    narrow, _ = train_ddpm.model_from_checkpoint(os.path.join(export.CHECKPOINT_DIR, "narrow.pt"))
    x = torch.randn((3, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    k = torch.tensor([0, 400, 999])
    with torch.no_grad():
        reference = narrow(x, k)
        unrelated = (models.UNet(base_channels=12, groups=4, time_dim=16).eval()(x, k) - reference).abs().max()
        # doubling copies every channel of a group once: GroupNorm statistics, and so the function, are
        # unchanged; 1.5x counts some channels twice in their group's statistics, so it only stays close
        # (about 0.1 here, against about 3 for a freshly initialised net of that width)
        for base, bound in ((16, 1e-5), (12, 0.25 * unrelated.item())):
            wide = models.UNet(base_channels=base, groups=4, time_dim=16)
            train_ddpm.widen_unet(narrow, wide, noise=0.0)
            difference = (wide.eval()(x, k) - reference).abs().max().item()
            assert difference < bound, (base, difference, bound)
    _, _, history = train_ddpm.main(tiny[2:] + ["--base-channels", "12", "--name", "wide", "--steps", "2",
                                                "--widen-from", os.path.join(export.CHECKPOINT_DIR, "narrow.pt")])
    assert history["widened_from"]["base_channels"] == 8 and len(history["train"]) == 2


@check("DDPM U-Net: --condition-from (starts as the unconditional net), export, labelled golden")
def _():
    tiny = tiny_unet_args()
    train_ddpm.main(tiny + ["--name", "plain", "--steps", "2"])
    plain, _ = train_ddpm.model_from_checkpoint(os.path.join(export.CHECKPOINT_DIR, "plain.pt"))
    conditional = models.UNet(base_channels=8, groups=4, time_dim=16, classes=10)
    conditional.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn((3, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    k = torch.tensor([0, 400, 999])
    with torch.no_grad():
        # the class table starts at zero: every label, and "any", is the unconditional net
        for label in (None, torch.tensor([0, 5, 9])):
            assert (conditional.eval()(x, k, label) - plain(x, k)).abs().max() == 0
    _, _, history = train_ddpm.main(tiny + ["--name", "cond", "--steps", "3", "--classes", "10", "--lr", "0.05", "--warmup", "1",
                                           "--condition-from", os.path.join(export.CHECKPOINT_DIR, "plain.pt")])
    assert history["conditioned_from"]["steps"] == 2 and len(history["train"]) == 3
    entry = export.export_ddpm("cond", figures=False)
    golden, _ = safetensors_io.load_file(os.path.join(export.GOLDEN_DIR, entry["file"]))
    import json
    config = json.load(open(os.path.join(export.MODELS_DIR, "cond", "config.json")))
    assert config["architecture"]["classes"] == 10 and "class_embedding" in config
    tensors, _ = safetensors_io.load_file(os.path.join(export.MODELS_DIR, "cond", "model.safetensors"))
    assert tensors["class_table.weight"].shape == (11, 16)
    shipped = models.unet_from_tensors(config, tensors)
    x, k = torch.from_numpy(golden["eps.x"]), torch.from_numpy(golden["eps.k"])
    labels = torch.from_numpy(golden["eps.labels"])
    with torch.no_grad():
        assert np.abs(shipped(x, k, labels).numpy() - golden["eps.eps_labelled"]).max() < 1e-4
        assert np.abs(shipped(x, k).numpy() - golden["eps.eps"]).max() < 1e-4
        assert np.abs(golden["eps.eps_labelled"] - golden["eps.eps"]).max() > 1e-3  # trained: labels matter


@check("safetensors: F32 exact, F16 rounding, header alignment")
def _():
    path = os.path.join(TMP, "t.safetensors")
    tensors = {"a": np.linspace(-3, 3, 7, dtype=np.float32).reshape(7, 1), "b": np.arange(5, dtype=np.int64)}
    safetensors_io.save_file(tensors, path, metadata={"k": "v"})
    loaded, meta = safetensors_io.load_file(path)
    assert meta == {"k": "v"} and np.array_equal(loaded["a"], tensors["a"]) and np.array_equal(loaded["b"], tensors["b"])
    with open(path, "rb") as f:
        assert int.from_bytes(f.read(8), "little") % 8 == 0
    safetensors_io.save_file(tensors, path, dtype="F16")
    loaded, _ = safetensors_io.load_file(path)
    assert np.abs(loaded["a"] - tensors["a"]).max() < 2e-3


@check("reference invariants: causality, RoPE, softmax_plus, window, schedule")
def _():
    torch.manual_seed(0)
    for normaliser in models.NORMALISERS:
        model = models.GauLM(20, hidden=16, layers=2, expansion=32, key_size=8, normaliser=normaliser,
                             train_length=16).eval()
        ids = torch.randint(0, 20, (1, 40))
        changed = ids.clone()
        changed[0, 25] = (ids[0, 25] + 1) % 20
        with torch.no_grad():
            a, b = model(ids), model(changed)
        assert torch.equal(a[0, :25], b[0, :25]) and not torch.equal(a[0, 25], b[0, 25]), normaliser
        # a one-layer model with window w equals the full model applied to the last w tokens
        one = models.GauLM(20, hidden=16, layers=1, expansion=32, key_size=8, normaliser=normaliser,
                           train_length=16).eval()
        with torch.no_grad():
            windowed = one(ids, window=12)[0, -1]
            truncated = one(ids[:, -12:])[0, -1]
        assert torch.allclose(windowed, truncated, atol=1e-5), normaliser
    # RoPE: scores depend only on the offset
    q, k = torch.randn(8), torch.randn(8)
    cos, sin = models.rope_tables(40, 8, dtype=torch.float64)
    score = lambda m, n: float(models.apply_rope(q.double(), cos[m], sin[m]) @ models.apply_rope(k.double(), cos[n], sin[n]))
    assert abs(score(3, 10) - score(20, 27)) < 1e-12
    # interleaved layout, hand-computed 2-D case: (1, 0) rotated by 1 rad at position 1
    c, s = models.rope_tables(2, 2, dtype=torch.float64)
    y = models.apply_rope(torch.tensor([1.0, 0.0], dtype=torch.float64), c[1], s[1])
    assert torch.allclose(y, torch.tensor([math.cos(1.0), math.sin(1.0)], dtype=torch.float64))
    # softmax_plus equals softmax where l = train_length and uses the clamp max(l, 16) below it
    scores = torch.randn(1, 32, 32)
    plus = models.attention_weights(scores, "softmax_plus", train_length=32)
    plain = models.attention_weights(scores, "softmax", train_length=32)
    assert torch.allclose(plus[0, 31], plain[0, 31], atol=1e-6)
    expected = torch.softmax(scores[0, 3, :4] * math.log(16) / math.log(32), -1)
    assert torch.allclose(plus[0, 3, :4], expected, atol=1e-6)
    relu = models.attention_weights(scores, "relu2", train_length=32)
    assert torch.allclose(relu[0, 9], torch.relu(scores[0, 9]).square() * (torch.arange(32) <= 9) / 10)
    # Su's schedule
    _, beta, bar_alpha, _ = models.ddpm_schedule(1000)
    assert abs(float(bar_alpha[-1]) - 0.006482) < 1e-5 and abs(float(beta[0]) - 0.004472) < 1e-5


@check("R lazy-load reader on r-cran-janeaustenr (skipped when not installed)")
def _():
    base = os.path.join(data.JANEAUSTENR_DIR, "data", "Rdata")
    if not os.path.exists(base + ".rdx"):
        print("     (r-cran-janeaustenr not installed: reader not exercised)")
        return
    import rdata
    objects = rdata.read_lazy_load_db(base)
    assert set(data.NOVELS) <= set(objects) and objects["prideprejudice"][0] == "PRIDE AND PREJUDICE"


shutil.rmtree(TMP, ignore_errors=True)
passed = sum(results)
failed = len(results) - passed
print("smoke: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
