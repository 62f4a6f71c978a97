"""PyTorch reference models of Gyre: the definitions the C++ engine must reproduce exactly.

Conventions shared by every model here (and written into each config.json):
* Linear weights are stored as [out, in] and applied as y = x @ W.T. There are no biases anywhere in the
  language models (RoFormerV2 style).
* RMSNorm has no gain and no offset: y = x / sqrt(mean(x^2) + RMS_EPS), RMS_EPS = 1e-6.
* RoPE is interleaved (pair i = components 2i, 2i+1), base 10000, theta_i = 10000^(-2i/dim), 0-based
  positions, applied to queries and keys only.
* Post-norm residuals with the RoFormerV2 warm-up: x <- RMSNorm(x + alpha * F(x)); alpha rises linearly
  from 0 to 1 during the first training steps and is exactly 1 in every exported model.
* Causal attention. For query i (0-based) the visible keys are j <= i, and with a sliding window w only
  i - w < j <= i. l = the number of visible keys (i + 1, or min(i + 1, w)).
* Attention scores are a = q.k / sqrt(key_size); the normaliser turns a row of scores into weights:
    softmax       : softmax over the visible keys
    softmax_plus  : softmax(a * log(max(l, 16)) / log(train_length)) over the visible keys
    relu2         : relu(a)^2 / l on the visible keys (0 elsewhere)
  The optional post-hoc log-n scale (logn) multiplies a by max(1, log(l) / log(train_length)) before
  the normaliser. softmax_plus already contains that factor, so logn is ignored for it.
* Language model logits come from an untied output matrix without bias: logits = h @ W_out.T.
  (Tying it to the input embedding, as RoFormerV2's MLM head does, makes a freshly initialised
  causal LM predict "the current character again" with a logit of sqrt(hidden).)
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

RMS_EPS = 1e-6
ROPE_BASE = 10000.0
SOFTMAX_PLUS_MIN_LENGTH = 16
NORMALISERS = ("softmax", "softmax_plus", "relu2")
TRUNC_NORMAL_FACTOR = 1.13684723  # undoes the variance lost by truncating a normal at 2 sigma


def rms_norm(x, eps=RMS_EPS):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def rope_tables(length, dim, device=None, dtype=torch.float32):
    """cos and sin tables [length, dim], each angle repeated for its interleaved pair (computed in
    float64, then rounded to dtype)."""
    inv_freq = ROPE_BASE ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    positions = torch.arange(length, dtype=torch.float64)
    angles = positions[:, None] * inv_freq[None, :]
    cos = angles.cos().repeat_interleave(2, dim=-1)
    sin = angles.sin().repeat_interleave(2, dim=-1)
    return cos.to(device=device, dtype=dtype), sin.to(device=device, dtype=dtype)


def apply_rope(x, cos, sin):
    """Interleaved rotation: y_2i = x_2i cos - x_2i+1 sin, y_2i+1 = x_2i sin + x_2i+1 cos."""
    rotated = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)
    return x * cos + rotated * sin


def rope_scores(q, k, cos, sin, rerope=None):
    """q_i R_(i-j) k_j for every query i and key j (RoPE applied to both, then the dot product). With
    rerope = d (Su's ReRoPE), relative distances of d or more are read as d: q_i R_d k_j, so no distance
    unseen in training occurs however long the input. cos / sin need max(n, d + 1) rows."""
    n = q.shape[-2]
    near = apply_rope(q, cos[:n], sin[:n]) @ apply_rope(k, cos[:n], sin[:n]).transpose(-1, -2)
    if rerope is None:
        return near
    far = apply_rope(q, cos[rerope:rerope + 1], sin[rerope:rerope + 1]) @ k.transpose(-1, -2)
    offset = torch.arange(n, device=q.device)[:, None] - torch.arange(n, device=q.device)[None, :]
    return torch.where(offset < rerope, near, far)


def visible_mask(length, window=None, device=None):
    """[length, length] bool, True where query i may attend to key j."""
    i = torch.arange(length, device=device)[:, None]
    j = torch.arange(length, device=device)[None, :]
    mask = j <= i
    if window is not None:
        mask &= j > i - window
    return mask


def attention_weights(scores, normaliser, train_length, window=None, logn=False):
    """Turn causal scores [..., n, n] (already divided by sqrt(key_size)) into attention weights."""
    n = scores.shape[-1]
    mask = visible_mask(n, window, scores.device)
    visible = mask.sum(-1, keepdim=True).to(scores.dtype)  # l, per query: [n, 1]
    log_train = math.log(train_length)
    if logn and normaliser != "softmax_plus":
        scores = scores * torch.clamp(torch.log(visible) / log_train, min=1.0)
    if normaliser == "softmax":
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    if normaliser == "softmax_plus":
        scale = torch.log(torch.clamp(visible, min=SOFTMAX_PLUS_MIN_LENGTH)) / log_train
        return torch.softmax((scores * scale).masked_fill(~mask, float("-inf")), dim=-1)
    if normaliser == "relu2":
        return F.relu(scores).square().masked_fill(~mask, 0.0) / visible
    raise ValueError("unknown normaliser %r" % normaliser)


def scaled_trunc_normal_(weight, fan, gain):
    """bert4keras / RoFormerV2 initialiser: truncated normal, std = 1.1368 * gain / sqrt(fan)."""
    std = TRUNC_NORMAL_FACTOR * gain / math.sqrt(fan)
    nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


class GatedAttentionUnit(nn.Module):
    """bert4keras GatedAttentionUnit as GAU-alpha uses it: one head, no biases, no offsets.

    [U | V | Z] = silu(x @ Wi.T) with widths [e, e, s]; q = rope(Z * q_scale); k = rope(Z * k_scale);
    A = normaliser(q k^T / sqrt(s)); out = (U * (A @ V)) @ Wo.T
    """

    def __init__(self, hidden, expansion, key_size, normaliser, train_length):
        super().__init__()
        self.expansion, self.key_size = expansion, key_size
        self.normaliser, self.train_length = normaliser, train_length
        self.i_dense = nn.Linear(hidden, 2 * expansion + key_size, bias=False)
        self.q_scale = nn.Parameter(torch.ones(key_size))
        self.k_scale = nn.Parameter(torch.ones(key_size))
        self.o_dense = nn.Linear(expansion, hidden, bias=False)

    def forward(self, x, cos, sin, window=None, logn=False, return_attention=False, rerope=None):
        u, v, z = torch.split(F.silu(self.i_dense(x)), [self.expansion, self.expansion, self.key_size], -1)
        scores = rope_scores(z * self.q_scale, z * self.k_scale, cos, sin, rerope) / math.sqrt(self.key_size)
        attention = attention_weights(scores, self.normaliser, self.train_length, window, logn)
        out = self.o_dense(u * (attention @ v))
        return (out, attention) if return_attention else out


class GauLM(nn.Module):
    """GAU-alpha-style causal character LM: x = RMSNorm(E[ids]); x = RMSNorm(x + alpha GAU(x)) per layer;
    logits = x @ W_out.T."""

    family = "gau-lm"

    def __init__(self, vocab_size, hidden=192, layers=6, expansion=384, key_size=64,
                 normaliser="softmax_plus", train_length=128):
        super().__init__()
        if normaliser not in NORMALISERS:
            raise ValueError("normaliser must be one of %s" % (NORMALISERS,))
        self.config = dict(vocab_size=vocab_size, hidden=hidden, layers=layers, expansion=expansion,
                           key_size=key_size, normaliser=normaliser, train_length=train_length)
        self.key_size, self.train_length = key_size, train_length
        self.embeddings = nn.Embedding(vocab_size, hidden)
        self.layers = nn.ModuleList(GatedAttentionUnit(hidden, expansion, key_size, normaliser, train_length)
                                    for _ in range(layers))
        self.output = nn.Linear(hidden, vocab_size, bias=False)
        self.register_buffer("residual_scale", torch.ones(()), persistent=False)
        nn.init.normal_(self.embeddings.weight, std=hidden ** -0.5)
        nn.init.normal_(self.output.weight, std=hidden ** -0.5)
        gain = layers ** (-1.0 / 3.0)  # GAU-alpha uses order 3
        for layer in self.layers:
            scaled_trunc_normal_(layer.i_dense.weight, hidden, gain)
            scaled_trunc_normal_(layer.o_dense.weight, expansion, gain)

    def forward(self, ids, window=None, logn=False, return_hidden=False, rope=None, rerope=None):
        """rope: optional precomputed (cos, sin) tables of at least ids.shape[-1] rows (rerope + 1 with
        rerope, the ReRoPE distance of rope_scores: an evaluation mode of the length study)."""
        n = ids.shape[-1]
        rows = n if rerope is None else max(n, rerope + 1)
        cos, sin = rope if rope is not None else rope_tables(rows, self.key_size, ids.device, self.embeddings.weight.dtype)
        cos, sin = cos[:rows], sin[:rows]
        x = rms_norm(self.embeddings(ids))
        hidden = [x]
        for layer in self.layers:
            x = rms_norm(x + self.residual_scale * layer(x, cos, sin, window, logn, rerope=rerope))
            hidden.append(x)
        logits = self.output(x)
        return (logits, hidden) if return_hidden else logits


def mixed_chunk_attention(q_quad, k_quad, q_lin, k_lin, v, chunk):
    """Causal FLASH mixed-chunk attention (docs/ALGORITHMS.md 3.4), the engine's flash_mixed_chunk:
    quad_t = (1/(c s)) sum_{u in t's chunk, u <= t} relu(Qq_t . Kq_u)^2 V_u, and for chunk g > 0
    lin_t = Ql_t . (sum_{u < g c} Kl_u^T V_u) / (g c) (earlier chunks only; 0 in the first chunk).
    Inputs [..., n, s] and [..., n, e]; n is padded to a multiple of c (padding follows every real
    token, so causality keeps it out of the real rows) and the padding is dropped from the output."""
    *batch, n, s = q_quad.shape
    e = v.shape[-1]
    groups = -(-n // chunk)
    pad = groups * chunk - n
    if pad:
        q_quad, k_quad, q_lin, k_lin, v = (F.pad(t, (0, 0, 0, pad)) for t in (q_quad, k_quad, q_lin, k_lin, v))
    by_chunk = lambda t: t.reshape(*batch, groups, chunk, t.shape[-1])
    q_quad, k_quad, q_lin, k_lin, v = map(by_chunk, (q_quad, k_quad, q_lin, k_lin, v))
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=v.device).tril()
    scores = F.relu(q_quad @ k_quad.transpose(-1, -2)).square().masked_fill(~causal, 0.0) / (chunk * s)
    quad = scores @ v
    kv = k_lin.transpose(-1, -2) @ v                      # [..., groups, s, e] per chunk
    earlier = torch.cumsum(kv, dim=-3) - kv               # exclusive: chunks before g
    summed = (torch.arange(groups, device=v.device, dtype=v.dtype) * chunk).clamp(min=1)
    lin = q_lin @ (earlier / summed[:, None, None])       # chunk 0: earlier = 0
    return (quad + lin).reshape(*batch, groups * chunk, e)[..., :n, :]


class FlashUnit(nn.Module):
    """FLASH layer: a GAU whose attention is mixed-chunk (quadratic relu^2 inside chunks of c tokens,
    linear across them), so a forward pass costs O(n c) and decoding keeps O(c) state.

    [U | V | Z] = silu(x @ Wi.T) with widths [e, e, s]; four per-dimension scale-offset maps of Z give
    Qq, Kq, Ql, Kl (rows 0..3 of qk_scale / qk_offset), each rotated by RoPE;
    out = (U * mixed_chunk_attention(Qq, Kq, Ql, Kl, V)) @ Wo.T
    """

    def __init__(self, hidden, expansion, key_size, chunk):
        super().__init__()
        self.expansion, self.key_size, self.chunk = expansion, key_size, chunk
        self.i_dense = nn.Linear(hidden, 2 * expansion + key_size, bias=False)
        self.qk_scale = nn.Parameter(torch.ones(4, key_size))
        self.qk_offset = nn.Parameter(torch.zeros(4, key_size))
        self.o_dense = nn.Linear(expansion, hidden, bias=False)

    def forward(self, x, cos, sin):
        u, v, z = torch.split(F.silu(self.i_dense(x)), [self.expansion, self.expansion, self.key_size], -1)
        q_quad, k_quad, q_lin, k_lin = (apply_rope(z * self.qk_scale[i] + self.qk_offset[i], cos, sin)
                                        for i in range(4))
        return self.o_dense(u * mixed_chunk_attention(q_quad, k_quad, q_lin, k_lin, v, self.chunk))


class FlashLM(nn.Module):
    """FLASH causal character LM: GauLM's skeleton (post-norm RMSNorm residuals, untied output) with
    FlashUnit layers. It has no window or log-n option: its only attention is the mixed-chunk one."""

    family = "flash-lm"

    def __init__(self, vocab_size, hidden=160, layers=6, expansion=320, key_size=64, chunk=32, train_length=128):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, hidden=hidden, layers=layers, expansion=expansion,
                           key_size=key_size, chunk=chunk, train_length=train_length)
        self.key_size, self.train_length = key_size, train_length
        self.embeddings = nn.Embedding(vocab_size, hidden)
        self.layers = nn.ModuleList(FlashUnit(hidden, expansion, key_size, chunk) for _ in range(layers))
        self.output = nn.Linear(hidden, vocab_size, bias=False)
        self.register_buffer("residual_scale", torch.ones(()), persistent=False)
        nn.init.normal_(self.embeddings.weight, std=hidden ** -0.5)
        nn.init.normal_(self.output.weight, std=hidden ** -0.5)
        gain = layers ** (-1.0 / 3.0)  # as GauLM
        for layer in self.layers:
            scaled_trunc_normal_(layer.i_dense.weight, hidden, gain)
            scaled_trunc_normal_(layer.o_dense.weight, expansion, gain)

    def forward(self, ids, window=None, logn=False, return_hidden=False, rope=None):
        if window is not None or logn:
            raise ValueError("a FLASH model has no window or log-n option")
        n = ids.shape[-1]
        cos, sin = rope if rope is not None else rope_tables(n, self.key_size, ids.device, self.embeddings.weight.dtype)
        cos, sin = cos[:n], sin[:n]
        x = rms_norm(self.embeddings(ids))
        hidden = [x]
        for layer in self.layers:
            x = rms_norm(x + self.residual_scale * layer(x, cos, sin))
            hidden.append(x)
        logits = self.output(x)
        return (logits, hidden) if return_hidden else logits


class MultiHeadAttention(nn.Module):
    """RoFormerV2 self-attention: no biases, RoPE on every head's q and k, scale 1/sqrt(head_size)."""

    def __init__(self, hidden, heads, normaliser, train_length):
        super().__init__()
        self.heads, self.head_size = heads, hidden // heads
        self.normaliser, self.train_length = normaliser, train_length
        self.q_dense = nn.Linear(hidden, hidden, bias=False)
        self.k_dense = nn.Linear(hidden, hidden, bias=False)
        self.v_dense = nn.Linear(hidden, hidden, bias=False)
        self.o_dense = nn.Linear(hidden, hidden, bias=False)

    def forward(self, x, cos, sin, window=None, logn=False, return_attention=False):
        *batch, n, hidden = x.shape
        split = lambda t: t.view(*batch, n, self.heads, self.head_size).transpose(-2, -3)
        q = apply_rope(split(self.q_dense(x)), cos, sin)
        k = apply_rope(split(self.k_dense(x)), cos, sin)
        v = split(self.v_dense(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size)
        attention = attention_weights(scores, self.normaliser, self.train_length, window, logn)
        out = self.o_dense((attention @ v).transpose(-2, -3).reshape(*batch, n, hidden))
        return (out, attention) if return_attention else out


class FeedForward(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.i_dense = nn.Linear(hidden, intermediate, bias=False)
        self.o_dense = nn.Linear(intermediate, hidden, bias=False)

    def forward(self, x):
        return self.o_dense(F.relu(self.i_dense(x)))


class RoFormerV2LM(nn.Module):
    """RoFormerV2 causal LM: x = RMSNorm(E[ids]); per layer x = RMSNorm(x + alpha MHA(x)),
    x = RMSNorm(x + alpha FFN(x)); logits = x @ W_out.T."""

    family = "roformer-v2"

    def __init__(self, vocab_size, hidden=128, layers=4, heads=4, intermediate=512,
                 normaliser="softmax", train_length=128):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, hidden=hidden, layers=layers, heads=heads,
                           intermediate=intermediate, normaliser=normaliser, train_length=train_length)
        self.head_size, self.train_length = hidden // heads, train_length
        self.embeddings = nn.Embedding(vocab_size, hidden)
        self.attentions = nn.ModuleList(MultiHeadAttention(hidden, heads, normaliser, train_length)
                                        for _ in range(layers))
        self.feed_forwards = nn.ModuleList(FeedForward(hidden, intermediate) for _ in range(layers))
        self.output = nn.Linear(hidden, vocab_size, bias=False)
        self.register_buffer("residual_scale", torch.ones(()), persistent=False)
        nn.init.normal_(self.embeddings.weight, std=hidden ** -0.5)
        nn.init.normal_(self.output.weight, std=hidden ** -0.5)
        gain = layers ** -0.5  # RoFormerV2 uses order 2
        for module in list(self.attentions.modules()) + list(self.feed_forwards.modules()):
            if isinstance(module, nn.Linear):
                scaled_trunc_normal_(module.weight, module.in_features, gain)

    def forward(self, ids, window=None, logn=False, return_hidden=False, rope=None):
        """rope: optional precomputed (cos, sin) tables of at least ids.shape[-1] rows."""
        n = ids.shape[-1]
        cos, sin = rope if rope is not None else rope_tables(n, self.head_size, ids.device, self.embeddings.weight.dtype)
        cos, sin = cos[:n], sin[:n]
        x = rms_norm(self.embeddings(ids))
        hidden = [x]
        for attention, feed_forward in zip(self.attentions, self.feed_forwards):
            x = rms_norm(x + self.residual_scale * attention(x, cos, sin, window, logn))
            x = rms_norm(x + self.residual_scale * feed_forward(x))
            hidden.append(x)
        logits = self.output(x)
        return (logits, hidden) if return_hidden else logits


# ------------------------------------------------------------------------------------------------
# DDPM (docs/ALGORITHMS.md 6): Su's schedule and a scaled-down Keras-DDPM U-Net.

def ddpm_schedule(steps=1000):
    """Su's notation (square roots of the paper's): alpha_t = sqrt(1 - 0.02 t / T), t = 1..T.
    Index k = t - 1 everywhere in code (the network receives k in [0, T))."""
    t = torch.arange(1, steps + 1, dtype=torch.float64)
    alpha = torch.sqrt(1 - 0.02 * t / steps)
    beta = torch.sqrt(1 - alpha ** 2)
    bar_alpha = torch.cumprod(alpha, 0)
    bar_beta = torch.sqrt(1 - bar_alpha ** 2)
    return alpha, beta, bar_alpha, bar_beta


def sinusoidal_embedding(k, dim):
    """[..., dim] = [sin(k w_0) .. sin(k w_{dim/2-1}), cos(k w_0) ..], w_i = 10000^(-i/(dim/2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half).to(k.device)
    angles = k.float()[..., None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class GroupNorm(nn.Module):
    """GroupNorm over contiguous channel groups, eps 1e-6, learnable per-channel gamma and beta.
    (Keras-DDPM groups by c mod 32; any fixed grouping is equivalent for a freshly trained model.)"""

    def __init__(self, channels, groups, eps=1e-6):
        super().__init__()
        self.groups, self.eps = groups, eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return F.group_norm(x, self.groups, self.weight, self.bias, self.eps)


def conv3x3(c_in, c_out):
    return nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)


class ResidualBlock(nn.Module):
    """Keras-DDPM block: h = x + Dense(t_emb); h = silu(conv(h)); h = silu(conv(h));
    out = GroupNorm(h + skip), skip = x or a 1x1 convolution when the width changes."""

    def __init__(self, c_in, c_out, time_dim, groups):
        super().__init__()
        self.time_dense = nn.Linear(time_dim, c_in, bias=False)
        self.conv1 = conv3x3(c_in, c_out)
        self.conv2 = conv3x3(c_out, c_out)
        self.skip = None if c_in == c_out else nn.Conv2d(c_in, c_out, 1, bias=False)
        self.norm = GroupNorm(c_out, groups)

    def forward(self, x, t_emb):
        h = x + self.time_dense(t_emb)[:, :, None, None]
        h = F.silu(self.conv1(h))
        h = F.silu(self.conv2(h))
        return self.norm(h + (x if self.skip is None else self.skip(x)))


class UNet(nn.Module):
    """eps-prediction U-Net: stem conv, levels of residual blocks with 2x2 average pooling while the
    side exceeds min_pixel, a middle block, nearest 2x upsampling, additive skips (LIFO stack as in
    Keras-DDPM), GroupNorm + conv head. No attention.

    Time embedding: k -> sinusoid(k, time_dim) -> Linear -> SiLU -> Linear, trained end to end; the
    exported model ships the resulting [T, time_dim] table (time_table), which is all the engine needs.

    With classes > 0 the net is class-conditional: class_table has one row per class and a last "any
    class" row (trained by dropping labels), added to the time embedding. Zero-initialised, so a
    conditional net made from an unconditional one starts as that net.
    """

    def __init__(self, image_size=28, image_channels=1, base_channels=32, multipliers=(1, 2, 2), blocks=1,
                 min_pixel=7, time_dim=64, groups=8, steps=1000, classes=0):
        super().__init__()
        self.config = dict(image_size=image_size, image_channels=image_channels, base_channels=base_channels,
                           multipliers=list(multipliers), blocks=blocks, min_pixel=min_pixel,
                           time_dim=time_dim, groups=groups, steps=steps)
        self.classes = classes
        if classes:
            self.config["classes"] = classes
            self.class_table = nn.Embedding(classes + 1, time_dim)
            nn.init.zeros_(self.class_table.weight)
        self.time_dim, self.min_pixel, self.blocks = time_dim, min_pixel, blocks
        self.time_in = nn.Linear(time_dim, time_dim, bias=False)
        self.time_out = nn.Linear(time_dim, time_dim, bias=False)
        self.register_buffer("time_table", torch.zeros(steps, time_dim), persistent=False)
        self.use_time_table = False
        self.stem = conv3x3(image_channels, base_channels)
        widths, side = [base_channels], image_size
        self.down, self.pool_after = nn.ModuleList(), []
        c = base_channels
        for m in multipliers:
            for _ in range(blocks):
                self.down.append(ResidualBlock(c, m * base_channels, time_dim, groups))
                c = m * base_channels
                widths.append(c)
            pooled = side > min_pixel
            self.pool_after.append(pooled)
            if pooled:
                side //= 2
                widths.append(c)
        self.middle = ResidualBlock(c, c, time_dim, groups)
        widths.pop()  # the deepest level's last block output is discarded (see Keras-DDPM)
        self.up = nn.ModuleList()
        for level in reversed(range(len(multipliers))):
            if self.pool_after[level]:
                widths.pop()  # added after upsampling, no block
            for _ in range(blocks):
                target = widths.pop()
                self.up.append(ResidualBlock(c, target, time_dim, groups))
                c = target
        assert not widths
        self.head_norm = GroupNorm(c, groups)
        self.head = conv3x3(c, image_channels)

    def time_embedding(self, k):
        if self.use_time_table:
            return self.time_table[k]
        return self.time_out(F.silu(self.time_in(sinusoidal_embedding(k, self.time_dim))))

    def freeze_time_table(self):
        """Precompute the [T, time_dim] embedding table (what the exported model ships)."""
        with torch.no_grad():
            k = torch.arange(self.time_table.shape[0], device=self.time_table.device)
            self.time_table.copy_(self.time_out(F.silu(self.time_in(sinusoidal_embedding(k, self.time_dim)))))
        self.use_time_table = True

    def forward(self, x, k, label=None):
        """label: class per image (None or the value `classes`: any class); only for conditional nets."""
        t = self.time_embedding(k)
        if self.classes:
            if label is None:
                label = torch.full_like(k, self.classes)
            t = t + self.class_table(label)
        elif label is not None:
            raise ValueError("this U-Net is not class-conditional")
        x = self.stem(x)
        skips = [x]
        blocks = iter(self.down)
        for pooled in self.pool_after:
            for _ in range(self.blocks):
                x = next(blocks)(x, t)
                skips.append(x)
            if pooled:
                x = F.avg_pool2d(x, 2)
                skips.append(x)
        x = self.middle(x, t)
        skips.pop()
        blocks = iter(self.up)
        for pooled in reversed(self.pool_after):
            if pooled:
                x = F.interpolate(x, scale_factor=2, mode="nearest") + skips.pop()
            for _ in range(self.blocks):
                skip = skips.pop()
                x = next(blocks)(x, t) + skip
        return self.head(self.head_norm(x))


def unet_from_tensors(config, tensors):
    """The U-Net of a shipped model (config.json and its tensors), sampling from the stored time table."""
    model = UNet(**config["architecture"])
    state = {k: torch.from_numpy(v) for k, v in tensors.items() if k != "time_table"}
    missing = model.load_state_dict(state, strict=False).missing_keys
    assert set(missing) == {"time_in.weight", "time_out.weight"}, missing
    model.time_table.copy_(torch.from_numpy(tensors["time_table"]))
    model.use_time_table = True
    return model.eval()


def ddim_strided(model, x, stride=100, eta=0.0, generator=None, on_step=None, label=None):
    """Strided sampler of Keras-DDPM ddim.py: bar_alpha' = bar_alpha[::stride] (starts at t = 1),
    steps run from the last entry down to the first. eta = 0 is deterministic. label: a class per
    image for a conditional net (None: any class)."""
    _, _, bar_alpha, _ = ddpm_schedule(model.config["steps"])
    bar_alpha_s = bar_alpha[::stride]
    bar_alpha_prev = torch.cat([torch.ones(1, dtype=bar_alpha.dtype), bar_alpha_s[:-1]])
    bar_beta_s = torch.sqrt(1 - bar_alpha_s ** 2)
    bar_beta_prev = torch.sqrt(1 - bar_alpha_prev ** 2)
    alpha_s = bar_alpha_s / bar_alpha_prev
    sigma = eta * bar_beta_prev / bar_beta_s * torch.sqrt(1 - alpha_s ** 2)
    coef = bar_beta_s - alpha_s * torch.sqrt(bar_beta_prev ** 2 - sigma ** 2)
    for i in reversed(range(len(bar_alpha_s))):
        k = torch.full((x.shape[0],), i * stride, dtype=torch.long, device=x.device)
        eps = model(x, k, label)
        x = (x - float(coef[i]) * eps) / float(alpha_s[i])
        if eta > 0:
            x = x + float(sigma[i]) * torch.randn(x.shape, generator=generator, device=x.device)
        if on_step is not None:
            on_step(i, x, eps)
    return x.clamp(-1, 1)


def ddpm_ancestral(model, x, generator=None, sigma="beta", label=None):
    """x_{t-1} = (x_t - beta_t^2 / bar_beta_t * eps) / alpha_t + sigma_t z for t = T..1."""
    alpha, beta, _, bar_beta = ddpm_schedule(model.config["steps"])
    sig = beta.clone()
    if sigma == "posterior":
        sig = sig * torch.cat([torch.zeros(1, dtype=bar_beta.dtype), bar_beta[:-1]]) / bar_beta
    for k in reversed(range(len(alpha))):
        eps = model(x, torch.full((x.shape[0],), k, dtype=torch.long, device=x.device), label)
        x = (x - float(beta[k] ** 2 / bar_beta[k]) * eps) / float(alpha[k])
        x = x + float(sig[k]) * torch.randn(x.shape, generator=generator, device=x.device)
    return x.clamp(-1, 1)
