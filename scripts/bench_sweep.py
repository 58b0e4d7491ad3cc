#!/usr/bin/python3
"""Benchmark: qscope's exact sweep against what a user would otherwise run, all measured in this one run.

Usage: scripts/bench_sweep.py [--qscope build/qscope] [--bench-calib build/tests/bench_calib] [--n 16777216]
                              [--points 200]

Data: n float32 values from a Student-t(4) distribution (seeded). Baselines:
  numpy loop   one float32 fake-quant pass per sweep point, clip and round error split (timed on a few points,
               reported per point and scaled to the sweep's point count);
  torch loop   torch.fake_quantize_per_tensor_affine per point (if python3-torch is installed), same way;
  Histogram    torch.ao HistogramObserver, one approximate 8-bit calibration (2048 bins): best of 4 calls, the
               first one (slower: first-use overhead) printed beside it; also as a whole Python process (start,
               import torch, np.load, observe: what a user calibrating a dumped file from the shell waits for);
               every torch baseline runs on all cores (torch.set_num_threads), as qscope does; HistogramObserver is
               also printed at torch's own default thread count when that differs (1 on some machines);
  floor        np.dot(x, x): one plain pass over the data.
qscope is timed as a whole process (load, sort, sweep, CSVs, recommendation; --no-plots) on all cores; its CPU
time (user + sys) is printed in brackets beside the wall time. With --bench-calib (built by meson beside qscope),
the exact mse calibration is also timed as an in-process library call (prepare + search on a tensor already in
memory, first call and best of 4), the same footing as the in-process HistogramObserver call.
torch baselines need Debian's python3-torch (not installed by scripts/install-deps.sh; skipped without it).
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchlib import best_of


def numpy_point(x, scale, qmin, qmax):
    v = np.rint(x / scale)
    clipped = (v < qmin) | (v > qmax)
    d = x - np.clip(v, qmin, qmax) * scale
    d2 = d * d
    return float(d2[clipped].sum(dtype=np.float64)), float(d2[~clipped].sum(dtype=np.float64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qscope", default=os.path.join(os.path.dirname(__file__), "..", "build", "qscope"))
    ap.add_argument("--bench-calib", help="build/tests/bench_calib: adds the in-process mse timing")
    ap.add_argument("--n", type=int, default=1 << 24)
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--baseline-points", type=int, default=5)
    args = ap.parse_args()

    rng = np.random.default_rng(2385)
    x = rng.standard_t(4, size=args.n).astype(np.float32)
    amax = float(np.abs(x).max())
    tmp = tempfile.mkdtemp(prefix="qscope-bench-")
    path = os.path.join(tmp, "t4.npy")
    np.save(path, x)
    mults = np.linspace(0.05, 1.2, args.points)
    print(f"data: {args.n} float32 Student-t(4) values, {args.points} multipliers, per-tensor symmetric")

    floor = best_of(lambda: np.dot(x, x))
    print(f"{'floor: np.dot(x, x)':44s} {floor * 1e3:10.2f} ms")

    k = args.baseline_points
    results = {}
    for bits in (8, 4):
        qmax = (1 << (bits - 1)) - 1
        per = best_of(lambda: [numpy_point(x, m * amax / qmax, -qmax - 1, qmax) for m in mults[:k]], 1) / k
        results[("numpy", bits)] = per * args.points
        print(f"{f'numpy loop, {bits} bits ({k} points timed)':44s} {per * 1e3:10.2f} ms/point"
              f" -> {per * args.points:8.2f} s for {args.points}")

    try:
        import torch
        xt = torch.from_numpy(x)
        # Debian's torch starts with 1 thread on this 2-core VM (omp_get_max_threads() is 1 inside it); qscope runs on
        # all cores, so every torch baseline is timed on all cores too. HistogramObserver is also timed at torch's
        # default, for reference.
        default_threads, cores = torch.get_num_threads(), os.cpu_count()
        torch.set_num_threads(cores)
        print(f"torch: {default_threads} thread(s) by default here; timed on all {cores} cores, as qscope is")
        for bits in (8, 4):
            qmax = (1 << (bits - 1)) - 1
            per = best_of(lambda: [torch.fake_quantize_per_tensor_affine(xt, float(m * amax / qmax), 0, -qmax - 1,
                                                                          qmax) for m in mults[:k]], 1) / k
            results[("torch", bits)] = per * args.points
            print(f"{f'torch fake_quantize loop, {bits} bits':44s} {per * 1e3:10.2f} ms/point"
                  f" -> {per * args.points:8.2f} s for {args.points}")
        from torch.ao.quantization.observer import HistogramObserver

        def hist():
            obs = HistogramObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
            obs(xt)
            obs.calculate_qparams()
        first = best_of(hist, 1)  # the first call in this process: what a one-off calibration costs
        results["hist"] = min(first, best_of(hist))  # best of 4, as qscope is timed (best of 3): the ratio's base
        print(f"{'torch HistogramObserver, 8 bits (approx.)':44s} {results['hist'] * 1e3:10.2f} ms"
              f"   (best of 4, {cores} threads; the first call: {first * 1e3:.2f} ms)")
        if default_threads != cores:
            torch.set_num_threads(default_threads)
            print(f"{'  the same at torch default threads':44s} {best_of(hist) * 1e3:10.2f} ms"
                  f"   (best of 4, {default_threads} thread(s); not a ratio's base)")
            torch.set_num_threads(cores)
        code = ("import numpy, torch\n"
                f"torch.set_num_threads({cores})\n"
                "from torch.ao.quantization.observer import HistogramObserver\n"
                "obs = HistogramObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)\n"
                f"obs(torch.from_numpy(numpy.load({path!r})))\n"
                "obs.calculate_qparams()\n")
        results["hist_proc"] = best_of(lambda: subprocess.run([sys.executable, "-c", code], check=True), 2)
        print(f"{'  the same as a whole Python process':44s} {results['hist_proc'] * 1e3:10.2f} ms"
              f"   (best of 2: start, import torch, np.load, observe)")
    except ImportError:
        print("torch not installed (python3-torch): torch baselines skipped")

    cpu = {}

    def run_child(cmd):
        """Runs cmd; returns its wall time and records its CPU time (user + sys) in cpu['last']."""
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        t = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu["last"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        return t

    def qscope(*extra):
        """Best wall time of 3 whole-process runs (cpu['best']: the CPU time of that run)."""
        out = os.path.join(tmp, "out")
        cmd = [args.qscope, "sweep", path, "-q", "--no-plots", "-o", out, "-g", "tensor", *extra]
        best = float("inf")
        for _ in range(3):
            t = run_child(cmd)
            if t < best:
                best, cpu["best"] = t, cpu["last"]
        return best

    mspec = f"0.05:1.2:{args.points}"
    print()
    print("qscope: best wall time of 3 runs (ratios use it); in brackets that run's CPU time (user + sys), which\n"
          "other processes on a shared machine inflate less than the wall time")
    for bits in ("8", "4"):
        t = qscope("-b", bits, "-m", mspec)
        print(f"{f'qscope sweep, {bits} bits, {args.points} points':44s} {t * 1e3:10.2f} ms [{cpu['best'] * 1e3:4.0f}]"
              f"   {results[('numpy', int(bits))] / t:8.1f}x faster than the numpy loop"
              + (f", {results[('torch', int(bits))] / t:6.1f}x than torch" if ("torch", int(bits)) in results else ""))
    t = qscope("-b", "2-8", "-m", mspec)
    print(f"{f'qscope sweep, bits 2-8, {args.points} points':44s} {t * 1e3:10.2f} ms [{cpu['best'] * 1e3:4.0f}]"
          f"   {t / floor:8.1f}x one plain pass")
    t = qscope("-b", "8", "-m", "1", "--calib", "mse")
    line = f"{'qscope mse calibration, 8 bits (exact)':44s} {t * 1e3:10.2f} ms [{cpu['best'] * 1e3:4.0f}]"
    if "hist" in results:
        line += f"   {results['hist'] / t:8.2f}x HistogramObserver's speed"
        line += f" ({results['hist_proc'] / t:.1f}x its whole process)"
    print(line)
    if args.bench_calib:
        r = subprocess.run([args.bench_calib, path, "mse", "8", "4"], check=True, capture_output=True, text=True)
        first, best = (float(v) / 1e3 for v in r.stdout.split()[:2])
        line = f"{'  in process: prepare + mse search (best of 4)':44s} {best * 1e3:10.2f} ms"
        if "hist" in results:
            line += f"   {results['hist'] / best:8.2f}x HistogramObserver's speed"
        print(line + f"   (the first call: {first * 1e3:.2f} ms)")

    # a 4096 x 4096 weight, per-channel, every calibrator, 8 and 4 bits, 50 multipliers
    w = (rng.standard_t(4, size=(4096, 4096)) * rng.uniform(0.05, 1.0, size=(4096, 1))).astype(np.float32)
    wpath = os.path.join(tmp, "w4096.npy")
    np.save(wpath, w)
    calibs = "minmax,percentile:99.99,mse,entropy,aciq:laplace,aciq:gauss"
    cmd = [args.qscope, "sweep", wpath, "-q", "--no-plots", "-o", os.path.join(tmp, "out"), "-g", "channel",
           "-b", "4,8", "--calib", calibs, "-m", "0.5:1.2:50"]
    t = run_child(cmd)
    print(f"{'qscope 4096x4096 per-channel, 6 calibrators':44s} {t * 1e3:10.2f} ms [{cpu['last'] * 1e3:4.0f}]"
          f"   (2 bits x 6 calibrators x 50 multipliers x 4096 channels)")
    per = best_of(lambda: [numpy_point(w[c], 0.01, -128, 127) for c in range(4096)], 1)
    print(f"{'numpy: one 8-bit point over all 4096 channels':44s} {per * 1e3:10.2f} ms"
          f"   -> {per * 2 * 6 * 50:8.2f} s for the same 600 points")
    subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    sys.exit(main())
