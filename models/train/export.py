"""Export trained checkpoints to models/<name>/ (model.safetensors, config.json, curve PNGs) and write
the golden vectors the engine's tests compare against (tests/golden/<name>.safetensors + golden.json).

  /usr/bin/python3 models/train/export.py                # every checkpoint found
  /usr/bin/python3 models/train/export.py gau-lm-softmax  # just one

flash-lm (F32 by default) is measured in F32 / F16 / int8 per row and shipped int8 when bits/char moves by
at most 0.01 (models/weight-dtypes.json), in the same command.

Golden vectors are computed in float64 from the weights exactly as shipped (re-read from the exported
safetensors), so an F32 engine is compared with the exact function of the shipped weights.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import evaluate_ddpm  # noqa: E402
import safetensors_io  # noqa: E402
from models import (FlashLM, GauLM, RMS_EPS, ROPE_BASE, RoFormerV2LM, SOFTMAX_PLUS_MIN_LENGTH, UNet,  # noqa: E402
                    ddim_strided, ddpm_schedule, rope_tables, unet_from_tensors)

CHECKPOINT_DIR = os.path.join(data.ROOT, "models", "checkpoints")
MODELS_DIR = os.path.join(data.ROOT, "models")
GOLDEN_DIR = os.path.join(data.ROOT, "tests", "golden")
GOLDEN_PROMPT_CHARS = 200
GOLDEN_PROMPT_OFFSET = 1000  # into the validation text
GOLDEN_WINDOW = 64
GOLDEN_HIDDEN_POSITIONS = [0, 1, 63, 127, 128, 199]
LM_MODES = {"full": dict(window=None, logn=False), "full_logn": dict(window=None, logn=True),
            "window_%d" % GOLDEN_WINDOW: dict(window=GOLDEN_WINDOW, logn=False)}
FLASH_MODES = {"full": LM_MODES["full"]}  # FLASH has no window or log-n option
INT8_MAX_BITS_CHANGE = 0.01  # ship int8 per row when bits/char moves by at most this
FAMILIES = {"gau": "gau-lm", "flash": "flash-lm", "roformer": "roformer-v2"}
DDPM_GOLDEN_STEPS = [0, 10, 100, 500, 999]
DDIM_STRIDE = 100
DDPM_GOLDEN_LABELS = [0, 1, 2, 5, 9]  # the digits the golden x_t are noised from (conditional nets)
DDIM_GOLDEN_LABEL = 3


def lm_config(name, checkpoint, dtype):
    config = checkpoint["model_config"]
    family = FAMILIES[checkpoint["family"]]
    if family == "flash-lm":
        return flash_lm_config(name, checkpoint, dtype)
    gau = family == "gau-lm"
    architecture = dict(config)
    tensors = {"embeddings.weight": "[vocab, hidden] token embeddings (input side only)",
               "output.weight": "[vocab, hidden] output projection, logits = h @ W.T (untied, no bias)"}
    if gau:
        tensors.update({
            "layers.{i}.i_dense.weight": "[2*expansion + key_size, hidden]: rows 0..e-1 -> U, e..2e-1 -> V, "
                                         "2e..2e+s-1 -> Z; all three through SiLU",
            "layers.{i}.q_scale": "[key_size] q = Z * q_scale (no offset)",
            "layers.{i}.k_scale": "[key_size] k = Z * k_scale (no offset)",
            "layers.{i}.o_dense.weight": "[hidden, expansion] out = (U * (A @ V)) @ W.T"})
    else:
        tensors.update({
            "attentions.{i}.{q,k,v,o}_dense.weight": "[hidden, hidden]; heads are contiguous column blocks "
                                                     "of head_size = hidden / heads",
            "feed_forwards.{i}.i_dense.weight": "[intermediate, hidden], followed by ReLU",
            "feed_forwards.{i}.o_dense.weight": "[hidden, intermediate]"})
    return {
        "format": "gyre-model", "format_version": 1, "name": name, "family": family,
        "architecture": architecture,
        "forward": ("x = rmsnorm(E[ids]); per layer: x = rmsnorm(x + GAU(x)); logits = x @ W_out.T" if gau else
                    "x = rmsnorm(E[ids]); per layer: x = rmsnorm(x + MHA(x)); x = rmsnorm(x + FFN(x)); "
                    "logits = x @ W_out.T"),
        "activation": "silu" if gau else "relu",
        "norm": {"type": "rmsnorm", "eps": RMS_EPS, "gain": False, "offset": False, "placement": "post",
                 "formula": "x / sqrt(mean(x^2) + eps)"},
        "rope": {"base": ROPE_BASE, "layout": "interleaved", "positions": "0-based", "applied_to": ["q", "k"],
                 "tables": "angle m * theta_i in float64, cos and sin then rounded to float32",
                 "dim": config["key_size"] if gau else config["hidden"] // config["heads"]},
        "attention": {
            "causal": True, "heads": 1 if gau else config["heads"],
            "scale": "1/sqrt(key_size)" if gau else "1/sqrt(head_size)",
            "normaliser": config["normaliser"],
            "normaliser_formula": {
                "softmax": "softmax(a) over visible keys",
                "softmax_plus": "softmax(a * log(max(l, %d)) / log(train_length)) over visible keys"
                                % SOFTMAX_PLUS_MIN_LENGTH,
                "relu2": "relu(a)^2 / l on visible keys"}[config["normaliser"]],
            "softmax_plus_min_length": SOFTMAX_PLUS_MIN_LENGTH,
            "visible_count": "l = number of keys query i sees: i + 1, or min(i + 1, window) with a window",
            "window": "optional at inference: keys j with i - window < j <= i",
            "logn_post_hoc": "optional at inference: a *= max(1, log(l) / log(train_length)) before the "
                             "normaliser; not applied to softmax_plus, which contains the factor",
            "train_length": config["train_length"]},
        "residual_scale": 1.0,
        **lm_common(checkpoint, dtype, tensors),
    }


def lm_common(checkpoint, dtype, tensors):
    """The tokenizer, weights, parameter and training entries every language model's config shares."""
    config, args, history = checkpoint["model_config"], checkpoint["args"], checkpoint["history"]
    meta_path = os.path.join(data.DATA_DIR, "austen_meta.json")
    meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
    return {
        "tokenizer": {"type": "char", "vocab": checkpoint["vocab"], "unknown_id": 0,
                      "unknown_symbol": data.UNKNOWN,
                      "note": "one token per Unicode code point; characters outside vocab map to unknown_id"},
        "weights": {"file": "model.safetensors", "dtype": dtype,
                    "layout": "linear weights are [out, in] and applied as y = x @ W.T; no biases",
                    "tensors": tensors},
        "parameters": checkpoint["parameters"],
        "training": {
            "data": meta.get("source", "r-cran-janeaustenr"), "data_version": meta.get("version"),
            "validation": meta.get("validation"), "train_length": config["train_length"],
            "steps": checkpoint["step"], "batch": args["batch"],
            "tokens_seen": checkpoint["step"] * args["batch"] * args["length"],
            "minutes": round(checkpoint["elapsed"] / 60, 1),
            "optimizer": "AdamW(betas 0.9/0.98, wd %g), peak lr %g, warm-up %d, cosine to %g x" %
                         (args["weight_decay"], args["lr"], args["warmup"], args["final_lr_fraction"]),
            "residual_warmup_steps": args["residual_warmup"],
            "initialised_from": history.get("init_from"),
            "final_valid_bits_per_char": history.get("final_valid_bits"),
            "last_valid_bits_per_char_64_windows": history["valid"][-1][1] if history["valid"] else None},
    }


def flash_lm_config(name, checkpoint, dtype):
    """config.json of a FLASH LM (models.FlashLM): GAU-LM's skeleton with mixed-chunk attention."""
    config = checkpoint["model_config"]
    tensors = {
        "embeddings.weight": "[vocab, hidden] token embeddings (input side only)",
        "output.weight": "[vocab, hidden] output projection, logits = h @ W.T (untied, no bias)",
        "layers.{i}.i_dense.weight": "[2*expansion + key_size, hidden]: rows 0..e-1 -> U, e..2e-1 -> V, "
                                     "2e..2e+s-1 -> Z; all three through SiLU",
        "layers.{i}.qk_scale": "[4, key_size] rows 0..3 scale Z into Qq, Kq, Ql, Kl",
        "layers.{i}.qk_offset": "[4, key_size] rows 0..3 offset Z into Qq, Kq, Ql, Kl: Qq = Z * qk_scale[0] "
                                "+ qk_offset[0], ...",
        "layers.{i}.o_dense.weight": "[hidden, expansion] out = (U * mixed_chunk_attention(...)) @ W.T"}
    return {
        "format": "gyre-model", "format_version": 1, "name": name, "family": "flash-lm",
        "architecture": dict(config),
        "forward": "x = rmsnorm(E[ids]); per layer: x = rmsnorm(x + FLASH(x)); logits = x @ W_out.T",
        "activation": "silu",
        "norm": {"type": "rmsnorm", "eps": RMS_EPS, "gain": False, "offset": False, "placement": "post",
                 "formula": "x / sqrt(mean(x^2) + eps)"},
        "rope": {"base": ROPE_BASE, "layout": "interleaved", "positions": "0-based", "applied_to": ["Qq", "Kq", "Ql", "Kl"],
                 "tables": "angle m * theta_i in float64, cos and sin then rounded to float32",
                 "dim": config["key_size"]},
        "attention": {
            "type": "flash_mixed_chunk", "causal": True, "heads": 1, "chunk": config["chunk"],
            "formula": "for the chunk g holding token t (chunks of c = chunk tokens from position 0): "
                       "quad_t = sum over u in chunk g, u <= t of relu(Qq_t . Kq_u)^2 V_u / (c * key_size); "
                       "lin_t = Ql_t . (sum over u < g*c of Kl_u^T V_u) / (g*c), 0 in the first chunk; "
                       "out_t = quad_t + lin_t (docs/ALGORITHMS.md 3.4, kernels::flash_mixed_chunk)",
            "window": "none: FLASH has no window or log-n option (the engine refuses them)",
            "train_length": config["train_length"]},
        "residual_scale": 1.0,
        **lm_common(checkpoint, dtype, tensors),
    }


def file_sha256(path):
    """Hex SHA-256 of a file: recorded in config.json so the engine can check the weights it loads."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lm_from_tensors(config, tensors):
    arch = config["architecture"]
    model = {"gau-lm": GauLM, "flash-lm": FlashLM, "roformer-v2": RoFormerV2LM}[config["family"]](**arch)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    return model.eval()


def golden_lm(name, model, vocab, valid_text):
    prompt = valid_text[GOLDEN_PROMPT_OFFSET:GOLDEN_PROMPT_OFFSET + GOLDEN_PROMPT_CHARS]
    ids = torch.from_numpy(data.encode(prompt, vocab))[None]
    n = ids.shape[1]
    positions = sorted(set(range(0, n, 8)) | {n - 1})
    model = model.double()
    gau = isinstance(model, GauLM)
    flash = isinstance(model, FlashLM)
    modes = FLASH_MODES if flash else LM_MODES
    out = {"prompt_ids": ids[0], "logit_positions": torch.tensor(positions),
           "hidden_positions": torch.tensor(GOLDEN_HIDDEN_POSITIONS)}
    with torch.no_grad():
        for mode, kwargs in modes.items():
            logits, hidden = model(ids, return_hidden=True, **kwargs)
            logp = torch.log_softmax(logits[0], -1)
            out[mode + ".logits"] = logits[0, positions]
            out[mode + ".nll"] = -logp[:-1].gather(1, ids[0, 1:, None])[:, 0]
            if mode == "full":
                out["full.hidden"] = torch.stack([h[0, GOLDEN_HIDDEN_POSITIONS] for h in hidden])
            if flash:
                continue  # no attention matrix: the mixed-chunk attention is never normalised per query
            # attention weights of the first and last layer for the last query
            dim = model.key_size if gau else model.head_size
            cos, sin = rope_tables(n, dim, dtype=torch.float64)
            blocks = model.layers if gau else model.attentions
            for layer_index in (0, len(blocks) - 1):
                _, attention = blocks[layer_index](hidden[layer_index] if gau else hidden[layer_index],
                                                   cos, sin, return_attention=True, **kwargs)
                out["%s.attention_layer%d_last_query" % (mode, layer_index)] = attention[0, ..., -1, :]
    path = os.path.join(GOLDEN_DIR, name + ".safetensors")
    safetensors_io.save_file(out, path, metadata={"model": name}, dtype="F32")
    return {"file": name + ".safetensors", "model": "models/%s/" % name, "prompt": prompt, "length": n,
            "modes": {mode: {"window": kw["window"], "logn": kw["logn"]} for mode, kw in modes.items()},
            "tensors": {
                "prompt_ids": "[n] I64 token ids of `prompt`",
                "logit_positions": "[p] positions whose logits are stored",
                "<mode>.logits": "[p, vocab] logits at logit_positions",
                "<mode>.nll": "[n-1] natural-log loss of token i+1 given tokens 0..i",
                **({} if flash else {
                    "<mode>.attention_layer<k>_last_query": "attention weights of layer k for the last query "
                                                             "([n] for GAU, [heads, n] for MHA)"}),
                "hidden_positions": "[q] positions whose hidden states are stored",
                "full.hidden": "[layers+1, q, hidden]: index 0 = rmsnorm(E[ids]), index k = output of layer k"},
            "tolerance": {"logits_abs": 1e-4, "nll_abs": 1e-4, "hidden_abs": 1e-4, "attention_abs": 1e-5},
            "computed_in": "float64 from the shipped weights"}


def write_lm_curve(name, checkpoint, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = np.array(checkpoint["history"]["train"])
    valid = np.array(checkpoint["history"]["valid"])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    window = 25
    if len(train) > window:
        smooth = np.convolve(train[:, 1], np.ones(window) / window, mode="valid")
        ax.plot(train[window - 1:, 0], smooth, label="train (moving mean of %d steps)" % window, lw=1)
    if len(valid):
        ax.plot(valid[:, 0], valid[:, 1], "o-", ms=3, label="validation (64 windows of %d)" %
                checkpoint["model_config"]["train_length"])
    ax.set_xlabel("step (batch %d x %d chars)" % (checkpoint["args"]["batch"], checkpoint["args"]["length"]))
    ax.set_ylabel("bits / char")
    ax.set_ylim(1.0, 4.5)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(name)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "training-curve.png"))
    plt.close(fig)


def export_lm(name, dtype="F32"):
    checkpoint = torch.load(os.path.join(CHECKPOINT_DIR, name + ".pt"), map_location="cpu")
    out_dir = os.path.join(MODELS_DIR, name)
    os.makedirs(out_dir, exist_ok=True)
    config = lm_config(name, checkpoint, dtype)
    tensors = {k: v for k, v in checkpoint["model"].items() if k != "residual_scale"}
    safetensors_io.save_file(tensors, os.path.join(out_dir, "model.safetensors"), dtype=dtype,
                             metadata={"format": "gyre-model", "name": name})
    config["weights"]["sha256"] = file_sha256(os.path.join(out_dir, "model.safetensors"))
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1, ensure_ascii=False)
    write_lm_curve(name, checkpoint, out_dir)
    if config["family"] == "flash-lm" and dtype == "F32":
        return ship_int8_if_close(name, config)
    shipped, _ = safetensors_io.load_file(os.path.join(out_dir, "model.safetensors"))
    model = lm_from_tensors(config, shipped)
    _, valid_text = data.load_text()
    return golden_lm(name, model, checkpoint["vocab"], valid_text)


def ship_int8_if_close(name, config):
    """Measure the F32 weights against F16 and int8 per row (reencode.measure_lm, recorded in
    models/weight-dtypes.json) and ship int8 when bits/char moves by at most INT8_MAX_BITS_CHANGE, as the
    other LMs are shipped; then write the golden vectors from the weights as shipped."""
    import reencode
    tensors, _ = safetensors_io.load_file(os.path.join(MODELS_DIR, name, "model.safetensors"))
    _, valid_text = data.load_text()
    measured = reencode.measure_lm(config, tensors, data.encode(valid_text, config["tokenizer"]["vocab"]))
    results = json.load(open(reencode.RESULTS)) if os.path.exists(reencode.RESULTS) else {}
    results[name] = measured
    with open(reencode.RESULTS, "w") as f:
        json.dump(results, f, indent=1)
    bits = measured["bits_per_char"]
    change = bits["int8_per_row"] - bits["F32"]
    dtype = "I8" if abs(change) <= INT8_MAX_BITS_CHANGE else "F32"
    print("%s: bits/char F32 %.4f, int8 per row %.4f (%+.4f): shipping %s" % (
        name, bits["F32"], bits["int8_per_row"], change, dtype), flush=True)
    return reencode.rewrite(name, config, tensors, dtype)


def unet_program(config):
    """The U-Net forward as a flat list of operations (mirrors UNet.forward; the engine may follow it)."""
    ops, depth = ["stem", "push"], len(config["multipliers"])
    side, pooled = config["image_size"], []
    for level in range(depth):
        for b in range(config["blocks"]):
            ops += ["block down.%d" % (level * config["blocks"] + b), "push"]
        pooled.append(side > config["min_pixel"])
        if pooled[-1]:
            side //= 2
            ops += ["avgpool2", "push"]
    ops += ["block middle", "pop_discard"]
    up = 0
    for level in reversed(range(depth)):
        if pooled[level]:
            ops += ["upsample_nearest2", "add_pop"]
        for _ in range(config["blocks"]):
            ops += ["block up.%d" % up, "add_pop"]
            up += 1
    return ops + ["head_norm", "head"]


def golden_ddpm(name, model):
    model = model.double()
    images, _ = data.load_digits()
    _, _, bar_alpha, bar_beta = ddpm_schedule(1000)
    generator = torch.Generator().manual_seed(1234)
    k = torch.tensor(DDPM_GOLDEN_STEPS)
    n = len(images)
    x0 = torch.from_numpy(images[[0, n // 10, n // 5, n // 2, n - 1]]).double()  # digits 0, 1, 2, 5, 9
    noise = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
    xt = bar_alpha[k][:, None, None, None] * x0 + bar_beta[k][:, None, None, None] * noise
    # round the stored inputs to float32 first so the engine sees exactly the same inputs
    xt = xt.float().double()
    start = torch.randn((1, 1, 28, 28), generator=torch.Generator().manual_seed(4321)).double()
    labels = torch.tensor(DDPM_GOLDEN_LABELS)
    trajectory_label = torch.tensor([DDIM_GOLDEN_LABEL]) if model.classes else None
    trajectory, eps_steps = [], []
    with torch.no_grad():
        eps = model(xt, k)
        labelled = model(xt, k, labels) if model.classes else None

        def record(_, x, e):
            trajectory.append(x[0].clone())
            eps_steps.append(e[0].clone())

        final = ddim_strided(model, start.clone(), stride=DDIM_STRIDE, eta=0.0, on_step=record,
                             label=trajectory_label)
    out = {"eps.k": k, "eps.x": xt, "eps.eps": eps, "ddim.start": start, "ddim.x": torch.stack(trajectory),
           "ddim.eps": torch.stack(eps_steps), "ddim.final": final[0]}
    described = {}
    if model.classes:
        out.update({"eps.labels": labels, "eps.eps_labelled": labelled, "ddim.label": trajectory_label})
        described = {"eps.labels": "[5] a class per image (the digit each x_t was noised from)",
                     "eps.eps_labelled": "[5, 1, 28, 28] predicted noise given those labels",
                     "ddim.label": "[1] the class the trajectory is drawn for"}
    safetensors_io.save_file(out, os.path.join(GOLDEN_DIR, name + ".safetensors"), metadata={"model": name})
    return {"file": name + ".safetensors", "model": "models/%s/" % name,
            "tensors": {"eps.k": "[5] network time index k = t - 1",
                        "eps.x": "[5, 1, 28, 28] inputs x_t (noised digits)",
                        "eps.eps": "[5, 1, 28, 28] predicted noise" + (" for any class" if model.classes else ""),
                        **described,
                        "ddim.start": "[1, 1, 28, 28] the fixed starting noise x_T",
                        "ddim.x": "[10, 1, 28, 28] x after each strided step (stride %d, eta 0, before the "
                                  "final clamp), in order of execution (k = 900, 800, ..., 0)" % DDIM_STRIDE,
                        "ddim.eps": "[10, 1, 28, 28] the network output at each step",
                        "ddim.final": "[1, 28, 28] clamp(x, -1, 1) after the last step"},
            "ddim": {"stride": DDIM_STRIDE, "eta": 0.0, "steps": 10},
            "tolerance": {"eps_abs": 1e-4, "trajectory_abs": 1e-3},
            "computed_in": "float64 from the shipped weights"}


def write_ddpm_figures(name, checkpoint, model, out_dir, samples=36):
    """Training curve, sample grids of three samplers from the same noise, and their quality."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = np.array(checkpoint["history"]["train"])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    window = 50
    smooth = np.convolve(train[:, 1], np.ones(window) / window, mode="valid")
    ax.plot(train[window - 1:, 0], smooth, lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("step (batch %d)" % checkpoint["args"]["batch"])
    ax.set_ylabel("loss: per-image sum of squared errors (moving mean of %d)" % window)
    ax.grid(alpha=0.3, which="both")
    ax.set_title(name)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "training-curve.png"))
    plt.close(fig)

    if samples:
        grids = evaluate_ddpm.draw_samples(model.float(), samples)
        evaluate_ddpm.write_grids(out_dir, grids)
        evaluate_ddpm.evaluate_samples(out_dir, grids)


def export_ddpm(name, dtype="F32", figures=True, samples=36):
    checkpoint = torch.load(os.path.join(CHECKPOINT_DIR, name + ".pt"), map_location="cpu")
    out_dir = os.path.join(MODELS_DIR, name)
    os.makedirs(out_dir, exist_ok=True)
    model = UNet(**checkpoint["model_config"])
    model.load_state_dict(checkpoint["ema"])
    model.freeze_time_table()
    tensors = {k: v for k, v in model.state_dict().items() if not k.startswith("time_")}
    tensors["time_table"] = model.time_table
    safetensors_io.save_file(tensors, os.path.join(out_dir, "model.safetensors"), dtype=dtype,
                             metadata={"format": "gyre-model", "name": name})
    arch = checkpoint["model_config"]
    alpha, beta, bar_alpha, bar_beta = ddpm_schedule(arch["steps"])
    config = {
        "format": "gyre-model", "format_version": 1, "name": name, "family": "ddpm-unet",
        "architecture": arch,
        "program": unet_program(arch),
        "block": "h = x + time_dense(t_emb)[per channel]; h = silu(conv1(h)); h = silu(conv2(h)); "
                 "out = groupnorm(h + (x if no skip else skip(x)))",
        "conv": "3x3, stride 1, zero padding 1, no bias, weights [out, in, 3, 3] (OIHW); skip is 1x1",
        "group_norm": {"groups": arch["groups"], "eps": 1e-6, "grouping": "contiguous channels",
                       "affine": "per-channel weight and bias"},
        "time_embedding": "t_emb = time_table[k], k = t - 1 in [0, T); the table is a trained function of k",
        **({"class_embedding": "t_emb += class_table.weight[label]: a row per class (digit 0-9), the last "
                               "row for any class (trained on labels dropped %g of the time)" %
                               checkpoint["args"]["label_dropout"]} if arch.get("classes") else {}),
        "pool": "2x2 average", "upsample": "nearest 2x", "activation": "silu", "layout": "NCHW",
        "image": {"size": arch["image_size"], "channels": arch["image_channels"], "range": [-1, 1],
                  "pixel": "value = ink / 127.5 - 1 (white ink on black)"},
        "schedule": {"T": arch["steps"], "alpha_t": "sqrt(1 - 0.02 t / T), t = 1..T (Su's notation: square "
                     "roots of the paper's)", "bar_alpha_T": float(bar_alpha[-1]),
                     "prediction": "epsilon (total noise)", "index": "network input k = t - 1"},
        "sampling": {"ancestral": "x <- (x - beta_t^2 / bar_beta_t * eps) / alpha_t + sigma_t z, sigma_t = beta_t",
                     "ddim_strided": "bar_alpha' = bar_alpha[::stride] (from t = 1), see docs/ALGORITHMS.md 6.5",
                     "clip": [-1, 1]},
        "weights": {"file": "model.safetensors", "dtype": dtype, "ema": checkpoint["args"]["ema"],
                    "sha256": file_sha256(os.path.join(out_dir, "model.safetensors"))},
        "parameters": sum(v.numel() for v in tensors.values()),
        "training": {"data": "Debian opencv-doc digits.png (5000 digits, 500 per class, 20x20 padded to 28x28)",
                     "data_version": data.package_version("opencv-doc"), "steps": checkpoint["step"],
                     "batch": checkpoint["args"]["batch"], "minutes": round(checkpoint["elapsed"] / 60, 1),
                     "loss": "per-image sum of squared errors",
                     "optimizer": "AdamW, peak lr %g, warm-up %d, cosine to 0.1x, EMA %g" % (
                         checkpoint["args"]["lr"], checkpoint["args"]["warmup"], checkpoint["args"]["ema"])},
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    shipped, _ = safetensors_io.load_file(os.path.join(out_dir, "model.safetensors"))
    model = unet_from_tensors(config, shipped)
    if figures:
        write_ddpm_figures(name, checkpoint, model, out_dir, samples)
    return golden_ddpm(name, model)


def update_manifest(entries):
    path = os.path.join(GOLDEN_DIR, "golden.json")
    manifest = json.load(open(path)) if os.path.exists(path) else {"models": {}}
    manifest["generator"] = "models/train/export.py"
    manifest["models"].update(entries)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*")
    p.add_argument("--dtype", default="F32", choices=["F32", "F16"])
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--samples-from-engine", action="store_true",
                   help="DDPM: write the training curve but draw no samples here; the card's grids and quality "
                        "then come from scripts/draw-digits.mjs and evaluate_ddpm.py --from-engine")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    names = args.names or sorted(f[:-3] for f in os.listdir(CHECKPOINT_DIR) if f.endswith(".pt"))
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    entries = {}
    for name in names:
        kind = torch.load(os.path.join(CHECKPOINT_DIR, name + ".pt"), map_location="cpu").get("family")
        entries[name] = export_lm(name, args.dtype) if kind else export_ddpm(
            name, args.dtype, not args.no_figures, 0 if args.samples_from_engine else 36)
        print("exported", name, flush=True)
    update_manifest(entries)


if __name__ == "__main__":
    main()
