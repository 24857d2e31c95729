// Byte-level BPE tokenizer.json for the demo model, and the corpus as token ids for the trainer.
//
// Uses Hugging Face tokenizers (the Rust library) through its Node.js binding, the same library that
// ssdspark runs through DJL:  npm install --prefix OUT tokenizers@0.23.2
//   node tools/demo/train_tokenizer.mjs CORPUS_DIR [VOCAB]      (CORPUS_DIR from build_corpus.py)
//
// The binding trains with BpeTrainer's defaults (30,000 tokens, no special tokens). BPE merges are
// learned one after the other, so the first K merges of that run are exactly what a K-merge run learns;
// the vocabulary is rebuilt from them as BpeTrainer lays it out: the special token <|endoftext|> (id 0,
// the document separator in training and a BOS for --prepend-bos), the 256 byte symbols, then one token
// per merge. Merges are written as "a b" strings, which every tokenizers version reads.
//
// Writes CORPUS_DIR/tokenizer.json, CORPUS_DIR/train.u16 and heldout.u16 (little-endian uint16 ids,
// documents in file order, each followed by id 0), and heldout-docs.json (the first held-out documents
// with their ids, so the Java side can check that it tokenizes identically).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const dir = process.argv[2];
const vocabSize = Number(process.argv[3] || 4096);
if (!dir) {
  console.error("usage: node train_tokenizer.mjs CORPUS_DIR [VOCAB]");
  process.exit(2);
}
const require = createRequire(path.resolve(dir, "node_modules", "x.js"));
const tk = require("tokenizers");
const EOS = "<|endoftext|>";

// Training needs only the pre-tokenizer; the file written below sets the rest.
const full = new tk.Tokenizer(tk.BPE.empty());
full.setPreTokenizer(tk.byteLevelPreTokenizer(false, true)); // no prefix space, GPT-2's split regex
full.train([path.join(dir, "train.txt")]);
full.save(path.join(dir, "trained-full.json"));
const trained = JSON.parse(fs.readFileSync(path.join(dir, "trained-full.json"), "utf8"));
const merges = trained.model.merges.map((m) => (Array.isArray(m) ? m : m.split(" ")));

const alphabet = tk.byteLevelAlphabet().slice().sort();
if (alphabet.length !== 256) throw new Error(`byte-level alphabet has ${alphabet.length} symbols`);
const vocab = { [EOS]: 0 };
alphabet.forEach((c, i) => (vocab[c] = i + 1));
const kept = [];
for (const [a, b] of merges) {
  if (Object.keys(vocab).length >= vocabSize) break;
  if (!(a in vocab) || !(b in vocab)) throw new Error(`merge ${a} ${b} before its parts`);
  if (a + b in vocab) continue;
  vocab[a + b] = Object.keys(vocab).length;
  kept.push(`${a} ${b}`);
}
const json = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [{ id: 0, content: EOS, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
  normalizer: null,
  pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
           fuse_unk: false, byte_fallback: false, vocab, merges: kept },
};
const text = JSON.stringify(json);
fs.writeFileSync(path.join(dir, "tokenizer.json"), text);
const tok = tk.Tokenizer.fromString(text);
console.log(`tokenizer: ${tok.getVocabSize(true)} tokens (${kept.length} merges of ${merges.length} trained)`);

async function encodeFile(name) {
  const docs = fs.readFileSync(path.join(dir, name + ".jsonl"), "utf8").split("\n").filter((l) => l).map((l) => JSON.parse(l));
  const parts = [];
  let total = 0;
  const B = 4096;
  for (let i = 0; i < docs.length; i += B) {
    const encs = await tok.encodeBatch(docs.slice(i, i + B).map((d) => d.text), { addSpecialTokens: false });
    for (const e of encs) {
      const ids = e.getIds();
      const a = new Uint16Array(ids.length + 1);
      a.set(ids);
      a[ids.length] = 0;
      parts.push(a);
      total += a.length;
    }
  }
  const all = new Uint16Array(total);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  fs.writeFileSync(path.join(dir, name + ".u16"), Buffer.from(all.buffer));
  console.log(`${name}: ${docs.length} docs, ${total} tokens (separators included), ${(fs.statSync(path.join(dir, name + ".jsonl")).size / total).toFixed(2)} bytes of JSON per token`);
  return { docs, parts };
}

await encodeFile("train");
const held = await encodeFile("heldout");
const sample = held.docs.slice(0, 50).map((d, i) => ({ id: d.id, text: d.text, tokens: Array.from(held.parts[i].slice(0, -1)) }));
fs.writeFileSync(path.join(dir, "heldout-docs.json"), JSON.stringify(sample));
