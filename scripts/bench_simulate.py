#!/usr/bin/python3
"""Benchmark: `qscope simulate` against numpy doing the same simulation, both measured in this one run.

Usage: scripts/bench_simulate.py [--qscope build/qscope] [--repeat 3]

Cases (float32 data, seeded):
  linear   W [1024, 1024], X [512, 1024]; weights 8-bit per channel, activations 8-bit dynamic per tensor: float
           reference, weights only, activations only, both, and their metrics (four GEMMs)
  conv2d   W [64, 32, 3, 3], X [16, 32, 56, 56], padding 1; the same four passes (numpy: im2col by
           sliding_window_view + one matmul)
  network  the demo LeNet (configs/lenet.ini), 3 batches of 8, static 8-bit activations; numpy: the same network
           (calibration pass, float and quantized passes, per-layer errors)
qscope is timed as a whole process (reading the .npy files, simulating, writing the CSV), best of --repeat;
numpy in-process on preloaded float64 arrays (so numpy is not charged for loading). Both use double precision.
numpy's matmul goes to the BLAS numpy was built with (OpenBLAS on Debian, threaded); qscope's to GSL's
reference CBLAS, single-threaded.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from benchlib import best_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fq(x, s, z, qmin, qmax):
    return (np.clip(np.rint(x / s) + z, qmin, qmax) - z) * s


def fq_w_channel(w):
    amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    s = np.where(amax > 0, amax / 127.0, 1.0).reshape((-1,) + (1,) * (w.ndim - 1))
    return fq(w, s, 0, -128, 127)


def fq_act_tensor(x):
    lo, hi = min(x.min(), 0.0), max(x.max(), 0.0)
    s = (hi - lo) / 255.0
    z = np.clip(np.rint(-128 - lo / s), -128, 127)
    return fq(x, s, z, -128, 127)


def metrics(y, ref):
    d = y - ref
    return (np.sqrt(np.sum(d * d) / np.sum(ref * ref)), np.abs(d).max(),
            np.sum(y * ref) / np.linalg.norm(y) / np.linalg.norm(ref))


def simulate(forward, w, x):
    wq, xq = fq_w_channel(w), fq_act_tensor(x)
    ref = forward(w, x)
    return [metrics(forward(a, b), ref) for a, b in ((wq, x), (w, xq), (wq, xq))]


def conv_im2col(w, x, pad=1):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # n c oh ow kh kw
    oh, ow = win.shape[2], win.shape[3]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    return (cols @ w.reshape(o, -1).T).reshape(n, oh, ow, o).transpose(0, 3, 1, 2)


def lenet_numpy(batches):
    p = {k: np.load(os.path.join(ROOT, "data", "lenet", k + ".npy")).astype(np.float64) for k in
         ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight",
          "fc2.bias", "fc3.weight", "fc3.bias")}
    pool = lambda h: h.reshape(h.shape[0], h.shape[1], h.shape[2] // 2, 2, h.shape[3] // 2, 2).max(axis=(3, 5))

    def run(x, quant=None):
        acts, inputs = [], {}
        for name, kind in (("conv1", "c"), ("conv2", "c"), ("fc1", "l"), ("fc2", "l"), ("fc3", "l")):
            inputs[name] = x
            w, b = p[name + ".weight"], p[name + ".bias"]
            if quant is not None:
                w = fq_w_channel(w)
                lo, hi = quant[name]
                s = (max(hi, 0) - min(lo, 0)) / 255.0
                x = fq(x, s, np.clip(np.rint(-128 - min(lo, 0) / s), -128, 127), -128, 127)
            if kind == "c":
                x = conv_im2col(w, x, pad=0) + b[None, :, None, None]
                acts.append(x)
                x = np.maximum(x, 0)
                acts.append(x)
                x = pool(x)
                acts.append(x)
                if name == "conv2":
                    x = x.reshape(x.shape[0], -1)
                    acts.append(x)
            else:
                x = x @ w.T + b
                acts.append(x)
                if name != "fc3":
                    x = np.maximum(x, 0)
                    acts.append(x)
        return acts, inputs

    floats = [run(x) for x in batches]
    ranges = {k: (min(f[1][k].min() for f in floats), max(f[1][k].max() for f in floats)) for k in floats[0][1]}
    quants = [run(x, ranges)[0] for x in batches]
    out = []
    for i in range(len(floats[0][0])):
        sse = sum(np.sum((q[i] - f[0][i]) ** 2) for q, f in zip(quants, floats))
        out.append(sse)
    agree = sum(int(np.sum(q[-1].argmax(1) == f[0][-1].argmax(1))) for q, f in zip(quants, floats))
    return out, agree


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qscope", default=os.path.join(ROOT, "build", "qscope"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    rows = []
    with tempfile.TemporaryDirectory(prefix="qs_bench_sim_") as tmp:
        def qscope(*a):
            subprocess.run([args.qscope, "simulate", *a, "-o", os.path.join(tmp, "out"), "-q"], check=True,
                           stdout=subprocess.DEVNULL)

        # linear
        w = (rng.standard_normal((1024, 1024)) * 0.05).astype(np.float32)
        x = rng.standard_t(4, (512, 1024)).astype(np.float32)
        np.save(os.path.join(tmp, "lw.npy"), w)
        np.save(os.path.join(tmp, "lx.npy"), x)
        w64, x64 = w.astype(np.float64), x.astype(np.float64)
        t_np = best_of(lambda: simulate(lambda a, b: b @ a.T, w64, x64), args.repeat)
        t_qs = best_of(lambda: qscope("--op", "linear", "--weight", os.path.join(tmp, "lw.npy"), "--input",
                                      os.path.join(tmp, "lx.npy"), "--act", "dynamic"), args.repeat)
        rows.append(("linear 1024x1024, X 512x1024", t_qs, t_np))
        # conv2d
        w = (rng.standard_normal((64, 32, 3, 3)) * 0.05).astype(np.float32)
        x = rng.standard_normal((16, 32, 56, 56)).astype(np.float32)
        np.save(os.path.join(tmp, "cw.npy"), w)
        np.save(os.path.join(tmp, "cx.npy"), x)
        w64, x64 = w.astype(np.float64), x.astype(np.float64)
        t_np = best_of(lambda: simulate(conv_im2col, w64, x64), args.repeat)
        t_qs = best_of(lambda: qscope("--op", "conv2d", "--weight", os.path.join(tmp, "cw.npy"), "--input",
                                      os.path.join(tmp, "cx.npy"), "--padding", "1", "--act", "dynamic"),
                       args.repeat)
        rows.append(("conv2d 64x32x3x3, X 16x32x56x56", t_qs, t_np))
        # network
        batches = [np.load(os.path.join(ROOT, "data", "lenet", f"batch{b}.npy")).astype(np.float64)
                   for b in range(3)]
        t_np = best_of(lambda: lenet_numpy(batches), args.repeat)
        t_qs = best_of(lambda: qscope("--network", os.path.join(ROOT, "configs", "lenet.ini"), "--act", "static"),
                       args.repeat)
        rows.append(("LeNet network, 3 batches of 8", t_qs, t_np))
    print(f"{'case':36s} {'qscope':>9s} {'numpy':>9s} {'numpy/qscope':>13s}")
    for name, q, n in rows:
        print(f"{name:36s} {q * 1e3:7.0f}ms {n * 1e3:7.0f}ms {n / q:12.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
