#!/usr/bin/env python3
"""Hugging Face transformers' PyTorch CPU path for a random Mamba-2 of the 130M shape: the yardstick
for our Java CPU engine (ssdspark.model.bench.CpuBenchmark).

Builds Mamba2ForCausalLM from a Mamba2Config with random weights (no files), float32 on the CPU, so
the mixer runs its pure-torch path (no mamba_ssm / causal_conv1d kernels), and scores one document:
logits for every position, then log-softmax and the gather of the next token, like our scorer.
Prints one line per thread count:  RESULT impl=hf threads=N tokens=T median_ms=... tok_s=...
"""
import argparse
import statistics
import time

import torch
import transformers
from transformers import Mamba2Config, Mamba2ForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="2,16", help="comma-separated torch.set_num_threads values")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--iters", type=int, default=2, help="timed forwards per thread count")
    ap.add_argument("--warmup-tokens", type=int, default=64, help="one untimed forward of this many tokens first")
    args = ap.parse_args()

    cfg = Mamba2Config(
        vocab_size=50288,            # 50280 padded to a multiple of 16, as mamba2-130m ships it
        hidden_size=768, num_hidden_layers=args.layers, state_size=128, head_dim=64, expand=2,
        num_heads=24, n_groups=1, conv_kernel=4, chunk_size=256, tie_word_embeddings=True,
        use_cache=False)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = Mamba2ForCausalLM(cfg).eval().float()
    print(f"hf      transformers {transformers.__version__}, torch {torch.__version__}, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, built in {time.perf_counter() - t0:.1f} s",
          flush=True)
    ids = torch.randint(0, 50280, (1, args.tokens))

    def score(x):
        logits = model(input_ids=x, use_cache=False).logits
        lp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        return lp.gather(-1, x[:, 1:, None]).sum().item()

    for n in [int(s) for s in args.threads.split(",")]:
        torch.set_num_threads(n)
        with torch.inference_mode():
            score(ids[:, : args.warmup_tokens])
            ms = []
            for _ in range(args.iters):
                s = time.perf_counter()
                total = score(ids)
                ms.append((time.perf_counter() - s) * 1e3)
        med = statistics.median(ms)
        print(f"RESULT impl=hf threads={n} tokens={args.tokens} median_ms={med:.1f} best_ms={min(ms):.1f} "
              f"tok_s={args.tokens / (med / 1e3):.1f} mean_nll={-total / (args.tokens - 1):.4f}", flush=True)


if __name__ == "__main__":
    main()
