#!/usr/bin/python3
"""Activation batch sets (`qscope sweep --batches`): static quantization calibrated on some batches and measured on
others, dynamic quantization (every batch, or every token, with its own min/max), per-token granularity, naming
conventions, configs, and errors. Expected numbers come from numpy implementing SPEC §1-§3 directly.

Run by meson with QSCOPE=<built binary> and QS_SOURCE_ROOT=<repository root>.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ.get("QSCOPE", "")


def fake_quant(x, s, z, qmin, qmax):
    """SPEC §1 in float64: returns (x_hat, clipped)."""
    v = np.round(x / s) + z
    q = np.clip(v, qmin, qmax)
    return (q - z) * s, (v < qmin) | (v > qmax)


def asym_minmax(lo, hi, bits=8):
    """SPEC §3 asymmetric (signed range), clip range [lo, hi] from min/max."""
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    s = (hi - lo) / (qmax - qmin)
    z = int(np.clip(np.round(qmin - lo / s), qmin, qmax))
    return s, z, qmin, qmax


class Sums:
    def __init__(self):
        self.signal = self.clip = self.round = 0.0
        self.n = 0

    def add(self, x, s, z, qmin, qmax):
        xh, c = fake_quant(x, s, z, qmin, qmax)
        d2 = (x - xh) ** 2
        self.signal += float(np.sum(x * x))
        self.clip += float(np.sum(d2[c]))
        self.round += float(np.sum(d2[~c]))
        self.n += x.size

    def rel(self):
        return np.sqrt((self.clip + self.round) / self.signal)

    def rel_clip(self):
        return np.sqrt(self.clip / self.signal)


def groups(x, gran):
    """Lists of group arrays: tensor, channel (axis 1), token (rows of the last axis)."""
    if gran == "tensor":
        return [x.ravel()]
    if gran == "channel":
        return [np.take(x, c, axis=1).ravel() for c in range(x.shape[1])]
    return list(x.reshape(-1, x.shape[-1]))


def static_eval(cal, ev, gran):
    """Calibrate min/max per group on the concatenated calibration batches, measure on each evaluation batch."""
    cat = np.concatenate(cal, axis=0)
    params = [asym_minmax(g.min(), g.max()) for g in groups(cat, gran)]
    on_cal, on_eval = Sums(), Sums()
    for g, p in zip(groups(cat, gran), params):
        on_cal.add(g, *p)
    for b in ev:
        for g, p in zip(groups(b, gran), params):
            on_eval.add(g, *p)
    return on_cal, on_eval


def dynamic(batches, gran):
    out = Sums()
    for b in batches:
        for g in groups(b, gran):
            out.add(g, *asym_minmax(g.min(), g.max()))
    return out


def run(args, cwd):
    return subprocess.run([QSCOPE, "sweep", "-q", "--no-plots"] + args, cwd=cwd, capture_output=True, text=True)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def close(a, b, tol=1e-9):
    return abs(float(a) - b) <= tol * max(abs(b), 1e-300)


def make_data(tmp):
    rng = np.random.default_rng(20261129)
    acts = {"relu1": [], "fc": []}
    for k in range(8):
        r = np.maximum(rng.standard_normal((4, 6, 5, 5)), 0).astype(np.float32) * np.float32(1 + 0.25 * k)
        f = rng.standard_t(4, (12, 16)).astype(np.float32)
        acts["relu1"].append(r.astype(np.float64))
        acts["fc"].append(f.astype(np.float64))
        for name, a in (("relu1", r), ("fc", f)):
            os.makedirs(os.path.join(tmp, "acts", name), exist_ok=True)
            np.save(os.path.join(tmp, "acts", name, f"{k}.npy"), a)
        np.save(os.path.join(tmp, f"flat.{k}.npy"), f)   # the NAME.K convention in one folder
    np.savez(os.path.join(tmp, "blocks.npz"), **{f"blk/{k}": acts["fc"][k].astype(np.float32) for k in range(8)})
    return acts


def check_static_split(tmp, acts):
    r = run(["--batches", "acts/*/*.npy", "-b", "8", "-s", "asym", "-g", "tensor,channel,token", "-m", "1",
             "--calib-batches", "0-4", "--eval-batches", "5-7", "-o", "split"], tmp)
    check(r.returncode == 0, "static sweep with a calibration/evaluation split runs", r.stderr)
    if r.returncode:
        return
    t = rows(os.path.join(tmp, "split", "sweep.csv"))
    check({x["tensor"] for x in t} == {"relu1", "fc"}, "one activation per folder, named by the folder")
    check("static per-token scales cannot be evaluated" in r.stderr, "static per-token with an evaluation set: a note")
    for name in ("relu1", "fc"):
        for gran in ("tensor", "channel"):
            row = [x for x in t if x["tensor"] == name and x["granularity"] == gran]
            on_cal, on_eval = static_eval(acts[name][:5], acts[name][5:], gran)
            ok = len(row) == 1 and row[0]["mode"] == "static" and row[0]["calib_batches"] == "0-4" \
                and row[0]["eval_batches"] == "5-7"
            check(ok, f"{name} {gran}: one static row, batches 0-4 / 5-7")
            if not ok:
                continue
            x = row[0]
            check(close(x["rel"], on_cal.rel()) and int(x["n"]) == on_cal.n,
                  f"{name} {gran}: rel on the calibration batches = numpy", f"{x['rel']} vs {on_cal.rel()}")
            check(close(x["eval_rel"], on_eval.rel()) and close(x["eval_rel_clip"], on_eval.rel_clip())
                  and int(x["eval_n"]) == on_eval.n,
                  f"{name} {gran}: rel on the unseen batches = numpy ({float(x['eval_rel']):.4g} vs "
                  f"{float(x['rel']):.4g} on calibration)", f"{x['eval_rel']} vs {on_eval.rel()}")
    relu = [x for x in t if x["tensor"] == "relu1" and x["granularity"] == "tensor"]
    check(relu and float(relu[0]["eval_rel_clip"]) > 0 and float(relu[0]["rel_clip"]) == 0,
          "growing activations: min/max never clips its own batches but clips the later ones")
    # export: activations go to AIMET's activation_encodings, with the scale calibrated on batches 0-4
    e = subprocess.run([QSCOPE, "export", os.path.join(tmp, "split"), "--to", "aimet", "-g", "tensor", "-o",
                        os.path.join(tmp, "exp")], capture_output=True, text=True)
    enc = json.load(open(os.path.join(tmp, "exp", "aimet.encodings"))) if e.returncode == 0 else {}
    want = {n: asym_minmax(np.concatenate(acts[n][:5]).min(), np.concatenate(acts[n][:5]).max()) for n in acts}
    got = enc.get("activation_encodings", {})
    check(e.returncode == 0 and enc.get("param_encodings") == {} and set(got) == set(acts) and
          all(close(got[n][0]["scale"], want[n][0]) and got[n][0]["offset"] == want[n][2] - want[n][1] for n in acts),
          "export: activations in activation_encodings, scale/offset of their calibration batches", e.stderr)
    # with charts on, the histogram of an activation is that of its calibration batches
    r = subprocess.run([QSCOPE, "sweep", "-q", "--batches", "acts/relu1/*.npy", "-b", "8", "-s", "asym", "-g", "tensor",
                        "-m", "1", "--calib-batches", "0-4", "--eval-batches", "5-7", "-o", "charts"], cwd=tmp,
                       capture_output=True, text=True, env=dict(os.environ, PATH="/nonexistent"))  # no gnuplot needed
    hist = rows(os.path.join(tmp, "charts", "histogram.csv")) if r.returncode == 0 else []
    total = sum(int(h["count"]) for h in hist if h["tensor"] == "relu1")
    cat = np.concatenate(acts["relu1"][:5])
    check(total == cat.size and hist and float(hist[-1]["bin_hi"]) == cat.max(),
          "histogram.csv of an activation covers its calibration batches", f"{total} vs {cat.size} {r.stderr}")
    report = open(os.path.join(tmp, "charts", "report.md")).read() if r.returncode == 0 else ""
    _, unseen = static_eval(acts["relu1"][:5], acts["relu1"][5:], "tensor")
    check(f"the same scale gives rel {unseen.rel():.3g}" in report,
          "report.md puts the static scale's rel on the unseen batches in the tensor's note", f"{unseen.rel():.3g}")
    shape = [x["shape"] for x in t if x["tensor"] == "relu1"]
    check(shape and set(shape) == {"20x6x5x5"}, "static rows describe the 5 calibration batches concatenated", shape)


DYN_STDOUT = [""]


def check_dynamic(tmp, acts):
    r = run(["--batches", "acts/fc/*.npy", "-b", "8", "-s", "asym", "-g", "tensor,token", "-m", "1",
             "--mode", "static,dynamic", "--eval-batches", "6-7", "-o", "dyn"], tmp)
    check(r.returncode == 0, "--mode static,dynamic runs", r.stderr)
    DYN_STDOUT[0] = r.stdout
    if r.returncode:
        return
    t = rows(os.path.join(tmp, "dyn", "sweep.csv"))
    for gran in ("tensor", "token"):
        row = [x for x in t if x["mode"] == "dynamic" and x["granularity"] == gran]
        want = dynamic(acts["fc"][6:], gran)
        check(len(row) == 1 and close(row[0]["rel"], want.rel()) and close(row[0]["eval_rel"], want.rel())
              and row[0]["eval_batches"] == "6-7" and row[0]["shape"] == "24x16",
              f"dynamic {gran}: every batch/token with its own min/max, summed = numpy",
              f"{row[0]['rel'] if row else None} vs {want.rel()}")
    static = [x for x in t if x["mode"] == "static" and x["granularity"] == "tensor"]
    check(static and static[0]["calib_batches"] == "0-5", "calibration defaults to the batches not evaluated")
    dyn = [x for x in t if x["mode"] == "dynamic" and x["granularity"] == "tensor"]
    check(static and dyn and float(dyn[0]["eval_rel"]) < float(static[0]["eval_rel"]),
          "side by side on the same unseen batches: dynamic per-tensor beats the static scale here")
    with open(os.path.join(tmp, "dyn", "recommend.csv"), newline="") as f:
        rec = list(csv.DictReader(f))
    modes = {(x["mode"], x["calib"]) for x in rec}
    check(("dynamic", "dyn:minmax") in modes and ("static", "minmax") in modes,
          "recommend.csv keeps static and dynamic configurations apart", modes)
    best = [x for x in rec if x["mode"] == "static" and x["granularity"] == "tensor"]
    check(best and static and close(best[0]["eval_rel"], float(static[0]["eval_rel"])),
          "recommend.csv carries the evaluation-batch rel of each configuration's best point")
    check("static scales on unseen batches" in DYN_STDOUT[0], "the summary puts calibration and evaluation error side by side", DYN_STDOUT[0][-600:])
    e = subprocess.run([QSCOPE, "export", os.path.join(tmp, "dyn"), "--to", "qparams", "-g", "token", "-o",
                        os.path.join(tmp, "dynexp")], capture_output=True, text=True)
    check(e.returncode == 1 and "'fc'" in e.stderr and "no static qparams" in e.stderr and
          not os.path.exists(os.path.join(tmp, "dynexp")), "export of a run-time (dynamic/token) setting: exit 1, named",
          e.stderr)
    # without a split, dynamic covers every batch
    r = run(["--batches", "acts/fc/*.npy", "-b", "8", "-s", "asym", "-g", "token", "-m", "1", "--mode", "dynamic",
             "-o", "dyn_all"], tmp)
    t = rows(os.path.join(tmp, "dyn_all", "sweep.csv")) if r.returncode == 0 else []
    want = dynamic(acts["fc"], "token")
    check(len(t) == 1 and close(t[0]["rel"], want.rel()) and t[0]["eval_rel"] == "",
          "dynamic per-token over all batches = numpy (no evaluation columns without a split)", r.stderr)
    # recommend re-reads the mode from sweep.csv
    r = subprocess.run([QSCOPE, "recommend", os.path.join(tmp, "dyn", "sweep.csv"), "-o", os.path.join(tmp, "re")],
                       capture_output=True, text=True)
    with open(os.path.join(tmp, "re", "recommend.csv"), newline="") as f:
        again = list(csv.DictReader(f))
    check(r.returncode == 0 and {(x["mode"], x["calib"]) for x in again} == modes,
          "qscope recommend reads the mode column back", r.stderr)


def check_naming(tmp, acts):
    r = run(["--batches", "flat.*.npy", "--batches", "blocks.npz", "-b", "8", "-g", "tensor", "-m", "1",
             "--calib-batches", "0-3", "--eval-batches", "4-7", "-s", "asym", "-o", "names"], tmp)
    check(r.returncode == 0, "NAME.K files and a container of NAME/K arrays", r.stderr)
    if r.returncode:
        return
    t = rows(os.path.join(tmp, "names", "sweep.csv"))
    _, want = static_eval(acts["fc"][:4], acts["fc"][4:], "tensor")
    for name in ("flat", "blk"):
        row = [x for x in t if x["tensor"] == name]
        check(len(row) == 1 and close(row[0]["eval_rel"], want.rel()), f"'{name}': batches found by the naming "
              "convention, in numeric order (same numbers as the folder of .npy files)")
    # a config names batch patterns relative to itself
    os.makedirs(os.path.join(tmp, "cfg"))
    with open(os.path.join(tmp, "cfg", "acts.ini"), "w") as f:
        f.write("[sweep]\nbatches = ../acts/fc/*.npy\ncalib-batches = 0-4\neval-batches = 5-7\nbits = 8\n"
                "scheme = asym\ngranularity = tensor\nmultipliers = 1\n")
    r = run(["-c", os.path.join(tmp, "cfg", "acts.ini"), "-o", os.path.join(tmp, "cfgout")], "/")
    t = rows(os.path.join(tmp, "cfgout", "sweep.csv")) if r.returncode == 0 else []
    _, want = static_eval(acts["fc"][:5], acts["fc"][5:], "tensor")
    check(len(t) == 1 and close(t[0]["eval_rel"], want.rel()), "a config's batches/calib-batches/eval-batches",
          r.stderr)


def check_errors(tmp):
    bad = os.path.join(tmp, "badacts", "x")
    os.makedirs(bad)
    np.save(os.path.join(bad, "0.npy"), np.ones((2, 3), np.float32))
    np.save(os.path.join(bad, "1.npy"), np.ones((2, 4), np.float32))
    trunc = os.path.join(tmp, "badacts", "t")
    os.makedirs(trunc)
    np.save(os.path.join(trunc, "0.npy"), np.ones((2, 3), np.float32))
    with open(os.path.join(trunc, "1.npy"), "wb") as f:  # a batch cut short: the header promises 24 data bytes
        f.write(open(os.path.join(trunc, "0.npy"), "rb").read()[:-10])
    cases = [
        (["--batches", "badacts/x/*.npy"], 1, "'badacts/x/1.npy': batch of 'x' has shape 2x4, the others 2x3"),
        (["--batches", "badacts/t/*.npy"], 1, "'badacts/t/1.npy': truncated data"),
        (["--batches", "badacts/t/*.npy", "--calib-batches", "0", "--eval-batches", "1"], 1,
         "'badacts/t/1.npy': truncated data"),
        (["--batches", "nothing/*.npy"], 1, "'nothing/*.npy': no batch file matches"),
        (["--batches", "acts/fc/*.npy", "--eval-batches", "9"], 2, "batch 9 does not exist (8 batches: 0-7)"),
        (["--batches", "acts/fc/*.npy", "--calib-batches", "3-1"], 2, "bad --calib-batches '3-1'"),
        (["--batches", "acts/fc/*.npy", "--eval-batches", "0-7"], 2, "no calibration batch left"),
        (["--batches", "acts/fc/*.npy", "--mode", "sometimes"], 2, "bad --mode 'sometimes'"),
        (["acts/fc/0.npy", "--mode", "dynamic"], 2, "apply to --batches sets"),
    ]
    for i, (args, status, words) in enumerate(cases):
        r = run(args + ["-o", f"err{i}"], tmp)
        check(r.returncode == status and words in r.stderr, f"{' '.join(args)}: exit {status}, '{words}'",
              f"exit {r.returncode}: {r.stderr!r}")
        check(not os.path.exists(os.path.join(tmp, f"err{i}")), f"case {i}: nothing written")


def main():
    if not QSCOPE:
        print("QSCOPE is not set")
        return 1
    with tempfile.TemporaryDirectory(prefix="qs-test-batches-") as tmp:
        acts = make_data(tmp)
        check_static_split(tmp, acts)
        check_dynamic(tmp, acts)
        check_naming(tmp, acts)
        check_errors(tmp)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
