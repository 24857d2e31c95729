#!/usr/bin/env python3
"""Trains the demo Mamba-2 language model (examples/demo-mamba2) on the corpus of build_corpus.py.

A plain-PyTorch Mamba-2 with mamba_ssm's parameter names and semantics (those of
tools/reference/mamba2_ref.py): pre-norm residual blocks, in_proj -> [z | xBC | dt], causal depthwise
conv1d + SiLU, the SSD recurrence in its chunked form (fp32), gated RMSNorm, out_proj, final RMSNorm,
LM head tied to the embedding. No mamba_ssm or transformers needed; runs on CUDA (bf16 autocast for the
matrices) or, slowly, on the CPU (for a smoke test).

Deterministic: one seed drives the initialisation and the order of the training windows, and
torch.use_deterministic_algorithms is on. `--steps auto` times the first steps and fixes the step count
to fit --time-budget (rounded down to a multiple of 100); the count is recorded in train_log.json and
`--steps N` repeats the run.

Writes OUT/: config.json (mamba_ssm layout), model.safetensors (F32), tokenizer.json (copied),
train_log.json (settings, versions, loss every step, held-out evaluations), loss.png, heldout_eval.json
(per-document scores of the first held-out documents, for cross-checking the Java engine).

usage: train_demo.py --data CORPUS_DIR --out OUT [--steps auto|N] [--time-budget S] [--device cuda|cpu]
"""
import argparse
import gzip
import json
import math
import os
import platform
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EOS = 0


class Config:
    def __init__(self, vocab=4096, d_model=192, n_layer=6, d_state=64, headdim=64, expand=2, ngroups=1, d_conv=4,
                 chunk=64, eps=1e-5):
        self.vocab, self.d_model, self.n_layer = vocab, d_model, n_layer
        self.d_state, self.headdim, self.expand, self.ngroups = d_state, headdim, expand, ngroups
        self.d_conv, self.chunk, self.eps = d_conv, chunk, eps
        self.d_inner = expand * d_model
        self.nheads = self.d_inner // headdim
        self.conv_dim = self.d_inner + 2 * ngroups * d_state
        self.d_in_proj = 2 * self.d_inner + 2 * ngroups * d_state + self.nheads

    def mamba_ssm_json(self):
        return {"d_model": self.d_model, "d_intermediate": 0, "n_layer": self.n_layer, "vocab_size": self.vocab,
                "ssm_cfg": {"layer": "Mamba2", "d_state": self.d_state, "headdim": self.headdim,
                            "expand": self.expand, "ngroups": self.ngroups, "d_conv": self.d_conv,
                            "chunk_size": self.chunk, "rmsnorm": True, "norm_before_gate": False,
                            "D_has_hdim": False, "conv_bias": True, "bias": False},
                "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": True, "residual_in_fp32": True,
                "fused_add_norm": True, "pad_vocab_size_multiple": 8, "tie_embeddings": True}


def rms_norm(x, w, eps):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)) * w


def segsum(x):
    """x [..., T] -> [..., T, T] with out[i, j] = sum x[j+1..i] for j <= i, -inf above the diagonal."""
    T = x.size(-1)
    xx = x[..., None].expand(*x.shape, T)
    xx = xx.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device), -1), 0)
    s = torch.cumsum(xx, dim=-2)
    return s.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device), 0), -torch.inf)


def ssd(x, dt, A, B, C, chunk):
    """Chunked SSD (Mamba-2 paper, 'minimal' form), zero initial state, fp32.
    x [b, l, h, p], dt [b, l, h] (after softplus), A [h] (negative), B/C [b, l, h, n] -> y [b, l, h, p]."""
    b, l, h, p = x.shape
    c = l // chunk
    X = (x * dt[..., None]).reshape(b, c, chunk, h, p)
    Ad = (A * dt).reshape(b, c, chunk, h).permute(0, 3, 1, 2)  # b h c l
    B = B.reshape(b, c, chunk, h, -1)
    C = C.reshape(b, c, chunk, h, -1)
    A_cum = torch.cumsum(Ad, dim=-1)
    L = torch.exp(segsum(Ad))
    y_diag = torch.einsum("bclhn,bcshn,bhcls,bcshp->bclhp", C, B, L, X)
    decay_states = torch.exp(A_cum[..., -1:] - A_cum)
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", B, decay_states, X)
    states = torch.cat([torch.zeros_like(states[:, :1]), states], dim=1)
    decay_chunk = torch.exp(segsum(F.pad(A_cum[..., -1], (1, 0))))
    states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)[:, :-1]
    y_off = torch.einsum("bclhn,bchpn,bhcl->bclhp", C, states, torch.exp(A_cum))
    return (y_diag + y_off).reshape(b, l, h, p)


class Mixer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.in_proj = nn.Linear(cfg.d_model, cfg.d_in_proj, bias=False)
        self.conv1d = nn.Conv1d(cfg.conv_dim, cfg.conv_dim, cfg.d_conv, groups=cfg.conv_dim, padding=cfg.d_conv - 1)
        self.dt_bias = nn.Parameter(torch.empty(cfg.nheads))
        self.A_log = nn.Parameter(torch.empty(cfg.nheads))
        self.D = nn.Parameter(torch.ones(cfg.nheads))
        self.norm = nn.Module()
        self.norm.weight = nn.Parameter(torch.ones(cfg.d_inner))
        self.out_proj = nn.Linear(cfg.d_inner, cfg.d_model, bias=False)

    def forward(self, u):
        cfg = self.cfg
        b, l, _ = u.shape
        zxbcdt = self.in_proj(u)
        z, xbc, dt = torch.split(zxbcdt, [cfg.d_inner, cfg.conv_dim, cfg.nheads], dim=-1)
        xbc = F.silu(self.conv1d(xbc.transpose(1, 2))[..., :l].transpose(1, 2))
        x, B, C = torch.split(xbc, [cfg.d_inner, cfg.ngroups * cfg.d_state, cfg.ngroups * cfg.d_state], dim=-1)
        with torch.autocast(device_type=u.device.type, enabled=False):
            x = x.float().reshape(b, l, cfg.nheads, cfg.headdim)
            rep = cfg.nheads // cfg.ngroups  # head h reads group h // rep
            B = B.float().reshape(b, l, cfg.ngroups, 1, cfg.d_state).expand(-1, -1, -1, rep, -1).reshape(b, l, cfg.nheads, cfg.d_state)
            C = C.float().reshape(b, l, cfg.ngroups, 1, cfg.d_state).expand(-1, -1, -1, rep, -1).reshape(b, l, cfg.nheads, cfg.d_state)
            dt = F.softplus(dt.float() + self.dt_bias)
            A = -torch.exp(self.A_log.float())
            y = ssd(x, dt, A, B, C, cfg.chunk) + x * self.D[:, None]
            y = y.reshape(b, l, cfg.d_inner) * F.silu(z.float())
            gs = cfg.d_inner // cfg.ngroups
            y = torch.cat([rms_norm(y[..., g * gs:(g + 1) * gs], self.norm.weight[g * gs:(g + 1) * gs], cfg.eps)
                           for g in range(cfg.ngroups)], dim=-1)
        return self.out_proj(y)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.norm = nn.Module()
        self.norm.weight = nn.Parameter(torch.ones(cfg.d_model))
        self.mixer = Mixer(cfg)
        self.eps = cfg.eps

    def forward(self, h):
        return h + self.mixer(rms_norm(h, self.norm.weight, self.eps)).float()


class Backbone(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embedding = nn.Embedding(cfg.vocab, cfg.d_model)
        self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.norm_f = nn.Module()
        self.norm_f.weight = nn.Parameter(torch.ones(cfg.d_model))


class Mamba2LM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg)
        self.reset_parameters()

    def reset_parameters(self):
        """mamba_ssm's initialisation: embedding N(0, 0.02), dt in [1e-3, 0.1] log-uniform through the inverse
        softplus, A in [1, 16], D = 1, out_proj scaled by 1/sqrt(n_layer) (prenorm residual rescaling)."""
        cfg = self.cfg
        nn.init.normal_(self.backbone.embedding.weight, std=0.02)
        for blk in self.backbone.layers:
            m = blk.mixer
            dt = torch.exp(torch.rand(cfg.nheads) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
            with torch.no_grad():
                m.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))
                m.A_log.copy_(torch.log(torch.empty(cfg.nheads).uniform_(1, 16)))
                nn.init.kaiming_uniform_(m.out_proj.weight, a=math.sqrt(5))
                m.out_proj.weight /= math.sqrt(cfg.n_layer)

    def forward(self, tokens):
        h = self.backbone.embedding(tokens).float()
        for blk in self.backbone.layers:
            h = blk(h)
        hn = rms_norm(h, self.backbone.norm_f.weight, self.cfg.eps)
        return F.linear(hn, self.backbone.embedding.weight)


def load_tokens(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return np.frombuffer(f.read(), dtype="<u2").astype(np.int64)


def find(data_dir, name):
    for n in (name, name + ".gz"):
        if os.path.exists(os.path.join(data_dir, n)):
            return os.path.join(data_dir, n)
    raise FileNotFoundError(os.path.join(data_dir, name))


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = np.ascontiguousarray(t.detach().float().cpu().numpy(), dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
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


def split_docs(stream):
    """The EOS-terminated documents of a token stream, without their EOS."""
    ends = np.flatnonzero(stream == EOS)
    docs, start = [], 0
    for e in ends:
        docs.append(stream[start:e])
        start = e + 1
    return docs


@torch.no_grad()
def window_loss(model, stream, seq, device, max_windows=None, batch=64):
    """Mean next-token NLL over non-overlapping windows of the stream, each from a zero state."""
    n = (len(stream) - 1) // seq
    if max_windows:
        n = min(n, max_windows)
    tot, cnt = 0.0, 0
    for i in range(0, n, batch):
        idx = np.arange(i, min(n, i + batch)) * seq
        x = torch.from_numpy(np.stack([stream[j:j + seq + 1] for j in idx])).to(device)
        with autocast(device):
            logits = model(x[:, :-1])
        nll = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1), reduction="sum")
        tot += float(nll)
        cnt += x[:, 1:].numel()
    return tot / cnt


@torch.no_grad()
def doc_scores(model, docs, chunk, device, batch=64):
    """Per document, as `bin/ssdspark score` computes it: no BOS, tokens 2..n scored given the earlier ones.
    Returns (sum_logprob, num_scored) per document, in fp32 (no autocast). Right padding cannot reach earlier
    positions of a causal model."""
    order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    out = [None] * len(docs)
    for s in range(0, len(order), batch):
        ids = order[s:s + batch]
        L = max(len(docs[i]) for i in ids)
        L = max(chunk, (L + chunk - 1) // chunk * chunk)
        x = torch.zeros(len(ids), L, dtype=torch.long)
        for r, i in enumerate(ids):
            x[r, :len(docs[i])] = torch.from_numpy(docs[i])
        x = x.to(device)
        lp = torch.log_softmax(model(x).float(), dim=-1)
        tgt = lp[:, :-1].gather(-1, x[:, 1:, None])[..., 0]
        for r, i in enumerate(ids):
            n = len(docs[i])
            out[i] = (float(tgt[r, :n - 1].double().sum()), max(0, n - 1))
    return out


class autocast:
    def __init__(self, device):
        self.ctx = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else None

    def __enter__(self):
        if self.ctx:
            self.ctx.__enter__()

    def __exit__(self, *a):
        if self.ctx:
            self.ctx.__exit__(*a)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", default="auto")
    ap.add_argument("--max-steps", type=int, default=4000, help="upper bound for --steps auto")
    ap.add_argument("--time-budget", type=float, default=120.0, help="seconds of training for --steps auto")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--d-model", type=int, default=192)
    ap.add_argument("--n-layer", type=int, default=6)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-docs", type=int, default=0, help="score only the first N held-out documents (0: all)")
    ap.add_argument("--eval-windows", type=int, default=0, help="final held-out windows (0: all)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args(argv)

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device(a.device)
    os.makedirs(a.out, exist_ok=True)

    train = load_tokens(find(a.data, "train.u16"))
    held = load_tokens(find(a.data, "heldout.u16"))
    cfg = Config(d_model=a.d_model, n_layer=a.n_layer)
    assert train.max() < cfg.vocab and held.max() < cfg.vocab
    model = Mamba2LM(cfg).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params:,} parameters; train {len(train):,} tokens, held-out {len(held):,}; device {device}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), eps=1e-8, fused=device.type == "cuda")
    except TypeError:
        opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), eps=1e-8)

    gen = torch.Generator().manual_seed(a.seed)
    train_t = torch.from_numpy(train)
    steps = None if a.steps == "auto" else int(a.steps)
    planned = steps or a.max_steps

    def lr_at(step, total):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        prog = min(1.0, (step - a.warmup) / max(1, total - a.warmup))
        return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * prog)))

    log = {"losses": [], "evals": []}
    t0 = time.time()
    t_mark = None
    step = 0
    model.train()
    while step < (steps or planned):
        if steps is None and step == 30:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t_mark = time.time()
        if steps is None and step == 80:
            if device.type == "cuda":
                torch.cuda.synchronize()
            per = (time.time() - t_mark) / 50
            steps = max(100, min(a.max_steps, int(a.time_budget / per) // 100 * 100))
            print(f"{per * 1000:.1f} ms/step -> --steps {steps}", flush=True)
        total = steps or planned
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total)
        starts = torch.randint(0, len(train_t) - a.seq - 1, (a.batch,), generator=gen)
        x = torch.stack([train_t[s:s + a.seq + 1] for s in starts.tolist()]).to(device, non_blocking=True)
        with autocast(device):
            logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, cfg.vocab), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        log["losses"].append(float(loss.detach()))
        if not math.isfinite(log["losses"][-1]):
            raise RuntimeError(f"loss {log['losses'][-1]} at step {step}")
        step += 1
        if step % a.eval_every == 0 or step == (steps or planned):
            model.eval()
            hl = window_loss(model, held, a.seq, device, max_windows=64)
            model.train()
            log["evals"].append({"step": step, "heldout_loss": hl})
            print(f"step {step}/{steps or '?'} loss {np.mean(log['losses'][-50:]):.4f} held-out {hl:.4f} "
                  f"(ppl {math.exp(hl):.1f}) lr {lr_at(step - 1, total):.2e} |g| {float(gnorm):.2f} {time.time() - t0:.0f}s", flush=True)
    train_s = time.time() - t0

    model.eval()
    # the weights first, so that a failure in the evaluation below loses nothing
    tensors = dict(model.state_dict())
    assert all(k.startswith("backbone.") for k in tensors)
    write_safetensors(os.path.join(a.out, "model.safetensors"), tensors)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg.mamba_ssm_json(), f, indent=2)
    with open(find(a.data, "tokenizer.json"), "rb") as src, open(os.path.join(a.out, "tokenizer.json"), "wb") as dst:
        dst.write(src.read())
    log.update({"settings": vars(a), "steps": steps, "train_seconds": train_s, "parameters": n_params,
                "train_tokens": int(len(train)), "tokens_seen": steps * a.batch * a.seq,
                "versions": {"torch": torch.__version__, "python": platform.python_version(), "numpy": np.__version__,
                             "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None}})

    t1 = time.time()
    hl = window_loss(model, held, a.seq, device, max_windows=a.eval_windows or None)
    docs = split_docs(held)
    if a.eval_docs:
        docs = docs[:a.eval_docs]
    scores = doc_scores(model, docs, cfg.chunk, device)
    tot_lp = sum(s for s, _ in scores)
    tot_n = sum(n for _, n in scores)
    doc_ppl = [math.exp(-s / n) for s, n in scores if n > 0]
    log["eval"] = {"heldout_window_loss": hl, "heldout_window_ppl": math.exp(hl),
                   "heldout_docs": len(docs), "heldout_scored_tokens": tot_n,
                   "heldout_doc_token_ppl": math.exp(-tot_lp / tot_n), "heldout_doc_mean_ppl": float(np.mean(doc_ppl)),
                   "heldout_doc_median_ppl": float(np.median(doc_ppl)), "eval_seconds": time.time() - t1}
    print(json.dumps(log["eval"]), flush=True)
    with open(os.path.join(a.out, "heldout_eval.json"), "w") as f:
        json.dump([{"tokens": docs[i].tolist(), "sum_logprob": scores[i][0], "num_scored": scores[i][1]}
                   for i in range(min(50, len(docs)))], f)
    with open(os.path.join(a.out, "train_log.json"), "w") as f:
        json.dump(log, f)
    try:
        plot(log, a, os.path.join(a.out, "loss.png"))
    except Exception as e:  # noqa: BLE001 - the plot is optional; the log holds the numbers
        print(f"no plot: {e}")
    print(f"done: {steps} steps in {train_s:.0f} s", flush=True)
    return 0


def plot(log, a, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tok = a.batch * a.seq / 1e6
    losses = np.array(log["losses"])
    k = 25
    smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(np.arange(1, len(losses) + 1) * tok, losses, color="#bbbbbb", lw=0.6, label="training loss (batch)")
    ax.plot(np.arange(k, len(losses) + 1) * tok, smooth, color="#1f77b4", lw=1.5, label=f"training loss ({k}-step mean)")
    ev = log["evals"]
    ax.plot([e["step"] * tok for e in ev], [e["heldout_loss"] for e in ev], "o-", color="#d62728", ms=3,
            label="held-out loss")
    ax.set_xlabel("training tokens (millions)")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_ylim(max(0.0, min(smooth.min(), min(e["heldout_loss"] for e in ev)) - 0.3), min(9.0, losses.max() + 0.2))
    ax.set_title(f"demo Mamba-2: {log['parameters'] / 1e6:.2f}M params, {log['steps']} steps, "
                 f"held-out ppl {log['eval']['heldout_window_ppl']:.1f}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
