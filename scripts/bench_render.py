#!/usr/bin/python3
"""Benchmark: rendering a sweep's charts, batched (qscope plot: one gnuplot process per batch of scripts, a process
per core) against one gnuplot process per script (the earlier way; a process per core too), in this one run.

Usage: scripts/bench_render.py [--qscope build/qscope] [--model data/ppocr_mobile_v2.0_cls.onnx]

The sweep is the main job's (conv2d_* and fc_* tensors, bits 4,8, tensor and channel granularity), run once with
gnuplot hidden from PATH so only .dat/.gp are written. Then, best of --repeat: `qscope plot OUT` (rewrites the
scripts and renders every chart to PNG) and the baseline `gnuplot SCRIPT` per script in as many parallel processes
as there are cores. Prints wall-clock seconds and the ratio; checks both produce the same PNG files (byte for byte).
"""
import argparse
import concurrent.futures
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

from benchlib import best_of


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qscope", default="build/qscope")
    ap.add_argument("--model", default="data/ppocr_mobile_v2.0_cls.onnx")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    if shutil.which("gnuplot") is None:
        print("SKIP: gnuplot is not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="qs-bench-render-")
    out = os.path.join(tmp, "out")
    subprocess.run([a.qscope, "sweep", a.model, "--tensor", "conv2d_*", "--tensor", "fc_*", "-o", out, "--bits",
                    "4,8", "--granularity", "tensor,channel", "-q"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env={**os.environ, "PATH": "/nonexistent"})
    plots = os.path.join(out, "plots")
    scripts = sorted(f for f in os.listdir(plots) if f.endswith(".gp"))
    cores = os.cpu_count() or 1

    def batched():
        subprocess.run([a.qscope, "plot", out], check=True, stdout=subprocess.DEVNULL)

    def one_each():
        with concurrent.futures.ThreadPoolExecutor(cores) as ex:
            list(ex.map(lambda s: subprocess.run(["gnuplot", s], cwd=plots, check=True), scripts))

    t_batched = best_of(batched, a.repeat)
    ref = os.path.join(tmp, "batched")
    shutil.copytree(plots, ref)
    t_single = best_of(one_each, a.repeat)
    same = all(filecmp.cmp(os.path.join(ref, s[:-3] + ".png"), os.path.join(plots, s[:-3] + ".png"), shallow=False)
               for s in scripts)
    print(f"{len(scripts)} charts, {cores} cores")
    print(f"one gnuplot per script   {t_single:7.2f} s")
    print(f"qscope plot (batched)    {t_batched:7.2f} s   ({t_single / t_batched:.2f}x faster, including rewriting "
          f"the .dat/.gp)")
    print(f"same PNG files: {'yes' if same else 'NO'}")
    shutil.rmtree(tmp)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
