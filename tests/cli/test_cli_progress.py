"""`qscope sweep` progress: a bar with percentage, elapsed time and ETA on a terminal (a pty) for a run longer than a
second, within the terminal's width, cleared at the end; nothing of it on a pipe or with --quiet; same outputs."""
import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time

import numpy as np

from checks import check, summary

QSCOPE = os.environ["QSCOPE"]
tmp = tempfile.mkdtemp(prefix="qs-cli-progress-")
src = os.path.join(tmp, "in")
os.mkdir(src)
rng = np.random.default_rng(2385)
for i in range(6):  # 3 to 8 s on one core of the (shared) development machine
    np.save(os.path.join(src, f"w{i}.npy"), rng.standard_normal((64, 1024)).astype(np.float32))
ARGS = ["-b", "2-8", "--calib", "minmax,percentile:99.9", "-m", "0.1:1.2:111", "--no-plots", "-j", "1"]


def on_pty(args, cols=80):
    """Runs qscope with stdin/stdout/stderr on a pty of `cols` columns; returns (exit status, output, seconds)."""
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(QSCOPE, [QSCOPE] + args)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    out = b""
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                data = os.read(fd, 65536)
                if not data:
                    break
                out += data
        except OSError:  # EIO: the child closed the pty
            break
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace"), time.monotonic() - t0


tty_out = os.path.join(tmp, "tty")
rc, out, secs = on_pty(["sweep", src, "-o", tty_out] + ARGS)
check(rc == 0, "sweep on a pty exits 0", out[-500:])
check(secs > 1.2, f"the run is longer than a second ({secs:.1f} s), so a bar is due")
CLEAR = "\r\x1b[K"
frames = [f for f in out.split(CLEAR) if f.startswith("sweep [")]
bar = re.compile(r"sweep \[([#-]+)\] +(\d+)%  (\d+)/6 tensors  \d+:\d\d elapsed, ETA (\d+:\d\d|--:--)$")
check(len(frames) >= 2, "the bar is drawn (and redrawn)", f"{len(frames)} frames: {out[:300]!r}")
check(all(bar.match(f) for f in frames), "every frame: bar, percent, tensors of 6, elapsed, ETA",
      [f for f in frames if not bar.match(f)][:2])
check(all(len(f) < 80 for f in frames), "every frame fits the 80 columns of the terminal", max(map(len, frames), default=0))
pct = [int(bar.match(f).group(2)) for f in frames if bar.match(f)]
check(pct == sorted(pct) and all(0 <= p <= 100 for p in pct), "the percentage never goes back", pct)
widths = {len(bar.match(f).group(1)) for f in frames if bar.match(f)}
check(all(10 <= w <= 40 for w in widths), "the bar is 10 to 40 columns wide", widths)
last = out.rfind("sweep [")
check(last >= 0 and out.find(CLEAR, last) != -1 and out.find(CLEAR, last) < out.find("recommended settings"),
      "the bar is cleared before the summary")
# a narrow terminal: no bar, the line still fits
rc, narrow, _ = on_pty(["sweep", src, "-o", os.path.join(tmp, "narrow")] + ARGS, cols=40)
frames40 = [f for f in narrow.split(CLEAR) if f.startswith("sweep")]
check(rc == 0 and frames40 and all(len(f) < 40 and "[" not in f for f in frames40),
      "40 columns: percent and counts without a bar, cut to fit", frames40[:2])
# --quiet on a terminal, and a pipe: no progress at all
rc, quiet, _ = on_pty(["sweep", src, "-o", os.path.join(tmp, "quiet"), "-q"] + ARGS)
check(rc == 0 and "sweep [" not in quiet and "\x1b" not in quiet, "--quiet: no bar on a terminal")
pipe_out = os.path.join(tmp, "pipe")
r = subprocess.run([QSCOPE, "sweep", src, "-o", pipe_out] + ARGS, capture_output=True, text=True)
check(r.returncode == 0, "sweep on a pipe exits 0", r.stderr)
check("\r" not in r.stderr and "\x1b" not in r.stderr and "ETA" not in r.stderr and "sweep [" not in r.stderr,
      "a pipe gets no progress", repr(r.stderr[:200]))
check(open(os.path.join(tty_out, "sweep.csv"), "rb").read() == open(os.path.join(pipe_out, "sweep.csv"), "rb").read(),
      "sweep.csv is the same with and without a terminal")

shutil.rmtree(tmp)
sys.exit(summary())
