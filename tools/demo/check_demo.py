#!/usr/bin/env python3
"""Checks a trained demo model against the float64 reference recurrence (tools/reference/mamba2_ref.py).

Reads MODEL_DIR (config.json in mamba_ssm layout + model.safetensors, F32) and the per-document scores that
train_demo.py computed with its own chunked PyTorch forward (heldout_eval.json), recomputes the first N
documents token by token in float64, and prints the largest difference. With --write-reference it also
writes those documents' float64 per-token log-probs (the expected values of the Java tests).

usage: check_demo.py MODEL_DIR HELDOUT_EVAL_JSON [--docs N]
           [--write-reference OUT.json --texts HELDOUT_DOCS_JSON --stream HELDOUT_U16 [--long-tokens N]]

The reference file holds every document of HELDOUT_EVAL_JSON (50) with its id and text (from train_tokenizer.mjs's
heldout-docs.json, whose tokens must be the same), the trainer's fp32 sum, and for the first N the float64
per-token log-probs; plus "long": the held-out stream from document 50 on (documents joined by their
<|endoftext|> separators) cut to N tokens, for tests that need many tokens of real text.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import mamba2_ref as ref  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        assert h["dtype"] == "F32", h["dtype"]
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").astype(np.float64).reshape(h["shape"])
    return out


def cfg_of(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    s = c["ssm_cfg"]
    return ref.Cfg(d_model=c["d_model"], n_layer=c["n_layer"], vocab=c["vocab_size"],
                   pad_multiple=c["pad_vocab_size_multiple"], d_state=s["d_state"], headdim=s["headdim"],
                   expand=s["expand"], ngroups=s["ngroups"], d_conv=s["d_conv"], chunk=s["chunk_size"],
                   norm_before_gate=s["norm_before_gate"], D_has_hdim=s["D_has_hdim"])


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    model_dir, eval_json = argv[0], argv[1]
    n_docs = int(argv[argv.index("--docs") + 1]) if "--docs" in argv else 5
    opt = lambda k, d=None: argv[argv.index(k) + 1] if k in argv else d  # noqa: E731
    out = opt("--write-reference")
    c = cfg_of(model_dir)
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    with open(eval_json) as f:
        all_docs = json.load(f)
    worst, written = 0.0, []
    for i, d in enumerate(all_docs):
        toks = d["tokens"]
        entry = {"tokens": toks, "trainer_fp32_sum_logprob": d["sum_logprob"]}
        if i < n_docs:
            _, lp = ref.forward(c, w, toks)
            diff = abs(float(lp.sum()) - d["sum_logprob"])
            worst = max(worst, diff / max(1, len(toks) - 1))
            print(f"len {len(toks):4d}: float64 sum {lp.sum():.6f}  trainer fp32 {d['sum_logprob']:.6f}  |diff| {diff:.2e}")
            entry["logprobs"] = [float(v) for v in lp]
        written.append(entry)
    print(f"worst |diff| per token: {worst:.2e}")
    if out:
        with open(opt("--texts")) as f:
            texts = json.load(f)
        for e, t in zip(written, texts):
            if t["tokens"] != e["tokens"]:
                raise SystemExit(f"{t['id']}: the tokenizer's ids differ from the trainer's")
            e["id"], e["text"] = t["id"], t["text"]
        stream = np.fromfile(opt("--stream"), dtype="<u2").astype(int)
        start = int(np.flatnonzero(stream == 0)[len(written) - 1]) + 1
        long_tokens = stream[start:start + int(opt("--long-tokens", "4096"))].tolist()
        with open(out, "w") as f:
            json.dump({"generator": "tools/demo/check_demo.py: float64 log-probs from tools/reference/mamba2_ref.py",
                       "model": os.path.basename(os.path.normpath(model_dir)), "docs": written[:len(texts)],
                       "long": long_tokens}, f)
        print(f"wrote {out}: {len(written[:len(texts)])} documents, {n_docs} with float64 log-probs, long {len(long_tokens)} tokens")
    return 0 if worst < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
