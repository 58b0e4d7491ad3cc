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
check(len(p.imgs) == 3 * n_worst + 2, "report.html shows 3 charts per worst tensor and the 2 model charts",
      f"{len(p.imgs)} images")
for src in p.imgs:
    check(not os.path.isabs(src) and ":" not in src and os.path.isfile(os.path.join(out, src)),
          f"<img src={src!r}> is a relative path to an existing file")
stems = open(os.path.join(out, "plots", "charts.txt")).read().split()
check(sorted(os.path.relpath(s, "plots")[:-4] for s in p.imgs) == sorted(stems),
      "the report's images are exactly the charts of charts.txt")

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
