#!/usr/bin/python3
"""Write the .npz / .safetensors fixtures under tests/fixtures/more/ (deterministic; Debian's /usr/bin/python3 + numpy).

Usage: scripts/make_fixtures_more.py [OUTDIR]     (default: tests/fixtures/more next to this script's parent)

Values are the closed formulas of scripts/make_fixtures.py, taken at i + k for a per-tensor offset k (C-order flat
index i), so the C tests recompute them:
  wide(j)   = (j*0.37 - 3.1) * (-1)^j              f32 / f64 (f32 = the double rounded to nearest float)
  narrow(j) = (((37*j + 11) mod 251) - 125) / 8     f16 / bf16 (multiples of 1/8, exact in both)
.npz files are written by numpy (np.savez, np.savez_compressed) with the zip timestamps pinned; .safetensors files by
the short independent writer below (struct + json, no library). See tests/fixtures/more/README.md.
"""
import contextlib
import io
import json
import os
import struct
import sys
import time
import zipfile

import numpy as np

# name: (dtype, shape, formula, k). The same arrays go to npy/NAME.npy, the npz files and the safetensors files.
TENSORS = {
    "conv1": ("f4", (4, 3, 3), "wide", 0),
    "bias": ("f8", (7,), "wide", 100),
    "half": ("f2", (2, 5), "narrow", 0),
    "scalar": ("f8", (), "wide", 7),
    "fort": ("f8", (3, 4), "wide", 200),     # Fortran order in .npy/.npz
    "brain": ("bf16", (3, 4), "narrow", 50),  # safetensors only (numpy has no bfloat16)
}
FIXED_TIME = 315576000.0  # 1980-01-01 12:00 UTC: zip members' timestamps


def formula(name, n, k):
    j = np.arange(k, k + n, dtype=np.int64)
    if name == "wide":
        sign = np.where(j % 2 == 1, -1.0, 1.0)
        return (j.astype(np.float64) * 0.37 - 3.1) * sign
    return ((37 * j + 11) % 251 - 125) / 8.0


def array(name):
    """The numpy array of a tensor (bf16 returned as float32 holding the exact values)."""
    dtype, shape, f, k = TENSORS[name]
    n = int(np.prod(shape, dtype=np.int64))
    v = formula(f, n, k)
    a = v.astype("<f4" if dtype == "bf16" else "<" + dtype).reshape(shape)
    if f == "narrow":
        assert np.array_equal(a.astype(np.float64).ravel(), v), "narrow values must be exact"
    if name == "fort":
        a = np.asfortranarray(a)
    return a


def ids():
    return np.arange(5, dtype=np.int64) * 3


@contextlib.contextmanager
def pinned_clock():
    """zipfile stamps members with time.localtime(time.time()): pin both so reruns give the same bytes."""
    saved = time.time, time.localtime
    time.time = lambda: FIXED_TIME
    time.localtime = lambda t=None: time.gmtime(FIXED_TIME if t is None else t)
    try:
        yield
    finally:
        time.time, time.localtime = saved


# ---- the independent safetensors writer ----

ST_DTYPES = {"F64": ("<f8", 8), "F32": ("<f4", 4), "F16": ("<f2", 2), "I64": ("<i8", 8)}


def st_payload(dtype, values):
    """Little-endian bytes of values in a safetensors dtype (BF16: the top half of each float32)."""
    if dtype == "BF16":
        bits = np.asarray(values, dtype="<f4").ravel().view("<u4")
        assert not np.any(bits & 0xFFFF), "bf16 values must be exact"
        return (bits >> 16).astype("<u2").tobytes()
    return np.ascontiguousarray(values, dtype=ST_DTYPES[dtype][0]).tobytes()


def st_bytes(tensors, metadata=None, key_order=None, header_text=None, length=None):
    """A safetensors file: tensors = [(name, dtype, shape, payload bytes)], packed in list order.
    key_order lists the header's keys (default: sorted), header_text/length override the header for broken files."""
    header, offset, data = {}, 0, b""
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(payload)]}
        offset += len(payload)
        data += payload
    keys = key_order or sorted(header)
    ordered = {}
    if metadata is not None:
        ordered["__metadata__"] = metadata
    for k in keys:
        ordered[k] = header[k]
    text = header_text if header_text is not None else json.dumps(ordered, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data buffer starts 8-byte aligned, as the reference writer does
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def st_tensor(name, dtype=None):
    a = array(name)
    d = dtype or {"f4": "F32", "f8": "F64", "f2": "F16", "bf16": "BF16"}[TENSORS[name][0]]
    return (name, d, a.shape, st_payload(d, np.ascontiguousarray(a)))


def npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


class Writer:
    def __init__(self, outdir):
        self.outdir = outdir
        self.written = []

    def path(self, name):
        p = os.path.join(self.outdir, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        self.written.append(p)
        return p

    def raw(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fixtures", "more")
    w = Writer(os.path.normpath(outdir))

    # The .npy route: one file per array (the oracle the containers are compared with).
    npy_names = ["conv1", "bias", "half", "scalar", "fort"]
    for name in npy_names:
        np.save(w.path(f"npy/{name}.npy"), array(name))

    # npz: the same arrays in the same order, with an int64 member in the middle that readers skip.
    members = {"conv1": array("conv1"), "bias": array("bias"), "ids": ids(), "half": array("half"),
               "scalar": array("scalar"), "fort": array("fort")}
    with pinned_clock():
        np.savez(w.path("arrays.npz"), **members)
        np.savez_compressed(w.path("arrays_z.npz"), **members)

    # safetensors: header keys sorted (brain, bias, ...) but data in this order; an I64 entry between the floats.
    st_list = [st_tensor("conv1"), st_tensor("bias"), st_tensor("half"), st_tensor("scalar"),
               ("steps", "I64", (5,), st_payload("I64", ids())), st_tensor("brain")]
    meta = {"format": "pt", "producer": "make_fixtures_more.py"}
    w.raw("model.safetensors", st_bytes(st_list, meta))

    # A 2-shard checkpoint. Shard 2 also holds a decoy 'conv1' (values 99.5) that the index assigns to shard 1.
    s1 = [st_tensor("conv1"), st_tensor("half")]
    decoy = ("conv1", "F32", (2,), st_payload("F32", [99.5, 99.5]))
    s2 = [st_tensor("bias"), decoy, st_tensor("brain")]
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    w.raw(f"sharded/{names[0]}", st_bytes(s1, {"format": "pt"}))
    w.raw(f"sharded/{names[1]}", st_bytes(s2, {"format": "pt"}))
    weight_map = {"bias": names[1], "brain": names[1], "conv1": names[0], "half": names[0]}
    total = sum(len(t[3]) for t in s1 + [s2[0], s2[2]])
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    w.raw("sharded/model.safetensors.index.json", (json.dumps(index, indent=2) + "\n").encode())

    # ---- malformed ----
    good = st_bytes(st_list, meta)
    w.raw("bad/st_truncated.safetensors", good[:len(good) - 30])
    w.raw("bad/st_short.safetensors", good[:5])
    w.raw("bad/st_header_len.safetensors", st_bytes(st_list[:1], length=1 << 20))
    w.raw("bad/st_json.safetensors", st_bytes(st_list[:1], header_text=b'{"conv1": {"dtype": "F32", "shape": [4, 3'))
    w.raw("bad/st_not_object.safetensors", st_bytes([], header_text=b'[1, 2, 3]'))
    w.raw("bad/st_missing_key.safetensors",
          st_bytes([], header_text=b'{"w": {"dtype": "F32", "data_offsets": [0, 8]}}') + b"\0" * 8)
    w.raw("bad/st_offsets.safetensors",
          st_bytes([], header_text=b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}') + b"\0" * 8)
    w.raw("bad/st_offsets_order.safetensors",
          st_bytes([], header_text=b'{"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}') + b"\0" * 8)
    w.raw("bad/st_dtype_size.safetensors",
          st_bytes([], header_text=b'{"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}') + b"\0" * 20)
    w.raw("bad/st_dtype.safetensors",
          st_bytes([], header_text=b'{"w": {"dtype": "Q4_K", "shape": [2], "data_offsets": [0, 8]}}') + b"\0" * 8)
    w.raw("bad/st_metadata.safetensors",
          st_bytes([], header_text=b'{"__metadata__": {"epoch": 3}}'))
    # The offsets must tile the data buffer: no shared bytes, no bytes of no tensor, nothing after the last tensor.
    w.raw("bad/st_overlap.safetensors",
          st_bytes([], header_text=b'{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, '
                                   b'"b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}') + b"\0" * 24)
    w.raw("bad/st_alias.safetensors",
          st_bytes([], header_text=b'{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, '
                                   b'"b": {"dtype": "F16", "shape": [8], "data_offsets": [0, 16]}}') + b"\0" * 16)
    w.raw("bad/st_hole.safetensors",
          st_bytes([], header_text=b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
                                   b'"b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}}') + b"\0" * 24)
    w.raw("bad/st_trailing.safetensors", st_bytes(st_list[:1]) + b"polyglot tail")
    w.raw("bad/index_no_weight_map.safetensors.index.json", b'{"metadata": {"total_size": 0}}\n')
    w.raw("bad/index_missing_shard.safetensors.index.json",
          json.dumps({"weight_map": {"w": "model-00009-of-00009.safetensors"}}).encode() + b"\n")
    w.raw("bad/index_missing_tensor.safetensors.index.json",
          json.dumps({"weight_map": {"conv1": "../sharded/" + names[0], "ghost": "../sharded/" + names[0]}}).encode()
          + b"\n")

    npz = open(os.path.join(w.outdir, "arrays.npz"), "rb").read()
    w.raw("bad/npz_truncated.npz", npz[:len(npz) // 2])
    npy = npy_bytes(array("conv1"))
    for name, member in [("npz_member.npz", npy[:len(npy) - 10]), ("npz_member_magic.npz", b"not an npy file")]:
        with pinned_clock(), zipfile.ZipFile(w.path(f"bad/{name}"), "w") as z:
            z.writestr("bias.npy", npy_bytes(array("bias")))
            z.writestr("w.npy", member)

    total = sum(os.path.getsize(p) for p in w.written)
    assert total < 300_000, total
    for p in w.written:
        print(os.path.relpath(p, w.outdir))
    print(f"{len(w.written)} files, {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
