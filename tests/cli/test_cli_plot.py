"""`qscope plot`: charts of a real sweep render without gnuplot errors (PNG header, SVG XML), bad input writes nothing."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import numpy as np

from checks import check, summary

QSCOPE = os.environ["QSCOPE"]
if shutil.which("gnuplot") is None:
    print("SKIP: gnuplot is not installed")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="qs-cli-plot-")
rng = np.random.default_rng(2385)
np.save(os.path.join(tmp, "conv1.npy"), rng.standard_normal((16, 3, 3, 3)).astype(np.float32))
np.save(os.path.join(tmp, "fc's.npy"), (rng.laplace(size=(10, 32)) * 0.1).astype(np.float32))
out = os.path.join(tmp, "out")
r = subprocess.run([QSCOPE, "sweep", os.path.join(tmp, "conv1.npy"), os.path.join(tmp, "fc's.npy"), "-o", out,
                    "-b", "2-8", "-g", "tensor,channel", "--calib", "minmax,mse", "-m", "0.3:1.2:10"],
                   capture_output=True, text=True)
check(r.returncode == 0, "sweep exits 0", r.stderr)

r = subprocess.run([QSCOPE, "plot", out, "--format", "png,svg"], capture_output=True, text=True)
check(r.returncode == 0, "plot exits 0", r.stderr)
check(r.stderr == "", "plot writes nothing on stderr", r.stderr)
plots = os.path.join(out, "plots")
stems = [s + "." + k for s in ("conv1", "fc_s") for k in ("err_vs_scale", "err_vs_bits", "pareto", "histogram", "channels")]
stems += ["model.ranked_error", "model.sqnr_by_layer"]
listed = r.stdout.split()
expected = [os.path.join(plots, s + "." + f) for s in stems for f in ("png", "svg")]
check(sorted(listed) == sorted(expected), "stdout lists every chart", f"{listed}")
check(open(os.path.join(plots, "charts.txt")).read().split() == stems, "charts.txt lists the stems")


def png_size(path):
    """(width, height) from the IHDR chunk, or None when the PNG signature/IHDR is wrong."""
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


for s in stems:
    png = os.path.join(plots, s + ".png")
    size = png_size(png) if os.path.exists(png) else None
    check(size is not None and 600 <= size[0] <= 6000 and 400 <= size[1] <= 8000 and os.path.getsize(png) > 5000,
          f"{s}.png is a sensible PNG", f"{size}")
    svg = os.path.join(plots, s + ".svg")
    try:
        root = ET.parse(svg).getroot()
        ok = root.tag.endswith("svg")
    except (ET.ParseError, OSError) as e:
        ok = False
        print(e)
    check(ok, f"{s}.svg parses as SVG XML")
    # each script by hand, as a user restyling it would: no warnings, exit 0
    for fmt in ("png", "svg", "pdf"):
        g = subprocess.run(["gnuplot", "-e", f"fmt='{fmt}'", s + ".gp"], cwd=plots, capture_output=True, text=True)
        check(g.returncode == 0 and g.stderr == "", f"gnuplot {s}.gp ({fmt}) is clean", g.stderr)
g = subprocess.run(["gnuplot", "conv1.pareto.gp"], cwd=plots, capture_output=True, text=True)
check(g.returncode == 0 and g.stderr == "", "fmt defaults to png", g.stderr)
g = subprocess.run(["gnuplot", "-e", "fmt='gif'", "conv1.pareto.gp"], cwd=plots, capture_output=True, text=True)
check(g.returncode != 0, "an unknown fmt fails in the script")

# the title escapes the quote of fc's; the data numbers match sweep.csv
gp = open(os.path.join(plots, "fc_s.err_vs_scale.gp")).read()
check("tensor fc''s (10x32)" in gp, "quote in the tensor name escaped for gnuplot")
import csv
rows = [x for x in csv.DictReader(open(os.path.join(out, "sweep.csv")))]
rec = [x for x in csv.DictReader(open(os.path.join(out, "recommend.csv"))) if x["recommended"] == "1"]
c1 = [x for x in rec if x["tensor"] == "conv1"][0]
sel = [x for x in rows if x["tensor"] == "conv1" and x["granularity"] == c1["granularity"] and x["scheme"] == c1["scheme"]]
dat = [l.split() for l in open(os.path.join(plots, "conv1.err_vs_scale.dat")) if l.strip() and l[0] != "#"]
want = sorted((int(x["bits"]), x["calib"], float(x["multiplier"])) for x in sel)
got_rel = sorted(float(d[4]) for d in dat)
check(len(dat) == len(want) and got_rel == sorted(float(x["rel"]) for x in sel), "err_vs_scale.dat holds the sweep rel")

# a second plot replaces the charts; stale charts of vanished tensors go
open(os.path.join(plots, "gone.pareto.png"), "wb").write(b"x")
r = subprocess.run([QSCOPE, "plot", out + "/", "-f", "svg"], capture_output=True, text=True)
check(r.returncode == 0 and len(r.stdout.split()) == len(stems), "re-plot as svg", r.stderr)
check(not os.path.exists(os.path.join(plots, "gone.pareto.png")), "stale chart pruned")

# help, usage, broken input
r = subprocess.run([QSCOPE, "plot", "--help"], capture_output=True, text=True)
check(r.returncode == 0 and "--format" in r.stdout and "--target-rel" in r.stdout, "--help lists options")
r = subprocess.run([QSCOPE, "plot", out, "--format", "gif"], capture_output=True, text=True)
check(r.returncode == 2 and "gif" in r.stderr, "unknown format: usage error", r.stderr)
r = subprocess.run([QSCOPE, "plot"], capture_output=True, text=True)
check(r.returncode == 2, "no folder: usage error")
bad = os.path.join(tmp, "bad")
os.mkdir(bad)
with open(os.path.join(bad, "sweep.csv"), "w") as f:
    f.write("tensor,shape,n,bits\nw,4,4,not-a-number\n")
r = subprocess.run([QSCOPE, "plot", bad], capture_output=True, text=True)
check(r.returncode == 1 and "sweep.csv" in r.stderr, "broken sweep.csv: exit 1 naming the file", r.stderr)
check(sorted(os.listdir(bad)) == ["sweep.csv"], "broken sweep.csv: nothing written", f"{os.listdir(bad)}")
empty = os.path.join(tmp, "empty")
os.mkdir(empty)
r = subprocess.run([QSCOPE, "plot", empty], capture_output=True, text=True)
check(r.returncode == 1 and os.listdir(empty) == [], "missing sweep.csv: exit 1, nothing written", r.stderr)

# ---- the histogram and per-channel charts against numpy --------------------------------------------------------
# A minmax-only sweep of conv1, so that every number has a closed form: minmax clip range m·[min, max], symmetric
# 4-bit scale s = m·max|x| / 7, values round(x/s) (half to even) clamped to [-8, 7].
x = np.load(os.path.join(tmp, "conv1.npy")).astype(np.float64)
mm = os.path.join(tmp, "mm")
r = subprocess.run([QSCOPE, "sweep", os.path.join(tmp, "conv1.npy"), "-o", mm, "-b", "4", "-g", "tensor,channel",
                    "--calib", "minmax", "-m", "0.3:1.2:10"], capture_output=True, text=True)
check(r.returncode == 0, "minmax sweep exits 0", r.stderr)
hist = [row for row in csv.DictReader(open(os.path.join(mm, "histogram.csv"))) if row["tensor"] == "conv1"]
counts, edges = np.histogram(x, bins=256, range=(x.min(), x.max()))
want = [(edges[i], edges[i + 1], int(c)) for i, c in enumerate(counts) if c]
check(len(hist) == len(want) and all(int(h["count"]) == w[2] and abs(float(h["bin_lo"]) - w[0]) < 1e-9
                                     and abs(float(h["bin_hi"]) - w[1]) < 1e-9 for h, w in zip(hist, want)),
      "histogram.csv = numpy.histogram(x, 256 bins over [min, max]) without the empty bins", f"{len(hist)} vs {len(want)}")
dat = [l.split() for l in open(os.path.join(mm, "plots", "conv1.histogram.dat")).read().split("\n\n\n")[0].splitlines()
       if l.strip() and l[0] != "#"]
check([int(d[2]) for d in dat] == [w[2] for w in want], "conv1.histogram.dat holds the same counts")
sw = [row for row in csv.DictReader(open(os.path.join(mm, "sweep.csv")))]


def best_m(gran):
    """The multiplier of the lowest rel of a granularity (first of equal ones, in multiplier order)."""
    rows = sorted((row for row in sw if row["granularity"] == gran), key=lambda row: float(row["multiplier"]))
    return float(min(rows, key=lambda row: float(row["rel"]))["multiplier"])


m_t, m_c = best_m("tensor"), best_m("channel")
amax = np.abs(x).max()
clips = [row for row in csv.DictReader(open(os.path.join(mm, "clip_lines.csv")))]
want = [("minmax", "0", -8 * amax / 7, amax), (f"optimum minmax m={m_t:.4g}", "1", -8 * m_t * amax / 7, m_t * amax)]
check([(c["label"], c["optimum"]) for c in clips] == [w[:2] for w in want]
      and all(abs(float(c["lo"]) - w[2]) < 1e-9 and abs(float(c["hi"]) - w[3]) < 1e-9 for c, w in zip(clips, want)),
      "clip_lines.csv: minmax's range [-8s, 7s] at m = 1 and at the best per-tensor m", f"{clips} vs {want}")


def fake_quant(v, s):
    return np.clip(np.round(v / s), -8, 7) * s


xc = x.reshape(x.shape[0], -1)
s_t = m_t * amax / 7
rel_t = np.linalg.norm(xc - fake_quant(xc, s_t), axis=1) / np.linalg.norm(xc, axis=1)
s_c = m_c * np.abs(xc).max(axis=1, keepdims=True) / 7
rel_c = np.linalg.norm(xc - fake_quant(xc, s_c), axis=1) / np.linalg.norm(xc, axis=1)
dat = [l.split() for l in open(os.path.join(mm, "plots", "conv1.channels.dat")) if l.strip() and l[0] != "#"]
got = np.array([[float(v) for v in d[2:5]] for d in dat]) if dat else np.zeros((0, 3))
check(got.shape == (16, 3) and np.allclose(got[:, 0], np.abs(xc).max(axis=1), rtol=1e-12)
      and np.allclose(got[:, 1], rel_t, rtol=1e-9) and np.allclose(got[:, 2], rel_c, rtol=1e-9),
      "conv1.channels.dat: max|x|, rel per-tensor and rel per-channel per channel = numpy", f"{got[:2]} {rel_t[:2]}")
ch = [row for row in csv.DictReader(open(os.path.join(mm, "channels.csv")))]
check(len(ch) == 16 and ch[0]["how_tensor"] == f"minmax m={m_t:.4g}" and ch[0]["how_channel"] == f"minmax m={m_c:.4g}",
      "channels.csv names the calibrator and multiplier of each quantization", f"{ch[:1]}")

# the staged data are what `qscope plot` draws: without them the two charts go, a broken file is an error
r = subprocess.run([QSCOPE, "plot", mm], capture_output=True, text=True)
check(r.returncode == 0 and os.path.join(mm, "plots", "conv1.channels.png") in r.stdout.split(),
      "plot re-renders the per-channel chart from channels.csv", r.stderr)
lines = open(os.path.join(mm, "clip_lines.csv")).read().splitlines()
with open(os.path.join(mm, "clip_lines.csv"), "w") as f:
    f.write("\n".join(lines[:2] + [lines[2].replace(",1,", ",maybe,")]) + "\n")
before = sorted(os.listdir(os.path.join(mm, "plots")))
r = subprocess.run([QSCOPE, "plot", mm], capture_output=True, text=True)
check(r.returncode == 1 and "clip_lines.csv': line 3" in r.stderr, "a broken clip_lines.csv: exit 1 naming file and line",
      r.stderr)
check(sorted(os.listdir(os.path.join(mm, "plots"))) == before, "a broken clip_lines.csv: charts untouched")
for name in ("histogram.csv", "clip_lines.csv", "channels.csv"):
    os.remove(os.path.join(mm, name))
r = subprocess.run([QSCOPE, "plot", mm], capture_output=True, text=True)
check(r.returncode == 0 and open(os.path.join(mm, "plots", "charts.txt")).read().split()
      == ["conv1.err_vs_scale", "conv1.err_vs_bits", "conv1.pareto", "model.ranked_error", "model.sqnr_by_layer"]
      and not os.path.exists(os.path.join(mm, "plots", "conv1.histogram.png")),
      "a folder without the data files (older sweep): the other charts, stale ones pruned", r.stderr)

# without gnuplot on PATH: .dat/.gp only, a warning, exit 0
nogp = os.path.join(tmp, "nogp")
shutil.copytree(out, nogp)
shutil.rmtree(os.path.join(nogp, "plots"))
r = subprocess.run([QSCOPE, "plot", nogp], capture_output=True, text=True, env={**os.environ, "PATH": "/nonexistent"})
check(r.returncode == 0 and "gnuplot not found" in r.stderr, "no gnuplot: warning, exit 0", r.stderr)
files = os.listdir(os.path.join(nogp, "plots"))
check(not any(f.endswith(".png") for f in files) and sum(f.endswith(".gp") for f in files) == len(stems),
      "no gnuplot: scripts written, nothing rendered")

shutil.rmtree(tmp)
sys.exit(summary())
