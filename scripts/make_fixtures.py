#!/usr/bin/python3
"""Write the format fixtures under tests/fixtures/ (deterministic; run with Debian's /usr/bin/python3, needs numpy).

Usage: scripts/make_fixtures.py [OUTDIR]        (default: tests/fixtures next to this script's parent)

Values come from two closed formulas of the C-order flat index i, so the tests recompute them independently:
  wide(i)   = (i*0.37 - 3.1) * (-1)^i           f32 / f64 files (f32 = the double rounded to nearest float)
  narrow(i) = (((37*i + 11) mod 251) - 125) / 8  f16 / bf16 files (multiples of 1/8 in [-15.625, 15.625]:
                                                 exact in both, so no rounding question arises)
Valid .npy files are written by numpy itself (numpy.lib.format.write_array) except a few hand-made headers;
malformed files are built byte by byte. See tests/fixtures/README.md for the list.
"""
import os
import struct
import sys

import numpy as np
import numpy.lib.format as npformat

MAGIC = b"\x93NUMPY"


def wide(n):
    i = np.arange(n, dtype=np.float64)
    sign = np.where(np.arange(n) % 2 == 1, -1.0, 1.0)
    return (i * 0.37 - 3.1) * sign


def narrow(n):
    i = np.arange(n, dtype=np.int64)
    return ((37 * i + 11) % 251 - 125) / 8.0


def values(dtype, shape):
    n = int(np.prod(shape, dtype=np.int64))
    kind = np.dtype(dtype).itemsize
    v = narrow(n) if kind == 2 else wide(n)
    out = v.astype(dtype).reshape(shape)
    if kind == 2:
        assert np.array_equal(out.astype(np.float64).ravel(), v), "narrow values must be exact in f16"
    return out


def npy_bytes(version, header, data=b"", pad=True):
    """A .npy file from a header text, laid out like numpy's writer (64-byte aligned, newline-terminated)."""
    hdr = header.encode("utf-8" if version == 3 else "latin1")
    len_size = 2 if version == 1 else 4
    if pad:
        total = 8 + len_size + len(hdr) + 1
        hdr += b" " * ((64 - total % 64) % 64) + b"\n"
    length = struct.pack("<H" if len_size == 2 else "<I", len(hdr))
    return MAGIC + bytes([version, 0]) + length + hdr + data


class Writer:
    def __init__(self, outdir):
        self.outdir = outdir
        self.written = []

    def raw(self, name, data):
        with open(os.path.join(self.outdir, name), "wb") as f:
            f.write(data)
        self.written.append(name)

    def npy(self, name, array, version, fortran=False):
        if fortran:
            array = np.asfortranarray(array)
        with open(os.path.join(self.outdir, name), "wb") as f:
            npformat.write_array(f, array, version=(version, 0), allow_pickle=True)
        self.written.append(name)
        if array.dtype.kind == "f":
            back = np.load(os.path.join(self.outdir, name))
            assert back.dtype == array.dtype and back.shape == array.shape
            assert np.array_equal(back, array, equal_nan=True), name


def bf16_bytes(v, big_endian):
    bits = np.asarray(v, dtype=np.float32).view(np.uint32)
    assert not np.any(bits & 0xFFFF), "bf16 values must be exact"
    return (bits >> 16).astype(">u2" if big_endian else "<u2").tobytes()


def valid(w):
    # Every version x every float dtype (shapes differ per dtype; same shape across versions).
    dtypes = {"f4le": ("<f4", (3, 5)), "f4be": (">f4", (2, 3, 4)), "f8le": ("<f8", (7,)),
              "f8be": (">f8", (4, 1, 3)), "f2le": ("<f2", (2, 5)), "f2be": (">f2", (6,))}
    for version in (1, 2, 3):
        for tag, (dtype, shape) in dtypes.items():
            w.npy(f"npy_v{version}_{tag}.npy", values(dtype, shape), version)

    # The same logical array in C and in Fortran order.
    w.npy("c_f8_r3.npy", values("<f8", (2, 3, 4)), 1)
    w.npy("fortran_f8_r3.npy", values("<f8", (2, 3, 4)), 1, fortran=True)
    w.npy("fortran_f4be_r2.npy", values(">f4", (3, 5)), 2, fortran=True)
    w.npy("fortran_f2_r4.npy", values("<f2", (2, 3, 2, 2)), 3, fortran=True)

    w.npy("rank0_f8.npy", values("<f8", ()), 1)
    w.npy("rank1_f4.npy", values("<f4", (10,)), 1)
    w.npy("rank8_f4.npy", values("<f4", (2, 1, 2, 1, 3, 1, 2, 2)), 1)
    w.npy("zero_size_f4.npy", values("<f4", (0, 3)), 1)

    # Hand-made headers numpy also reads: keys in another order, odd spacing, trailing commas, double quotes,
    # native byte-order spellings ('=' and no prefix; these two assume a little-endian writer and reader).
    w.raw("header_odd1.npy", npy_bytes(1, "{'shape': (2, 3, ), 'fortran_order': False,  'descr': '<f4', }",
                                       values("<f4", (2, 3)).tobytes()))
    w.raw("header_odd2.npy", npy_bytes(2, '{ "fortran_order" : False ,\n\t"shape":(6,),"descr":"<f8"}',
                                       values("<f8", (6,)).tobytes()))
    w.raw("header_native1.npy", npy_bytes(1, "{'descr': '=f8', 'fortran_order': False, 'shape': (4,), }",
                                          values("<f8", (4,)).tobytes()))
    w.raw("header_native2.npy", npy_bytes(3, "{'descr': 'f4', 'fortran_order': False, 'shape': (3,)}",
                                          values("<f4", (3,)).tobytes()))
    for name in ("header_odd1.npy", "header_odd2.npy", "header_native1.npy", "header_native2.npy"):
        np.load(os.path.join(w.outdir, name))  # numpy agrees they are valid

    # One NaN (flat index 2) and one +Inf (flat index 5) among wide() values.
    nan = values("<f4", (3, 4))
    nan.flat[2] = np.nan
    nan.flat[5] = np.inf
    w.npy("has_nan.npy", nan, 1)

    # numpy's own float16 -> float64 conversion of 1024 spread-out bit patterns plus the special ones.
    bits = [(k * 0x9E37 + 0x15) & 0xFFFF for k in range(1024)]
    bits += [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01]
    grid = np.array(bits, dtype="<u2").view("<f2")
    w.npy("f16_grid.npy", grid, 1)
    w.npy("f16_grid_f8.npy", grid.astype("<f8"), 1)

    # Raw data, shape 4x6, both byte orders.
    for order, big in (("le", False), ("be", True)):
        e = ">" if big else "<"
        w.raw(f"raw_{order}.f32", values(e + "f4", (4, 6)).tobytes())
        w.raw(f"raw_{order}.f64", values(e + "f8", (4, 6)).tobytes())
        w.raw(f"raw_{order}.f16", values(e + "f2", (4, 6)).tobytes())
        w.raw(f"raw_{order}.bf16", bf16_bytes(narrow(24), big))
    w.raw("raw_data.bin", values("<f4", (10,)).tobytes())


def malformed(w):
    f4_2x3 = values("<f4", (2, 3)).tobytes()
    good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

    w.raw("bad_truncated.npy", npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 10), }",
                                         values("<f4", (10, 10)).tobytes()[:300]))
    w.raw("bad_magic.npy", b"\x93NUMPZ" + npy_bytes(1, good, f4_2x3)[6:])
    w.raw("bad_header_noshape.npy", npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, }", f4_2x3))
    w.raw("bad_header_garbage.npy", npy_bytes(1, "this is not a dict at all", f4_2x3))
    w.raw("bad_header_unclosed.npy", npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3",
                                               f4_2x3, pad=False))
    w.raw("bad_header_len.npy", MAGIC + bytes([1, 0]) + struct.pack("<H", 5000) + good.encode() + b"\n" + f4_2x3)
    w.raw("bad_shape_neg.npy", npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4), }",
                                         f4_2x3))
    w.raw("bad_fortran.npy", npy_bytes(1, "{'descr': '<f4', 'fortran_order': 'no', 'shape': (2, 3), }", f4_2x3))
    w.npy("bad_dtype_i4.npy", np.arange(6, dtype="<i4").reshape(2, 3), 1)
    w.npy("bad_dtype_c8.npy", np.arange(6, dtype="<c8"), 1)
    w.npy("bad_dtype_obj.npy", np.array(["a", 1], dtype=object), 1)
    w.npy("bad_dtype_struct.npy", np.zeros(3, dtype=[("a", "<f4"), ("b", "<f4")]), 1)
    w.raw("bad_version.npy", MAGIC + bytes([4, 0]) + npy_bytes(1, good, f4_2x3)[8:])
    w.raw("bad_trailing.npy", npy_bytes(1, good, f4_2x3 + b"\x00" * 7))
    w.npy("bad_rank9.npy", np.zeros((1, 1, 1, 1, 1, 1, 1, 2, 1), dtype="<f4"), 1)
    w.raw("bad_overflow.npy", npy_bytes(1, f"{{'descr': '<f8', 'fortran_order': False, "
                                           f"'shape': ({2**40}, {2**40}), }}", f4_2x3))
    w.raw("bad_overflow_dim.npy", npy_bytes(1, f"{{'descr': '<f8', 'fortran_order': False, "
                                               f"'shape': ({10**30},), }}", f4_2x3))
    w.raw("empty.npy", b"")
    w.raw("bad_unknown.dat", b"hello, this is not a tensor\n")
    w.raw("raw_mismatch.f32", values("<f4", (1725,)).tobytes())   # 6900 bytes; --shape 64,3,3,3 needs 6912
    w.raw("raw_odd.f32", b"\x01\x02\x03\x04\x05\x06\x07")          # 7 bytes: not whole f32 values


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fixtures")
    os.makedirs(outdir, exist_ok=True)
    w = Writer(outdir)
    valid(w)
    malformed(w)
    total = sum(os.path.getsize(os.path.join(outdir, n)) for n in w.written)
    print(f"wrote {len(w.written)} fixtures ({total} bytes) to {os.path.normpath(outdir)}")


if __name__ == "__main__":
    main()
