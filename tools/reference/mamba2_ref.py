#!/usr/bin/env python3
"""Reference fixtures for ssdspark's Mamba-2 engines.

Builds small Mamba-2 language models with random-but-perturbed weights in both checkpoint layouts
(mamba_ssm: config.json + pytorch_model.bin or model.safetensors; Hugging Face: config.json +
model.safetensors, single or sharded), and computes the ground truth with a float64 token-by-token
recurrence (no chunking, no fused kernels): per-token log-probs and final-normed hidden states.

Semantics are mamba_ssm's: gated RMSNorm is group-wise (group size d_ssm / ngroups) and head h reads
B/C group h // (nheads // ngroups). Where transformers is importable and ngroups == 1, the Hugging Face
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
                 dt_limit=(0.0, math.inf), conv_bias=True, bias=False, eps=1e-5):
        self.d_model, self.n_layer, self.vocab = d_model, n_layer, vocab
        self.pad_multiple = pad_multiple
        self.d_state, self.headdim, self.expand, self.ngroups = d_state, headdim, expand, ngroups
        self.d_conv, self.chunk = d_conv, chunk
        self.d_inner = expand * d_model
        self.d_ssm = self.d_inner if d_ssm is None else d_ssm
        self.nheads = self.d_ssm // headdim
        self.norm_before_gate, self.D_has_hdim = norm_before_gate, D_has_hdim
        self.dt_limit, self.conv_bias, self.bias, self.eps = dt_limit, conv_bias, bias, eps

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


def make_weights(c, rng, dtype):
    """mamba_ssm-style init, perturbed so that norms, D and biases are not their trivial values."""
    def n(*shape, std):
        return rng.standard_normal(shape) * std
    w = {"backbone.embedding.weight": n(c.rows, c.d_model, std=0.6)}
    for i in range(c.n_layer):
        p = f"backbone.layers.{i}."
        m = p + "mixer."
        w[p + "norm.weight"] = 1.0 + n(c.d_model, std=0.2)
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


def forward(c, w, tokens):
    """float64, token by token. Returns (final-normed hidden [L, d], log-probs [L-1])."""
    L = len(tokens)
    E = w["backbone.embedding.weight"]
    h = E[np.asarray(tokens)].copy()
    H, P, N, G = c.nheads, c.headdim, c.d_state, c.ngroups
    for i in range(c.n_layer):
        p = f"backbone.layers.{i}."
        m = p + "mixer."
        xn = rmsnorm(h, w[p + "norm.weight"], c.eps)
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
        h = h + o
    hn = rmsnorm(h, w["backbone.norm_f.weight"], c.eps)
    logits = hn @ E.T
    mx = logits.max(axis=1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(logits - mx).sum(axis=1))
    lp = np.array([logits[t, tokens[t + 1]] - lse[t] for t in range(L - 1)])
    return hn, lp

# ---------------------------------------------------------------- layouts

def mamba_ssm_config(c):
    ssm = {"layer": "Mamba2", "d_state": c.d_state, "headdim": c.headdim, "expand": c.expand, "ngroups": c.ngroups,
           "d_conv": c.d_conv, "chunk_size": c.chunk, "rmsnorm": True, "norm_before_gate": c.norm_before_gate,
           "D_has_hdim": c.D_has_hdim, "conv_bias": c.conv_bias, "bias": c.bias}
    if c.d_ssm != c.d_inner:
        ssm["d_ssm"] = c.d_ssm
    if c.dt_limit != (0.0, math.inf):
        ssm["dt_limit"] = list(c.dt_limit)
    return {"d_model": c.d_model, "d_intermediate": 0, "n_layer": c.n_layer, "vocab_size": c.vocab, "ssm_cfg": ssm,
            "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": True, "residual_in_fp32": True, "fused_add_norm": True,
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
