#!/usr/bin/env python3
"""Side-by-side tables of ssdspark's GpuBenchmark JSON and gpu_mamba_ssm.py's JSON (same GPU, same call), and a
plot of tokens/s against batch tokens for both.

    python3 tools/bench/gpu_compare.py OURS.json MAMBA.json [--md FILE] [--png FILE]

Prints one table per workload (ours, mamba_ssm, ratio, target from issue 7), the op families side by side, the SSD
scan alone, and writes the same as Markdown (--md) and the sweep plot (--png; needs matplotlib).
"""
import argparse
import json
import sys

# issue 7's targets: tok/s ratio ours / mamba_ssm per workload
TARGETS = {"score-130m": 2.0, "embed-130m": 1.5, "score-1.3b": 1.3}
SSD_ALONE_TARGET_MS = 0.8
MEMORY_TARGET_GIB = {"score-130m": 4.0}
FAMILIES = [("gemm", "in_proj + out_proj GEMMs"), ("ssd", "SSD"), ("lm_head", "LM head + log-softmax"),
            ("norms_conv_elementwise", "norms + conv + elementwise"), ("other", "other (unknown kernels)")]


def fmt_rate(x):
    if not x:
        return ""
    if x.get("tflop_s") is not None:
        return f"{x['tflop_s']:.0f} TFLOP/s"
    if x.get("gb_s") is not None:
        return f"{x['gb_s']:.0f} GB/s"
    return ""


def ours_mem(r):
    return r["memory"]["device_used_gib"]


def theirs_mem(r):
    return r["memory"]["max_allocated_gib"]


def compare(ours, theirs):
    """Markdown lines of the whole comparison."""
    o_by = {r["name"]: r for r in ours["workloads"]}
    t_by = {r["name"]: r for r in theirs["workloads"]}
    out = [f"ours: {ours.get('device')} · {ours.get('label') or ''} · {ours.get('date')}",
           f"mamba_ssm {theirs.get('mamba_ssm')} (source commit {theirs.get('mamba_src_commit')}), torch "
           f"{theirs.get('torch')}, triton {theirs.get('triton')} · {theirs.get('date')}", ""]
    for p, note in theirs.get("paths", {}).items():
        out.append(f"- mamba_ssm path `{p}`: {note}")
    out.append("")
    out.append("| workload | tokens | ours tok/s | mamba_ssm tok/s (path) | ratio | target | ours GiB (device) | mamba_ssm GiB (torch peak) |")
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, o in o_by.items():
        if o.get("sweep"):
            continue  # in the sweep table below
        t = t_by.get(name)
        ratio = o["tok_s"] / t["tok_s"] if t else None
        tgt = TARGETS.get(name)
        verdict = "" if tgt is None or ratio is None else (" ✓" if ratio >= tgt else " ✗")
        mem_t = MEMORY_TARGET_GIB.get(name)
        mem = f"{ours_mem(o):.2f}" + ("" if mem_t is None else (" ✓" if ours_mem(o) <= mem_t else " ✗") + f" (≤ {mem_t})")
        out.append(f"| {name} | {o['tokens']} | {o['tok_s'] / 1e3:.0f} K | "
                   + (f"{t['tok_s'] / 1e3:.0f} K ({t['path']})" if t else "–") + " | "
                   + (f"{ratio:.2f}×{verdict}" if ratio else "–") + " | "
                   + (f"≥ {tgt}×" if tgt else "") + f" | {mem} | " + (f"{theirs_mem(t):.2f}" if t else "–") + " |")
    out.append("")
    for name, o in o_by.items():
        if o.get("sweep"):
            continue
        t = t_by.get(name)
        po, pt = o.get("profile"), (t or {}).get("profile")
        if not po and not pt:
            continue
        out.append(f"**{name}**: kernel time of one profiled batch, ours {po['kernel_ms']:.1f} ms" if po else f"**{name}**")
        if pt:
            out[-1] += f", mamba_ssm {pt['kernel_ms']:.1f} ms"
        out.append("")
        out.append("| op family | ours ms | ours rate | mamba_ssm ms | mamba_ssm rate |")
        out.append("|---|--:|--:|--:|--:|")
        for key, label in FAMILIES:
            xo = (po or {}).get("families", {}).get(key)
            xt = (pt or {}).get("families", {}).get(key)
            if not xo and not xt:
                continue
            if key == "other" and not (xo and xo["ms"] > 0) and not (xt and xt["ms"] > 0):
                continue
            lab = label
            if key == "other" and xo and xo.get("kernels"):
                lab += ": " + ", ".join(xo["kernels"])
            if key == "lm_head" and xt and "gemm_ms" in xt:
                lab += f" (mamba_ssm: GEMM {xt['gemm_ms']:.2f} + softmax/gather {xt['log_softmax_gather_ms']:.2f} ms)"
            if key == "norms_conv_elementwise" and xt and "torch_conv_fallback_ms" in xt:
                lab += f" (mamba_ssm: {xt['torch_conv_fallback_ms']:.2f} ms of it in torch's conv + SiLU fallback)"
            out.append(f"| {lab} | " + (f"{xo['ms']:.2f}" if xo else "–") + f" | {fmt_rate(xo)} | "
                       + (f"{xt['ms']:.2f}" if xt else "–") + f" | {fmt_rate(xt)} |")
        out.append("")
    # the SSD scan alone: ours timed alone (GpuBenchmark's ssd_alone) and, for reference, from the score-130m profile
    # (SSD kernels of one layer in the engine, the gated norm folded into the scan, launches serialised by the
    # profile's events); theirs timed alone
    o = o_by.get("score-130m")
    if theirs.get("ssd_alone") or ours.get("ssd_alone") or (o and o.get("profile")):
        out.append(f"**SSD scan alone** (16 × 2048 tokens, 24 heads, headdim 64, d_state 128; target ≤ {SSD_ALONE_TARGET_MS} ms)")
        out.append("")
        out.append("| implementation | chunk | ms | TFLOP/s |")
        out.append("|---|--:|--:|--:|")
        for x in ours.get("ssd_alone", []):
            ok = " ✓" if x["ms"] <= SSD_ALONE_TARGET_MS else " ✗"
            out.append(f"| ours alone (GpuSsdScan.forward, median of rounds) | {x['chunk']} | {x['ms']:.3f}{ok} | {x['tflop_s']:.0f} |")
        if o and o.get("profile"):
            s = o["profile"]["families"]["ssd"]
            out.append(f"| ours in the engine (score-130m profile, SSD kernels incl. the folded gated norm / 24 layers) | "
                       f"{o.get('chunk')} | {s['ms_per_layer']:.3f} | {s['tflop_s']:.0f} |")
        for x in theirs.get("ssd_alone", []):
            out.append(f"| mamba_chunk_scan_combined (do_bench median) | {x['chunk']} | {x['ms']:.3f} | {x['tflop_s']:.0f} |")
        out.append("")
    sw_o = [r for r in ours["workloads"] if r.get("sweep")]
    if sw_o:
        out.append("**sweep** (score-130m, sequences of " + str(sw_o[0]["len"]) + " tokens)")
        out.append("")
        out.append("| batch tokens | ours tok/s | mamba_ssm tok/s | ratio | ours GiB | mamba_ssm GiB |")
        out.append("|--:|--:|--:|--:|--:|--:|")
        for o in sw_o:
            t = t_by.get(o["name"])
            out.append(f"| {o['tokens']} | {o['tok_s'] / 1e3:.0f} K | " + (f"{t['tok_s'] / 1e3:.0f} K" if t else "–")
                       + " | " + (f"{o['tok_s'] / t['tok_s']:.2f}×" if t else "–") + f" | {ours_mem(o):.2f} | "
                       + (f"{theirs_mem(t):.2f}" if t else "–") + " |")
        out.append("")
    return out


def plot(ours, theirs, png):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("gpu_compare.py: matplotlib missing, no plot", file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for data, label, style in ((ours, "ssdspark GpuEngine", "o-"), (theirs, "mamba_ssm", "s--")):
        pts = sorted((r["tokens"], r["tok_s"]) for r in data["workloads"] if r.get("sweep"))
        if pts:
            ax.plot([p[0] for p in pts], [p[1] / 1e3 for p in pts], style, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch tokens (sequences × 2048)")
    ax.set_ylabel("K tokens/s (next-token log-probs, host transfers included)")
    ax.set_title(f"Mamba-2 130M scoring, bf16, {ours.get('device', '')}", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    return True


def main():
    ap = argparse.ArgumentParser(description="compare GpuBenchmark and gpu_mamba_ssm.py results")
    ap.add_argument("ours")
    ap.add_argument("mamba")
    ap.add_argument("--md", help="write the tables as Markdown")
    ap.add_argument("--png", help="write the tok/s vs batch tokens plot")
    a = ap.parse_args()
    try:
        with open(a.ours) as f:
            ours = json.load(f)
        with open(a.mamba) as f:
            theirs = json.load(f)
    except (OSError, ValueError) as e:
        print(f"gpu_compare.py: {e}", file=sys.stderr)
        sys.exit(2)
    lines = compare(ours, theirs)
    print("\n".join(lines))
    if a.md:
        with open(a.md, "w") as f:
            f.write("\n".join(lines) + "\n")
    if a.png and plot(ours, theirs, a.png):
        print("wrote", a.png)


if __name__ == "__main__":
    main()
