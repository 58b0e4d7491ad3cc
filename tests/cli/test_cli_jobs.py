"""`qscope sweep --jobs N`: the CSVs are byte-identical for every thread count, on tensors large enough to be
swept in parallel (per-tensor: points shared among threads; per-channel: groups shared), stochastic rounding too."""
import os
import subprocess
import sys
import tempfile

import numpy as np

QSCOPE = os.environ["QSCOPE"]
passed = failed = 0


def check(name, cond):
    global passed, failed
    print(("ok: " if cond else "FAIL: ") + name)
    passed += bool(cond)
    failed += not cond


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
    check(f"--jobs {jobs} exits 0", r.returncode == 0)
    outs.append(out)
ref = open(os.path.join(outs[0], "sweep.csv"), "rb").read()
check("sweep has rows", ref.count(b"\n") == 1 + 2 * 3 * 2 * 2 * 13)
for out in outs[1:]:
    check(f"{os.path.basename(out)}: sweep.csv identical to --jobs 1",
          open(os.path.join(out, "sweep.csv"), "rb").read() == ref)
    check(f"{os.path.basename(out)}: recommend.csv identical",
          open(os.path.join(out, "recommend.csv"), "rb").read()
          == open(os.path.join(outs[0], "recommend.csv"), "rb").read())
    for root, _, files in os.walk(os.path.join(outs[0], "qparams")):
        for f in files:
            a = os.path.join(root, f)
            b = a.replace(outs[0], out, 1)
            if open(a, "rb").read() != open(b, "rb").read():
                check(f"qparams {f} identical", False)
check("bad --jobs is a usage error", subprocess.run([QSCOPE, *args, "-o", tmp, "--jobs", "0"],
                                                    capture_output=True).returncode == 2)
subprocess.run(["rm", "-rf", tmp])
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
