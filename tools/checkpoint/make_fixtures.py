#!/usr/bin/env python3
"""Writes the checkpoint-reader test fixtures into model/src/test/resources/checkpoint/ (stdlib + numpy, no torch).

torch.save(obj, f) writes a zip of <prefix>/data.pkl (obj pickled, protocol 2, with every storage replaced by the
persistent id ('storage', torch.<T>Storage, key, location, numel)), <prefix>/byteorder, <prefix>/data/<key> (raw
storage bytes) and <prefix>/version, each record STORED and its data 64-byte aligned by an 'FB' extra field.
This script reproduces that byte for byte in the parts a reader depends on: fake `torch` and `torch._utils`
modules are put in sys.modules so the stock pickler writes the same GLOBAL opcodes torch's objects would.

Outputs:
  torch_p2/pytorch_model.bin        protocol 2 (torch's default), prefix "pytorch_model", little-endian
  torch_p4_big/pytorch_model.bin    protocol 4 (FRAME, STACK_GLOBAL, MEMOIZE), prefix "archive", byteorder big
  torch_p5_zip64/pytorch_model.bin  protocol 5, prefix "mamba2-tiny", zip64 records, no byteorder record
  torch_expected.json               every tensor's shape and row-major values, derived with numpy
  malicious/pytorch_model.bin       a state dict with an object whose __reduce__ is (os.system, ('touch ...',))
  safetensors_numpy/model.safetensors  F16 bit patterns and their numpy float32 widening, plus BF16, laid out
                                    as the safetensors library does (dtype-sorted, header padded to 8 bytes)

Run from the repository root: python3 tools/checkpoint/make_fixtures.py
"""
import collections
import json
import os
import pickle
import struct
import sys
import types
import zlib

import numpy as np

OUT = os.path.join("model", "src", "test", "resources", "checkpoint")
PWNED_PLACEHOLDER = "/tmp/ssdspark-pwned-" + "0" * 32   # the Java test swaps in a random name of equal length

# ---- fake torch: just enough for pickle to name the same globals torch.save does ------------------------------

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
torch._utils = torch_utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = torch_utils


def _storage_class(name):
    cls = type(name, (), {})
    cls.__module__ = "torch"
    setattr(torch, name, cls)
    return cls


STORAGE_CLASSES = {n: _storage_class(n) for n in ("FloatStorage", "BFloat16Storage", "HalfStorage", "LongStorage")}


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    raise RuntimeError("fixture generator only writes pickles")


def _rebuild_parameter(data, requires_grad, backward_hooks):
    raise RuntimeError("fixture generator only writes pickles")


for fn in (_rebuild_tensor_v2, _rebuild_parameter):
    fn.__module__ = "torch._utils"
    setattr(torch_utils, fn.__name__, fn)


class Storage:
    """A typed storage: torch type name, numpy dtype of its elements, and the elements."""

    def __init__(self, type_name, values):
        self.type_name = type_name
        self.values = values            # 1-d numpy array in the storage's element type (uint16 bits for BF16)


class Tensor:
    """A strided view; pickles like torch.Tensor.__reduce_ex__ for a plain CPU tensor."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __reduce_ex__(self, proto):
        return (torch_utils._rebuild_tensor_v2,
                (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))


class Parameter:
    """nn.Parameter pickles as _rebuild_parameter(data, requires_grad, hooks) (state_dict(keep_vars=True))."""

    def __init__(self, data):
        self.data = data

    def __reduce_ex__(self, proto):
        return (torch_utils._rebuild_parameter, (self.data, True, collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    """torch's _save: storages become persistent ids; one key per distinct storage, numbered in first-use order."""

    def __init__(self, f, protocol):
        super().__init__(f, protocol=protocol)
        self.keys = {}

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            key = self.keys.setdefault(id(obj), (str(len(self.keys)), obj))[0]
            return ("storage", STORAGE_CLASSES[obj.type_name], key, "cpu", len(obj.values))
        return None


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + PWNED_PLACEHOLDER,))


# ---- zip writing as torch's PyTorchStreamWriter (miniz) does -------------------------------------------------

def write_zip(path, records, zip64=False):
    """records: [(name, bytes)]. STORED entries whose data start on a 64-byte boundary."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    out = bytearray()
    central = bytearray()
    for name, data in records:
        nb = name.encode()
        crc = zlib.crc32(data)
        offset = len(out)
        z64_local = struct.pack("<HHQQ", 1, 16, len(data), len(data)) if zip64 else b""
        start = offset + 30 + len(nb) + len(z64_local) + 4
        pad = (-start) % 64
        extra = z64_local + b"FB" + struct.pack("<H", pad) + b"Z" * pad
        size32 = 0xFFFFFFFF if zip64 else len(data)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, 0, 0, 0x21, crc, size32, size32,
                           len(nb), len(extra)) + nb + extra
        assert len(out) % 64 == 0
        out += data
        if zip64:
            cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
            off32 = 0xFFFFFFFF
        else:
            cextra, off32 = b"", offset
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 45 if zip64 else 20, 0, 0, 0, 0x21, crc,
                               size32, size32, len(nb), len(cextra), 0, 0, 0, 0, off32) + nb + cextra
    cd_offset = len(out)
    out += central
    n = len(records)
    if zip64:
        z64_at = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n, len(central), cd_offset)
        out += struct.pack("<IIQI", 0x07064B50, 0, z64_at, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_offset, 0)
    with open(path, "wb") as f:
        f.write(out)
    import zipfile                                  # cross-check with an independent reader
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        for name, data in records:
            assert z.read(name) == data, name


def torch_save(path, obj, prefix, protocol=2, byteorder="little", zip64=False):
    import io
    buf = io.BytesIO()
    p = TorchPickler(buf, protocol)
    p.dump(obj)
    records = [(prefix + "/data.pkl", buf.getvalue()),
               (prefix + "/.format_version", b"1"),
               (prefix + "/.storage_alignment", b"64")]
    if byteorder is not None:
        records.append((prefix + "/byteorder", byteorder.encode()))
    for key, storage in sorted(p.keys.values()):
        arr = storage.values
        data = arr.astype(arr.dtype.newbyteorder(">" if byteorder == "big" else "<")).tobytes()
        records.append((prefix + "/data/" + key, data))
    records.append((prefix + "/version", b"3\n"))
    records.append((prefix + "/.data/serialization_id", b"0123456789012345678901234567890123456789"))
    write_zip(path, records, zip64)


# ---- the state dict ----------------------------------------------------------------------------------------

def bf16_bits(values):
    """float32 values exactly representable in bfloat16 → their 16-bit patterns."""
    f = np.asarray(values, dtype=np.float32)
    bits = f.view(np.uint32)
    assert np.all(bits & 0xFFFF == 0), "choose values exact in bfloat16"
    return (bits >> 16).astype(np.uint16)


def make_state_dict():
    rng = np.random.default_rng(7)
    emb = Storage("FloatStorage", rng.standard_normal(20).astype(np.float32))
    ramp = Storage("FloatStorage", (np.arange(10, dtype=np.float32) * 0.5 - 1.0))
    base = Storage("FloatStorage", np.array([1, 2, 3, 4, 5, 6], dtype=np.float32))
    bf16 = Storage("BFloat16Storage", bf16_bits([1.0, -2.5, 0.15625, 1.5 * 2.0 ** 127, -0.0, 2.0 ** -133]))
    f16 = Storage("HalfStorage", np.array([0x3C00, 0xC000, 0x7C00, 0xFC00, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x8000,
                                           0x3555], dtype=np.uint16))
    f16t = Storage("HalfStorage", np.array([1, 2, 3, 4, 5, 6], dtype=np.float16).view(np.uint16))
    scalar = Storage("FloatStorage", np.array([42.25], dtype=np.float32))
    empty = Storage("FloatStorage", np.zeros(0, dtype=np.float32))
    longs = Storage("LongStorage", np.array([7, -1], dtype=np.int64))
    sd = collections.OrderedDict()
    sd["backbone.embedding.weight"] = Tensor(emb, 0, (5, 4), (4, 1))
    sd["sliced"] = Tensor(ramp, 4, (3,), (1,))                  # ramp[4:7]
    sd["sliced_strided"] = Tensor(ramp, 1, (2, 2), (4, 2))      # ramp[1:9].view(2,4)[:, ::2]
    sd["transposed"] = Tensor(base, 0, (3, 2), (1, 3))          # base.view(2,3).t()
    sd["bf16"] = Tensor(bf16, 0, (2, 3), (3, 1))
    sd["f16"] = Tensor(f16, 0, (10,), (1,))
    sd["f16_transposed"] = Tensor(f16t, 0, (3, 2), (1, 3))
    sd["scalar"] = Tensor(scalar, 0, (), ())
    sd["empty"] = Tensor(empty, 0, (0, 3), (3, 1))
    sd["param"] = Parameter(Tensor(ramp, 0, (2, 5), (5, 1)))    # shares ramp with the slices
    sd["int64_buffer"] = Tensor(longs, 0, (2,), (1,))
    sd["lm_head.weight"] = Tensor(emb, 0, (5, 4), (4, 1))       # tied to the embedding: same storage key
    # nn.Module.state_dict() attaches version metadata, which pickles as a BUILD on the OrderedDict.
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("backbone", {"version": 2})])
    return sd


def widened(storage):
    v = storage.values
    if storage.type_name == "BFloat16Storage":
        return (v.astype(np.uint32) << 16).view(np.float32)
    if storage.type_name == "HalfStorage":
        return v.view(np.float16).astype(np.float32)
    return v


def expected(sd):
    out = collections.OrderedDict()
    for name, t in sd.items():
        if isinstance(t, Parameter):
            t = t.data
        entry = {"shape": list(t.size), "storage": t.storage.type_name}
        if t.storage.type_name != "LongStorage":
            arr = widened(t.storage)
            view = np.lib.stride_tricks.as_strided(arr[t.offset:], shape=t.size,
                                                   strides=[s * arr.itemsize for s in t.stride])
            entry["values"] = [float(x) for x in np.asarray(view, dtype=np.float64).ravel()]
        out[name] = entry
    return out


# ---- safetensors written the way the safetensors library lays files out -----------------------------------------

def write_safetensors(path, tensors, metadata):
    """tensors: {name: (dtype name, shape, bytes)}; data sorted by dtype size (desc) then name."""
    size = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}
    order = sorted(tensors, key=lambda n: (-size[tensors[n][0]], n))
    header, pos = {"__metadata__": metadata}, 0
    for n in order:
        dt, shape, data = tensors[n]
        header[n] = {"dtype": dt, "shape": list(shape), "data_offsets": [pos, pos + len(data)]}
        pos += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(tensors[n][2] for n in order))


def f16_samples():
    """Every pattern with exponent 0, 1, 30 or 31 (subnormals, smallest normals, largest, inf/NaN), both signs,
    and every 13th of the rest."""
    h = np.arange(1 << 16, dtype=np.uint32)
    exp = (h >> 10) & 0x1F
    keep = np.isin(exp, [0, 1, 30, 31]) | (h % 13 == 0)
    return h[keep].astype(np.uint16)


def main():
    sd = make_state_dict()
    torch_save(os.path.join(OUT, "torch_p2", "pytorch_model.bin"), sd, "pytorch_model", protocol=2)
    torch_save(os.path.join(OUT, "torch_p4_big", "pytorch_model.bin"), sd, "archive", protocol=4, byteorder="big")
    torch_save(os.path.join(OUT, "torch_p5_zip64", "pytorch_model.bin"), sd, "mamba2-tiny", protocol=5,
               byteorder=None, zip64=True)
    with open(os.path.join(OUT, "torch_expected.json"), "w") as f:
        json.dump(expected(sd), f, indent=1)
        f.write("\n")

    evil = collections.OrderedDict()
    evil["backbone.embedding.weight"] = Tensor(Storage("FloatStorage", np.ones(4, dtype=np.float32)), 0, (2, 2), (2, 1))
    evil["evil"] = Evil()
    torch_save(os.path.join(OUT, "malicious", "pytorch_model.bin"), evil, "archive", protocol=2)

    bits = f16_samples()
    vals = [1.0, -2.5, 0.15625, 1.5 * 2.0 ** 127, -0.0, 2.0 ** -133]
    write_safetensors(os.path.join(OUT, "safetensors_numpy", "model.safetensors"), {
        "f16_bits": ("F16", (len(bits),), bits.astype("<u2").tobytes()),
        "f16_bits_widened": ("F32", (len(bits),), bits.view(np.float16).astype("<f4").tobytes()),
        "bf16": ("BF16", (2, 3), bf16_bits(vals).astype("<u2").tobytes()),
        "bf16_widened": ("F32", (2, 3), np.asarray(vals, dtype="<f4").tobytes()),
        "f64": ("F64", (3,), np.asarray([1e-3, -7.5, 1e300], dtype="<f8").tobytes()),
    }, {"format": "pt"})


if __name__ == "__main__":
    main()
