"""`qscope export` after a real sweep: every exported number (AIMET encodings, TensorRT cache, ONNX Runtime table,
qparams.json + .npy) is checked against (s, z) recomputed here with numpy from the data, the point's configuration
and multiplier, by SPEC §3 (minmax calibration): a round trip, not a copy of the program's own files.
Then the error paths: missing per-group qparams, missing sweep.csv, bad --to."""
import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ["QSCOPE"]
FORMATS = {"aimet": "aimet.encodings", "trt": "trt_calibration.cache", "ort": "ort_calibration.json",
           "qparams": "qparams.json"}

tmp = tempfile.mkdtemp(prefix="qs-cli-export-")
data_dir = os.path.join(tmp, "data")
os.mkdir(data_dir)
rng = np.random.default_rng(20240611)
tensors = {
    # per-channel spread of magnitudes, so channel and tensor granularity differ
    "conv": (rng.standard_normal((12, 3, 3, 3)) * rng.uniform(0.02, 0.9, size=(12, 1, 1, 1))).astype(np.float32),
    "fc": (rng.laplace(size=(10, 24)) * rng.uniform(0.1, 1.5, size=(10, 1)) + 0.05).astype(np.float32),
    "bias": (rng.standard_normal(7) * 0.3 + 0.1).astype(np.float32),
}
for name, x in tensors.items():
    np.save(os.path.join(data_dir, name + ".npy"), x)


def run(*args):
    return subprocess.run([QSCOPE, *args], capture_output=True, text=True)


def qrange(bits, signed, narrow):
    qmin, qmax = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return qmin + (1 if narrow else 0), qmax


def groups_of(x, gran):
    """Rows = groups: one for `tensor`, one per index along axis 0 for `channel`."""
    x = x.astype(np.float64)
    if gran == "tensor":
        return x.reshape(1, -1)
    assert gran == "channel"
    return x.reshape(x.shape[0], -1)


def oracle(x, gran, bits, signed, narrow, asym, m):
    """SPEC §3 from a minmax clip range scaled by m: per group (s, z)."""
    qmin, qmax = qrange(bits, signed, narrow)
    g = groups_of(x, gran)
    lo, hi = m * g.min(axis=1), m * g.max(axis=1)
    if not asym:
        t = np.maximum(np.abs(lo), np.abs(hi))
        s = t / ((1 << (bits - 1)) - 1)
        z = np.full(len(s), 0 if signed else 1 << (bits - 1), dtype=np.int64)
    else:
        lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
        s = (hi - lo) / (qmax - qmin)
        z = np.clip(np.round(qmin - lo / s), qmin, qmax).astype(np.int64)
    return s, z, qmin, qmax


def close(a, b, rtol=1e-12):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rtol * np.abs(b)))


def f32_close(a, b):
    """Equal as float32 up to one unit in the last place."""
    a, b = np.float32(a), np.float32(b)
    return bool(np.all(np.abs(a.astype(np.float64) - b) <= np.spacing(np.abs(b)).astype(np.float64)))


def sweep_rows(out):
    with open(os.path.join(out, "sweep.csv"), newline="") as f:
        return list(csv.DictReader(f))


def best_multiplier(rows, tensor, **cfg):
    """The multiplier with the lowest rel among the tensor's rows of one configuration (one calibrator)."""
    cand = [r for r in rows if r["tensor"] == tensor and all(r[k] == str(v) for k, v in cfg.items())]
    return float(min(cand, key=lambda r: float(r["rel"]))["multiplier"]) if cand else None


def check_export(exp, label, expect_rows):
    """Parses the four files in exp and compares them with the oracle for the point qparams.json names."""
    q = json.load(open(os.path.join(exp, "qparams.json")))
    aimet = json.load(open(os.path.join(exp, "aimet.encodings")))
    ort = json.load(open(os.path.join(exp, "ort_calibration.json")))
    lines = open(os.path.join(exp, "trt_calibration.cache")).read().splitlines()
    check(q["format"] == "qscope-qparams" and set(q["tensors"]) == set(tensors), f"{label}: qparams.json tensors")
    check(aimet["version"] == "0.6.1" and aimet["activation_encodings"] == {}
          and set(aimet["param_encodings"]) == set(tensors), f"{label}: aimet layout")
    check(ort["CLS"] == "TensorsData" and ort["calibration_method"] == {"CLS": "CalibrationMethod",
                                                                         "value": "CalibrationMethod.MinMax"}
          and set(ort["data"]) == set(tensors), f"{label}: ort layout")
    check(lines[0] == "TRT-8601-EntropyCalibration2" and len(lines) == 1 + len(tensors), f"{label}: trt layout")
    trt = {}
    for line in lines[1:]:
        name, hexbits = line.rsplit(": ", 1)
        ok = len(hexbits) == 8 and all(c in "0123456789abcdef" for c in hexbits)
        check(ok, f"{label}: trt line '{line}' is NAME: 8 hex digits")
        trt[name] = struct.unpack(">f", bytes.fromhex(hexbits))[0]

    for name, x in tensors.items():
        t = q["tensors"][name]
        bits, signed, narrow, asym = t["bits"], t["signed"], t["range"] == "narrow", t["scheme"] == "asym"
        gran, m = t["granularity"], t["multiplier"]
        if name in expect_rows:  # the configuration and multiplier the program chose, checked independently
            want = expect_rows[name]
            check((bits, gran, t["scheme"]) == (want["bits"], want["granularity"], want["scheme"])
                  and close(m, want["multiplier"], 0), f"{label} {name}: point is {want}",
                  f"{bits} {gran} {t['scheme']} m={m}")
        s, z, qmin, qmax = oracle(tensors[name], gran, bits, signed, narrow, asym, m)
        check((t["qmin"], t["qmax"], t["ngroups"]) == (qmin, qmax, len(s)), f"{label} {name}: qmin/qmax/ngroups")
        # qparams.json: numbers (per-tensor) or the .npy files beside it
        if gran == "tensor":
            qs, qz = np.array([t["scale"]]), np.array([t["zero_point"]])
        else:
            qs = np.load(os.path.join(exp, t["scale"]))
            qz = np.load(os.path.join(exp, t["zero_point"]))
            check(qs.dtype == np.float64 and qz.dtype == np.int64, f"{label} {name}: .npy dtypes f8/i8")
        check(close(qs, s), f"{label} {name}: qparams scale = SPEC s", f"{qs} vs {s}")
        check(np.array_equal(qz, z), f"{label} {name}: qparams zero_point = SPEC z", f"{qz} vs {z}")
        # AIMET: offset = qmin - z, min = (qmin - z)s, max = (qmax - z)s, one entry per channel
        enc = aimet["param_encodings"][name]
        check(len(enc) == len(s), f"{label} {name}: aimet has one encoding per group")
        check(all(e["bitwidth"] == bits and e["dtype"] == "int"
                  and e["is_symmetric"] == ("False" if asym else "True") for e in enc), f"{label} {name}: aimet fields")
        check(close([e["scale"] for e in enc], s), f"{label} {name}: aimet scale")
        check([e["offset"] for e in enc] == list(qmin - z), f"{label} {name}: aimet offset = qmin - z")
        check(close([e["min"] for e in enc], (qmin - z) * s) and close([e["max"] for e in enc], (qmax - z) * s),
              f"{label} {name}: aimet min/max")
        if not asym and signed:
            check(all(e["offset"] == -(1 << (bits - 1)) for e in enc), f"{label} {name}: aimet offset -2^(b-1)")
        # TensorRT: amax/127 as float32, amax = (2^(b-1)-1)s (sym) or max(z-qmin, qmax-z)s (asym), max over groups
        amax = ((1 << (bits - 1)) - 1) * s if not asym else np.maximum(z - qmin, qmax - z) * s
        check(f32_close(trt[name], amax.max() / 127.0), f"{label} {name}: trt scale = amax/127",
              f"{trt[name]!r} vs {amax.max() / 127.0!r}")
        # ONNX Runtime: lowest/highest as float32 numpy arrays; compute_scale_zp gives (s, z) back
        td = ort["data"][name]
        lo, hi = td["lowest"], td["highest"]
        check(td["CLS"] == "TensorData" and lo["CLS"] == hi["CLS"] == "numpy.array"
              and lo["dtype"] == hi["dtype"] == "float32", f"{label} {name}: ort TensorData layout")
        lo_v, hi_v = np.atleast_1d(np.array(lo["data"])), np.atleast_1d(np.array(hi["data"]))
        check(isinstance(lo["data"], list) == (gran != "tensor"), f"{label} {name}: ort list iff per-channel")
        if asym:
            want_lo, want_hi = (qmin - z) * s, (qmax - z) * s
        else:
            want_hi = ((1 << (bits - 1)) - 1) * s
            want_lo = -want_hi
        check(f32_close(lo_v, want_lo) and f32_close(hi_v, want_hi), f"{label} {name}: ort lowest/highest")
        if asym:  # ORT's asymmetric rule on the same integer range
            s_ort = (hi_v - lo_v) / (qmax - qmin)
            check(close(s_ort, s, 1e-6) and np.array_equal(np.round(qmin - lo_v / s_ort).astype(np.int64), z),
                  f"{label} {name}: ort (lowest, highest) -> (s, z)")


# --- symmetric signed sweep with saved qparams; the recommended points, then forced per-channel points ---
out = os.path.join(tmp, "out")
r = run("sweep", data_dir, "-o", out, "-q", "-g", "tensor,channel", "-b", "4,8", "-m", "0.6:1.2:13",
        "--save-qparams")
check(r.returncode == 0, "sweep --save-qparams exits 0", r.stderr)
rows = sweep_rows(out)
with open(os.path.join(out, "recommend.csv"), newline="") as f:
    rec = {row["tensor"]: row for row in csv.DictReader(f) if row["recommended"] == "1"}
expect = {n: dict(bits=int(v["bits"]), granularity=v["granularity"], scheme=v["scheme"],
                  multiplier=float(v["multiplier"])) for n, v in rec.items()}

r = run("export", out, "--to", "aimet,trt,ort,qparams")
check(r.returncode == 0, "export (recommended) exits 0", r.stderr)
exp = os.path.join(out, "export")
check(r.stdout.split() == [os.path.join(exp, f) for f in FORMATS.values()], "stdout lists the files", r.stdout)
check_export(exp, "recommended", expect)

ch = os.path.join(tmp, "ch4")
r = run("export", os.path.join(out, "sweep.csv"), "--to", "all", "-b", "4", "-g", "channel", "-o", ch)
check(r.returncode == 0, "export -b 4 -g channel exits 0", r.stderr)
check("not 8-bit symmetric" in r.stderr, "trt note for 4-bit points on stderr", r.stderr)
forced = {n: dict(bits=4, granularity="channel", scheme="sym",
                  multiplier=best_multiplier(rows, n, bits=4, granularity="channel")) for n in tensors}
check_export(ch, "4-bit channel", forced)

# --- asymmetric unsigned sweep: z != 0, offsets and ORT's zero-point rule ---
out_a = os.path.join(tmp, "asym")
r = run("sweep", data_dir, "-o", out_a, "-q", "-g", "tensor,channel", "-b", "4,8", "-s", "asym", "--unsigned",
        "-m", "0.7:1.1:9", "--save-qparams")
check(r.returncode == 0, "asym sweep exits 0", r.stderr)
rows_a = sweep_rows(out_a)
for g in ("channel", "tensor"):
    d = os.path.join(tmp, "asym-" + g)
    r = run("export", out_a, "--to", "aimet,trt,ort,qparams", "-b", "8", "-g", g, "-o", d)
    check(r.returncode == 0, f"asym export -g {g} exits 0", r.stderr)
    check_export(d, "asym " + g, {n: dict(bits=8, granularity=g, scheme="asym",
                                         multiplier=best_multiplier(rows_a, n, bits=8, granularity=g))
                                  for n in tensors})
    zs = json.load(open(os.path.join(d, "aimet.encodings")))["param_encodings"]
    check(any(e["offset"] != -128 for v in zs.values() for e in v), f"asym {g}: some offset differs from -2^(b-1)")

# --- errors ---
# per-channel points without --save-qparams: exit 1, the message says what to do, nothing written
out_n = os.path.join(tmp, "nosave")
r = run("sweep", data_dir, "-o", out_n, "-q", "-g", "tensor,channel", "-b", "4,8", "-m", "0.6:1.2:5")
check(r.returncode == 0, "sweep without --save-qparams exits 0", r.stderr)
r = run("export", out_n, "--to", "aimet,qparams", "-g", "channel")
check(r.returncode == 1, "per-channel export without saved qparams exits 1", r.returncode)
check("--save-qparams" in r.stderr, "the message mentions --save-qparams", r.stderr)
check(not os.path.exists(os.path.join(out_n, "export")), "nothing written")
r = run("export", out_n, "--to", "qparams", "-g", "tensor")
check(r.returncode == 0, "per-tensor export needs no saved qparams", r.stderr)
q = json.load(open(os.path.join(out_n, "export", "qparams.json")))
check(all(isinstance(t["scale"], float) for t in q["tensors"].values()), "per-tensor scales are numbers")

# saved qparams deleted after the sweep: exit 1, names the file, nothing written
gone = os.path.join(tmp, "gone")
shutil.copytree(out, gone)
shutil.rmtree(os.path.join(gone, "qparams"))
shutil.rmtree(os.path.join(gone, "export"))
r = run("export", gone, "--to", "ort", "-b", "4", "-g", "channel")
check(r.returncode == 1 and ".scale.npy" in r.stderr and "--save-qparams" in r.stderr,
      "deleted qparams: exit 1 naming the file", r.stderr)
check(not os.path.exists(os.path.join(gone, "export")), "deleted qparams: nothing written")

# missing sweep.csv
empty = os.path.join(tmp, "empty")
os.mkdir(empty)
r = run("export", empty, "--to", "trt")
check(r.returncode == 1 and "sweep.csv" in r.stderr, "missing sweep.csv: exit 1", r.stderr)
check(os.listdir(empty) == [], "missing sweep.csv: nothing written")

# usage errors: exit 2
for args, what in ((["--to", "tflite"], "unknown format"), (["--to", ""], "empty --to"), ([], "no --to"),
                   (["--to", "trt", "-s", "affine"], "bad --scheme"), (["--to", "trt", "-g", "chan"], "bad -g")):
    r = run("export", out, *args)
    check(r.returncode == 2, f"{what}: exit 2", f"{r.returncode} {r.stderr}")
r = run("export", "--to", "trt")
check(r.returncode == 2, "no OUT: exit 2")
r = run("export", out, "--to", "trt", "-b", "3")
check(r.returncode == 1 and "no sweep point" in r.stderr, "no point of the chosen configuration: exit 1", r.stderr)
r = run("export", "--help")
check(r.returncode == 0 and "--save-qparams" in r.stdout and "aimet" in r.stdout, "--help on stdout")

shutil.rmtree(tmp)
sys.exit(summary())
