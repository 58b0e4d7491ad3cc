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
stems = [s + "." + k for s in ("conv1", "fc_s") for k in ("err_vs_scale", "err_vs_bits", "pareto")]
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
