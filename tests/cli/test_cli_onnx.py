"""CLI checks for .onnx models: the real PaddleOCR classifier gives the same sweep as its bundled .npy export, the
consumer's channel axis is used, subgraph tensors are named by path, broken models fail cleanly."""
import csv
import io
import os
import subprocess
import sys
import tempfile

from checks import check, summary

QSCOPE = os.environ["QSCOPE"]
ROOT = os.environ["QS_SOURCE_ROOT"]
FIX = os.path.join(ROOT, "tests", "fixtures", "onnx")
NPY_DIR = os.path.join(ROOT, "data", "ppocr_cls")
MODEL_NAME = "ppocr_mobile_v2.0_cls.onnx"
# The real model: $QS_PPOCR_ONNX, else data/ beside the bundled export, else the shared development data.
MODEL_CANDIDATES = [os.environ.get("QS_PPOCR_ONNX", ""), os.path.join(ROOT, "data", MODEL_NAME),
                    os.path.join("/work/shared/data", MODEL_NAME)]


def run(args, cwd=None):
    return subprocess.run([QSCOPE] + args, capture_output=True, text=True, cwd=cwd, timeout=600)


def sweep(tmp, tag, args):
    out = os.path.join(tmp, tag)
    r = run(["sweep", "-q", "-o", out] + args)
    if not check(r.returncode == 0, f"sweep {tag} exits 0", r.stderr.strip()):
        return None, []
    with open(os.path.join(out, "sweep.csv")) as f:
        lines = f.read().splitlines()
    return lines[0], lines[1:]


def rows_by(header, rows):
    return list(csv.DictReader([header] + rows))


def without_seed(header, rows):
    if not header:
        return []
    k = header.split(",").index("seed")
    return [",".join(f for i, f in enumerate(r.split(",")) if i != k) for r in rows]


def check_real_model(tmp, model):
    r = run(["inspect", model])
    names = [line.split()[0] for line in r.stdout.splitlines()[1:] if line.strip()]
    stems = sorted(f[:-4] for f in os.listdir(NPY_DIR) if f.endswith(".npy"))
    check(r.returncode == 0 and len(names) > len(stems), f"inspect {MODEL_NAME}: {len(names)} tensors",
          r.stderr.strip())
    check(set(stems) <= set(names), f"inspect {MODEL_NAME}: every tensor of data/ppocr_cls is there",
          str(sorted(set(stems) - set(names))[:5]))

    # Same values bit for bit: a per-tensor sweep (17-digit sse, signal, max_abs, ...) of the Conv/MatMul weights and
    # biases equals the one of the .npy export. Row order and the `seed` column follow the tensors' order in the
    # input (model order vs file names), so rows are compared sorted, without `seed`.
    globs = ["-t", "conv2d_*", "-t", "fc_*"]
    args = ["-b", "4,8", "-g", "tensor", "-m", "0.5:1.1:4", "--calib", "minmax,mse"] + globs
    head_onnx, rows_onnx = sweep(tmp, "onnx", args + [model])
    head_npy, rows_npy = sweep(tmp, "npy", args + [NPY_DIR])
    rows_onnx, rows_npy = without_seed(head_onnx, rows_onnx), without_seed(head_npy, rows_npy)
    check(head_onnx == head_npy and sorted(rows_onnx) == sorted(rows_npy) and len(rows_npy) == len(stems) * 16,
          f"sweep -g tensor: {len(rows_onnx)} rows identical to data/ppocr_cls's",
          f"{len(rows_onnx)} vs {len(rows_npy)} rows; first difference: "
          + next((f"{a!r} != {b!r}" for a, b in zip(sorted(rows_onnx), sorted(rows_npy)) if a != b), "none"))

    # fc_0.w_0 [200, 2] feeds MatMul as B: `channel` is its output axis 1 in the model, axis 0 for the bare .npy.
    args = ["-b", "8", "-g", "channel", "-m", "1", "-t", "fc_0.w_0"]
    head, rows = sweep(tmp, "fc_onnx", args + [model])
    got = [r["ngroups"] for r in rows_by(head, rows)] if head else []
    check(got == ["2"], "sweep -g channel fc_0.w_0 (MatMul B): 2 groups, along axis 1", str(got))
    head, rows = sweep(tmp, "fc_npy", args + [NPY_DIR])
    got = [r["ngroups"] for r in rows_by(head, rows)] if head else []
    check(got == ["200"], "sweep -g channel fc_0.w_0.npy: 200 groups, along axis 0", str(got))
    head, rows = sweep(tmp, "conv_onnx", ["-b", "8", "-g", "channel", "-m", "1", "-t", "conv2d_0.w_0", model])
    got = [r["ngroups"] for r in rows_by(head, rows)] if head else []
    check(got == ["8"], "sweep -g channel conv2d_0.w_0 (Conv W [8,3,3,3]): 8 groups", str(got))


def check_fixtures(tmp):
    r = run(["inspect", os.path.join(FIX, "subgraphs.onnx")])
    names = sorted(line.split()[0] for line in r.stdout.splitlines()[1:] if line.strip())
    check(r.returncode == 0 and names == ["If_0/else_branch/W", "If_0/then_branch/W", "Loop_2/body/LW", "WO"],
          "inspect subgraphs.onnx: Constant nodes of both If branches and the Loop body, named by path",
          f"{r.returncode} {names} {r.stderr.strip()}")

    r = run(["inspect", "--csv", os.path.join(FIX, "initializers.onnx")])
    rows = list(csv.DictReader(io.StringIO(r.stdout))) if r.returncode == 0 else []
    names = [x["tensor"] for x in rows if x["consumer"] != "(skipped)"]
    skipped = [(x["tensor"], x["dtype"]) for x in rows if x["consumer"] == "(skipped)"]
    check(r.returncode == 0 and "shape" not in names and len(names) == 8 and skipped == [("shape", "INT64")],
          "inspect initializers.onnx: 8 float initializers, the INT64 'shape' listed as skipped",
          f"{names} {skipped} {r.stderr.strip()}")
    axes = {x["tensor"]: (x["consumer"], x["channel_axis"]) for x in rows}
    check(axes.get("conv.W") == ("Conv", "0") and axes.get("convt.W") == ("ConvTranspose", "1") and
          axes.get("gemm_t.B") == ("Gemm", "0") and axes.get("gemm_n.B") == ("Gemm", "1") and
          axes.get("mm.B") == ("MatMul", "1"),
          "inspect shows each weight's consuming op and output-channel axis", f"{axes}")

    # External data resolve next to the model, whatever the working directory.
    ref = run(["inspect", os.path.join(FIX, "initializers.onnx")]).stdout
    r = run(["inspect", "external.onnx"], cwd=FIX)
    check(r.returncode == 0 and r.stdout == ref, "inspect external.onnx (cwd = its folder) = initializers.onnx",
          r.stderr.strip())
    r = run(["inspect", os.path.join(FIX, "external.onnx")], cwd=tmp)
    check(r.returncode == 0 and r.stdout == ref, "inspect external.onnx (from elsewhere) = initializers.onnx",
          r.stderr.strip())

    # Gemm B [8, 6] without transB: its output channels are axis 1.
    head, rows = sweep(tmp, "gemm", ["-b", "8", "-g", "channel,channel:0", "-m", "1", "-t", "gemm_*",
                                     os.path.join(FIX, "initializers.onnx")])
    got = sorted((r["tensor"], r["granularity"], r["ngroups"]) for r in rows_by(head, rows)) if head else []
    want = sorted([("gemm_n.B", "channel", "6"), ("gemm_n.B", "channel:0", "8"),
                   ("gemm_t.B", "channel", "6"), ("gemm_t.B", "channel:0", "6")])
    check(got == want, "sweep -g channel: Gemm B follows transB (axis 1 without, 0 with)", str(got))

    bad = {
        "bad_truncated.onnx": "not a valid ONNX model (protobuf parse error)",
        "bad_garbage.onnx": "not a valid ONNX model (protobuf parse error)",
        "bad_nograph.onnx": "not a valid ONNX model (no graph)",
        "bad_raw_size.onnx": "tensor 'W': wrong data size (6 values of FLOAT need 24 bytes, raw_data holds 10)",
        "bad_float_data_count.onnx": "tensor 'W': wrong data size (6 values of FLOAT, float_data holds 5)",
        "bad_external_missing.onnx": "tensor 'W': cannot open external data",
        "bad_external_short.onnx": "tensor 'W': truncated external data",
        "bad_external_escape.onnx": "external data location '../initializers.onnx' is outside the model's folder",
    }
    for name, message in bad.items():
        path = os.path.join(FIX, name)
        r = run(["inspect", path])
        want = f"qscope: '{path}': "
        check(r.returncode == 1 and r.stdout == "" and r.stderr.startswith(want) and message in r.stderr
              and r.stderr.count("\n") == 1,
              f"{name}: one line, exit 1", f"{r.returncode} {r.stderr.strip()!r}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check_fixtures(tmp)
        model = next((m for m in MODEL_CANDIDATES if m and os.path.isfile(m)), None)
        if model:
            check_real_model(tmp, model)
        else:
            print(f"skip the real-model checks: {MODEL_NAME} not found (set QS_PPOCR_ONNX)")
    sys.exit(summary())


if __name__ == "__main__":
    main()
