"""`qscope sweep --jobs N`: the CSVs are byte-identical for every thread count, on tensors large enough to be
swept in parallel (per-tensor: points shared among threads; per-channel: groups shared), stochastic rounding too."""
import os
import subprocess
import sys
import tempfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ["QSCOPE"]


tmp = tempfile.mkdtemp()
rng = np.random.default_rng(11)
w = (rng.standard_t(3, size=(256, 600)) * rng.uniform(0.1, 2.0, size=(256, 1))).astype(np.float32)
np.save(os.path.join(tmp, "w.npy"), w)  # 153,600 values: above the parallel threshold
args = ["sweep", os.path.join(tmp, "w.npy"), "-q", "-b", "3,8", "-g", "tensor,channel,group:64", "-s", "sym,asym",
        "--rounding", "even,stochastic", "--seed", "5", "-m", "0.3:1.2:13", "--save-qparams"]
outs = []
for jobs in ("1", "2", "3"):
    out = os.path.join(tmp, "j" + jobs)
    r = subprocess.run([QSCOPE, *args, "-o", out, "--jobs", jobs], capture_output=True, text=True)
    check(r.returncode == 0, f"--jobs {jobs} exits 0")
    outs.append(out)
ref = open(os.path.join(outs[0], "sweep.csv"), "rb").read()
check(ref.count(b"\n") == 1 + 2 * 3 * 2 * 2 * 13, "sweep has rows")
for out in outs[1:]:
    check(open(os.path.join(out, "sweep.csv"), "rb").read() == ref,
          f"{os.path.basename(out)}: sweep.csv identical to --jobs 1")
    check(open(os.path.join(out, "recommend.csv"), "rb").read()
          == open(os.path.join(outs[0], "recommend.csv"), "rb").read(),
          f"{os.path.basename(out)}: recommend.csv identical")
    for root, _, files in os.walk(os.path.join(outs[0], "qparams")):
        for f in files:
            a = os.path.join(root, f)
            b = a.replace(outs[0], out, 1)
            if open(a, "rb").read() != open(b, "rb").read():
                check(False, f"qparams {f} identical")
check(subprocess.run([QSCOPE, *args, "-o", tmp, "--jobs", "0"],
                                                    capture_output=True).returncode == 2, "bad --jobs is a usage error")
subprocess.run(["rm", "-rf", tmp])
sys.exit(summary())
