#!/usr/bin/env python3
"""Writes a tiny byte-level BPE tokenizer.json (Hugging Face `tokenizers` format) for tests.

Standard library only: the JSON is laid out by hand the way `tokenizers` saves a GPT-2-style tokenizer.
Vocabulary (317 ids, the size of examples/tiny-mamba2's vocab):
  ids 0..255   one per byte, id == byte value, spelled with GPT-2's byte-to-unicode map (' ' is 'Ġ', '\\n' is 'Ċ')
  ids 256..315 the merges below, in rank order (id = 256 + rank)
  id  316      <|endoftext|>, an added special token; the post-processor puts it in front of a sequence
               only when special tokens are asked for

Usage: python3 tools/tokenizer/make_tiny_tokenizer.py [OUT]   (default: examples/tiny-tokenizer.json, also the tests' tokenizer)
"""
import json
import os
import sys

# Rank order matters: BPE applies the lowest-ranked adjacent pair first. "Ġ" is a leading space.
MERGES = [
    "h e", "l l", "he ll", "hell o",                      # hello
    "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d",           # ' world'
    "t he", "Ġ the",                                      # the, ' the'
    "a n", "an d", "Ġ and",                               # and, ' and'
    "i n", "in g",                                        # ing
    "s p", "a r", "sp ar", "spar k", "Ġ spark",           # spark, ' spark'
    "m a", "ma m", "b a", "mam ba", "Ġ mamba",            # mamba, ' mamba'
    "e r", "o n", "a t", "e s", "e n",
    "Ġ a", "Ġ i", "Ġi s", "Ġ s", "Ġ o", "Ġo f", "Ġ c",
    "t o", "Ġ to", "i t", "Ġ it", "o u", "r e", "Ġ re",
    "Ġ b", "Ġ f", "Ġ p", "Ġ d", "Ġ h", "Ġh e", "Ġ m", "Ġ n", "Ġ l",
    "o m", "e d", "a l", "Ġ e", "c e", "Ġ Ġ",
]
SPECIAL = "<|endoftext|>"


def byte_to_unicode():
    """GPT-2's reversible map from bytes to printable characters (what the ByteLevel pre-tokenizer uses)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + n)
            n += 1
    return chars


def build():
    b2u = byte_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    for rank, m in enumerate(MERGES):
        left, right = m.split(" ")
        assert left in vocab and right in vocab, f"merge {m!r} uses a token not yet in the vocabulary"
        assert left + right not in vocab, f"merge {m!r} makes a token that already exists"
        vocab[left + right] = 256 + rank
    special_id = len(vocab)
    assert special_id == 316, special_id
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": special_id, "content": SPECIAL, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": SPECIAL, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": SPECIAL, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {SPECIAL: {"id": SPECIAL, "ids": [special_id], "tokens": [SPECIAL]}},
        },
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": MERGES},
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "examples", "tiny-tokenizer.json")  # also the tests' tokenizer (pipeline/pom.xml)
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        json.dump(build(), f, ensure_ascii=False, indent=2)
        f.write("\n")
    print(f"wrote {out}: 317 ids ({len(MERGES)} merges)")


if __name__ == "__main__":
    main()
