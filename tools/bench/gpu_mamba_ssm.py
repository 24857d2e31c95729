#!/usr/bin/env python3
"""Times the official mamba_ssm stack on the workloads of ssdspark's GpuBenchmark, on the same GPU, for
tools/bench/gpu_compare.py.

Runs on the GPU host (torch, triton, transformers, einops there; no internet). mamba_ssm is not installed there:
its public source (github.com/state-spaces/mamba, folder mamba_ssm) is read from --src (default .mamba_src), as
fetched by tools/bench/README.md, and only what works without its compiled extensions is used:

  * MambaLMHeadModel / Mamba2 modules as they are, bf16 weights, residual in fp32, fused add+RMSNorm (Triton);
  * SSD: the Triton kernels behind mamba_chunk_scan_combined; gated RMSNorm: the Triton kernel;
  * the causal conv: the causal_conv1d package (CUDA) is missing. Two paths are timed and both are recorded:
      - "unfused": Mamba2.forward with use_mem_eff_path=False, which is what mamba2.py itself runs when
        causal_conv1d_fn is None: nn.Conv1d (cuDNN) + SiLU, then mamba_chunk_scan_combined, RMSNormGated,
        out_proj. No mamba_ssm code is changed.
      - "fused_torch_conv": the default use_mem_eff_path=True (mamba_split_conv1d_scan_combined), with its
        missing causal_conv1d_fwd_function replaced by the same depthwise conv in torch (F.conv1d + SiLU).
    Each workload reports the faster of the two as mamba_ssm's number ("path" names it).

Per workload: tokens/s as a user sees it (token ids from host memory, results back in host memory: median wall
time of --iters batches after --warmup), peak memory (torch.cuda.max_memory_allocated: weights + activations, not
the CUDA context), and one profiled batch (torch profiler, CUDA kernels) grouped like GpuBenchmark's op families.
Score workloads: logits -> log_softmax in fp32 over the padded vocab -> gather of the next token (what a user
writes); embed workloads: mean of the final hidden states over each sequence.
"""
import argparse
import datetime
import json
import math
import os
import statistics
import sys
import tempfile
import time

# family names and FLOP formulas mirror ssdspark.model.bench.GpuBenchmark (Families, Work)
GEMM, SSD, HEAD, ELEM = "gemm", "ssd", "lm_head", "norms_conv_elementwise"
SSD_KERNELS = ("_chunk_cumsum", "_bmm_chunk", "_chunk_state", "_state_passing", "_chunk_scan")
GEMM_MARKERS = ("gemm", "cutlass", "nvjet", "xmma", "cublas", "wgmma")

SIZES = {"130m": (768, 24), "1.3b": (2048, 48)}
VOCAB, PAD = 50277, 16
D_STATE, HEADDIM, EXPAND, NGROUPS, D_CONV, CHUNK = 128, 64, 2, 1, 4, 256


def workloads(names, sweep, length):
    out = []
    for n in names:
        if n == "score-130m":
            out.append(dict(name=n, model="130m", mode="score", seqs=16, len=length, sweep=False))
        elif n == "embed-130m":
            out.append(dict(name=n, model="130m", mode="embed", seqs=16, len=length, sweep=False))
        elif n == "score-1.3b":
            out.append(dict(name=n, model="1.3b", mode="score", seqs=8, len=length, sweep=False))
        elif n == "sweep":
            out += [dict(name=f"sweep-130m-{s}x{length}", model="130m", mode="score", seqs=s, len=length, sweep=True)
                    for s in sweep]
        else:
            raise SystemExit(f"gpu_mamba_ssm.py: unknown workload '{n}' (known: score-130m, embed-130m, score-1.3b, sweep)")
    out.sort(key=lambda w: list(SIZES).index(w["model"]))
    return out


def dims(model):
    d, L = SIZES[model]
    d_inner = EXPAND * d
    nheads = d_inner // HEADDIM
    conv_dim = d_inner + 2 * NGROUPS * D_STATE
    return dict(d=d, L=L, d_inner=d_inner, nheads=nheads, conv_dim=conv_dim,
                d_in_proj=2 * d_inner + 2 * NGROUPS * D_STATE + nheads, vocab=-(-VOCAB // PAD) * PAD)


def work(w, q):
    """FLOPs / bytes of one batch from the config (see GpuBenchmark.Work for the formulas)."""
    c = dims(w["model"])
    T, d, L = w["seqs"] * w["len"], c["d"], c["L"]
    H, P, N, G = c["nheads"], HEADDIM, D_STATE, NGROUPS
    per_seq = 0.0
    for start in range(0, w["len"], q):
        n = min(q, w["len"] - start)
        per_seq += 2 * n * n * N * G + 4 * n * N * P * H + 2 * n * n * P * H + 2 * H * P * N
    return {
        GEMM: L * (2 * T * d * c["d_in_proj"] + 2 * T * c["d_inner"] * d),
        HEAD: 2 * T * d * c["vocab"] if w["mode"] == "score" else 0,
        SSD: L * w["seqs"] * per_seq,
        ELEM: 2 * (L * (4 * T * d + 2 * T * c["conv_dim"] + 3 * T * c["d_inner"]) + T * d + 4 * T * d),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=os.environ.get("MAMBA_SRC", ".mamba_src"),
                    help="folder holding mamba_ssm/ (default .mamba_src or $MAMBA_SRC)")
    ap.add_argument("--workloads", default="score-130m,embed-130m,score-1.3b,sweep")
    ap.add_argument("--sweep", default="1,2,4,8,16,32", help="sequences per batch for the sweep")
    ap.add_argument("--len", type=int, default=2048)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--paths", default="unfused,fused_torch_conv", help="mamba_ssm paths to time (see above)")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.len < 2 or a.iters < 1 or a.warmup < 0:
        raise SystemExit("gpu_mamba_ssm.py: need --len >= 2, --iters >= 1, --warmup >= 0")
    plan = workloads(a.workloads.split(","), [int(s) for s in a.sweep.split(",")], a.len)
    paths = a.paths.split(",")
    for p in paths:
        if p not in ("unfused", "fused_torch_conv"):
            raise SystemExit(f"gpu_mamba_ssm.py: unknown path '{p}' (known: unfused, fused_torch_conv)")
    if not os.path.isdir(os.path.join(a.src, "mamba_ssm")):
        raise SystemExit(f"gpu_mamba_ssm.py: no mamba_ssm/ under {a.src}: fetch the source first (tools/bench/README.md)")
    sys.path.insert(0, os.path.abspath(a.src))

    import torch
    import torch.nn.functional as F
    import triton
    from triton.testing import do_bench
    import mamba_ssm
    from mamba_ssm.models.config_mamba import MambaConfig
    from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel
    from mamba_ssm.modules.mamba2 import Mamba2
    import mamba_ssm.modules.mamba2 as mamba2_mod
    import mamba_ssm.ops.triton.ssd_combined as ssd_combined
    from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined

    if not torch.cuda.is_available():
        raise SystemExit("gpu_mamba_ssm.py: torch sees no CUDA device")
    dev = torch.device("cuda")
    conv_note = ("causal_conv1d is installed (CUDA conv)" if mamba2_mod.causal_conv1d_fn is not None
                 else "causal_conv1d missing: mamba2.py's nn.Conv1d + SiLU fallback")
    if ssd_combined.causal_conv1d_fwd_function is None:
        def torch_causal_conv1d_fwd(x, weight, bias, seq_idx, initial_states, final_states_out, silu):
            # the same depthwise causal conv as mamba2.py's fallback, for the fused path's missing CUDA function
            assert seq_idx is None and initial_states is None and final_states_out is None
            y = F.conv1d(x, weight.unsqueeze(1), bias, padding=weight.shape[-1] - 1, groups=x.shape[1])[..., :x.shape[-1]]
            return F.silu(y) if silu else y
        ssd_combined.causal_conv1d_fwd_function = torch_causal_conv1d_fwd
        fused_note = "mamba_split_conv1d_scan_combined with causal_conv1d_fwd_function = torch F.conv1d + SiLU (shim)"
    else:
        fused_note = "mamba_split_conv1d_scan_combined with the causal_conv1d CUDA kernel"
    path_notes = {
        "unfused": "Mamba2.forward, use_mem_eff_path=False: in_proj (cuBLAS), " + conv_note
                   + ", mamba_chunk_scan_combined (Triton), RMSNormGated (Triton), out_proj (cuBLAS)",
        "fused_torch_conv": "Mamba2.forward, use_mem_eff_path=True: " + fused_note,
    }
    print(f"device  {torch.cuda.get_device_name()}, torch {torch.__version__}, triton {triton.__version__}, "
          f"mamba_ssm {mamba_ssm.__version__} from {a.src}")
    for p in paths:
        print(f"path    {p}: {path_notes[p]}")

    def build(model):
        d, L = SIZES[model]
        cfg = MambaConfig(d_model=d, n_layer=L, vocab_size=VOCAB, pad_vocab_size_multiple=PAD,
                          ssm_cfg=dict(layer="Mamba2", d_state=D_STATE, headdim=HEADDIM, expand=EXPAND,
                                       ngroups=NGROUPS, d_conv=D_CONV, chunk_size=CHUNK),
                          rms_norm=True, residual_in_fp32=True, fused_add_norm=True, tie_embeddings=True)
        torch.manual_seed(a.seed)
        m = MambaLMHeadModel(cfg, device=dev, dtype=torch.bfloat16).eval()  # mamba_ssm's own initialisation
        return m, cfg

    def set_path(model, path):
        for mod in model.modules():
            if isinstance(mod, Mamba2):
                mod.use_mem_eff_path = path == "fused_torch_conv"

    def batch_fn(model, w, ids_cpu):
        if w["mode"] == "score":
            def f():
                ids = ids_cpu.to(dev)
                logits = model(ids).logits
                lp = torch.log_softmax(logits, dim=-1, dtype=torch.float32)
                return lp[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1).cpu()
        else:
            def f():
                ids = ids_cpu.to(dev)
                return model.backbone(ids).float().mean(dim=1).cpu()
        return f

    def profile(model, w, ids_cpu):
        """One batch under the torch profiler: backbone kernels by family, then the head (GEMM + log-softmax)."""
        from torch.profiler import profile as tprofile, ProfilerActivity
        ids = ids_cpu.to(dev)
        torch.cuda.synchronize()
        fam = {k: [0.0, 0] for k in (GEMM, SSD, HEAD, ELEM)}  # every kernel of theirs has a family
        kernels = {}

        def kernel_events(fn):
            with tprofile(activities=[ProfilerActivity.CUDA]) as prof:
                out = fn()
                torch.cuda.synchronize()
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as t:
                path = t.name
            prof.export_chrome_trace(path)
            with open(path) as fh:
                trace = json.load(fh)
            os.unlink(path)
            return out, [(e["name"], e.get("dur", 0) / 1e3) for e in trace.get("traceEvents", [])
                         if e.get("cat") == "kernel"]

        hidden, evs = kernel_events(lambda: model.backbone(ids))
        conv_fallback = 0.0
        for name, ms in evs:
            if "conv_depthwise" in name or "silu_kernel" in name:
                conv_fallback += ms
            if name.startswith(SSD_KERNELS):
                f = SSD
            elif any(m in name.lower() for m in GEMM_MARKERS):
                f = GEMM
            else:
                f = ELEM
            fam[f][0] += ms
            fam[f][1] += 1
            k = kernels.setdefault(name, [0.0, 0])
            k[0] += ms
            k[1] += 1
        head_gemm = 0.0
        if w["mode"] == "score":
            def head():
                lp = torch.log_softmax(model.lm_head(hidden), dim=-1, dtype=torch.float32)
                return lp[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
            _, evs = kernel_events(head)
            for name, ms in evs:
                fam[HEAD][0] += ms
                fam[HEAD][1] += 1
                if any(m in name.lower() for m in GEMM_MARKERS):
                    head_gemm += ms
                k = kernels.setdefault("head: " + name, [0.0, 0])
                k[0] += ms
                k[1] += 1
        wk = work(w, CHUNK)
        fams = {}
        for f, (ms, n) in fam.items():
            if f == HEAD and w["mode"] != "score":
                continue
            x = {"ms": ms, "launches": n}
            if f in (GEMM, SSD, HEAD):
                x["flops"] = wk[f]
                x["tflop_s"] = wk[f] / (ms / 1e3) / 1e12 if ms > 0 else None
            else:
                x["bytes"] = wk[f]
                x["gb_s"] = wk[f] / (ms / 1e3) / 1e9 if ms > 0 else None
            if f == SSD:
                x["ms_per_layer"] = ms / dims(w["model"])["L"]
            if f == HEAD:
                x["gemm_ms"] = head_gemm
                x["log_softmax_gather_ms"] = ms - head_gemm
            fams[f] = x
        # what the missing causal_conv1d extension costs here: torch's depthwise conv and SiLU kernels (layout
        # copies around them not counted); with the extension, one fused conv+SiLU kernel would do this work
        fams[ELEM]["torch_conv_fallback_ms"] = conv_fallback
        return {"kernel_ms": sum(v[0] for v in fam.values()), "families": fams,
                "kernels": {k: {"ms": v[0], "launches": v[1]} for k, v in sorted(kernels.items())}}

    results = []
    model, loaded = None, None
    for w in plan:
        if w["model"] != loaded:
            model = None
            torch.cuda.empty_cache()
            t0 = time.time()
            model, cfg = build(w["model"])
            loaded = w["model"]
            print(f"\nmodel   {w['model']}: {cfg} ({time.time() - t0:.1f} s)")
        g = torch.Generator().manual_seed(a.seed * 31 + w["seqs"])
        ids_cpu = torch.randint(0, VOCAB, (w["seqs"], w["len"]), generator=g)
        r = dict(w, tokens=w["seqs"] * w["len"], chunk=CHUNK, paths={})
        best = None
        with torch.inference_mode():
            for p in paths:
                set_path(model, p)
                f = batch_fn(model, w, ids_cpu)
                out = None
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                for _ in range(a.warmup):
                    out = f()
                ms = []
                for _ in range(a.iters):
                    torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    out = f()  # .cpu() waits for the device
                    ms.append((time.perf_counter() - t0) * 1e3)
                if not torch.isfinite(out).all():
                    raise SystemExit(f"gpu_mamba_ssm.py: non-finite output on {w['name']} ({p})")
                med = statistics.median(ms)
                pr = {"ms_median": med, "ms_min": min(ms), "ms_all": ms, "tok_s": r["tokens"] / (med / 1e3),
                      "note": path_notes[p],
                      "memory": {"max_allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
                                 "max_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
                                 "weights_gib": weights_gib(model)}}
                if w["mode"] == "score":
                    pr["mean_logprob"] = float(out.double().mean())
                r["paths"][p] = pr
                if best is None or med < r["paths"][best]["ms_median"]:
                    best = p
            r["path"] = best
            for k in ("ms_median", "ms_min", "ms_all", "tok_s", "mean_logprob", "memory"):
                if k in r["paths"][best]:
                    r[k] = r["paths"][best][k]
            if not a.no_profile:
                set_path(model, best)
                r["profile"] = profile(model, w, ids_cpu)
        results.append(r)
        show(r)

    # the SSD scan alone, on the shapes of one score-130m layer
    ssd_alone = []
    if any(w["name"] == "score-130m" for w in plan):
        c = dims("130m")
        b, l, h, p, n = 16, a.len, c["nheads"], HEADDIM, D_STATE
        g = torch.Generator(device=dev).manual_seed(a.seed)
        x = torch.randn(b, l, h, p, device=dev, dtype=torch.bfloat16, generator=g)
        dt = torch.randn(b, l, h, device=dev, dtype=torch.bfloat16, generator=g)
        A = -torch.rand(h, device=dev, generator=g) * 15 - 1
        B = torch.randn(b, l, NGROUPS, n, device=dev, dtype=torch.bfloat16, generator=g)
        C = torch.randn(b, l, NGROUPS, n, device=dev, dtype=torch.bfloat16, generator=g)
        D = torch.ones(h, device=dev)
        dt_bias = torch.rand(h, device=dev, generator=g) - 4
        for q in (256, 128):
            with torch.inference_mode():
                ms = do_bench(lambda: mamba_chunk_scan_combined(x, dt, A, B, C, chunk_size=q, D=D, dt_bias=dt_bias,
                                                                dt_softplus=True), warmup=100, rep=500, return_mode="median")
            flops = work(dict(model="130m", mode="score", seqs=b, len=l), q)[SSD] / c["L"]
            ssd_alone.append({"chunk": q, "batch": b, "len": l, "nheads": h, "headdim": p, "d_state": n,
                              "ms": ms, "tflop_s": flops / (ms / 1e3) / 1e12})
            print(f"SSD alone: mamba_chunk_scan_combined {b} x {l}, {h} heads, headdim {p}, d_state {n}, chunk {q}: "
                  f"{ms:.3f} ms (do_bench median)")

    sw = [r for r in results if r["sweep"]]
    if sw:
        print(f"\n== sweep (score-130m)\n   {'tokens':>8} {'ms/batch':>12} {'tok/s':>12} {'GiB':>8}")
        for r in sw:
            print(f"   {r['tokens']:>8} {r['ms_median']:>12.2f} {r['tok_s']:>12.0f} {r['memory']['max_allocated_gib']:>8.2f}")
    for r in results:
        print(f"RESULT workload={r['name']} tokens={r['tokens']} ms={r['ms_median']:.2f} tok_s={r['tok_s']:.0f} path={r['path']}")

    if a.json:
        top = {"tool": "mamba_ssm (gpu_mamba_ssm.py)", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
               "device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__,
               "mamba_ssm": mamba_ssm.__version__, "mamba_src": os.path.abspath(a.src),
               "mamba_src_commit": read_commit(a.src), "paths": {p: path_notes[p] for p in paths},
               "warmup": a.warmup, "iters": a.iters, "workloads": results, "ssd_alone": ssd_alone}
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as fh:
            json.dump(top, fh, indent=2, default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else v)
        print("wrote", a.json)


def weights_gib(model):
    return sum(t.numel() * t.element_size() for t in model.parameters()) / 2**30


def read_commit(src):
    f = os.path.join(src, "COMMIT")
    return open(f).read().strip() if os.path.exists(f) else None


def show(r):
    print(f"\n== {r['name']} ({r['mode']}, {r['seqs']} x {r['len']} tokens): path {r['path']}")
    for p, x in r["paths"].items():
        print(f"   {p:>17}: {x['tok_s']:.0f} tok/s, {x['ms_median']:.2f} ms per batch (median; min {x['ms_min']:.2f}), "
              f"max allocated {x['memory']['max_allocated_gib']:.2f} GiB"
              + (f", mean log-prob {x['mean_logprob']:.3f}" if "mean_logprob" in x else ""))
    m = r["memory"]
    print(f"   memory: torch max allocated {m['max_allocated_gib']:.2f} GiB (reserved {m['max_reserved_gib']:.2f}, "
          f"weights {m['weights_gib']:.2f})")
    pr = r.get("profile")
    if pr:
        print(f"   kernel time of one profiled batch: {pr['kernel_ms']:.2f} ms (torch profiler)")
        for f, x in pr["families"].items():
            rate = (f"{x['tflop_s']:7.1f} TFLOP/s" if x.get("tflop_s") is not None
                    else f"{x['gb_s']:7.0f} GB/s (nominal bytes)" if x.get("gb_s") is not None else "")
            print(f"   {f:<24} {x['ms']:8.2f} ms {x['launches']:5d} launches  {rate}")


if __name__ == "__main__":
    main()
