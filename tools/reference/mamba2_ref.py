#!/usr/bin/env python3
"""Reference fixtures for ssdspark's Mamba-2 engines.

Builds small Mamba-2 language models with random-but-perturbed weights in both checkpoint layouts
(mamba_ssm: config.json + pytorch_model.bin or model.safetensors; Hugging Face: config.json +
model.safetensors, single or sharded), and computes the ground truth with a float64 token-by-token
recurrence (no chunking, no fused kernels): per-token log-probs and final-normed hidden states.

Semantics are mamba_ssm's: gated RMSNorm is group-wise (group size d_ssm / ngroups) and head h reads
B/C group h // (nheads // ngroups).

Hybrids (mamba_ssm's attn_layer_idx / attn_cfg / d_intermediate): attention layers are mamba_ssm's MHA run token by
token with a KV cache (in_proj -> [q | k | v | mlp up | mlp gate], optional causal depthwise conv over q|k|v without
activation, rotary on the first rotary_emb_dim channels of q and k with flash_attn's float32 angles, GQA, causal softmax
with softmax_scale, out_proj over [context | up * silu(gate)]); d_intermediate > 0 adds norm2 + GatedMLP to every block.
Where torch is importable, an independent whole-sequence transcription of mha.py / mlp.py / block.py in torch float64
(conv1d with padding, flash_attn's apply_rotary_emb_torch, repeat_interleave, masked softmax) is run on the hybrid
fixtures and its log-probs are stored beside ours ("torch_logprobs"). Where transformers is importable and ngroups == 1, the Hugging Face
Mamba2ForCausalLM (torch_forward, float64) is run on the same weights as an independent check, and its
log-probs are stored beside ours.

pytorch_model.bin needs torch (torch.save); without torch those cases are skipped with a message.

usage: mamba2_ref.py OUT_DIR [--only CASE ...]
       mamba2_ref.py --example DIR     (the embedded default model of bin/ssdspark)
"""
import json
import math
import os
import struct
import sys

import numpy as np

# ---------------------------------------------------------------- float formats

def round_bf16(a):
    """Round float64 values to the nearest bfloat16 (ties to even), returned as float64."""
    f = np.asarray(a, dtype=np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32).astype(np.float64)


def round_f16(a):
    return np.asarray(a, dtype=np.float16).astype(np.float64)


def round_to(a, dtype):
    return {"F32": lambda x: np.asarray(x, np.float32).astype(np.float64), "BF16": round_bf16, "F16": round_f16}[dtype](a)


def encode(a, dtype):
    if dtype == "F32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    if dtype == "F16":
        return np.ascontiguousarray(a, dtype="<f2").tobytes()
    if dtype == "BF16":
        u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16
        return u.astype("<u2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype):
    """tensors: ordered dict name -> float64 array (already rounded to dtype)."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = encode(a, dtype)
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)

# ---------------------------------------------------------------- model

class Cfg:
    def __init__(self, d_model=64, n_layer=2, vocab=317, pad_multiple=8, d_state=16, headdim=16, expand=2,
                 ngroups=1, d_conv=4, chunk=8, d_ssm=None, norm_before_gate=False, D_has_hdim=False,
                 dt_limit=(0.0, math.inf), conv_bias=True, bias=False, eps=1e-5, attn_layer_idx=(), attn_cfg=None,
                 d_intermediate=0):
        self.d_model, self.n_layer, self.vocab = d_model, n_layer, vocab
        self.pad_multiple = pad_multiple
        self.d_state, self.headdim, self.expand, self.ngroups = d_state, headdim, expand, ngroups
        self.d_conv, self.chunk = d_conv, chunk
        self.d_inner = expand * d_model
        self.d_ssm = self.d_inner if d_ssm is None else d_ssm
        self.nheads = self.d_ssm // headdim
        self.norm_before_gate, self.D_has_hdim = norm_before_gate, D_has_hdim
        self.dt_limit, self.conv_bias, self.bias, self.eps = dt_limit, conv_bias, bias, eps
        self.attn_layer_idx, self.attn_cfg = list(attn_layer_idx), dict(attn_cfg or {})
        self.mha = Mha(d_model, self.attn_cfg) if self.attn_layer_idx else None
        self.d_intermediate = d_intermediate
        self.d_mlp_hidden = (d_intermediate + 127) // 128 * 128  # GatedMLP's multiple_of=128

    @property
    def rows(self):
        m = self.pad_multiple
        return self.vocab if m <= 1 else (self.vocab + m - 1) // m * m

    @property
    def d_mlp(self):
        return self.d_inner - self.d_ssm

    @property
    def conv_dim(self):
        return self.d_ssm + 2 * self.ngroups * self.d_state

    @property
    def d_in_proj(self):
        return 2 * self.d_inner + 2 * self.ngroups * self.d_state + self.nheads


class Mha:
    """mamba_ssm's MHA arguments (attn_cfg) with its defaults."""
    def __init__(self, d_model, cfg):
        self.heads = cfg["num_heads"]
        self.kv_heads = cfg.get("num_heads_kv") or self.heads
        self.head_dim = cfg.get("head_dim") or d_model // self.heads
        self.mlp_dim = math.ceil(cfg.get("mlp_dim", 0) / 256) * 256
        self.qkv_bias = cfg.get("qkv_proj_bias", True)
        self.out_bias = cfg.get("out_proj_bias", True)
        scale = cfg.get("softmax_scale")
        self.scale = 1.0 / math.sqrt(self.head_dim) if scale is None else scale
        self.rotary = cfg.get("rotary_emb_dim", 0)
        self.base = cfg.get("rotary_emb_base", 10000.0)
        self.interleaved = cfg.get("rotary_emb_interleaved", False)
        self.d_conv = cfg.get("d_conv", 0)
        assert cfg.get("causal") is True
        self.q_dim = self.heads * self.head_dim
        self.kv_dim = self.kv_heads * self.head_dim
        self.qkv_dim = self.q_dim + 2 * self.kv_dim


def make_weights(c, rng, dtype):
    """mamba_ssm-style init, perturbed so that norms, D and biases are not their trivial values."""
    def n(*shape, std):
        return rng.standard_normal(shape) * std
    w = {"backbone.embedding.weight": n(c.rows, c.d_model, std=0.6)}
    for i in range(c.n_layer):
        p = f"backbone.layers.{i}."
        m = p + "mixer."
        w[p + "norm.weight"] = 1.0 + n(c.d_model, std=0.2)
        if c.d_intermediate:
            w[p + "norm2.weight"] = 1.0 + n(c.d_model, std=0.2)
            w[p + "mlp.fc1.weight"] = n(2 * c.d_mlp_hidden, c.d_model, std=1.0 / math.sqrt(c.d_model))
            w[p + "mlp.fc2.weight"] = n(c.d_model, c.d_mlp_hidden, std=1.0 / math.sqrt(c.d_mlp_hidden))
        if i in c.attn_layer_idx:
            a = c.mha
            w[m + "in_proj.weight"] = n(a.qkv_dim + a.mlp_dim, c.d_model, std=1.0 / math.sqrt(c.d_model))
            if a.qkv_bias:
                w[m + "in_proj.bias"] = n(a.qkv_dim + a.mlp_dim, std=0.1)
            if a.d_conv > 0:
                w[m + "conv1d.weight"] = n(a.qkv_dim, 1, a.d_conv, std=0.5)
                w[m + "conv1d.bias"] = n(a.qkv_dim, std=0.2)
            cols = a.q_dim + a.mlp_dim // 2
            w[m + "out_proj.weight"] = n(c.d_model, cols, std=1.0 / math.sqrt(cols))
            if a.out_bias:
                w[m + "out_proj.bias"] = n(c.d_model, std=0.1)
            continue
        w[m + "in_proj.weight"] = n(c.d_in_proj, c.d_model, std=1.0 / math.sqrt(c.d_model))
        if c.bias:
            w[m + "in_proj.bias"] = n(c.d_in_proj, std=0.1)
        w[m + "conv1d.weight"] = n(c.conv_dim, 1, c.d_conv, std=0.5)
        if c.conv_bias:
            w[m + "conv1d.bias"] = n(c.conv_dim, std=0.2)
        dt = np.exp(rng.uniform(math.log(1e-3), math.log(0.3), c.nheads))
        w[m + "dt_bias"] = dt + np.log(-np.expm1(-dt))  # inverse softplus
        w[m + "A_log"] = np.log(rng.uniform(1, 16, c.nheads))
        w[m + "D"] = 1.0 + n(c.nheads * c.headdim if c.D_has_hdim else c.nheads, std=0.3)
        w[m + "norm.weight"] = 1.0 + n(c.d_ssm, std=0.2)
        w[m + "out_proj.weight"] = n(c.d_model, c.d_inner, std=1.0 / math.sqrt(c.d_inner))
        if c.bias:
            w[m + "out_proj.bias"] = n(c.d_model, std=0.1)
    w["backbone.norm_f.weight"] = 1.0 + n(c.d_model, std=0.2)
    return {k: round_to(v, dtype) for k, v in w.items()}


def silu(x):
    return x / (1.0 + np.exp(-x))


def softplus(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def forward(c, w, tokens, attention=None, mlp=None):
    """float64; Mamba-2 and attention layers token by token. Returns (final-normed hidden [L, d], log-probs [L-1]).
    attention(c, w, prefix, xn) and mlp(w, prefix, xn) replace the attention layers / MLP blocks (the torch check)."""
    attention = attention or attention_layer
    mlp = mlp or gated_mlp
    E = w["backbone.embedding.weight"]
    h = E[np.asarray(tokens)].copy()
    for i in range(c.n_layer):
        p = f"backbone.layers.{i}."
        xn = rmsnorm(h, w[p + "norm.weight"], c.eps)
        h = h + (attention(c, w, p + "mixer.", xn) if i in c.attn_layer_idx else mamba_layer(c, w, p + "mixer.", xn))
        if c.d_intermediate:  # block.py: residual added between mixer and MLP
            h = h + mlp(w, p, rmsnorm(h, w[p + "norm2.weight"], c.eps))
    hn = rmsnorm(h, w["backbone.norm_f.weight"], c.eps)
    logits = hn @ E.T
    mx = logits.max(axis=1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(logits - mx).sum(axis=1))
    lp = np.array([logits[t, tokens[t + 1]] - lse[t] for t in range(len(tokens) - 1)])
    return hn, lp


def mamba_layer(c, w, m, xn):
    """The Mamba-2 mixer, its SSM run as a token-by-token recurrence."""
    L = len(xn)
    H, P, N, G = c.nheads, c.headdim, c.d_state, c.ngroups
    zx = xn @ w[m + "in_proj.weight"].T
    if c.bias:
        zx = zx + w[m + "in_proj.bias"]
    o = 0
    z0 = zx[:, o:o + c.d_mlp]; o += c.d_mlp
    x0 = zx[:, o:o + c.d_mlp]; o += c.d_mlp
    z = zx[:, o:o + c.d_ssm]; o += c.d_ssm
    xbc = zx[:, o:o + c.conv_dim]; o += c.conv_dim
    dt = zx[:, o:o + H]
    cw = w[m + "conv1d.weight"][:, 0, :]  # [conv_dim, K]
    K = c.d_conv
    pad = np.concatenate([np.zeros((K - 1, c.conv_dim)), xbc], axis=0)
    conv = np.zeros_like(xbc)
    for t in range(L):
        conv[t] = np.sum(pad[t:t + K].T * cw, axis=1)
    if c.conv_bias:
        conv = conv + w[m + "conv1d.bias"]
    conv = silu(conv)
    x = conv[:, :c.d_ssm].reshape(L, H, P)
    B = conv[:, c.d_ssm:c.d_ssm + G * N].reshape(L, G, N)
    C = conv[:, c.d_ssm + G * N:].reshape(L, G, N)
    dt = np.clip(softplus(dt + w[m + "dt_bias"]), c.dt_limit[0], c.dt_limit[1])
    A = -np.exp(w[m + "A_log"])
    D = w[m + "D"]
    state = np.zeros((H, P, N))
    y = np.zeros((L, H, P))
    for t in range(L):
        for hh in range(H):
            g = hh // (H // G)
            state[hh] = math.exp(dt[t, hh] * A[hh]) * state[hh] + dt[t, hh] * np.outer(x[t, hh], B[t, g])
            d = D[hh * P:(hh + 1) * P] if c.D_has_hdim else D[hh]
            y[t, hh] = state[hh] @ C[t, g] + d * x[t, hh]
    y = y.reshape(L, c.d_ssm)
    gs = c.d_ssm // G
    nw = w[m + "norm.weight"]
    out = np.zeros_like(y)
    for g in range(G):
        sl = slice(g * gs, (g + 1) * gs)
        if c.norm_before_gate:
            out[:, sl] = rmsnorm(y[:, sl], nw[sl], c.eps) * silu(z[:, sl])
        else:
            out[:, sl] = rmsnorm(y[:, sl] * silu(z[:, sl]), nw[sl], c.eps)
    if c.d_mlp > 0:
        out = np.concatenate([silu(z0) * x0, out], axis=1)
    o = out @ w[m + "out_proj.weight"].T
    if c.bias:
        o = o + w[m + "out_proj.bias"]
    return o


def rotary_inv_freq(dim, base):
    """flash_attn's RotaryEmbedding.inv_freq, computed in float32 as it is there."""
    e = (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)).astype(np.float32)
    return (np.float32(1.0) / np.power(np.float32(base), e, dtype=np.float32)).astype(np.float32)


def rotate(x, pos, inv, interleaved):
    """x [heads, head_dim]: the first 2*len(inv) channels turned by the float32 angle pos * inv (flash_attn's cache)."""
    ang = (np.float32(pos) * inv).astype(np.float32).astype(np.float64)
    cos, sin = np.cos(ang), np.sin(ang)
    r = 2 * len(inv)
    y = x.copy()
    if interleaved:
        x0, x1 = x[:, 0:r:2], x[:, 1:r:2]
        y[:, 0:r:2], y[:, 1:r:2] = x0 * cos - x1 * sin, x1 * cos + x0 * sin
    else:
        x0, x1 = x[:, :r // 2], x[:, r // 2:r]
        y[:, :r // 2], y[:, r // 2:r] = x0 * cos - x1 * sin, x1 * cos + x0 * sin
    return y


def attention_layer(c, w, m, xn):
    """mamba_ssm's MHA, causal, token by token with a KV cache (keys after rotary)."""
    a = c.mha
    L, H, Hkv, D = len(xn), a.heads, a.kv_heads, a.head_dim
    proj = xn @ w[m + "in_proj.weight"].T
    if a.qkv_bias:
        proj = proj + w[m + "in_proj.bias"]
    qkv_in, x_mlp = proj[:, :a.qkv_dim], proj[:, a.qkv_dim:]
    inv = rotary_inv_freq(a.rotary, a.base) if a.rotary else None
    keys, values = [], []
    ctx = np.zeros((L, a.q_dim))
    for t in range(L):
        if a.d_conv > 0:  # causal depthwise conv over the inputs t-K+1 .. t, no activation
            cw, K = w[m + "conv1d.weight"][:, 0, :], a.d_conv
            x = w[m + "conv1d.bias"].copy()
            for j in range(K):
                s = t - (K - 1) + j
                if s >= 0:
                    x = x + cw[:, j] * qkv_in[s]
        else:
            x = qkv_in[t]
        q = x[:a.q_dim].reshape(H, D)
        k = x[a.q_dim:a.q_dim + a.kv_dim].reshape(Hkv, D)
        v = x[a.q_dim + a.kv_dim:].reshape(Hkv, D)
        if inv is not None:
            q, k = rotate(q, t, inv, a.interleaved), rotate(k, t, inv, a.interleaved)
        keys.append(k)
        values.append(v)
        Kc, Vc = np.stack(keys), np.stack(values)  # [t+1, Hkv, D]
        for hh in range(H):
            g = hh // (H // Hkv)
            sc = Kc[:, g] @ q[hh] * a.scale
            pr = np.exp(sc - sc.max())
            ctx[t, hh * D:(hh + 1) * D] = (pr / pr.sum()) @ Vc[:, g]
    if a.mlp_dim:
        half = a.mlp_dim // 2
        ctx = np.concatenate([ctx, x_mlp[:, :half] * silu(x_mlp[:, half:])], axis=1)
    o = ctx @ w[m + "out_proj.weight"].T
    if a.out_bias:
        o = o + w[m + "out_proj.bias"]
    return o


def gated_mlp(w, p, xn):
    """mamba_ssm's GatedMLP: fc1 -> (y, gate) -> y * silu(gate) -> fc2."""
    hid = w[p + "mlp.fc2.weight"].shape[1]
    y = xn @ w[p + "mlp.fc1.weight"].T
    return (y[:, :hid] * silu(y[:, hid:])) @ w[p + "mlp.fc2.weight"].T


def torch_attention(c, w, m, xn):
    """An independent transcription of mha.py's MHA.forward (no inference cache) in torch float64, whole sequence."""
    import torch
    import torch.nn.functional as F
    a = c.mha
    H, Hkv, D = a.heads, a.kv_heads, a.head_dim
    T = lambda name: torch.from_numpy(np.ascontiguousarray(w[m + name]))
    x = torch.from_numpy(np.ascontiguousarray(xn))[None]
    L = x.shape[1]
    qkv = F.linear(x, T("in_proj.weight"), T("in_proj.bias") if a.qkv_bias else None)
    if a.mlp_dim > 0:
        qkv, x_mlp = qkv.split([qkv.shape[-1] - a.mlp_dim, a.mlp_dim], dim=-1)
        up, gate = x_mlp.chunk(2, dim=-1)
        x_mlp = up * F.silu(gate)
    if a.d_conv > 0:
        qkv = F.conv1d(qkv.transpose(1, 2), T("conv1d.weight"), T("conv1d.bias"), padding=a.d_conv - 1,
                       groups=a.qkv_dim)[..., :L].transpose(1, 2)
    q, kv = qkv.split([H * D, Hkv * 2 * D], dim=-1)
    q = q.reshape(1, L, H, D)
    kv = kv.reshape(1, L, 2, Hkv, D)
    k, v = kv[:, :, 0], kv[:, :, 1]
    if a.rotary:  # flash_attn's RotaryEmbedding: float32 cos/sin cache, apply_rotary_emb_torch
        inv = 1.0 / (a.base ** (torch.arange(0, a.rotary, 2, dtype=torch.float32) / a.rotary))
        freqs = torch.outer(torch.arange(L, dtype=torch.float32), inv)
        cos, sin = torch.cos(freqs).double(), torch.sin(freqs).double()

        def rot(t):
            r = a.rotary
            cc = (cos.repeat_interleave(2, -1) if a.interleaved else cos.repeat(1, 2))[None, :, None, :]
            ss = (sin.repeat_interleave(2, -1) if a.interleaved else sin.repeat(1, 2))[None, :, None, :]
            xr = t[..., :r]
            if a.interleaved:
                x1, x2 = xr[..., ::2], xr[..., 1::2]
                half = torch.stack((-x2, x1), dim=-1).flatten(-2)
            else:
                x1, x2 = xr.chunk(2, dim=-1)
                half = torch.cat((-x2, x1), dim=-1)
            return torch.cat([xr * cc + half * ss, t[..., r:]], dim=-1)
        q, k = rot(q), rot(k)
    k = torch.repeat_interleave(k, dim=2, repeats=H // Hkv)
    v = torch.repeat_interleave(v, dim=2, repeats=H // Hkv)
    scores = torch.einsum("bthd,bshd->bhts", q, k) * a.scale
    scores = scores.masked_fill(torch.triu(torch.ones(L, L, dtype=torch.bool), 1), float("-inf"))
    ctx = torch.einsum("bhts,bshd->bthd", torch.softmax(scores, dim=-1), v).reshape(1, L, H * D)
    if a.mlp_dim > 0:
        ctx = torch.cat([ctx, x_mlp], dim=-1)
    out = F.linear(ctx, T("out_proj.weight"), T("out_proj.bias") if a.out_bias else None)
    return out[0].numpy()


def torch_mlp(w, p, xn):
    import torch
    import torch.nn.functional as F
    y = F.linear(torch.from_numpy(np.ascontiguousarray(xn)), torch.from_numpy(np.ascontiguousarray(w[p + "mlp.fc1.weight"])))
    y, gate = y.chunk(2, dim=-1)
    return F.linear(y * F.silu(gate), torch.from_numpy(np.ascontiguousarray(w[p + "mlp.fc2.weight"]))).numpy()

# ---------------------------------------------------------------- layouts

def mamba_ssm_config(c):
    ssm = {"layer": "Mamba2", "d_state": c.d_state, "headdim": c.headdim, "expand": c.expand, "ngroups": c.ngroups,
           "d_conv": c.d_conv, "chunk_size": c.chunk, "rmsnorm": True, "norm_before_gate": c.norm_before_gate,
           "D_has_hdim": c.D_has_hdim, "conv_bias": c.conv_bias, "bias": c.bias}
    if c.d_ssm != c.d_inner:
        ssm["d_ssm"] = c.d_ssm
    if c.dt_limit != (0.0, math.inf):
        ssm["dt_limit"] = list(c.dt_limit)
    return {"d_model": c.d_model, "d_intermediate": c.d_intermediate, "n_layer": c.n_layer, "vocab_size": c.vocab, "ssm_cfg": ssm,
            "attn_layer_idx": c.attn_layer_idx, "attn_cfg": c.attn_cfg, "rms_norm": True, "residual_in_fp32": True, "fused_add_norm": True,
            "pad_vocab_size_multiple": c.pad_multiple, "tie_embeddings": True}


def hf_config(c, limit_style):
    lim_hi = c.dt_limit[1]
    if math.isinf(lim_hi):
        hi = {"__float__": "Infinity"} if limit_style == "dict" else "INF"
    else:
        hi = lim_hi
    cfg = {"model_type": "mamba2", "architectures": ["Mamba2ForCausalLM"], "hidden_size": c.d_model,
           "num_hidden_layers": c.n_layer, "vocab_size": c.vocab, "state_size": c.d_state, "head_dim": c.headdim,
           "num_heads": c.nheads, "n_groups": c.ngroups, "conv_kernel": c.d_conv, "expand": c.expand,
           "chunk_size": c.chunk, "tie_word_embeddings": True, "layer_norm_epsilon": c.eps,
           "time_step_limit": [c.dt_limit[0], hi], "use_conv_bias": c.conv_bias, "use_bias": c.bias,
           "norm_before_gate": c.norm_before_gate, "rms_norm": True, "residual_in_fp32": True,
           "pad_token_id": 0, "bos_token_id": 0, "eos_token_id": 0}
    text = json.dumps(cfg, indent=2)
    if hi == "INF":  # a bare Infinity, as Python's json.dump writes it
        text = text.replace('"INF"', "Infinity")
    return text


def hf_names(w):
    out = {}
    for k, v in w.items():
        out[k.replace("backbone.embedding.", "backbone.embeddings.")] = v
    return out


def torch_save(path, w, dtype):
    import torch
    tdt = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}[dtype]
    sd = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(tdt) for k, v in w.items()}
    sd["lm_head.weight"] = sd["backbone.embedding.weight"]  # tied: one storage, as mamba_ssm saves it
    torch.save(sd, path)


def hf_logprobs(c, config_text, weights_hf, tokens):
    """Hugging Face's Mamba2ForCausalLM in float64 on the CPU (valid reference only for ngroups == 1)."""
    import torch
    from transformers import Mamba2Config, Mamba2ForCausalLM
    cfg = Mamba2Config(**{k: v for k, v in json.loads(config_text).items()
                          if k not in ("time_step_limit", "model_type", "architectures")})
    cfg.time_step_limit = (c.dt_limit[0], c.dt_limit[1])
    model = Mamba2ForCausalLM(cfg).to(torch.float64).eval()
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights_hf.items()}
    sd["lm_head.weight"] = sd["backbone.embeddings.weight"]
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"HF load: missing {missing} unexpected {unexpected}")
    with torch.no_grad():
        logits = model(torch.tensor([tokens])).logits[0].double()
    lp = torch.log_softmax(logits, dim=-1)
    return [float(lp[t, tokens[t + 1]]) for t in range(len(tokens) - 1)]

# ---------------------------------------------------------------- cases

LENGTHS = [1, 2, 7, 8, 21, 45]

CASES = {
    # name: (cfg kwargs, layout, format, dtype, seed)
    "mssm_g1_safetensors": (dict(ngroups=1), "mamba_ssm", "safetensors", "F32", 1),
    "mssm_g2_mlp_bin": (dict(ngroups=2, d_ssm=96, D_has_hdim=True), "mamba_ssm", "bin", "F32", 2),
    "mssm_g4_bin_bf16": (dict(ngroups=4, norm_before_gate=True, dt_limit=(0.0, 0.1)), "mamba_ssm", "bin", "BF16", 3),
    "hf_g1_safetensors": (dict(ngroups=1), "hf", "safetensors", "F32", 4),
    "hf_g1_sharded_f16_bareinf": (dict(ngroups=1, bias=True), "hf", "sharded", "F16", 5),
    "hf_g2_safetensors_bf16": (dict(ngroups=2, dt_limit=(0.001, 0.2)), "hf", "safetensors", "BF16", 6),
    # hybrids: attention at 1 and 3, GQA 4/2, half-split rotary on 8 of 16 channels, attention conv, MHA's MLP part
    # (mlp_dim 100 -> 256), gated-MLP blocks (d_intermediate 96 -> 128)
    "mssm_hybrid_gqa_rotary": (dict(n_layer=4, attn_layer_idx=[1, 3], d_intermediate=96, attn_cfg={
        "causal": True, "num_heads": 4, "num_heads_kv": 2, "head_dim": 16, "rotary_emb_dim": 8, "d_conv": 4, "mlp_dim": 100}),
        "mamba_ssm", "safetensors", "F32", 7),
    # attention first (layers 0 and 2), MQA, interleaved rotary over the whole head, base 500, no biases, no conv,
    # softmax_scale given, ngroups 2, torch's pytorch_model.bin in bf16
    "mssm_hybrid_mqa_interleaved_bin_bf16": (dict(n_layer=4, ngroups=2, attn_layer_idx=[0, 2], attn_cfg={
        "causal": True, "num_heads": 4, "num_heads_kv": 1, "head_dim": 16, "rotary_emb_dim": 16, "rotary_emb_interleaved": True,
        "rotary_emb_base": 500.0, "qkv_proj_bias": False, "out_proj_bias": False, "softmax_scale": 0.2}),
        "mamba_ssm", "bin", "BF16", 8),
}


def build(out_dir, name):
    kw, layout, fmt, dtype, seed = CASES[name]
    rng = np.random.default_rng(seed)
    c = Cfg(**kw)
    w = make_weights(c, rng, dtype)
    d = os.path.join(out_dir, name)
    if fmt == "bin":
        try:
            import torch  # noqa: F401
        except ImportError:
            print(f"skip {name}: pytorch_model.bin needs torch, which is not importable here")
            return False
    os.makedirs(d, exist_ok=True)
    if layout == "mamba_ssm":
        cfg_text = json.dumps(mamba_ssm_config(c), indent=2)
        if fmt == "bin":
            torch_save(os.path.join(d, "pytorch_model.bin"), w, dtype)
        else:
            write_safetensors(os.path.join(d, "model.safetensors"), w, dtype)
    else:
        c.pad_multiple = 1
        if c.rows != w["backbone.embedding.weight"].shape[0]:
            w["backbone.embedding.weight"] = w["backbone.embedding.weight"][:c.rows]
        cfg_text = hf_config(c, "bare" if "bareinf" in name else "dict")
        wh = hf_names(w)
        if fmt == "sharded":
            names = list(wh)
            half = len(names) // 2
            shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
            wm = {}
            for fn, ns in shards.items():
                write_safetensors(os.path.join(d, fn), {k: wh[k] for k in ns}, dtype)
                wm.update({k: fn for k in ns})
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f, indent=1)
        else:
            write_safetensors(os.path.join(d, "model.safetensors"), wh, dtype)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(cfg_text)
    docs = []
    hf_ok = layout == "hf" and c.ngroups == 1
    for L in LENGTHS:
        tokens = [int(t) for t in rng.integers(0, c.vocab, L)]
        hn, lp = forward(c, w, tokens)
        doc = {"tokens": tokens, "logprobs": [float(v) for v in lp], "hidden": [[float(v) for v in r] for r in hn]}
        if (c.attn_layer_idx or c.d_intermediate) and L > 1:
            try:
                _, tl = forward(c, w, tokens, attention=torch_attention, mlp=torch_mlp)
                doc["torch_logprobs"] = [float(v) for v in tl]
                print(f"{name} L={L}: max |ours - torch transcription of mha.py| = {np.max(np.abs(tl - lp)):.3e}")
            except ImportError as e:
                print(f"{name}: torch check skipped ({e})")
        if hf_ok and L > 1:
            try:
                hl = hf_logprobs(c, cfg_text, hf_names(w), tokens)
                doc["hf_logprobs"] = hl
                print(f"{name} L={L}: max |ours - HF| = {max(abs(a - b) for a, b in zip(hl, lp)):.3e}")
            except ImportError as e:
                print(f"{name}: HF check skipped ({e})")
                hf_ok = False
        docs.append(doc)
    meta = {"case": name, "layout": layout, "format": fmt, "dtype": dtype, "ngroups": c.ngroups,
            "generator": "tools/reference/mamba2_ref.py", "docs": docs}
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(meta, f)
    print(f"wrote {d} ({fmt}, {dtype}, ngroups={c.ngroups})")
    return True


def example(out_dir):
    """The small model bin/ssdspark runs by default (mamba_ssm layout, safetensors, vocab 317 -> 320 rows)."""
    rng = np.random.default_rng(2024)
    c = Cfg(d_model=128, n_layer=4, d_state=32, headdim=32, ngroups=2, chunk=64)
    w = make_weights(c, rng, "F32")
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), w, "F32")
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(mamba_ssm_config(c), f, indent=2)
    print(f"wrote example model {out_dir}")


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    if argv[0] == "--example":
        example(argv[1])
        return 0
    out = argv[0]
    only = argv[argv.index("--only") + 1:] if "--only" in argv else list(CASES)
    for name in only:
        build(out, name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
