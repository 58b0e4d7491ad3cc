"""`qscope sweep` writes OUT/report.md and OUT/report.html: the md table matches recommend.csv, the HTML parses,
escapes tensor names, is self-contained, and renders in a real headless browser with every chart loaded."""
import csv
import html.parser
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ["QSCOPE"]
CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    print("SKIP: chromium not installed")
    sys.exit(77)
if shutil.which("gnuplot") is None:
    print("SKIP: gnuplot is not installed (the report's charts would be missing)")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="qs-cli-report-")
test_out = os.environ.get("QS_TEST_OUT") or tempfile.mkdtemp(prefix="qs-cli-report-shots-")
os.makedirs(test_out, exist_ok=True)
print(f"screenshots and dumps in {test_out}")

rng = np.random.default_rng(4711)
np.save(os.path.join(tmp, "conv1.w.npy"), rng.standard_normal((16, 3, 3, 3)).astype(np.float32))
fc = (rng.standard_normal((32, 64)) * 0.05).astype(np.float32)
fc[3] *= 40.0   # outlier channels: per-tensor scales suffer
fc[17] *= 15.0
FC = "fc&'<out>"
np.save(os.path.join(tmp, FC + ".npy"), fc)
names = ["conv1.w", FC]
out = os.path.join(tmp, "out")
r = subprocess.run([QSCOPE, "sweep", os.path.join(tmp, "conv1.w.npy"), os.path.join(tmp, FC + ".npy"), "-o", out,
                    "-b", "4,8", "-g", "tensor,channel", "--calib", "minmax,mse", "-m", "0.3:1.2:10"],
                   capture_output=True, text=True)
check(r.returncode == 0, "sweep exits 0", r.stderr)
md_path, html_path = os.path.join(out, "report.md"), os.path.join(out, "report.html")
if not check(os.path.isfile(md_path) and os.path.isfile(html_path), "report.md and report.html exist"):
    sys.exit(summary())

# ---- (a) report.md: every tensor, and the recommended settings of recommend.csv in its table row -----------------
md = open(md_path, encoding="utf-8").read()
for n in names:
    check(f"`{n}`" in md, f"report.md mentions {n!r}")
with open(os.path.join(out, "recommend.csv"), newline="") as f:
    recommended = [row for row in csv.DictReader(f) if row["recommended"] == "1"]
check(sorted(row["tensor"] for row in recommended) == sorted(names), "recommend.csv recommends one row per tensor")
for row in recommended:
    prefix = "| `" + row["tensor"].replace("|", "\\|").replace("`", "'") + "` |"
    lines = [ln for ln in md.splitlines() if ln.startswith(prefix)]
    if not check(len(lines) == 1, f"report.md has one table row for {row['tensor']!r}", f"{len(lines)} rows"):
        continue
    cells = [c.strip() for c in lines[0].strip().strip("|").split(" | ")]
    # tensor | shape | bits | granularity | scheme | calib | multiplier | eff bits | rel | SQNR | dominant | flat | met
    check(cells[2] == row["bits"] and cells[3] == row["granularity"] and cells[4] == row["scheme"]
          and cells[5] == row["calib"], f"report.md row of {row['tensor']!r} shows the recommended setting",
          f"{cells} vs {row}")
    check(cells[10] == row["dominant"], f"report.md row of {row['tensor']!r} names the dominant error")
    check((cells[12] == "yes") == (row["meets_target"] == "1"), f"report.md row of {row['tensor']!r}: meets target")
check("## Worst tensors" in md and "dominates" in md, "report.md has the worst tensors and explanations")


# ---- (b) report.html: parses, balanced, escaped, self-contained, every <img> exists ------------------------------
class Parser(html.parser.HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "source", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.imgs, self.text, self.tags = [], [], [], [], set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        for k in ("src", "href"):
            if k in a and (a[k] or "").lower().startswith(("http:", "https:", "//")):
                self.errors.append(f"external {k} {a[k]}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


raw = open(html_path, encoding="utf-8").read()
p = Parser()
p.feed(raw)
p.close()
check(raw.startswith("<!DOCTYPE html>"), "report.html starts with a doctype")
check(not p.errors and not p.stack, "report.html is well-formed", f"{p.errors[:5]} open: {p.stack}")
check("script" not in p.tags and "link" not in p.tags, "report.html has no script or external stylesheet")
text = "".join(p.text)
for n in names:
    check(n in text, f"report.html text shows {n!r}")
check(FC not in raw and "fc&amp;&#39;&lt;out&gt;" in raw, "report.html escapes tensor names")
n_worst = min(len(names), 10)
check(len(p.imgs) == 5 * n_worst + 2, "report.html shows 5 charts per worst tensor (both have channels) and the 2 "
      "model charts",
      f"{len(p.imgs)} images")
for src in p.imgs:
    check(not os.path.isabs(src) and ":" not in src and os.path.isfile(os.path.join(out, src)),
          f"<img src={src!r}> is a relative path to an existing file")
stems = open(os.path.join(out, "plots", "charts.txt")).read().split()
check(sorted(os.path.relpath(s, "plots")[:-4] for s in p.imgs) == sorted(stems),
      "the report's images are exactly the charts of charts.txt")

# ---- (b2) the per-channel sentence of the notes, against numpy ----------------------------------------------------
# 64 channels of N(0, 1); channels 5, 20 and 41 get four spikes of 12..16 each. A minmax-only 4-bit sweep, so that
# numpy can redo every number: per-tensor s = m_t·max|x|/7, per-channel s_c = m_c·max|x_c|/7, q = round(x/s) clamped
# to [-8, 7] (clipped where round(x/s) leaves it).
rng = np.random.default_rng(11)
w = rng.standard_normal((64, 256)).astype(np.float32)
for c in (5, 20, 41):
    idx = rng.choice(256, 4, replace=False)
    w[c, idx] = rng.choice([-1, 1], 4) * rng.uniform(12, 16, 4)
np.save(os.path.join(tmp, "spiky.npy"), w)
sp = os.path.join(tmp, "spiky")
r = subprocess.run([QSCOPE, "sweep", os.path.join(tmp, "spiky.npy"), "-o", sp, "-b", "4", "-g", "tensor,channel",
                    "--calib", "minmax", "-m", "0.1:1.2:45", "--target-rel", "0.25"], capture_output=True, text=True)
check(r.returncode == 0, "spiky sweep exits 0", r.stderr)
sw = list(csv.DictReader(open(os.path.join(sp, "sweep.csv"))))


def best_m(gran):
    rows = sorted((row for row in sw if row["granularity"] == gran), key=lambda row: float(row["multiplier"]))
    return float(min(rows, key=lambda row: float(row["rel"]))["multiplier"])


x = w.astype(np.float64)
s_t = best_m("tensor") * np.abs(x).max() / 7
s_c = best_m("channel") * np.abs(x).max(axis=1, keepdims=True) / 7


def errors(s):
    q = np.round(x / s)
    clipped = (q > 7) | (q < -8)
    e2 = (x - np.clip(q, -8, 7) * s) ** 2
    return (e2 * clipped).sum(axis=1), (e2 * ~clipped).sum(axis=1)


clip_t, round_t = errors(s_t)
clip_c, round_c = errors(s_c)
signal = (x ** 2).sum()
e_t, e_c = clip_t.sum() + round_t.sum(), clip_c.sum() + round_c.sum()
gain = 10 * np.log10(signal / e_c) - 10 * np.log10(signal / e_t)
order = np.cumsum(np.sort(clip_t)[::-1])
k = int(np.searchsorted(order, 0.9 * clip_t.sum()) + 1)
rel_t, rel_c = np.sqrt(e_t / signal), np.sqrt(e_c / signal)
print(f"numpy: gain {gain:.2f} dB, clip share {clip_t.sum() / e_t:.2f}, k {k}, rel {rel_t:.3f} -> {rel_c:.3f}")
check(clip_t.sum() > round_t.sum() and k == 3 and rel_t > 0.25 >= rel_c,
      "the fixture: per-tensor clipping dominates in 3 channels, per-channel meets rel <= 0.25")
sp_md = open(os.path.join(sp, "report.md"), encoding="utf-8").read()
want = (f"Per-tensor int4 sym loses {gain:.1f} dB to clipping of {k} outlier channels (they carry 90% of the "
        f"clipping error, which is {100 * clip_t.sum() / e_t:.0f}% of the squared error; SQNR "
        f"{10 * np.log10(signal / e_t):.1f} dB per-tensor, {10 * np.log10(signal / e_c):.1f} dB per-channel); "
        "per-channel fixes it.")
check(want in sp_md, "the note says what numpy finds: dB lost to clipping of 3 outlier channels, per-channel fixes it",
      want)
check("![per channel: max|x| and error, per-tensor vs per-channel](plots/spiky.channels.png)" in sp_md
      and "![histogram of the values with clip ranges](plots/spiky.histogram.png)" in sp_md,
      "report.md shows the histogram and per-channel charts")
# alike channels: no claim of a loss; a 1-D tensor: no per-channel sentence at all
np.save(os.path.join(tmp, "alike.npy"), rng.standard_normal((8, 512)).astype(np.float32))
np.save(os.path.join(tmp, "flat.npy"), rng.standard_normal(300).astype(np.float32))
al = os.path.join(tmp, "alike")
r = subprocess.run([QSCOPE, "sweep", os.path.join(tmp, "alike.npy"), os.path.join(tmp, "flat.npy"), "-o", al, "-b", "8",
                    "--calib", "minmax", "-m", "0.5:1.2:8", "--no-plots"], capture_output=True, text=True)
check(r.returncode == 0 and not os.path.exists(os.path.join(al, "report.md"))
      and not os.path.exists(os.path.join(al, "channels.csv")), "--no-plots: no report and no chart data", r.stderr)
r = subprocess.run([QSCOPE, "sweep", os.path.join(tmp, "alike.npy"), os.path.join(tmp, "flat.npy"), "-o", al, "-b", "8",
                    "--calib", "minmax", "-m", "0.5:1.2:8"], capture_output=True, text=True)
notes = {ln.split("`")[1]: ln for ln in open(os.path.join(al, "report.md"), encoding="utf-8").read().splitlines()
         if ln.startswith("- `")}
check("gains only" in notes.get("alike", "") and "loses" not in notes.get("alike", "").split("Per channel")[-1],
      "alike channels: the note says per-channel gains little", notes.get("alike"))
check("Per channel" not in notes.get("flat", "x") and "Per-tensor int8" not in notes.get("flat", "x"),
      "a 1-D tensor: no per-channel sentence", notes.get("flat"))

# ---- (c) a real headless browser ---------------------------------------------------------------------------------
def chromium(*args):
    profile = tempfile.mkdtemp(prefix="qs-chromium-")
    try:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


shot = os.path.join(test_out, "report.png")
if os.path.exists(shot):
    os.remove(shot)
r = chromium(f"--screenshot={shot}", "--window-size=1400,3000", "file://" + html_path)
ok = os.path.isfile(shot)
if check(ok, "chromium writes a screenshot", r.stderr[-2000:]):
    with open(shot, "rb") as f:
        head = f.read(8)
    size = os.path.getsize(shot)
    check(head == b"\x89PNG\r\n\x1a\n" and size > 20 * 1024, "the screenshot is a non-trivial PNG", f"{size} bytes")
print(f"screenshot: {shot}")

probe = ("<script>window.addEventListener('load', () => {"
         "document.body.dataset.images = document.images.length;"
         "document.body.dataset.broken = [...document.images]"
         ".filter(i => !i.complete || i.naturalWidth == 0).length;});</script>")
check_path = os.path.join(out, "report.check.html")  # beside the report, so the relative chart paths hold
with open(check_path, "w", encoding="utf-8") as f:
    f.write(raw.replace("</body>", probe + "</body>"))
r = chromium("--run-all-compositor-stages-before-draw", "--virtual-time-budget=5000", "--dump-dom",
             "file://" + check_path)
with open(os.path.join(test_out, "report.dom.html"), "w", encoding="utf-8") as f:
    f.write(r.stdout)
check(r.returncode == 0 and "</html>" in r.stdout, "chromium dumps the DOM", r.stderr[-2000:])
check(f'data-images="{len(p.imgs)}"' in r.stdout, "the browser sees every image", r.stdout[:300])
check('data-broken="0"' in r.stdout, "every image loads in the browser",
      [ln for ln in r.stdout.splitlines() if "data-broken" in ln][:1])

sys.exit(summary())
