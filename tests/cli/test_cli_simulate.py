#!/usr/bin/python3
"""CLI test of `qscope simulate`: layers and the demo network against independent oracles.

Oracles: PyTorch float64 outputs of Linear/Conv2d (tests/fixtures/sim/*.y.npy), PyTorch float32 LeNet logits and
torch.quantization.quantize_dynamic outputs (made once by scripts/make_sim_fixtures.py; torch is not imported
here), and a numpy re-derivation of the fake-quant path from SPEC §1-4 written in this file. Also the integer
pipeline, accumulator overflow, sweeps, and every malformed input (exit status, one-line message naming the file,
nothing left behind). Env: QSCOPE, QS_SOURCE_ROOT. Prints one line per check and `N passed, M failed`.
"""
import csv
import os
import resource
import subprocess
import sys
import tempfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ.get("QSCOPE", "qscope")
ROOT = os.path.abspath(os.environ.get("QS_SOURCE_ROOT",
                                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
FIX = os.path.join(ROOT, "tests", "fixtures", "sim")
LENET = os.path.join(ROOT, "data", "lenet")
CONFIG = os.path.join(ROOT, "configs", "lenet.ini")


def run(*args, cwd=None):
    return subprocess.run([QSCOPE, "simulate", *args], capture_output=True, text=True, cwd=cwd)


def fx(name):
    return os.path.join(FIX, name)


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------------------------- numpy oracle
def qrange(bits, signed):
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def qparams(lo, hi, bits, asym, signed):
    """SPEC §3, default profile."""
    qmin, qmax = qrange(bits, signed)
    if asym:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        if hi - lo <= 0:
            return 1.0, 0
        s = (hi - lo) / (qmax - qmin)
        return s, int(min(max(np.round(qmin - lo / s), qmin), qmax))
    t = max(abs(lo), abs(hi))
    if t <= 0:
        return 1.0, 0
    return t / ((1 << (bits - 1)) - 1), 0 if signed else 1 << (bits - 1)


def fake(x, s, z, bits, signed):
    qmin, qmax = qrange(bits, signed)
    return (np.clip(np.round(x / s) + z, qmin, qmax) - z) * s


def fq_tensor(x, bits, asym, signed):
    s, z = qparams(x.min(), x.max(), bits, asym, signed)
    return fake(x, s, z, bits, signed)


def fq_channel0(x, bits, asym, signed):
    out = np.empty_like(x)
    for c in range(x.shape[0]):
        out[c] = fq_tensor(x[c], bits, asym, signed)
    return out


def conv2d(x, w, b, stride, pad, dil, groups):
    """Direct convolution by shifted slices (numpy), NCHW."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        for ky in range(kh):
            for kx in range(kw):
                patch = xs[:, :, ky * dil[0]: ky * dil[0] + stride[0] * (oh - 1) + 1: stride[0],
                           kx * dil[1]: kx * dil[1] + stride[1] * (ow - 1) + 1: stride[1]]
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, w[g * og:(g + 1) * og, :, ky, kx])
    if b is not None:
        y += b[None, :, None, None]
    return y


# ----------------------------------------------------------------------------------------------- layer checks
def check_linear(tmp):
    x, w, b, y = (np.load(fx("linear." + k + ".npy")).astype(np.float64) for k in "xwby")
    out = os.path.join(tmp, "lin")
    r = run("--op", "linear", "--weight", fx("linear.w.npy"), "--bias", fx("linear.b.npy"), "--input",
            fx("linear.x.npy"), "-b", "4", "-g", "channel", "--act", "static", "--act-bits", "6", "-o", out,
            "--save-outputs")
    if not check(r.returncode == 0, "linear: exit 0", r.stderr):
        return
    ref = np.load(os.path.join(out, "reference.npy"))
    sim = np.load(os.path.join(out, "simulated.npy"))
    check(np.abs(ref - y).max() <= 1e-13 * np.abs(y).max(), "linear: float output = torch float64",
          f"{np.abs(ref - y).max()}")
    wq = fq_channel0(w, 4, False, True)
    xq = fq_tensor(x, 6, True, True)
    want = xq @ wq.T + b
    check(np.abs(sim - want).max() <= 1e-12 * np.abs(want).max(), "linear: fake-quant output = numpy oracle",
          f"{np.abs(sim - want).max()}")
    row = rows_of(os.path.join(out, "simulate.csv"))[0]
    expect = {"w_rel": rel(wq, w), "act_rel": rel(xq, x), "out_rel": rel(want, y),
              "out_rel_w_only": rel(x @ wq.T + b, y), "out_rel_act_only": rel(xq @ w.T + b, y),
              "out_cosine": float(np.sum(want * y) / np.linalg.norm(want) / np.linalg.norm(y)),
              "out_sqnr_db": float(10 * np.log10(np.sum(y ** 2) / np.sum((want - y) ** 2))),
              "out_max_abs": float(np.abs(want - y).max())}
    for k, v in expect.items():
        check(abs(float(row[k]) - v) <= 1e-9 * abs(v) + 1e-15, f"linear: csv {k} = oracle", f"{row[k]} vs {v}")
    check("linear: W [4x7]" in r.stdout and "out_rel" in r.stdout, "linear: summary on stdout", r.stdout[:200])


CONV_CASES = {  # as in scripts/make_sim_fixtures.py
    "conv_basic": ((1, 1), (0, 0), (1, 1), 1),
    "conv_strided": ((2, 1), (1, 2), (2, 1), 1),
    "conv_groups": ((1, 2), (1, 1), (1, 1), 2),
    "conv_depthwise": ((1, 1), (1, 1), (1, 1), 5),
}


def check_conv(tmp):
    for name, (stride, pad, dil, groups) in CONV_CASES.items():
        x, w, b, y = (np.load(fx(f"{name}.{k}.npy")).astype(np.float64) for k in "xwby")
        out = os.path.join(tmp, name)
        r = run("--op", "conv2d", "--weight", fx(f"{name}.w.npy"), "--bias", fx(f"{name}.b.npy"), "--input",
                fx(f"{name}.x.npy"), "--stride", f"{stride[0]},{stride[1]}", "--padding", f"{pad[0]},{pad[1]}",
                "--dilation", f"{dil[0]},{dil[1]}", "--groups", str(groups), "-b", "5", "-g", "channel",
                "--act", "dynamic", "--act-granularity", "channel:0", "--act-unsigned", "-o", out, "--save-outputs")
        if not check(r.returncode == 0, f"{name}: exit 0", r.stderr):
            continue
        ref = np.load(os.path.join(out, "reference.npy"))
        sim = np.load(os.path.join(out, "simulated.npy"))
        check(ref.shape == y.shape and np.abs(ref - y).max() <= 1e-13 * np.abs(y).max(),
              f"{name}: float output = torch float64")
        check(np.abs(conv2d(x, w, b, stride, pad, dil, groups) - y).max() <= 1e-12 * np.abs(y).max(),
              f"{name}: the numpy conv oracle agrees with torch")
        want = conv2d(fq_channel0(x, 8, True, False), fq_channel0(w, 5, False, True), b, stride, pad, dil, groups)
        check(np.abs(sim - want).max() <= 1e-12 * np.abs(want).max(), f"{name}: fake-quant output = numpy oracle",
              f"{np.abs(sim - want).max()}")


def check_token(tmp):
    """--act-granularity token: one dynamic (s, z) per row of X [rows, in], against the numpy per-row oracle."""
    x = np.load(fx("lenet_fc1_in.npy")).astype(np.float64)
    w = np.load(os.path.join(LENET, "fc1.weight.npy")).astype(np.float64)
    out = os.path.join(tmp, "token")
    r = run("--op", "linear", "--weight", os.path.join(LENET, "fc1.weight.npy"), "--input", fx("lenet_fc1_in.npy"),
            "-b", "8", "-g", "channel", "--act", "dynamic", "--act-granularity", "token", "-o", out, "--save-outputs")
    if check(r.returncode == 0, "token: exit 0", r.stderr):
        sim = np.load(os.path.join(out, "simulated.npy"))
        want = fq_channel0(x, 8, True, True) @ fq_channel0(w, 8, False, True).T
        check(np.abs(sim - want).max() <= 1e-12 * np.abs(want).max(), "token: fake-quant output = numpy per-row oracle",
              f"{np.abs(sim - want).max()}")


def check_integer(tmp):
    base = ["--op", "linear", "--weight", os.path.join(LENET, "fc1.weight.npy"), "--bias",
            os.path.join(LENET, "fc1.bias.npy"), "--input", fx("lenet_fc1_in.npy"), "-b", "8", "-g", "channel",
            "--act", "dynamic", "--act-unsigned", "--save-outputs"]
    a = run(*base, "-o", os.path.join(tmp, "fake"))
    b = run(*base, "--integer", "--acc-bits", "32", "-o", os.path.join(tmp, "int32"))
    if check(a.returncode == 0 and b.returncode == 0, "integer: exit 0", a.stderr + b.stderr):
        fa = np.load(os.path.join(tmp, "fake", "simulated.npy"))
        ib = np.load(os.path.join(tmp, "int32", "simulated.npy"))
        check(np.abs(fa - ib).max() <= 1e-12 * np.abs(fa).max(), "integer: int32 pipeline = fake quant",
              f"{np.abs(fa - ib).max()}")
        row = rows_of(os.path.join(tmp, "int32", "simulate.csv"))[0]
        check(row["pipeline"] == "integer" and row["acc_bits"] == "32" and row["overflows"] == "0",
              "integer: csv says integer, 32 bits, no overflow")
    # 8-bit unsigned activations (zero-point removed) × int8 weights over 400 terms: a 16-bit accumulator overflows
    x = np.load(fx("lenet_fc1_in.npy")).astype(np.float64)
    w = np.load(os.path.join(LENET, "fc1.weight.npy")).astype(np.float64)
    s, z = qparams(x.min(), x.max(), 8, True, False)
    qx = np.clip(np.round(x / s) + z, 0, 255) - z
    qw = np.stack([np.clip(np.round(r / (np.abs(r).max() / 127)), -128, 127) for r in w])
    partial = np.cumsum(qx[:, None, :] * qw[None, :, :], axis=2)
    expected = int(np.sum(np.any((partial > 32767) | (partial < -32768), axis=2)))
    c = run(*base, "--integer", "--acc-bits", "16", "-o", os.path.join(tmp, "int16"))
    if check(c.returncode == 0, "overflow count: exit 0", c.stderr):
        row = rows_of(os.path.join(tmp, "int16", "simulate.csv"))[0]
        check(expected > 0 and int(row["overflows"]) == expected, "overflow count: 16-bit overflows = numpy count",
              f"{row['overflows']} vs {expected}")
    d = run(*base, "--integer", "--acc-bits", "16", "--overflow", "error", "-o", os.path.join(tmp, "int16e"))
    check(d.returncode == 1 and "16-bit accumulator overflows" in d.stderr, "overflow error: exit 1 with message",
          d.stderr)
    check(not os.path.exists(os.path.join(tmp, "int16e", "simulate.csv")), "overflow error: no csv left")


def check_sweep(tmp):
    out = os.path.join(tmp, "sweep")
    r = run("--op", "linear", "--weight", os.path.join(LENET, "fc2.weight.npy"), "--input", fx("lenet_fc2_in.npy"),
            "-b", "3,8", "-g", "tensor,channel", "--act", "static", "--act-bits", "4,8", "-o", out)
    if not check(r.returncode == 0, "sweep: exit 0", r.stderr):
        return
    rows = rows_of(os.path.join(out, "simulate.csv"))
    check(len(rows) == 8, "sweep: 2 bits x 2 granularities x 2 activation bits = 8 rows", str(len(rows)))
    x = np.load(fx("lenet_fc2_in.npy")).astype(np.float64)
    w = np.load(os.path.join(LENET, "fc2.weight.npy")).astype(np.float64)
    y = x @ w.T
    bad = 0
    for row in rows:
        bits, ab = int(row["w_bits"]), int(row["act_bits"])
        wq = fq_tensor(w, bits, False, True) if row["w_granularity"] == "tensor" else fq_channel0(w, bits, False, True)
        xq = fq_tensor(x, ab, True, True)
        bad += abs(float(row["w_rel"]) - rel(wq, w)) > 1e-9 * rel(wq, w)
        bad += abs(float(row["out_rel"]) - rel(xq @ wq.T, y)) > 1e-9 * rel(xq @ wq.T, y)
    check(bad == 0, "sweep: w_rel and out_rel of every row = numpy oracle", f"{bad} mismatches")
    check("lowest output rel" in r.stdout and "lowest weight rel" in r.stdout, "sweep: best settings on stdout")
    # the recommendation by output error: fewest effective weight bits (tensor: 1 scale, channel: 84 scales of
    # 32 bits over 84x120 values), then activation bits, among rows with out_rel <= 0.02
    eff = {"tensor": lambda b: b + 32 / w.size, "channel": lambda b: b + 84 * 32 / w.size}
    ok_eff = all(abs(float(row["w_eff_bits"]) - eff[row["w_granularity"]](int(row["w_bits"]))) < 1e-12
                 for row in rows)
    check(ok_eff, "sweep: w_eff_bits = bits + scales' overhead")
    meets = [float(row["out_rel"]) <= 0.02 for row in rows]
    check([row["meets_target"] == "1" for row in rows] == meets, "sweep: meets_target = out_rel <= 0.02")
    cands = [(eff[row["w_granularity"]](int(row["w_bits"])), int(row["act_bits"]), float(row["out_rel"]), i)
             for i, row in enumerate(rows) if float(row["out_rel"]) <= 0.02]
    want = min(cands)[3] if cands else None
    got = [i for i, row in enumerate(rows) if row["recommended"] == "1"]
    check(got == [want], "sweep: the recommended row = fewest bits meeting the output target", f"{got} vs {want}")


def check_qdyn_layers(tmp):
    """quantize_dynamic (onednn, reduce_range: 7-bit quint8 activations) vs qscope's torch profile."""
    for fc in ("fc1", "fc2", "fc3"):
        q = np.load(fx(f"lenet_{fc}_qdyn.npy"))
        res = {}
        for ab in ("7", "8"):
            out = os.path.join(tmp, f"{fc}_{ab}")
            r = run("--op", "linear", "--weight", os.path.join(LENET, f"{fc}.weight.npy"), "--bias",
                    os.path.join(LENET, f"{fc}.bias.npy"), "--input", fx(f"lenet_{fc}_in.npy"), "-b", "8", "-g",
                    "tensor", "--profile", "torch", "--act", "dynamic", "--act-bits", ab, "--act-unsigned",
                    "--act-scheme", "asym", "-o", out, "--save-outputs", "-q")
            if check(r.returncode == 0, f"{fc}: exit 0 ({ab}-bit activations)", r.stderr):
                res[ab] = rel(np.load(os.path.join(out, "simulated.npy")), q)
        if len(res) == 2:
            check(res["7"] < 1e-5, f"{fc}: 7-bit activations match quantize_dynamic to 1e-5", f"rel {res['7']:.3g}")
            check(res["8"] > 10 * res["7"], f"{fc}: 8-bit activations differ from quantize_dynamic (reduce_range)",
                  f"{res['8']:.3g} vs {res['7']:.3g}")


# ----------------------------------------------------------------------------------------------- network checks
def lenet_numpy(x, quant, act_ranges=None, collect=None):
    """The demo network in numpy. quant: weights 8-bit per channel sym, inputs of conv/linear static 8-bit asym
    per tensor from act_ranges[name]; collect: float inputs of every conv/linear (for calibration)."""
    p = {k: np.load(os.path.join(LENET, k + ".npy")).astype(np.float64) for k in
         ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight",
          "fc2.bias", "fc3.weight", "fc3.bias"]}
    acts = []

    def layer(name, h, f):
        if collect is not None:
            collect.setdefault(name, []).append(h)
        w = p[name + ".weight"]
        if quant:
            w = fq_channel0(w, 8, False, True)
            s, z = qparams(*act_ranges[name], 8, True, True)
            h = fake(h, s, z, 8, True)
        return f(h, w, p[name + ".bias"])

    def pool(h):
        n, c, hh, ww = h.shape
        return h.reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))

    conv = lambda h, w, b: conv2d(h, w, b, (1, 1), (0, 0), (1, 1), 1)
    lin = lambda h, w, b: h @ w.T + b
    h = layer("conv1", x, conv); acts.append(h)
    h = np.maximum(h, 0); acts.append(h)
    h = pool(h); acts.append(h)
    h = layer("conv2", h, conv); acts.append(h)
    h = np.maximum(h, 0); acts.append(h)
    h = pool(h); acts.append(h)
    h = h.reshape(h.shape[0], -1); acts.append(h)
    for i, fc in enumerate(("fc1", "fc2", "fc3")):
        h = layer(fc, h, lin); acts.append(h)
        if i < 2:
            h = np.maximum(h, 0); acts.append(h)
    return acts


def check_network_oracle(rows, quant_logits):
    """Static 8-bit network: per-layer rel and logits against the numpy oracle above."""
    batches = [np.load(os.path.join(LENET, f"batch{b}.npy")).astype(np.float64) for b in range(3)]
    collect = {}
    floats = [lenet_numpy(x, False, collect=collect) for x in batches]
    ranges = {k: (min(a.min() for a in v), max(a.max() for a in v)) for k, v in collect.items()}
    quants = [lenet_numpy(x, True, ranges) for x in batches]
    bad = 0
    for i, row in enumerate(rows):
        sse = sum(np.sum((q[i] - f[i]) ** 2) for q, f in zip(quants, floats))
        sig = sum(np.sum(f[i] ** 2) for f in floats)
        want = np.sqrt(sse / sig)
        bad += abs(float(row["rel"]) - want) > 1e-6 * want
    check(bad == 0, "network: per-layer rel = numpy oracle of the quantized network", f"{bad} layers differ")
    worst = max(rel(q, o[-1]) for q, o in zip(quant_logits, quants))
    check(worst < 1e-9, "network: quantized logits = numpy oracle", f"rel {worst:.3g}")


def check_network(tmp):
    out = os.path.join(tmp, "net")
    # the README command, run from the repository root
    r = run("--network", "configs/lenet.ini", "-b", "8", "--act", "static", "-o", out, "--save-outputs", cwd=ROOT)
    if not check(r.returncode == 0, "network: README command exits 0", r.stderr):
        return
    rows = rows_of(os.path.join(out, "network.csv"))
    names = [row["layer"] for row in rows]
    check(names == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1", "relu3", "fc2",
                    "relu4", "fc3"], "network: one row per layer, in order", str(names))
    agree = samples = 0
    for b in range(3):
        f = np.load(os.path.join(out, f"float_batch{b}.npy"))
        t = np.load(fx(f"lenet_float_batch{b}.npy")).astype(np.float64)
        q = np.load(os.path.join(out, f"quant_batch{b}.npy"))
        check(f.shape == (8, 10) and rel(f, t) < 1e-5, f"network: float logits of batch {b} = PyTorch (1e-5)",
              f"rel {rel(f, t):.3g}")
        agree += int(np.sum(f.argmax(1) == q.argmax(1)))
        samples += f.shape[0]
    check(rows[-1]["top1_agree"] == str(agree) and rows[-1]["samples"] == str(samples),
          "network: top-1 agreement = argmax of the saved logits", f"{rows[-1]['top1_agree']} vs {agree}")
    check_network_oracle(rows, [np.load(os.path.join(out, f"quant_batch{b}.npy")) for b in range(3)])
    check("top-1 agreement with the float model" in r.stdout, "network: summary on stdout")
    # quantize_dynamic end to end: Linear layers only, int8 weights (torch profile), 7-bit dynamic activations
    out = os.path.join(tmp, "netdyn")
    r = run("--network", CONFIG, "--layers", "linear", "-b", "8", "-g", "tensor", "--profile", "torch", "--act",
            "dynamic", "--act-bits", "7", "--act-unsigned", "-o", out, "--save-outputs", "-q")
    if check(r.returncode == 0, "network dynamic: exit 0", r.stderr):
        for b in range(3):
            q = np.load(os.path.join(out, f"quant_batch{b}.npy"))
            t = np.load(fx(f"lenet_qdyn_batch{b}.npy")).astype(np.float64)
            check(rel(q, t) < 1e-5, f"network dynamic: logits of batch {b} = quantize_dynamic (1e-5)",
                  f"rel {rel(q, t):.3g}")
        rows = rows_of(os.path.join(out, "network.csv"))
        check([row["quantized"] for row in rows if row["type"] in ("conv2d", "linear")] == ["0", "0", "1", "1", "1"],
              "network dynamic: --layers linear leaves the convolutions float")


def check_network_integer(tmp):
    base = ["--network", CONFIG, "-b", "6", "--act", "dynamic", "--act-granularity", "channel:0", "--save-outputs",
            "-q"]
    a = run(*base, "-o", os.path.join(tmp, "nf"))
    b = run(*base, "--integer", "--acc-bits", "32", "-o", os.path.join(tmp, "ni"))
    if check(a.returncode == 0 and b.returncode == 0, "network integer: exit 0", a.stderr + b.stderr):
        worst = max(rel(np.load(os.path.join(tmp, "ni", f"quant_batch{k}.npy")),
                        np.load(os.path.join(tmp, "nf", f"quant_batch{k}.npy"))) for k in range(3))
        check(worst < 1e-12, "network integer: int32 pipeline logits = fake-quant logits", f"rel {worst:.3g}")


def check_batches(tmp):
    """--batch 1 with per-tensor granularity = per-row (per-token) dynamic quantization, in numpy."""
    x, w = (np.load(fx("linear." + k + ".npy")).astype(np.float64) for k in "xw")
    out = os.path.join(tmp, "batch1")
    r = run("--op", "linear", "--weight", fx("linear.w.npy"), "--input", fx("linear.x.npy"), "--float-weights",
            "--act", "dynamic", "--batch", "1", "--act-bits", "4", "-o", out, "--save-outputs", "-q")
    if check(r.returncode == 0, "batch 1: exit 0", r.stderr):
        want = np.stack([fq_tensor(row, 4, True, True) for row in x]) @ w.T
        sim = np.load(os.path.join(out, "simulated.npy"))
        check(np.abs(sim - want).max() <= 1e-12 * np.abs(want).max(), "batch 1: per-row dynamic = numpy oracle")


def check_mini(tmp):
    """Every layer type (relu6, avgpool/maxpool with padding, dilated depthwise conv) against PyTorch float64."""
    out = os.path.join(tmp, "mini")
    r = run("--network", fx("mini.ini"), "-b", "16", "--save-outputs", "-o", out, "-q")
    if check(r.returncode == 0, "mini network: exit 0", r.stderr):
        f = np.load(os.path.join(out, "float_batch0.npy"))
        y = np.load(fx("mini_y.npy"))
        check(f.shape == y.shape and np.abs(f - y).max() <= 1e-12 * np.abs(y).max(),
              "mini network: float output = PyTorch float64 (relu6, avg/max pool with padding, depthwise)",
              f"{np.abs(f - y).max() if f.shape == y.shape else f.shape}")


# ----------------------------------------------------------------------------------------------- errors
def limit_net(n, eol="\n"):
    """A one-layer network whose weight line has n characters (inih reads at most 199 of a line)."""
    tail = "/linear.w.npy"
    weight = "weight = " + FIX + "/" * (n - len("weight = " + FIX + tail)) + tail
    assert len(weight) == n
    return eol.join(["[network]", "input = " + fx("linear.x.npy"), "", "[fc]", "type = linear", weight, ""])


def check_line_limit(tmp):
    for i, eol in enumerate(["\n", "\r\n"]):
        path, out = os.path.join(tmp, f"limit{i}.ini"), os.path.join(tmp, f"limit{i}")
        with open(path, "w", newline="") as f:
            f.write(limit_net(199, eol))
        r = run("--network", path, "-o", out, "-q")
        check(r.returncode == 0 and os.path.exists(os.path.join(out, "network.csv")),
              f"network INI: a 199-character line ({eol!r}) is accepted", r.stderr)


def check_layer_names(tmp):
    """A layer name from the INI reaches the table escaped (an escape sequence cannot reach the terminal) and padded
    by characters; network.csv keeps it raw."""
    path, out = os.path.join(tmp, "names.ini"), os.path.join(tmp, "names")
    with open(path, "w") as f:
        f.write("\n".join(["[network]", "input = " + fx("linear.x.npy"), "", "[f\u00e9\x1b]", "type = linear",
                           "weight = " + fx("linear.w.npy"), ""]))
    r = subprocess.run([QSCOPE, "simulate", "--network", path, "-b", "8", "-o", out], capture_output=True)
    row = next((ln for ln in r.stdout.decode().splitlines() if ln.startswith("  0 ")), "")
    check(r.returncode == 0 and b"\x1b" not in r.stdout and row.startswith("  0   f\u00e9\\x1b" + " " * 7 + "linear "),
          "network table: the layer name escaped (6 characters), padded to 12", repr(r.stdout[:600]))
    names = [row["layer"] for row in rows_of(os.path.join(out, "network.csv"))] if r.returncode == 0 else []
    check(names == ["f\u00e9\x1b"], "network.csv: the layer name raw", str(names))


def check_workspace_error(tmp):
    """A conv2d whose im2col workspace does not fit (address space capped at 1.5 GB; the 2x4x2007x2006 output does)
    fails with one line, nothing on stdout (the table's header came before the error) and nothing written."""
    if "ASAN_OPTIONS" in os.environ:  # AddressSanitizer reserves terabytes of address space: a cap breaks it
        print("skip the im2col workspace error: the address-space cap cannot run under AddressSanitizer")
        return
    out = os.path.join(tmp, "workspace")
    cap = lambda: resource.setrlimit(resource.RLIMIT_AS, (1500 << 20, 1500 << 20))
    r = subprocess.run([QSCOPE, "simulate", "--op", "conv2d", "--weight", fx("conv_basic.w.npy"), "--input",
                        fx("conv_basic.x.npy"), "--padding", "1000", "-o", out], capture_output=True, text=True,
                       preexec_fn=cap)
    check(r.returncode == 1 and r.stdout == "" and "out of memory for the im2col workspace (27 x 4026042)" in r.stderr
          and not os.path.exists(out), "conv2d workspace too large: one error line, empty stdout, nothing written",
          f"{r.returncode} {r.stdout!r} {r.stderr!r}")


def check_errors(tmp):
    w, x = fx("linear.w.npy"), fx("linear.x.npy")
    nan = os.path.join(tmp, "nan.npy")
    a = np.load(x)
    a[1, 2] = np.nan
    np.save(nan, a)
    usage = [
        ("no op", ["--weight", w, "--input", x], "needs --op"),
        ("bad op", ["--op", "conv3d", "--weight", w, "--input", x], "unknown op 'conv3d'"),
        ("bad act", ["--op", "linear", "--weight", w, "--input", x, "--act", "sometimes"], "bad --act"),
        ("integer without act", ["--op", "linear", "--weight", w, "--input", x, "--integer"], "--integer needs"),
        ("bad acc bits", ["--op", "linear", "--weight", w, "--input", x, "--act", "static", "--integer",
                          "--acc-bits", "99"], "bad --acc-bits"),
        ("bad stride", ["--op", "conv2d", "--weight", w, "--input", x, "--stride", "0"], "bad --stride"),
        ("network plus op", ["--network", CONFIG, "--op", "linear"], "--network takes its layers"),
        ("stray argument", ["--op", "linear", "--weight", w, "--input", x, "extra.npy"], "unexpected argument"),
    ]
    for what, args, words in usage:
        out = os.path.join(tmp, "u_" + what.replace(" ", "_"))
        r = run(*args, "-o", out)
        check(r.returncode == 2 and words in r.stderr and not os.path.exists(out), f"usage error: {what}",
              f"{r.returncode} {r.stderr.strip()}")
    data = [
        ("shape mismatch", ["--op", "linear", "--weight", fx("conv_basic.w.npy"), "--input", x],
         [fx("conv_basic.w.npy"), "expected [out, in]"]),
        ("input does not fit", ["--op", "linear", "--weight", w, "--input", fx("conv_basic.x.npy")],
         [fx("conv_basic.x.npy"), "does not fit linear weight"]),
        ("bias mismatch", ["--op", "linear", "--weight", w, "--bias", fx("conv_depthwise.b.npy"), "--input", x],
         [fx("conv_depthwise.b.npy"), "bias has shape 5, expected 4"]),
        ("conv too small", ["--op", "conv2d", "--weight", fx("conv_basic.w.npy"), "--input", fx("conv_basic.x.npy"),
                            "--dilation", "5"], ["smaller than conv2d kernel"]),
        ("missing file", ["--op", "linear", "--weight", os.path.join(tmp, "nope.npy"), "--input", x],
         ["nope.npy", "cannot open"]),
        ("nan input", ["--op", "linear", "--weight", w, "--input", nan], [nan, "non-finite"]),
        ("broken npy", ["--op", "linear", "--weight", os.path.join(ROOT, "tests", "fixtures", "bad_truncated.npy"),
                        "--input", x], ["bad_truncated.npy", "truncated data"]),
        ("depthwise groups", ["--op", "conv2d", "--weight", fx("conv_depthwise.w.npy"), "--input",
                              fx("conv_depthwise.x.npy"), "--groups", "2"], ["not divisible by groups = 2"]),
        ("integer with group weights", ["--op", "linear", "--weight", w, "--input", x, "-g", "group:3", "--act",
                                        "static", "--integer"], ["split output channel"]),
    ]
    for name, want in [("bad_type.ini", "unknown layer type 'convolution'"), ("bad_noweight.ini", "needs 'weight'"),
                       ("bad_key.ini", "unknown key 'kernel'"), ("bad_duplicate.ini", "appears twice"),
                       ("bad_syntax.ini", "line 6: malformed INI"), ("bad_missing_weight.ini", "missing.weight.npy"),
                       ("bad_rank.ini", "has rank 4, expected 2"), ("bad_shapes.ini", "layer [fc]"),
                       ("bad_value.ini", "bad value for 'kernel'"), ("bad_nolayers.ini", "no layers"),
                       ("bad_order.ini", "'type' must come first")]:
        data.append((name, ["--network", fx(name)], [want]))
    data.append(("missing config", ["--network", os.path.join(tmp, "none.ini")], ["none.ini", "cannot open"]))
    long_net = os.path.join(tmp, "long_line.ini")
    with open(long_net, "w") as f:
        f.write(limit_net(200))
    data.append(("line too long", ["--network", long_net],
                 [f"'{long_net}': line 6 is longer than 199 characters (the INI reader's limit)"]))
    for what, args, words in data:
        out = os.path.join(tmp, "d_" + what.replace(" ", "_"))
        r = run(*args, "-o", out)
        lines = r.stderr.strip().splitlines()
        ok = r.returncode == 1 and len(lines) == 1 and lines[0].startswith("qscope: ") and all(
            wd in r.stderr for wd in words)
        check(ok and not os.path.exists(out), f"data error: {what}", f"{r.returncode} {r.stderr.strip()}")


def main():
    with tempfile.TemporaryDirectory(prefix="qs_sim_cli_") as tmp:
        check_linear(tmp)
        check_conv(tmp)
        check_token(tmp)
        check_integer(tmp)
        check_sweep(tmp)
        check_qdyn_layers(tmp)
        check_network(tmp)
        check_mini(tmp)
        check_network_integer(tmp)
        check_batches(tmp)
        check_errors(tmp)
        check_line_limit(tmp)
        check_layer_names(tmp)
        check_workspace_error(tmp)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
