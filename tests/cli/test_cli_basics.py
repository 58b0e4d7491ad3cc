"""CLI basics: help and version, usage errors, output placement and atomic overwrite, folder and raw-binary inputs.

Expected values come from the test's own data (numpy) and from meson.build's project version.
Env: QSCOPE = the built binary, QS_SOURCE_ROOT = the repository root.
Prints one line per check and `N passed, M failed`; exit 0 iff all passed.
"""
import csv
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ.get("QSCOPE", "qscope")
SOURCE_ROOT = os.environ.get("QS_SOURCE_ROOT", "")

SWEEP_OPTS = ["--output", "--bits", "--granularity", "--scheme", "--range", "--signed", "--unsigned", "--pow2",
              "--rounding", "--seed", "--profile", "--calib", "--multipliers", "--tensor", "--save-qparams",
              "--skip-nonfinite", "--dtype", "--shape", "--big-endian"]
INSPECT_OPTS = ["--csv", "--tensor", "--dtype", "--shape", "--big-endian", "--help"]


def run(args, cwd=None):
    return subprocess.run([QSCOPE] + args, cwd=cwd, capture_output=True, text=True)


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def hidden_temps(root):
    found = []
    for d, dirs, files in os.walk(root):
        found += [os.path.join(d, f) for f in files + dirs if f.startswith(".qscope-")]
    return found


def rel_close(a, b, rel=1e-12):
    return abs(a - b) <= rel * max(abs(a), abs(b))


def project_version():
    try:
        with open(os.path.join(SOURCE_ROOT, "meson.build")) as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r"project\s*\((.*?)\)", text, re.S)
    if not m:
        return None
    v = re.search(r"version\s*:\s*'([^']+)'", m.group(1))
    return v.group(1) if v else None


def main():
    tmp = tempfile.mkdtemp(prefix="qscope-basics-test-")
    try:
        # ---------------- help / version / usage
        p = run(["--help"])
        check(p.returncode == 0, "--help exits 0", f"rc={p.returncode}")
        check(re.search(r"\bsweep\b", p.stdout) and re.search(r"\binspect\b", p.stdout),
              "--help lists sweep and inspect on stdout", repr(p.stdout[:300]))

        p = run(["--version"])
        ver = project_version()
        check(p.returncode == 0, "--version exits 0", f"rc={p.returncode}")
        check(re.fullmatch(r"qscope \S+\n?", p.stdout) is not None, "--version prints 'qscope <version>'",
              repr(p.stdout))
        if ver is not None:
            check(p.stdout.strip() == f"qscope {ver}", f"--version matches meson.build's version {ver}",
                  repr(p.stdout))

        for cmd, opts in (("sweep", SWEEP_OPTS), ("inspect", INSPECT_OPTS)):
            p = run([cmd, "--help"])
            check(p.returncode == 0, f"{cmd} --help exits 0", f"rc={p.returncode}")
            missing = [o for o in opts if not re.search(re.escape(o) + r"(?![\w-])", p.stdout)]
            check(not missing, f"{cmd} --help mentions every long option on stdout", f"missing {missing}")

        p = run([])
        check(p.returncode == 2, "no arguments -> exit 2", f"rc={p.returncode}")
        check("usage" in p.stderr.lower(), "no arguments -> usage on stderr", repr(p.stderr[:200]))
        check(p.stdout == "", "no arguments -> nothing on stdout", repr(p.stdout[:200]))

        # ---------------- overwrite into the same -o, no temp files left behind
        rng = np.random.default_rng(99)
        w = rng.normal(0.0, 0.8, size=(5, 6)).astype(np.float32)
        wpath = os.path.join(tmp, "w.npy")
        np.save(wpath, w)
        out = os.path.join(tmp, "out")
        p1 = run(["sweep", wpath, "-o", out, "-q", "-b", "2-8", "-g", "tensor,channel", "-m", "0.5:1:6",
                  "--save-qparams"])
        check(p1.returncode == 0, "first sweep into -o exits 0", p1.stderr.strip())
        rows1 = read_rows(os.path.join(out, "sweep.csv")) if p1.returncode == 0 else []
        check(len(rows1) == 7 * 2 * 6, "first sweep: 7 bits x 2 granularities x 6 multipliers rows",
              f"got {len(rows1)}")
        p2 = run(["sweep", wpath, "-o", out, "-q", "-b", "4", "-g", "tensor", "-m", "1"])
        check(p2.returncode == 0, "second sweep into the same -o exits 0", p2.stderr.strip())
        if p2.returncode == 0:
            with open(os.path.join(out, "sweep.csv"), newline="") as f:
                text = f.read()
            rows2 = list(csv.DictReader(text.splitlines()))
            check(len(rows2) == 1 and rows2[0]["bits"] == "4" and rows2[0]["granularity"] == "tensor",
                  "second sweep replaced sweep.csv (one row, bits 4, tensor)", f"{len(rows2)} rows")
            check(text.count("tensor,shape,n,") == 1, "overwritten sweep.csv holds a single header")
        check(not hidden_temps(out) and not hidden_temps(tmp), "no .qscope-* temp files left behind",
              str(hidden_temps(tmp)))

        # ---------------- default output folder reports/<stem>/ relative to the cwd; folder input
        cwd = os.path.join(tmp, "cwd")
        os.makedirs(os.path.join(cwd, "acts"))
        shutil.copy(wpath, os.path.join(cwd, "w.npy"))
        a1 = rng.normal(size=(3, 4))
        a2 = rng.normal(size=7).astype(np.float32)
        np.save(os.path.join(cwd, "acts", "layer1.npy"), a1)
        np.save(os.path.join(cwd, "acts", "layer2.npy"), a2)
        with open(os.path.join(cwd, "acts", "notes.txt"), "w") as f:
            f.write("not a tensor\n")
        p = run(["sweep", "w.npy", "-q", "-b", "8", "-g", "tensor", "-m", "1"], cwd=cwd)
        check(p.returncode == 0, "sweep w.npy without -o exits 0", p.stderr.strip())
        csv_w = os.path.join(cwd, "reports", "w", "sweep.csv")
        if check(os.path.isfile(csv_w), "default output: reports/w/sweep.csv"):
            r = read_rows(csv_w)
            check(len(r) == 1 and r[0]["tensor"] == "w", "reports/w/sweep.csv has the one row for w",
                  str([x["tensor"] for x in r]))
        p = run(["sweep", "acts/", "-q", "-b", "8", "-g", "tensor", "-m", "1"], cwd=cwd)
        check(p.returncode == 0, "sweep acts/ without -o exits 0", p.stderr.strip())
        csv_a = os.path.join(cwd, "reports", "acts", "sweep.csv")
        if check(os.path.isfile(csv_a), "default output for a folder: reports/acts/sweep.csv"):
            r = read_rows(csv_a)
            got = sorted(x["tensor"] for x in r)
            check(got == ["layer1", "layer2"], "a folder expands to its .npy files (notes.txt ignored)", str(got))
            sig = {x["tensor"]: float(x["signal"]) for x in r}
            check(rel_close(sig.get("layer1", math.nan), float(np.sum(a1 * a1))) and
                  rel_close(sig.get("layer2", math.nan), float(np.sum(a2.astype(np.float64) ** 2))),
                  "folder tensors: signal = sum x^2", str(sig))
        check(not hidden_temps(cwd), "no .qscope-* temp files in the working directory", str(hidden_temps(cwd)))

        # ---------------- raw binaries
        x = rng.standard_t(6, size=(4, 5))
        raws = []
        x32 = x.astype(np.float32)
        x32.astype("<f4").tofile(os.path.join(tmp, "r32.bin"))
        raws.append(("r32.bin", ["--dtype", "f32"], x32.astype(np.float64)))
        x.astype(">f8").tofile(os.path.join(tmp, "r64be.bin"))
        raws.append(("r64be.bin", ["--dtype", "f64", "--big-endian"], x.astype(np.float64)))
        x16 = x.astype(np.float16)
        x16.astype("<f2").tofile(os.path.join(tmp, "r16.bin"))
        raws.append(("r16.bin", ["--dtype", "f16"], x16.astype(np.float64)))
        # bf16: float32 values whose low 16 bits are zero are exactly representable; store their top 16 bits
        xb = (x32.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
        (xb.view(np.uint32) >> np.uint32(16)).astype("<u2").tofile(os.path.join(tmp, "rbf16.bin"))
        raws.append(("rbf16.bin", ["--dtype", "bf16"], xb.astype(np.float64)))
        (xb.view(np.uint32) >> np.uint32(16)).astype(">u2").tofile(os.path.join(tmp, "rbf16be.bin"))
        raws.append(("rbf16be.bin", ["--dtype", "bf16", "--big-endian"], xb.astype(np.float64)))
        for fname, opts, ref in raws:
            stem = fname.rsplit(".", 1)[0]
            for shape_opt, shape_str in ((["--shape", "4,5"], "4x5"), ([], "20")):
                o = os.path.join(tmp, "raw-" + stem + shape_str)
                p = run(["sweep"] + opts + shape_opt + [os.path.join(tmp, fname), "-o", o, "-q",
                                                        "-b", "8", "-g", "tensor", "-m", "1"])
                label = f"raw {' '.join(opts + shape_opt)}"
                if not check(p.returncode == 0, f"{label}: exits 0", p.stderr.strip()):
                    continue
                r = read_rows(os.path.join(o, "sweep.csv"))
                if not check(len(r) == 1, f"{label}: one row", f"{len(r)} rows"):
                    continue
                r = r[0]
                check(r["tensor"] == stem, f"{label}: tensor name = file stem {stem}", r["tensor"])
                check(r["shape"] == shape_str and r["n"] == "20", f"{label}: shape {shape_str}, n 20",
                      f"shape={r['shape']} n={r['n']}")
                exp = float(np.sum(ref * ref))
                check(rel_close(float(r["signal"]), exp), f"{label}: signal = sum x^2 = {exp!r}",
                      f"got {r['signal']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    return summary()


if __name__ == "__main__":
    sys.exit(main())
