#!/usr/bin/env python3
"""examples/demo-corpus.jsonl: the bundled example input, a mix that shows what scoring measures.

Columns id, kind, text. Kinds:
  heldout   real English the model never saw (GCIDE entries and WordNet glosses from the held-out split)
  shuffled  the same documents with their words in random order: same words, no syntax
  random    random letters, digits and punctuation, as long as the real documents
  long      held-out documents joined into one, several times --chunk-tokens (2048) long
  empty     an empty text (an error row: 'empty document')
  bad       a null text (an error row: 'missing text')

Deterministic (fixed seeds, documents taken in file order).

usage: make_example_corpus.py CORPUS_DIR OUT.jsonl     (CORPUS_DIR from build_corpus.py)
"""
import json
import os
import random
import string
import sys

PER_KIND = 12
LONG_CHARS = 24_000  # 8,794 tokens of this tokenizer: five pieces of 2048


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    with open(os.path.join(argv[0], "heldout.jsonl"), encoding="utf-8") as f:
        held = [json.loads(line) for line in f]
    # half dictionary entries, half glosses, of a few sentences each
    pick = {"gcide": [], "wordnet": []}
    rest = []
    for d in held:
        src = d["id"].split(":")[0]
        if 200 <= len(d["text"]) <= 700 and len(pick[src]) < PER_KIND // 2:
            pick[src].append(d)
        else:
            rest.append(d)
    real = [d for pair in zip(pick["gcide"], pick["wordnet"]) for d in pair]
    rows = []
    for i, d in enumerate(real, 1):
        rows.append({"id": f"heldout-{i:02d}", "kind": "heldout", "text": d["text"]})
    rng = random.Random(7)
    for i, d in enumerate(real, 1):
        words = d["text"].split()
        rng.shuffle(words)
        rows.append({"id": f"shuffled-{i:02d}", "kind": "shuffled", "text": " ".join(words)})
    alphabet = string.ascii_letters + string.digits + string.punctuation + " " * 12
    rng = random.Random(11)
    for i, d in enumerate(real, 1):
        rows.append({"id": f"random-{i:02d}", "kind": "random", "text": "".join(rng.choice(alphabet) for _ in d["text"])})
    long_parts, n = [], 0
    for d in rest:
        if n >= LONG_CHARS:
            break
        long_parts.append(d["text"])
        n += len(d["text"]) + 2
    rows.append({"id": "long-01", "kind": "long", "text": "\n\n".join(long_parts)})
    rows.append({"id": "empty-01", "kind": "empty", "text": ""})
    rows.append({"id": "bad-01", "kind": "bad", "text": None})
    with open(argv[1], "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {argv[1]}: {len(rows)} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
