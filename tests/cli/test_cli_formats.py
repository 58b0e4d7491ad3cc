"""CLI checks for the container formats: .npz and .safetensors give the same sweep as the same arrays in .npy files,
broken containers fail cleanly, a 200 MB safetensors file is read in bounded memory, sharded checkpoints."""
import csv
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ["QSCOPE"]
ROOT = os.environ["QS_SOURCE_ROOT"]
MORE = os.path.join(ROOT, "tests", "fixtures", "more")
SWEEP_ARGS = ["-b", "4,8", "-g", "tensor,channel", "-m", "0.5:1.1:4", "--calib", "minmax,mse"]


def run(args, cwd=None):
    return subprocess.run([QSCOPE] + args, capture_output=True, text=True, cwd=cwd, timeout=600)


def sweep_rows(tmp, tag, inputs):
    out = os.path.join(tmp, tag)
    r = run(["sweep", "-o", out] + SWEEP_ARGS + inputs)
    if not check(r.returncode == 0, f"sweep {tag} exits 0", r.stderr.strip()):
        return None, []
    with open(os.path.join(out, "sweep.csv")) as f:
        lines = f.read().splitlines()
    return lines[0], lines[1:]


def check_same_sweep(tmp):
    """(a) Container vs the .npy files of the same arrays (tensor names are the keys = the .npy stems)."""
    npy = lambda names: [os.path.join(MORE, "npy", n + ".npy") for n in names]
    head_npy, rows_npy = sweep_rows(tmp, "npy5", npy(["conv1", "bias", "half", "scalar", "fort"]))
    for f in ["arrays.npz", "arrays_z.npz"]:
        head, rows = sweep_rows(tmp, f, [os.path.join(MORE, f)])
        check(head == head_npy and rows == rows_npy and len(rows) > 100,
              f"sweep {f}: {len(rows)} rows identical to the .npy files'",
              f"{len(rows)} vs {len(rows_npy)} rows; first difference: "
              + next((f"{a!r} != {b!r}" for a, b in zip(rows, rows_npy) if a != b), "none"))
        check({r.split(",")[0] for r in rows} == {"conv1", "bias", "half", "scalar", "fort"},
              f"sweep {f}: the int64 member 'ids' is skipped")

    head_npy, rows_npy = sweep_rows(tmp, "npy4", npy(["conv1", "bias", "half", "scalar"]))
    head, rows = sweep_rows(tmp, "st", [os.path.join(MORE, "model.safetensors")])
    brain = [r for r in rows if r.startswith("brain,")]
    rest = [r for r in rows if not r.startswith("brain,")]
    check(head == head_npy and rest == rows_npy and len(rest) > 100,
          f"sweep model.safetensors: {len(rest)} rows of the f32/f64/f16 tensors identical to the .npy files'",
          f"{len(rest)} vs {len(rows_npy)} rows")
    check(len(brain) > 0 and rows[-len(brain):] == brain and "steps" not in {r.split(",")[0] for r in rows},
          "sweep model.safetensors: bf16 'brain' swept last (file order), I64 'steps' skipped")


# path under tests/fixtures/more/bad, the path the message quotes (None: the file itself), a keyword
MALFORMED = [
    ("st_truncated.safetensors", None, "out of range"),
    ("st_short.safetensors", None, "truncated header"),
    ("st_header_len.safetensors", None, "runs past the end of the file"),
    ("st_json.safetensors", None, "invalid JSON"),
    ("st_not_object.safetensors", None, "expected a JSON object"),
    ("st_missing_key.safetensors", None, "missing key 'shape'"),
    ("st_offsets.safetensors", None, "out of range"),
    ("st_offsets_order.safetensors", None, "end before begin"),
    ("st_dtype_size.safetensors", None, "wrong dtype size"),
    ("st_dtype.safetensors", None, "unknown dtype 'Q4_K'"),
    ("st_metadata.safetensors", None, "__metadata__"),
    ("st_overlap.safetensors", None, "tensors 'a' and 'b' overlap (bytes 0-16 and 8-24)"),
    ("st_alias.safetensors", None, "tensors 'a' and 'b' overlap (bytes 0-16 and 0-16)"),
    ("st_hole.safetensors", None, "bytes 8-16 of the data belong to no tensor"),
    ("st_trailing.safetensors", None, "13 bytes after the last tensor"),
    ("index_no_weight_map.safetensors.index.json", None, "weight_map"),
    ("index_missing_shard.safetensors.index.json", "model-00009-of-00009.safetensors", "cannot open"),
    ("index_missing_tensor.safetensors.index.json", None, "tensor 'ghost' is not in its shard"),
    ("npz_truncated.npz", None, "not a zip archive"),
    ("npz_member.npz", None, "member 'w.npy': truncated data"),
    ("npz_member_magic.npz", None, "member 'w.npy': bad magic"),
]


def check_malformed(tmp):
    """(b) Exit 1, one stderr line naming the file first, no sweep.csv left behind."""
    bad = os.path.join(MORE, "bad")
    for i, (name, quoted, keyword) in enumerate(MALFORMED):
        rel = os.path.join("bad", name)
        out = os.path.join(tmp, f"bad{i}")
        r = run(["sweep", "-o", out, "-b", "4", rel], cwd=MORE)
        lines = r.stderr.splitlines()
        q = os.path.join("bad", quoted) if quoted else rel
        check(r.returncode == 1 and len(lines) == 1 and lines[0].startswith(f"qscope: '{q}': ") and keyword in lines[0],
              f"{name}: exit 1, one line `qscope: '{q}': ...{keyword}...`", f"exit {r.returncode}: {r.stderr!r}")
        check(not os.path.exists(os.path.join(out, "sweep.csv")), f"{name}: no sweep.csv left")
    check(os.path.isdir(bad), "malformed fixtures present")


def write_big_safetensors(path, n_tensors, count):
    """n_tensors F32 tensors of `count` values each, written a tensor at a time (16 MB chunks, never the whole file)."""
    nbytes = count * 4
    header = {f"layer{k:02d}.weight": {"dtype": "F32", "shape": [count // 1024, 1024],
                                         "data_offsets": [k * nbytes, (k + 1) * nbytes]} for k in range(n_tensors)}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(20240611)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for k in range(n_tensors):
            rng.standard_normal(count, dtype=np.float32).__imul__(0.02 * (k + 1)).tofile(f)
    return os.path.getsize(path)


def asan_build():
    with open(QSCOPE, "rb") as f:
        return b"__asan_init" in f.read()


def peak_rss_kib(args, env=None):
    """Runs qscope; returns (exit status, stdout, stderr, its own peak RSS in KiB from wait4's rusage for it)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([QSCOPE] + args, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read().decode(), err.read().decode(), usage.ru_maxrss


def check_peak_memory(tmp):
    """(c) A ~200 MB file of 12 x 4M F32 values: the reader keeps one tensor as doubles (32 MB) and at most its
    mapped pages (16 MB), not the file. inspect's statistics add one more copy of the tensor (32 MB), inside the
    40 MB allowance. Without releasing the mapped pages the peak would reach the file size (~200 MB)."""
    n_tensors, count = 12, 4 << 20
    path = os.path.join(tmp, "big.safetensors")
    size = write_big_safetensors(path, n_tensors, count)
    env, extra = None, 0
    if asan_build():
        # ASan keeps freed blocks in a quarantine (256 MB) and adds shadow memory: without the quarantine the
        # reader's own bound shows again, plus 1/8 shadow of what is touched and the runtime (16 MiB in all).
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=0"]))
        extra = 16
    rc, out, err, kib = peak_rss_kib(["inspect", "--csv", path], env)
    names = [line.split(",")[0] for line in out.splitlines()[1:]]
    check(rc == 0 and names == [f"layer{k:02d}.weight" for k in range(n_tensors)],
          f"inspect big.safetensors ({size / 1e6:.0f} MB): 12 tensors in file order", f"exit {rc}: {err.strip()}")
    mib = kib / 1024
    tensor_doubles, tensor_pages, allowance = count * 8 / 2**20, count * 4 / 2**20, 40
    limit = tensor_doubles + tensor_pages + allowance + extra
    print(f"# peak RSS of `qscope inspect` on a {size / 2**20:.0f} MiB safetensors file: {mib:.1f} MiB "
          f"(limit {limit:.0f} MiB = {tensor_doubles:.0f} doubles + {tensor_pages:.0f} mapped + {allowance} allowance"
          + (f" + {extra} ASan" if extra else "") + ")")
    check(mib < limit, f"peak RSS {mib:.1f} MiB < {limit:.0f} MiB", f"{mib:.1f} MiB")
    os.remove(path)


def inspect_names(args):
    r = run(["inspect", "--csv"] + args)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    return r, rows


def check_sharded(tmp):
    index = os.path.join(MORE, "sharded", "model.safetensors.index.json")
    r, rows = inspect_names([index])
    names = [row["tensor"] for row in rows]
    check(r.returncode == 0 and sorted(names) == ["bias", "brain", "conv1", "half"] and len(set(names)) == len(names),
          "inspect index.json: every tensor of the weight_map once", f"exit {r.returncode}: {names} {r.stderr}")
    check(names == ["conv1", "half", "bias", "brain"], "shards in order, tensors in file order", f"{names}")
    conv1 = [row for row in rows if row["tensor"] == "conv1"]
    check(len(conv1) == 1 and conv1[0]["shape"] == "4x3x3" and float(conv1[0]["max"]) < 10,
          "conv1 comes from the shard the index names, not shard 2's decoy", f"{conv1}")

    # A folder stands for its .npz/.safetensors files, not for an index (whose shards would be read twice).
    folder = os.path.join(tmp, "folder")
    os.mkdir(folder)
    for f in ["arrays_z.npz", "model.safetensors", os.path.join("sharded", "model.safetensors.index.json")]:
        shutil.copy(os.path.join(MORE, f), folder)
    r, rows = inspect_names([folder])
    skipped = sorted((x["tensor"], x["dtype"]) for x in rows if x["consumer"] == "(skipped)")
    check(skipped == [("ids", "<i8"), ("steps", "I64")],
          "inspect lists the integer arrays of the .npz and .safetensors files as skipped, with their stored type",
          f"{skipped}")
    rows = [x for x in rows if x["consumer"] != "(skipped)"]
    check(r.returncode == 0 and len(rows) == 10, "inspect on a folder reads its .npz and .safetensors files",
          f"exit {r.returncode}: {len(rows)} rows {r.stderr.strip()}")


def main():
    with tempfile.TemporaryDirectory(prefix="qs_cli_formats_") as tmp:
        check_peak_memory(tmp)
        check_same_sweep(tmp)
        check_malformed(tmp)
        check_sharded(tmp)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
