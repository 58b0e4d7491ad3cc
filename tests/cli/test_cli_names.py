"""CLI test: tensors whose names clash, as they are or as file names, stay separate in every output.

Found by fuzzing: two inputs d1/w.npy and d2/w.npy were merged into one tensor "w" by the recommendation, npz members
"a/b" and "a_b" wrote the same qparams files (the run failed half-written), and a member named ".." put its qparams
files into OUT itself. Later: a weight and an activation batch set of the same name were merged the same way, and two
names longer than 255 bytes with the same beginning shared a qparams folder. Each tensor's row is checked against its
own data with a numpy oracle (symmetric 8-bit minmax: s = max|x| / 127), so a mix-up shows as a wrong number, not
only as a wrong name. Tables on stdout align UTF-8 names by terminal columns.
Env: QSCOPE = the built binary.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata

import numpy as np

from checks import check, summary

QSCOPE = os.environ.get("QSCOPE", "qscope")


def oracle(x):
    """scale and rel of symmetric signed 8-bit minmax quantization (SPEC §1-3), in float64."""
    x = x.astype(np.float64).ravel()
    s = np.abs(x).max() / 127.0
    xq = np.clip(np.round(x / s), -128, 127) * s
    return s, float(np.sqrt(np.sum((x - xq) ** 2) / np.sum(x * x)))


def sweep(out, *inputs):
    return subprocess.run([QSCOPE, "sweep", "-q", "--no-plots", "--save-qparams", "-m", "1", "-b", "8", "-g", "tensor",
                           "-o", out, *inputs], capture_output=True, text=True)


def check_rows(out, expected, label):
    """expected: tensor name -> its data. Rows, recommendation and saved scales must match name for name."""
    rows = list(csv.DictReader(open(os.path.join(out, "sweep.csv"))))
    check([r["tensor"] for r in rows] == list(expected), f"{label}: one row per tensor, in input order",
          str([r["tensor"] for r in rows]))
    rec = {r["tensor"] for r in csv.DictReader(open(os.path.join(out, "recommend.csv")))}
    check(rec == set(expected), f"{label}: the recommendation keeps every tensor apart", str(rec))
    for r in rows:
        s, rel = oracle(expected[r["tensor"]])
        check(abs(float(r["rel"]) - rel) <= 1e-12 * rel, f"{label}: {r['tensor']}: rel from its own data",
              f"{r['rel']} vs {rel}")
        saved = np.load(os.path.join(out, r["qparams"] + ".scale.npy"))
        check(abs(float(saved.ravel()[0]) - s) <= 1e-15 * s, f"{label}: {r['tensor']}: its own saved scale")
    check(len({r["qparams"] for r in rows}) == len(rows), f"{label}: a qparams folder per tensor")
    top = sorted(os.listdir(out))
    check(top == ["qparams", "recommend.csv", "sweep.csv"], f"{label}: nothing written outside qparams/", str(top))


def main():
    tmp = tempfile.mkdtemp(prefix="qscope-names-")
    try:
        rng = np.random.default_rng(2385)
        data = {d: rng.standard_t(4, size=(8, 5)).astype(np.float32) * (1.0 if d == "d1" else 7.5)
                for d in ("d1", "d2")}
        for d, x in data.items():
            os.makedirs(os.path.join(tmp, d))
            np.save(os.path.join(tmp, d, "w.npy"), x)
        out = os.path.join(tmp, "out1")
        r = sweep(out, os.path.join(tmp, "d1", "w.npy"), os.path.join(tmp, "d2", "w.npy"))
        check(r.returncode == 0, "two files both holding 'w': exit 0", r.stderr)
        check("d2/w.npy" in r.stderr and "'w#2'" in r.stderr, "the note names the input and the new name", r.stderr)
        check_rows(out, {"w": data["d1"], "w#2": data["d2"]}, "same name")

        members = {name: rng.standard_normal(6).astype(np.float32) * (i + 1.5)
                   for i, name in enumerate(("a/b", "a_b", ".."))}
        npz = os.path.join(tmp, "clash.npz")
        np.savez(npz, **members)
        out = os.path.join(tmp, "out2")
        r = sweep(out, npz)
        check(r.returncode == 0, "npz members 'a/b', 'a_b', '..': exit 0", r.stderr)
        check_rows(out, {"a/b": members["a/b"], "a_b#2": members["a_b"], "..": members[".."]}, "same file name")

        # a weight and an activation (a batch set, swept from its batches concatenated) called "relu1"
        weight = rng.standard_normal((4, 3)).astype(np.float32)
        batches = [rng.standard_normal((2, 3)).astype(np.float32) * 3.0 for _ in range(2)]
        np.save(os.path.join(tmp, "relu1.npy"), weight)
        os.makedirs(os.path.join(tmp, "acts", "relu1"))
        for i, b in enumerate(batches):
            np.save(os.path.join(tmp, "acts", "relu1", f"{i}.npy"), b)
        out = os.path.join(tmp, "out3")
        r = sweep(out, os.path.join(tmp, "relu1.npy"), "--batches", os.path.join(tmp, "acts", "*", "*.npy"))
        check(r.returncode == 0, "a weight and an activation both called 'relu1': exit 0", r.stderr)
        check("activation 'relu1' is swept as 'relu1#2'" in r.stderr, "the note names the activation", r.stderr)
        check_rows(out, {"relu1": weight, "relu1#2": np.concatenate(batches)}, "weight and activation")

        # names longer than a file name allows (255 bytes) that share their first 300 characters: the qparams
        # folders (sweep) and files (export) are cut to 200 bytes plus a hash of the whole name, so they differ
        long_names = {"a" * 300 + "x": rng.standard_normal(6).astype(np.float32),
                      "a" * 300 + "y": rng.standard_normal(6).astype(np.float32) * 9.0}
        npz = os.path.join(tmp, "long.npz")
        np.savez(npz, **long_names)
        out = os.path.join(tmp, "out4")
        r = sweep(out, npz)
        check(r.returncode == 0, "two 301-character names with the same 300-character beginning: exit 0", r.stderr)
        if r.returncode == 0:
            check_rows(out, long_names, "long names")
            for dirpath, dirnames, filenames in os.walk(out):
                check(all(len(f.encode()) <= 255 for f in dirnames + filenames), f"long names: {dirpath}: every "
                      "file name within 255 bytes")
            # export writes a qparams file per tensor for per-channel settings
            out = os.path.join(tmp, "out5")
            r = subprocess.run([QSCOPE, "sweep", "-q", "--no-plots", "--save-qparams", "-m", "1", "-b", "8", "-g",
                                "channel", "-o", out, npz], capture_output=True, text=True)
            r = r if r.returncode else subprocess.run(
                [QSCOPE, "export", os.path.join(out, "sweep.csv"), "--to", "qparams", "-o", os.path.join(out, "ex")],
                capture_output=True, text=True)
            check(r.returncode == 0, "long names: per-channel export exits 0", r.stderr)
            if r.returncode == 0:
                doc = json.load(open(os.path.join(out, "ex", "qparams.json")))["tensors"]
                files = {name: doc[name]["scale"] for name in long_names if name in doc}
                check(len(files) == 2 and len(set(files.values())) == 2, "long names: two tensors, two scale files",
                      str(files))
                for name, rel in files.items():
                    scale = np.load(os.path.join(out, "ex", rel)).ravel()
                    want = np.abs(long_names[name].astype(np.float64)) / 127.0  # a group per value on a 1-D tensor
                    check(np.allclose(scale, want, rtol=1e-15, atol=0), f"long names: {name[-1]}: its own scales")

        check_tables(tmp, rng)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


def columns(text):
    """Terminal columns of text by Unicode's East Asian Width property: W and F take two, the rest one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cell(text, width):
    """text cut before the character that would make it wider than width columns, padded with spaces to width."""
    out = ""
    for c in text:
        if columns(out + c) > width:
            break
        out += c
    return out + " " * (width - columns(out))


def check_tables(tmp, rng):
    """Tables on stdout count a name's columns, not its bytes: the summary's 32-column name cell and inspect's columns
    stay aligned for UTF-8 names (CJK and emoji take two columns), and a long name is cut, never inside a character."""
    names = ["\u00e9" * 40, "w", "\u00fcber", "x\x1b", "\u5377\u79ef\u5c42" * 6 + "_w", "\U0001F600x"]
    npz = os.path.join(tmp, "utf8.npz")
    np.savez(npz, **{n: rng.standard_normal(6).astype(np.float32) for n in names})
    shown = {n: n.replace("\x1b", "\\x1b") for n in names}  # as the terminal shows them
    r = subprocess.run([QSCOPE, "sweep", "--no-plots", "-m", "1", "-b", "8", "-g", "tensor", "-o",
                        os.path.join(tmp, "out_utf8"), npz], capture_output=True, text=True)
    lines = r.stdout.splitlines()
    head = next((i for i, ln in enumerate(lines) if ln.startswith("rank  tensor")), None)
    rows = sorted(ln[6:] for ln in lines[head + 1:head + 1 + len(names)]) if head is not None else []
    missing = [n for n in names if not any(row.startswith(cell(shown[n], 32) + "     8  ") for row in rows)]
    check(r.returncode == 0 and len(rows) == len(names) and not missing,
          "summary: 32-column name cells, cut and padded by terminal columns", f"{missing} {rows} {r.stderr}")
    r = subprocess.run([QSCOPE, "inspect", npz], capture_output=True, text=True)
    width = max(columns(v) for v in shown.values())
    lines = r.stdout.splitlines()
    missing = [n for n in names if not any(ln.startswith(cell(shown[n], width) + "  6 ") for ln in lines[1:])]
    check(r.returncode == 0 and len(lines) == len(names) + 1 and lines[0].startswith("tensor".ljust(width) + "  shape")
          and not missing, "inspect: every row's shape column starts at the same terminal column", r.stdout)


if __name__ == "__main__":
    sys.exit(main())
