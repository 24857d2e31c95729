#!/usr/bin/env python3
"""A realistic text corpus for the text job and the tokenizer benchmark (tools/pipeline/gpu_run.sh), in two steps.

  make_text_corpus.py seed DEMO_CORPUS_DIR SEED.jsonl.xz
      here: a random 40 % (--fraction) of the English texts of tools/demo/build_corpus.py (GCIDE dictionary entries and
      WordNet glosses, Debian's dict-gcide and wordnet-base: 243,612 texts, 41 M characters in all) as one JSON string
      per line, xz-compressed (about 4.5 MB), small enough to travel with the GPU host's runtime in its last carry
  make_text_corpus.py expand SEED.jsonl.xz OUT_DIR [--tokens 12000000] [--chars-per-token 2.9] [--files 16] [--seed 1]
      there: documents of log-normal length (median ~700 tokens, sigma 1, clipped to 16..16384 tokens, as
      make_gpu_inputs.py's token corpus) made of seed texts drawn at random, joined by blank lines, until about
      TOKENS tokens; OUT_DIR/text-corpus/ as Parquet (id, text; zstd; FILES files) when pyarrow is there, else JSON lines,
      and OUT_DIR/text-sample.jsonl (the first 3,000 documents) for ssdspark.jobs.bench.TokenizerBench.
Lengths are drawn in tokens and turned into characters with --chars-per-token (2.9: the demo model's 4,096-token
byte-level BPE on these texts; a GPT-NeoX-size vocabulary gives about 4 on English prose).
"""
import argparse
import json
import lzma
import os
import sys
import time

import numpy as np


def seed(demo_dir, out, fraction):
    n = chars = 0
    keep = np.random.default_rng(7)
    with lzma.open(out, "wt", encoding="utf-8", preset=6) as f:
        for name in ("train.jsonl", "heldout.jsonl"):
            with open(os.path.join(demo_dir, name), encoding="utf-8") as src:
                for line in src:
                    if keep.random() >= fraction:
                        continue
                    text = json.loads(line)["text"]
                    f.write(json.dumps(text, ensure_ascii=False) + "\n")
                    n += 1
                    chars += len(text)
    print(f"seed: {n} texts, {chars / 1e6:.1f} M chars -> {out} ({os.path.getsize(out) / 1e6:.1f} MB)")


def expand(seed_file, out, tokens, chars_per_token, files, rng_seed):
    t = time.time()
    with lzma.open(seed_file, "rt", encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    rng = np.random.default_rng(rng_seed)
    docs, total = [], 0
    while total < tokens:
        n = int(np.clip(rng.lognormal(np.log(700), 1.0), 16, 16384))
        want = int(n * chars_per_token)
        parts, size = [], 0
        while size < want:
            s = texts[rng.integers(len(texts))]
            parts.append(s)
            size += len(s) + 2
        docs.append("\n\n".join(parts))
        total += n
    ids = [f"text-{i:07d}" for i in range(len(docs))]
    tdir = os.path.join(out, "text-corpus")
    os.makedirs(tdir, exist_ok=True)
    cuts = [len(docs) * k // files for k in range(files + 1)]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
        for k in range(files):
            a, b = cuts[k], cuts[k + 1]
            pq.write_table(pa.table({"id": ids[a:b], "text": docs[a:b]}), os.path.join(tdir, f"part-{k:05d}.zstd.parquet"),
                           compression="zstd")
        fmt = "parquet"
    except ImportError:
        for k in range(files):
            with open(os.path.join(tdir, f"part-{k:05d}.jsonl"), "w", encoding="utf-8") as f:
                for i in range(cuts[k], cuts[k + 1]):
                    f.write(json.dumps({"id": ids[i], "text": docs[i]}, ensure_ascii=False) + "\n")
        fmt = "json lines"
    with open(os.path.join(out, "text-sample.jsonl"), "w", encoding="utf-8") as f:
        for i in range(min(3000, len(docs))):
            f.write(json.dumps({"id": ids[i], "text": docs[i]}, ensure_ascii=False) + "\n")
    chars = sum(len(d) for d in docs)
    print(f"text: {len(docs)} docs, {chars / 1e6:.1f} M chars (~{total} tokens at {chars_per_token} chars/token) from "
          f"{len(texts)} seed texts, {files} {fmt} files in {time.time() - t:.1f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("demo_dir")
    s.add_argument("out")
    s.add_argument("--fraction", type=float, default=0.4, help="share of the texts kept (0.4: ~16 M chars, ~4.5 MB)")
    e = sub.add_parser("expand")
    e.add_argument("seed_file")
    e.add_argument("out")
    e.add_argument("--tokens", type=int, default=12_000_000)
    e.add_argument("--chars-per-token", type=float, default=2.9)
    e.add_argument("--files", type=int, default=16)
    e.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.cmd == "seed":
        seed(a.demo_dir, a.out, a.fraction)
    else:
        expand(a.seed_file, a.out, a.tokens, a.chars_per_token, a.files, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
