"""CLI test of `qscope inspect`: the CSV statistics against numpy, and the aligned table's layout.

Expected values are computed here with numpy from the arrays the test writes (never from the program's output):
moments over the finite values, population std (ddof=0), excess kurtosis m4/m2^2 - 3, frac_zero over all n,
per-output-channel max|x| over each axis-0 slice's finite values.
Env: QSCOPE = the built binary. Prints one line per check and `N passed, M failed`; exit 0 iff all passed.
"""
import csv
import io
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ.get("QSCOPE", "qscope")
COLUMNS = ("tensor,shape,dtype,n,min,max,mean,std,absmax_over_std,kurtosis,frac_zero,n_nan,n_inf,"
           "ch_absmax_min,ch_absmax_median,ch_absmax_max,consumer,channel_axis").split(",")
FLOAT_COLS = ["min", "max", "mean", "std", "absmax_over_std", "kurtosis", "frac_zero",
              "ch_absmax_min", "ch_absmax_median", "ch_absmax_max"]
INT_COLS = ["n", "n_nan", "n_inf"]


def close(got, exp, rel, abs_):
    if isinstance(exp, float) and math.isnan(exp):
        return math.isnan(got)
    if math.isinf(exp) or math.isinf(got):
        return got == exp
    return abs(got - exp) <= max(rel * max(abs(got), abs(exp)), abs_)


def oracle(x):
    x = np.asarray(x)
    dt = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.float16): "f16"}[x.dtype]
    x64 = x.astype(np.float64)
    fin = x64[np.isfinite(x64)]
    n = x64.size
    mean = float(np.mean(fin))
    d = fin - mean
    m2 = float(np.mean(d * d))
    m4 = float(np.mean(d ** 4))
    std = math.sqrt(m2)
    amax = float(np.max(np.abs(fin)))
    with np.errstate(divide="ignore", invalid="ignore"):
        aos = float(np.float64(amax) / np.float64(std))
        kurt = float(np.float64(m4) / np.float64(m2 * m2) - 3.0)
    e = {
        "shape": "x".join(str(s) for s in x.shape) if x.ndim else "scalar",
        "dtype": dt, "n": n,
        "min": float(np.min(fin)), "max": float(np.max(fin)), "mean": mean, "std": std,
        "absmax_over_std": aos, "kurtosis": kurt,
        "frac_zero": float(np.count_nonzero(x64 == 0)) / n,
        "n_nan": int(np.count_nonzero(np.isnan(x64))), "n_inf": int(np.count_nonzero(np.isinf(x64))),
        "_scale": amax,
    }
    if x.ndim == 0:
        e.update(ch_absmax_min=None, ch_absmax_median=None, ch_absmax_max=None)
    else:
        ch = []
        for i in range(x.shape[0]):
            s = np.atleast_1d(x64[i])
            s = s[np.isfinite(s)]
            ch.append(float(np.max(np.abs(s))))
        e.update(ch_absmax_min=float(np.min(ch)), ch_absmax_median=float(np.median(ch)),
                 ch_absmax_max=float(np.max(ch)))
    return e


def make_tensors(tmp):
    rng = np.random.default_rng(7311)
    t = {}
    w = rng.standard_t(5, size=(6, 5, 3)) * 0.07
    w[4] *= 11.0                                    # outlier output channel
    t["w3"] = w.astype(np.float32)
    nf = rng.normal(0.2, 1.3, size=(4, 5))
    nf[0, 1] = np.nan
    nf[2, 3] = np.inf
    nf[3, 0] = -np.inf
    nf[3, 4] = np.nan
    nf[1, 2] = 0.0
    t["nonfin"] = nf                                # float64
    zz = rng.laplace(0.0, 0.5, size=(5, 4)).astype(np.float32)
    zz[1, :] = 0.0                                  # an all-zero channel
    zz[3, 2] = 0.0
    t["zeros"] = zz
    t["vec"] = rng.uniform(-3.0, 1.25, size=11)     # 1-D float64
    t["scal"] = np.array(2.385)                     # rank 0
    t["half"] = rng.normal(0, 2, size=(3, 4)).astype(np.float16)
    paths = {}
    for k, v in t.items():
        p = os.path.join(tmp, k + ".npy")
        np.save(p, v)
        paths[k] = p
    return t, paths


def main():
    tmp = tempfile.mkdtemp(prefix="qscope-inspect-test-")
    try:
        t, paths = make_tensors(tmp)
        files = [paths[k] for k in t]
        exp = {k: oracle(v) for k, v in t.items()}

        # ---------------- CSV
        p = subprocess.run([QSCOPE, "inspect"] + files + ["--csv"], capture_output=True, text=True)
        if check(p.returncode == 0, "inspect --csv exits 0", f"rc={p.returncode} stderr={p.stderr.strip()}"):
            rows = list(csv.reader(io.StringIO(p.stdout)))
            check(rows and rows[0] == COLUMNS, "CSV header", f"got {rows[0] if rows else None}")
            recs = [dict(zip(rows[0], r)) for r in rows[1:]]
            check(sorted(r["tensor"] for r in recs) == sorted(t), "one CSV row per tensor",
                  f"got {[r['tensor'] for r in recs]}")
            check(all(len(r) == len(COLUMNS) for r in rows), f"every CSV row has {len(COLUMNS)} fields")
            for r in recs:
                name = r["tensor"]
                if name not in exp:
                    continue
                e = exp[name]
                for col in ("shape", "dtype"):
                    check(r[col] == e[col], f"{name}: {col} = {e[col]}", f"got {r[col]!r}")
                for col in INT_COLS:
                    check(r[col] == str(e[col]), f"{name}: {col} = {e[col]}", f"got {r[col]!r}")
                for col in FLOAT_COLS:
                    if e[col] is None:
                        check(r[col] == "", f"{name}: {col} empty for a rank-0 tensor", f"got {r[col]!r}")
                        continue
                    # mean can be ~0: an absolute floor scaled to the data keeps the test meaningful there
                    abs_ = 1e-13 * e["_scale"] if col == "mean" else 1e-300
                    try:
                        g = float(r[col])
                    except ValueError:
                        check(False, f"{name}: {col} parses as a number", repr(r[col]))
                        continue
                    if col == "absmax_over_std" and e["std"] == 0:
                        # max|x|/0: neither SPEC nor help fixes a convention (IEEE gives inf, 'undefined' gives nan);
                        # only require that no finite number is printed
                        check(not math.isfinite(g), f"{name}: {col} not finite when std = 0", f"got {r[col]!r}")
                        continue
                    check(close(g, e[col], 1e-9, abs_), f"{name}: {col} = {e[col]!r} (1e-9 rel)", f"got {r[col]!r}")

        # ---------------- aligned table
        p = subprocess.run([QSCOPE, "inspect"] + files, capture_output=True, text=True)
        if check(p.returncode == 0, "inspect (table) exits 0", f"rc={p.returncode} stderr={p.stderr.strip()}"):
            lines = [ln for ln in p.stdout.split("\n") if ln.strip()]
            check(len(lines) == 1 + len(t), f"table: header + {len(t)} lines", f"got {len(lines)} lines")
            head = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", lines[0])]
            check([h[2] for h in head] == COLUMNS, "table header words = the CSV columns",
                  f"got {[h[2] for h in head]}")
            toks = [[(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", ln)] for ln in lines]
            names = {tk[0][2]: tk for tk in toks[1:] if tk}
            check(sorted(names) == sorted(t), "table: one line per tensor", f"got {sorted(names)}")
            # a rank-0 tensor leaves the three channel columns blank; all others fill every column
            shape_ok = all(len(tk) == (13 if tk[0][2] == "scal" else 16) for tk in toks[1:])
            check(shape_ok, "table: every line has a field per column (3 blanks for the scalar)",
                  str([len(tk) for tk in toks]))
            if shape_ok and len(head) == len(COLUMNS):  # consumer/channel_axis are blank for .npy files
                bad = []
                for j in range(16):
                    col = [tk[j] for tk in toks if len(tk) > j]
                    starts = {c[0] for c in col}
                    ends = {c[1] for c in col}
                    if len(starts) != 1 and len(ends) != 1:
                        bad.append(f"{COLUMNS[j]}: starts {sorted(starts)} ends {sorted(ends)}")
                check(not bad, "table: every column is aligned (same start, or same end, on every line)",
                      "; ".join(bad))
                # the table rounds to a few significant digits: values agree with numpy to 1e-4 relative
                for tk in toks[1:]:
                    name = tk[0][2]
                    e = exp.get(name)
                    if e is None:
                        continue
                    vals = dict(zip(COLUMNS, [x[2] for x in tk]))
                    wrong = []
                    for col in FLOAT_COLS + INT_COLS:
                        if e[col] is None:
                            continue
                        try:
                            g = float(vals[col])
                        except (KeyError, ValueError):
                            wrong.append(f"{col}={vals.get(col)!r}")
                            continue
                        if col == "absmax_over_std" and e["std"] == 0:
                            if math.isfinite(g):
                                wrong.append(f"{col}: expected nan or inf (std = 0) got {vals[col]!r}")
                        elif not close(g, float(e[col]), 1e-4, 1e-9 * e["_scale"]):
                            wrong.append(f"{col}: expected {e[col]!r} got {vals[col]!r}")
                    for col in ("shape", "dtype"):
                        if vals.get(col) != e[col]:
                            wrong.append(f"{col}: expected {e[col]!r} got {vals.get(col)!r}")
                    check(not wrong, f"table: {name} values agree with numpy to 1e-4", "; ".join(wrong))

        # ---------------- a folder stands for its .npy files; --tensor filters
        p = subprocess.run([QSCOPE, "inspect", tmp, "--csv", "--tensor", "[nz]*"], capture_output=True, text=True)
        if check(p.returncode == 0, "inspect FOLDER --tensor '[nz]*' exits 0", p.stderr.strip()):
            got = sorted(r["tensor"] for r in csv.DictReader(io.StringIO(p.stdout)))
            check(got == ["nonfin", "zeros"], "folder input + --tensor glob selects nonfin, zeros", f"got {got}")

        # ---------------- names: whole in both forms (they were cut at 63 bytes); control characters raw in the
        # CSV (data) and escaped in the table (a terminal)
        names = ["n" * 80, "x\x1b[31mred"]
        header = json.dumps({n: {"dtype": "F32", "shape": [2], "data_offsets": [8 * i, 8 * i + 8]}
                             for i, n in enumerate(names)}).encode()
        st = os.path.join(tmp, "names.safetensors")
        with open(st, "wb") as f:
            f.write(struct.pack("<Q", len(header)) + header + np.arange(1, 5, dtype=np.float32).tobytes())
        p = subprocess.run([QSCOPE, "inspect", st, "--csv"], capture_output=True)
        got = [r[0] for r in csv.reader(io.StringIO(p.stdout.decode()))][1:] if p.returncode == 0 else []
        check(sorted(got) == sorted(names), "CSV: an 80-byte name whole, an escape character kept", str(got))
        p = subprocess.run([QSCOPE, "inspect", st], capture_output=True)
        first = sorted(ln.split()[0] for ln in p.stdout.decode().splitlines()[1:] if ln.strip())
        check(p.returncode == 0 and b"\x1b" not in p.stdout and first == sorted([names[0], "x\\x1b[31mred"]),
              "table: an 80-byte name whole, the escape character printed as \\x1b", repr(p.stdout[:400]))

        # ---------------- npz member names as numpy reads them: ASCII ones raw (libzip's guess turned ESC into the
        # CP437 glyph U+2190), UTF-8 flagged ones as UTF-8, unflagged non-ASCII ones as CP437 (Python's zipfile)
        npz = os.path.join(tmp, "names.npz")
        np.savez(npz, **{"a\x1bb": np.ones(2, np.float32), "tab\there": np.ones(2, np.float32),
                         "\u00fc": np.ones(2, np.float32)})
        with zipfile.ZipFile(npz, "a") as z:  # a member named in Latin-1 without the UTF-8 flag (old zip tools)
            class Latin1Name(zipfile.ZipInfo):
                __slots__ = ()

                def _encodeFilenameFlags(self):
                    return self.filename.encode("latin-1"), self.flag_bits

            info = Latin1Name("caf\u00e9.npy")
            buf = io.BytesIO()
            np.save(buf, np.ones(2, np.float32))
            z.writestr(info, buf.getvalue())
        expected = sorted(np.load(npz).files)
        check("caf\u0398" in expected, "numpy reads the Latin-1 member name as CP437", str(expected))
        p = subprocess.run([QSCOPE, "inspect", npz, "--csv"], capture_output=True)
        got = sorted(r[0] for r in csv.reader(io.StringIO(p.stdout.decode()))) if p.returncode == 0 else []
        check(got == sorted(expected + ["tensor"]), "npz member names in the CSV are numpy's", f"{got} {p.stderr!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    return summary()


if __name__ == "__main__":
    sys.exit(main())
