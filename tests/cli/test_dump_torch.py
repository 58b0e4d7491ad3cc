#!/usr/bin/python3
"""scripts/dump_torch.py: the round trip PyTorch -> files -> qscope, and the shipped data/demo_cnn being exactly
what the script writes. Needs python3-torch; without it the test reports SKIP (exit 77), never a pass.

Run by meson with QSCOPE=<built binary> and QS_SOURCE_ROOT=<repository root>.
"""
import csv
import filecmp
import io
import os
import subprocess
import sys
import tempfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ.get("QSCOPE", "")
ROOT = os.path.abspath(os.environ.get("QS_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..")))


def main():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("python3-torch is not installed: SKIP")
        return 77
    with tempfile.TemporaryDirectory(prefix="qs-test-dump-") as tmp:
        out = os.path.join(tmp, "demo")
        r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "dump_torch.py"), "--model", "demo", "-o", out],
                           capture_output=True, text=True)
        check(r.returncode == 0, "dump_torch.py --model demo runs", r.stderr)
        if r.returncode:
            return summary()
        shipped = os.path.join(ROOT, "data", "demo_cnn")
        cmp = filecmp.dircmp(out, shipped)
        same = []

        def walk(d, rel=""):
            ok = not d.left_only and not d.right_only and not d.diff_files and not d.funny_files
            _, mismatch, errors = filecmp.cmpfiles(d.left, d.right, d.common_files, shallow=False)
            ok = ok and not mismatch and not errors
            same.append(ok)
            for name, sub in d.subdirs.items():
                walk(sub, rel + name + "/")
        walk(cmp)
        check(all(same), "data/demo_cnn is byte for byte what the script writes (seeded)")

        # weights: qscope's reading of the safetensors file equals the model's state_dict
        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        import dump_torch
        torch.manual_seed(0)
        model = dump_torch.DemoCNN().eval()
        sd = {k: v.detach().numpy().astype(np.float64) for k, v in model.state_dict().items()}
        r = subprocess.run([QSCOPE, "inspect", "--csv", os.path.join(out, "weights.safetensors")],
                           capture_output=True, text=True)
        rows = {x["tensor"]: x for x in csv.DictReader(io.StringIO(r.stdout))} if r.returncode == 0 else {}
        check(set(rows) == set(sd), "every parameter is a tensor for qscope", sorted(rows))
        for name, a in sd.items():
            x = rows.get(name)
            check(x is not None and float(x["min"]) == a.min() and float(x["max"]) == a.max()
                  and int(x["n"]) == a.size, f"{name}: n, min, max as in the state_dict")

        # activations: recomputed here with torch.nn.functional from the weights and the dumped inputs
        x0 = torch.from_numpy(np.load(os.path.join(out, "inputs", "0.npy")))
        with torch.no_grad():
            w = model.state_dict()
            c1 = F.conv2d(x0, w["conv1.weight"], w["conv1.bias"], padding=1)
            p1 = F.max_pool2d(F.relu(c1), 2)
            c2 = F.conv2d(p1, w["conv2.weight"], w["conv2.bias"], padding=1)
            fc = F.linear(F.adaptive_avg_pool2d(F.relu(c2), 1).flatten(1), w["fc.weight"], w["fc.bias"])
        for name, want in (("conv1", c1), ("pool1", p1), ("conv2", c2), ("fc", fc)):
            got = np.load(os.path.join(out, "acts", name, "0.npy"))
            check(got.shape == tuple(want.shape) and np.allclose(got, want.numpy(), rtol=1e-5, atol=1e-6),
                  f"acts/{name}/0.npy = the layer's output recomputed with torch.nn.functional")
        n_batches = len(os.listdir(os.path.join(out, "acts", "conv1")))
        check(n_batches == 12, "12 batches per module", n_batches)

        # the round trip: qscope sweeps the weights and the activations
        r = subprocess.run([QSCOPE, "sweep", "-q", "--no-plots", os.path.join(out, "weights.safetensors"), "--batches",
                            os.path.join(out, "acts", "*", "*.npy"), "-b", "8", "-m", "1", "-o",
                            os.path.join(tmp, "sw")], capture_output=True, text=True)
        with open(os.path.join(tmp, "sw", "sweep.csv")) if r.returncode == 0 else io.StringIO("") as f:
            names = {x["tensor"] for x in csv.DictReader(f)}
        want = set(sd) | {"conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc"}
        check(r.returncode == 0 and names == want, "qscope sweeps the dumped weights and every module's activations",
              r.stderr + str(sorted(names ^ want)))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
