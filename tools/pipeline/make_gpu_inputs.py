#!/usr/bin/env python3
"""Inputs for the GPU end-to-end measurement (tools/pipeline/gpu_job.sh), made on the GPU host.

  make_gpu_inputs.py OUT_DIR [--tokens 20000000] [--files 16] [--seed 1] [--text-tokens 0]

Writes
  OUT_DIR/model/          a random Mamba-2 of the 130M size (mamba_ssm layout: d_model 768, 24 layers, d_state 128,
                          headdim 64, expand 2, vocab 50280 padded to 50288), float32 safetensors, initialised like
                          mamba_ssm (std 0.02 projections, A_log = log U(1,16), dt from log U(1e-3, 0.1), D = 1)
  OUT_DIR/corpus.bin      the pre-tokenized corpus, at least TOKENS tokens, for ssdspark.jobs.bench.EngineAlone and
                          (as Parquet, by ssdspark.jobs.bench.CorpusToParquet) for the job:
                          b"SSDC", int32 docs, int64 offsets[docs+1], int32 tokens (little-endian); document lengths
                          log-normal (median ~700, clipped to 16..16384) plus four 100k-token documents that exercise
                          the carried state
  OUT_DIR/corpus/         (--parquet-files N, when pyarrow is there) the same documents as Parquet, N files
  OUT_DIR/fixed.bin       (--fixed-tokens N > 0) documents of exactly --fixed-length (2048) tokens, N tokens in all: the
                          fixed shape (16 x 2048 with a 32768-token budget) that the log-normal corpus is compared with
  OUT_DIR/text/           (--text-tokens N > 0) plain-text documents, one per line, of about N tiny-tokenizer tokens
                          (word salad of a 20-word list; tools/pipeline/make_text_corpus.py makes realistic text)
Needs numpy only (safetensors are written by hand: an 8-byte header length, a JSON header, the raw tensors).
"""
import argparse
import json
import os
import time

import numpy as np


def model(out, seed):
    cfg = {"d_model": 768, "d_intermediate": 0, "n_layer": 24, "vocab_size": 50280,
           "ssm_cfg": {"layer": "Mamba2", "d_state": 128, "headdim": 64, "expand": 2, "ngroups": 1, "d_conv": 4,
                       "chunk_size": 256},
           "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": True, "residual_in_fp32": True, "fused_add_norm": True,
           "pad_vocab_size_multiple": 16, "tie_embeddings": True}
    d, L, n, hd, g = 768, 24, 128, 64, 1
    di = 2 * d
    h = di // hd
    rows = (50280 + 15) // 16 * 16
    d_in = 2 * di + 2 * g * n + h
    conv = di + 2 * g * n
    rng = np.random.default_rng(seed)
    u = np.float32(0.02 * np.sqrt(3))

    def unif(a, *shape):
        return rng.uniform(-a, a, size=shape).astype(np.float32)

    t = {"backbone.embedding.weight": unif(u, rows, d), "backbone.norm_f.weight": np.ones(d, np.float32)}
    for i in range(L):
        p = f"backbone.layers.{i}."
        m = p + "mixer."
        t[p + "norm.weight"] = np.ones(d, np.float32)
        t[m + "in_proj.weight"] = unif(u, d_in, d)
        t[m + "conv1d.weight"] = unif(0.5, conv, 1, 4)
        t[m + "conv1d.bias"] = unif(0.5, conv)
        dt = np.exp(rng.uniform(np.log(1e-3), np.log(0.1), h)).astype(np.float32)
        t[m + "dt_bias"] = (dt + np.log(-np.expm1(-dt))).astype(np.float32)
        t[m + "A_log"] = np.log(rng.uniform(1, 16, h)).astype(np.float32)
        t[m + "D"] = np.ones(h, np.float32)
        t[m + "norm.weight"] = np.ones(di, np.float32)
        t[m + "out_proj.weight"] = unif(u / np.sqrt(2 * L), d, di)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    save_safetensors(t, os.path.join(out, "model.safetensors"))
    return sum(a.size for a in t.values())


def save_safetensors(tensors, path):
    header, pos = {}, 0
    for k, a in tensors.items():
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [pos, pos + a.nbytes]}
        pos += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(np.array([len(h)], "<u8").tobytes())
        f.write(h)
        for a in tensors.values():
            f.write(np.ascontiguousarray(a, "<f4").tobytes())


def lengths(total, rng, long_docs):
    out, s = [], 0
    for _ in range(long_docs):  # long documents: state carried over many chunks
        out.append(100_000)
        s += 100_000
    while s < total:
        n = int(np.clip(rng.lognormal(np.log(700), 1.0), 16, 16384))
        out.append(n)
        s += n
    rng.shuffle(out)
    return np.array(out, np.int64)


def parquet(out, off, toks, files):
    """corpus/ as Parquet (id string, tokens list<int32>), FILES files of consecutive documents; False without pyarrow."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    cdir = os.path.join(out, "corpus")
    os.makedirs(cdir, exist_ok=True)
    n = len(off) - 1
    cuts = [n * k // files for k in range(files + 1)]
    for k in range(files):
        a, b = cuts[k], cuts[k + 1]
        offs = pa.array((off[a:b + 1] - off[a]).astype(np.int32), pa.int32())
        arr = pa.ListArray.from_arrays(offs, pa.array(toks[off[a]:off[b]], pa.int32()))
        ids = pa.array([f"doc-{i:07d}" for i in range(a, b)], pa.string())
        pq.write_table(pa.table({"id": ids, "tokens": arr}), os.path.join(cdir, f"part-{k:05d}.zstd.parquet"), compression="zstd")
    open(os.path.join(cdir, "_SUCCESS"), "w").close()
    return True


def write_bin(path, lens, rng, vocab):
    """A corpus file of documents of the given lengths, random tokens below vocab; (offsets, tokens)."""
    off = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=off[1:])
    toks = rng.integers(0, vocab, size=int(off[-1]), dtype=np.int32)
    with open(path, "wb") as f:
        f.write(b"SSDC")
        f.write(np.array([len(lens)], "<i4").tobytes())
        f.write(off.astype("<i8").tobytes())
        f.write(toks.astype("<i4").tobytes())
    return off, toks


def corpus(out, total, seed, vocab=50280, long_docs=4, parquet_files=0):
    rng = np.random.default_rng(seed + 1)
    lens = lengths(total, rng, long_docs)
    off, toks = write_bin(os.path.join(out, "corpus.bin"), lens, rng, vocab)
    if parquet_files > 0:
        try:
            done = parquet(out, off, toks, parquet_files)
        except Exception as e:  # leave it to ssdspark.jobs.bench.CorpusToParquet
            import shutil
            shutil.rmtree(os.path.join(out, "corpus"), ignore_errors=True)
            print(f"parquet: pyarrow failed ({e!r})", flush=True)
            done = False
        print("parquet: " + ("corpus/ written with pyarrow" if done else "not written here"), flush=True)
    return len(lens), int(off[-1])


WORDS = ("hello world the mamba and spark state space model reads a document token by token carries "
         "fixed size chunk next long costs memory short corpus partition batch budget engine").split()


def text(out, total, files, seed):
    rng = np.random.default_rng(seed + 2)
    tdir = os.path.join(out, "text")
    os.makedirs(tdir, exist_ok=True)
    words = np.array(WORDS)
    # ~3.6 tiny-tokenizer tokens per word of this list (byte-level BPE with 60 merges)
    nwords = int(total / 3.6)
    per_file = nwords // files
    for k in range(files):
        with open(os.path.join(tdir, f"part-{k:03d}.txt"), "w") as f:
            left = per_file
            while left > 0:
                n = min(left, int(np.clip(rng.lognormal(np.log(400), 1.0), 8, 8000)))
                f.write(" ".join(words[rng.integers(0, len(words), n)]) + "\n")
                left -= n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tokens", type=int, default=20_000_000)
    ap.add_argument("--files", type=int, default=16, help="text files (--text-tokens)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--text-tokens", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=50280, help="token ids drawn below this (tests: 317 for examples/tiny-mamba2)")
    ap.add_argument("--long-docs", type=int, default=4, help="100k-token documents in the corpus")
    ap.add_argument("--no-model", action="store_true", help="corpus only")
    ap.add_argument("--parquet-files", type=int, default=0, help="also write corpus/ as Parquet in N files (needs pyarrow)")
    ap.add_argument("--fixed-tokens", type=int, default=0,
                    help="also write fixed.bin: documents of exactly --fixed-length tokens, at least N tokens in all")
    ap.add_argument("--fixed-length", type=int, default=2048)
    a = ap.parse_args()
    if not a.no_model:
        t = time.time()
        p = model(os.path.join(a.out, "model"), a.seed)
        print(f"model: {p / 1e6:.1f}M parameters in {time.time() - t:.1f} s", flush=True)
    t = time.time()
    docs, toks = corpus(a.out, a.tokens, a.seed, a.vocab, a.long_docs, a.parquet_files)
    print(f"corpus: {docs} docs, {toks} tokens in {time.time() - t:.1f} s", flush=True)
    if a.fixed_tokens > 0:
        n = -(-a.fixed_tokens // a.fixed_length)
        write_bin(os.path.join(a.out, "fixed.bin"), np.full(n, a.fixed_length, np.int64), np.random.default_rng(a.seed + 3), a.vocab)
        print(f"fixed: {n} docs of {a.fixed_length} tokens", flush=True)
    if a.text_tokens > 0:
        t = time.time()
        text(a.out, a.text_tokens, a.files, a.seed)
        print(f"text: ~{a.text_tokens} tokens in {a.files} files in {time.time() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main()
