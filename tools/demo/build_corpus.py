#!/usr/bin/env python3
"""English training text for the demo model, from two Debian packages with free licences.

  dict-gcide    GCIDE, the GNU Collaborative International Dictionary of English 0.48 (Webster's 1913
                and later additions): GPL-2+. One document per dictionary entry.
  wordnet-base  WordNet 3.0 (Princeton University): the WordNet 3.0 licence (permissive, notice kept).
                One document per synset: its words and gloss.

Writes OUT/train.jsonl and OUT/heldout.jsonl ({"id", "text"} per line) and OUT/train.txt (the training
texts, one per line, for the tokenizer trainer). The split is deterministic: a document is held out
when the SHA-256 of its id falls in the first HELDOUT_PER_MILLE per mille, so it does not depend on
order, and adding or removing documents does not move the others.

usage: build_corpus.py OUT_DIR      (downloads the two .deb files into OUT_DIR/deb with apt-get download
                                     and unpacks them with dpkg -x; no root needed, nothing installed)
"""
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys

PACKAGES = ["dict-gcide", "wordnet-base"]
HELDOUT_PER_MILLE = 10

# GCIDE's character entities (dictd text): the common ones to Unicode, other [Xmac]-style codes to the base letter.
ENTITIES = {"ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "eth": "ð", "thorn": "þ", "deg": "°", "sect": "§",
            "ng": "ŋ", "th": "θ", "yogh": "ȝ", "root": "√", "add": "+", "frac12": "½", "frac14": "¼"}
ACCENT = re.compile(r"\[([a-zA-Z])(?:mac|um|cr|sl|acute|grave|circ|til|ced|dd|dot|ring|breve|caron|ring|sd)\]")
SOURCE_TAG = re.compile(r"^\s*\[(?:[0-9]{4} Webster|Webster [0-9]{4}|WordNet|PJC|Century|Websters?|RP|Chambers|"
                        r"MW|NRE|JC|AS|JS|Bouvier|F\.? ?O\.?|Rolfe)[^\]]*\]\s*$")
PRONUNCIATION = re.compile(r"\\[^\\\n]*\\,?")


def fetch(out):
    deb = os.path.join(out, "deb")
    root = os.path.join(deb, "root")
    os.makedirs(deb, exist_ok=True)
    for p in PACKAGES:
        if not any(f.startswith(p + "_") and f.endswith(".deb") for f in os.listdir(deb)):
            subprocess.run(["apt-get", "download", p], cwd=deb, check=True)
    if not os.path.isdir(root):
        for f in sorted(os.listdir(deb)):
            if f.endswith(".deb"):
                subprocess.run(["dpkg", "-x", os.path.join(deb, f), root], check=True)
    return root


def clean_gcide(entry):
    """One dictd entry -> paragraphs joined by newlines, markup removed."""
    text = ACCENT.sub(r"\1", entry)
    text = re.sub(r"\[(" + "|".join(ENTITIES) + r")\]", lambda m: ENTITIES[m.group(1)], text)
    lines = [ln for ln in text.split("\n") if not SOURCE_TAG.match(ln)]
    paras, cur = [], []
    for ln in lines + [""]:
        if ln.strip():
            cur.append(ln.strip())
        elif cur:
            paras.append(" ".join(cur))
            cur = []
    if not paras:
        return ""
    paras[0] = PRONUNCIATION.sub("", paras[0])
    out = "\n".join(re.sub(r"\s+", " ", p.replace("{", "").replace("}", "")).strip() for p in paras)
    return out.strip()


def gcide_docs(root):
    path = os.path.join(root, "usr/share/dictd/gcide.dict.dz")
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        data = f.read()
    # An entry starts at a line beginning in column 0; the license and file headers are dropped below.
    starts = [m.start() for m in re.finditer(r"(?m)^(?=\S)", data)]
    starts.append(len(data))
    seen = {}
    for a, b in zip(starts, starts[1:]):
        raw = data[a:b]
        head = raw.split("\n", 1)[0]
        if head.startswith("00-database") or "GCIDE" in raw or "* * *" in raw or "General Public" in raw:
            continue
        text = clean_gcide(raw)
        if len(text) < 20 or "\n" not in raw.strip():
            continue
        word = (head.split("\\")[0] if "\\" in head else head.split(",")[0]).strip()[:60]
        n = seen.get(word, 0)
        seen[word] = n + 1
        yield f"gcide:{word}#{n}", text


def wordnet_docs(root):
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(root, "usr/share/wordnet/data." + pos), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue  # license header
                head, gloss = line.split("|", 1)
                fields = head.split()
                offset, count = fields[0], int(fields[3], 16)
                words = [re.sub(r"\([a-z]+\)$", "", w).replace("_", " ") for w in fields[4:4 + 2 * count:2]]
                yield f"wordnet:{pos}:{offset}", f"{', '.join(words)} ({pos}): {gloss.strip()}"


def is_heldout(doc_id):
    return int(hashlib.sha256(doc_id.encode()).hexdigest()[:8], 16) % 1000 < HELDOUT_PER_MILLE


def main(argv):
    if len(argv) != 1:
        print(__doc__)
        return 2
    out = argv[0]
    root = fetch(out)
    counts = {"train": 0, "heldout": 0}
    chars = {"train": 0, "heldout": 0}
    with open(os.path.join(out, "train.jsonl"), "w", encoding="utf-8") as tr, \
            open(os.path.join(out, "heldout.jsonl"), "w", encoding="utf-8") as ho, \
            open(os.path.join(out, "train.txt"), "w", encoding="utf-8") as txt:
        for source in (gcide_docs(root), wordnet_docs(root)):
            for doc_id, text in source:
                split = "heldout" if is_heldout(doc_id) else "train"
                (ho if split == "heldout" else tr).write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
                if split == "train":
                    txt.write(text.replace("\n", " ") + "\n")
                counts[split] += 1
                chars[split] += len(text)
    print(f"train: {counts['train']} docs, {chars['train']} chars; heldout: {counts['heldout']} docs, {chars['heldout']} chars")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
