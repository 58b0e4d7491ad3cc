#!/usr/bin/python3
"""INI configs (`qscope sweep -c FILE`): a config gives the same sweep as the same options on the command line,
[tensor GLOB] sections change only the matching tensors, the command line overrides the file, paths resolve
against the config's folder, the shipped examples run, and malformed configs fail cleanly (exit 1, the file and
the key named, nothing written).

Run by meson with QSCOPE=<built binary> and QS_SOURCE_ROOT=<repository root>.
"""
import csv
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ.get("QSCOPE", "")
ROOT = os.path.abspath(os.environ.get("QS_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..")))
DATA = os.path.join(ROOT, "data", "ppocr_cls")
TENSORS = ["conv2d_0.w_0", "conv2d_1.w_0", "fc_0.w_0"]


def run(args, cwd):
    return subprocess.run([QSCOPE, "sweep", "-q"] + args, cwd=cwd, capture_output=True, text=True)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def configs_of(table, tensor):
    return sorted({(r["bits"], r["granularity"], r["scheme"], r["calib"]) for r in table if r["tensor"] == tensor})


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def check_same_as_command_line(tmp):
    """The config's [sweep] section replays long options: the CSV is byte-identical to the command-line run."""
    cfgdir = os.path.join(tmp, "cfg")
    os.makedirs(cfgdir)
    rel = os.path.relpath(DATA, cfgdir)
    write(os.path.join(cfgdir, "plain.ini"),
          "; comment\n[sweep]\ninputs = " + " ".join(os.path.join(rel, t + ".npy") for t in TENSORS[:2]) + "\n"
          f"  {os.path.join(rel, TENSORS[2] + '.npy')}\n"
          "bits = 3,8\ngranularity = tensor,channel\nscheme = sym,asym\ncalib = minmax,mse\n"
          "multipliers = 0.4:1.2:9\nno-plots = true\nrounding = even\n")
    r1 = run(["-c", os.path.join(cfgdir, "plain.ini"), "-o", "a"], tmp)  # run from elsewhere: paths follow the file
    r2 = run([os.path.join(DATA, t + ".npy") for t in TENSORS] +
             ["-b", "3,8", "-g", "tensor,channel", "-s", "sym,asym", "--calib", "minmax,mse", "-m", "0.4:1.2:9",
              "--no-plots", "-o", "b"], tmp)
    check(r1.returncode == 0 and r2.returncode == 0, "config run and command-line run succeed", r1.stderr + r2.stderr)
    if r1.returncode or r2.returncode:
        return
    with open(os.path.join(tmp, "a", "sweep.csv"), "rb") as f1, open(os.path.join(tmp, "b", "sweep.csv"), "rb") as f2:
        a, b = f1.read(), f2.read()
    check(a == b and len(a) > 1000, "sweep.csv from the config is byte-identical to the command line's")
    check(len(rows(os.path.join(tmp, "a", "sweep.csv"))) == 3 * 2 * 2 * 2 * 2 * 9,
          "3 tensors x 2 bits x 2 granularities x 2 schemes x 2 calibrators x 9 multipliers rows")

    # the command line overrides the file: -b replaces bits, -t replaces the file's patterns
    r = run(["-c", os.path.join(cfgdir, "plain.ini"), "-o", "c", "-b", "5", "-t", "fc_*"], tmp)
    t = rows(os.path.join(tmp, "c", "sweep.csv")) if r.returncode == 0 else []
    check(r.returncode == 0 and {x["bits"] for x in t} == {"5"}, "-b on the command line replaces the file's bits",
          r.stderr)
    check({x["tensor"] for x in t} == {"fc_0.w_0"}, "--tensor on the command line selects among the file's inputs")
    write(os.path.join(cfgdir, "sel.ini"), open(os.path.join(cfgdir, "plain.ini")).read() + "tensor = conv2d_1*\n")
    r = run(["-c", os.path.join(cfgdir, "sel.ini"), "-o", "d"], tmp)
    t = rows(os.path.join(tmp, "d", "sweep.csv")) if r.returncode == 0 else []
    check({x["tensor"] for x in t} == {"conv2d_1.w_0"}, "'tensor =' in the file selects tensors", r.stderr)
    # patterns from the file that select nothing: the error names the config, not --tensor
    write(os.path.join(cfgdir, "none.ini"), open(os.path.join(cfgdir, "plain.ini")).read() + "tensor = nothing*\n")
    r = run(["-c", os.path.join(cfgdir, "none.ini"), "-o", "n"], tmp)
    check(r.returncode == 1 and "no tensor selected (check the tensor patterns in '" in r.stderr
          and "none.ini')" in r.stderr and not os.path.exists(os.path.join(tmp, "n")),
          "the file's patterns select nothing: exit 1 naming the config, nothing written", r.stderr)
    r = run(["-c", os.path.join(cfgdir, "none.ini"), "-o", "n", "-t", "nothing*"], tmp)
    check(r.returncode == 1 and "(check --tensor patterns)" in r.stderr,
          "-t on the command line selects nothing: the error names --tensor", r.stderr)
    # inputs on the command line replace the file's
    r = run(["-c", os.path.join(cfgdir, "plain.ini"), "-o", "e", os.path.join(DATA, "conv2d_2.w_0.npy")], tmp)
    t = rows(os.path.join(tmp, "e", "sweep.csv")) if r.returncode == 0 else []
    check({x["tensor"] for x in t} == {"conv2d_2.w_0"}, "input files on the command line replace 'inputs'", r.stderr)


def check_tensor_sections(tmp):
    """[tensor GLOB]: the first matching section sets that tensor's axes; the other tensors keep the run's."""
    write(os.path.join(tmp, "ov.ini"),
          f"[sweep]\ninputs = {DATA}/conv2d_0.w_0.npy {DATA}/conv2d_1.w_0.npy {DATA}/fc_0.w_0.npy\n"
          "bits = 4,6\ngranularity = tensor\ncalib = minmax\nmultipliers = 0.5,1\nno-plots = true\n"
          "[tensor fc_*]\nbits = 8\ngranularity = channel\ncalib = mse,minmax\n"
          "[tensor *_0.w_0]\nbits = 2\n"
          "[tensor conv2d_1.w_0]\nscheme = asym\nunsigned = true\n")
    r = run(["-c", os.path.join(tmp, "ov.ini"), "-o", "ov", "-b", "3"], tmp)
    check(r.returncode == 0, "config with [tensor] sections runs", r.stderr)
    if r.returncode:
        return
    t = rows(os.path.join(tmp, "ov", "sweep.csv"))
    check(configs_of(t, "fc_0.w_0") == [("8", "channel", "sym", "minmax"), ("8", "channel", "sym", "mse")],
          "fc_0.w_0 follows [tensor fc_*] (first match), not the command line's -b 3", configs_of(t, "fc_0.w_0"))
    check(configs_of(t, "conv2d_0.w_0") == [("2", "tensor", "sym", "minmax")],
          "conv2d_0.w_0 follows [tensor *_0.w_0]", configs_of(t, "conv2d_0.w_0"))
    c1 = [r_ for r_ in t if r_["tensor"] == "conv2d_1.w_0"]
    check(configs_of(t, "conv2d_1.w_0") == [("3", "tensor", "asym", "minmax")] and {x["signed"] for x in c1} == {"0"},
          "conv2d_1.w_0: the command line's bits, the section's asym unsigned", configs_of(t, "conv2d_1.w_0"))
    # the overridden tensor's rows equal a plain command-line sweep of the same settings (numbers included)
    r = run([f"{DATA}/fc_0.w_0.npy", "-b", "8", "-g", "channel", "--calib", "mse,minmax", "-m", "0.5,1",
             "--no-plots", "-o", "ref"], tmp)
    ref = rows(os.path.join(tmp, "ref", "sweep.csv")) if r.returncode == 0 else []
    fc = [x for x in t if x["tensor"] == "fc_0.w_0"]
    strip = lambda rs: [{k: v for k, v in x.items() if k not in ("qparams", "qparams_row", "seed")} for x in rs]
    check(len(ref) == 4 and strip(fc) == strip(ref),
          "fc_0.w_0's rows equal `-b 8 -g channel --calib mse,minmax` (all but the per-tensor stream seed)")


def write_safetensors(path, arrays):
    """A minimal independent safetensors writer (8-byte little-endian header length, JSON header, F32 data)."""
    header, blobs, off = {}, [], 0
    for name, a in arrays.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def check_shipped_examples(tmp):
    """configs/*.ini run as documented."""
    cnn = os.path.join(ROOT, "configs", "int8-cnn.ini")
    r = run(["-c", cnn, "-o", "cnn", "--no-plots", "-m", "0.5,1"], tmp)
    check(r.returncode == 0, "configs/int8-cnn.ini runs", r.stderr)
    if r.returncode == 0:
        t = rows(os.path.join(tmp, "cnn", "sweep.csv"))
        check(configs_of(t, "conv2d_0.w_0") == [("8", "channel", "sym", c) for c in
                                                 sorted(["minmax", "percentile:99.99", "mse", "entropy"])],
              "int8-cnn: the first conv is kept at 8 bits per channel", configs_of(t, "conv2d_0.w_0"))
        check({x["bits"] for x in t if x["tensor"] == "conv2d_5.w_0"} == {"6", "8"}, "int8-cnn: other convs at 6 and 8")
        check(len({x["tensor"] for x in t}) == 73, "int8-cnn: all 73 conv/fc tensors of the model")
    r = run(["-c", os.path.join(ROOT, "configs", "static-acts-split.ini"), "-o", "acts", "--no-plots", "-m", "1"], tmp)
    check(r.returncode == 0, "configs/static-acts-split.ini runs", r.stderr)
    if r.returncode == 0:
        t = rows(os.path.join(tmp, "acts", "sweep.csv"))
        check({(x["mode"], x["calib_batches"], x["eval_batches"]) for x in t} ==
              {("static", "0-7", "8-11"), ("dynamic", "", "8-11")}, "static-acts: calibrate 0-7, evaluate 8-11, both modes")
        check({x["signed"] for x in t if x["tensor"].startswith("relu")} == {"0"} and
              {x["signed"] for x in t if x["tensor"] == "conv1"} == {"1"}, "static-acts: ReLU outputs unsigned")
        check(len({x["tensor"] for x in t}) == 8, "static-acts: the 8 module outputs of the demo CNN")
    rng = np.random.default_rng(5)
    arrays = {"model.embed_tokens.weight": rng.standard_normal((64, 32))}
    for i in range(2):
        for p in ("q_proj", "k_proj", "v_proj", "o_proj"):
            arrays[f"model.layers.{i}.self_attn.{p}.weight"] = rng.standard_normal((32, 128)) * 0.05
        arrays[f"model.layers.{i}.input_layernorm.weight"] = np.ones(32)
    ckpt = os.path.join(tmp, "tiny.safetensors")
    write_safetensors(ckpt, arrays)
    r = run(["-c", os.path.join(ROOT, "configs", "int4-llm-groupwise.ini"), ckpt, "-o", "llm", "--no-plots"], tmp)
    check(r.returncode == 0, "configs/int4-llm-groupwise.ini runs on a checkpoint given on the command line", r.stderr)
    if r.returncode == 0:
        t = rows(os.path.join(tmp, "llm", "sweep.csv"))
        names = {x["tensor"] for x in t}
        check(names == {k for k in arrays if k.endswith("proj.weight")}, "int4-llm: only the projection weights",
              sorted(names))
        check({x["bits"] for x in t if x["tensor"].endswith("o_proj.weight")} == {"4"} and
              {x["bits"] for x in t if x["tensor"].endswith("q_proj.weight")} == {"3", "4"},
              "int4-llm: o_proj at 4 bits only, the others at 3 and 4")
        q = [x for x in t if x["tensor"] == "model.layers.0.self_attn.q_proj.weight" and x["granularity"] == "group:32"]
        check(q and {x["ngroups"] for x in q} == {str(32 * 128 // 32)}, "int4-llm: group:32 gives 128 groups of 32")


# (file text, words the message must contain)
MALFORMED = [
    ("[sweep]\nbitz = 4\n", "unknown key 'bitz'"),
    ("[sweep]\nbits = 99\n", "[sweep] bits = 99: bad --bits '99'"),
    ("[sweeps]\nbits = 4\n", "unknown section [sweeps]"),
    ("[sweep]\nthis is not ini\n", "line 2: not an INI line"),
    ("[tensor x*]\noutput = somewhere\n", "key 'output' cannot be set per tensor"),
    ("[tensor x*]\nmultipliers = 1\n", "key 'multipliers' cannot be set per tensor"),
    ("[sweep]\nno-plots = maybe\n", "not a boolean"),
    ("[sweep]\nconfig = other.ini\n", "unknown key 'config'"),
    ("[sweep]\ninputs = missing.npy\n", "'missing.npy': cannot open"),
    # inih's 200-byte buffer split longer lines: the tail of this 206-character comment used to set bits = 2
    ("[sweep]\nbits = 8\n; " + "x" * 196 + "bits = 2\n", "line 3 is longer than 199 characters"),
    ("[sweep]\r\nbits = 8\r\n\r\n; " + "x" * 198 + "\r\n", "line 4 is longer than 199 characters"),
]


def check_malformed(tmp):
    for i, (text, words) in enumerate(MALFORMED):
        name = f"bad{i}.ini"
        write(os.path.join(tmp, name), text)
        args = ["-c", name, "-o", f"out{i}"] + ([] if "inputs" in text else [os.path.join(DATA, "fc_0.w_0.npy")])
        r = run(args, tmp)
        lines = r.stderr.splitlines()
        named = name in lines[0] if lines and "inputs" not in text else True  # a missing input names the input
        check(r.returncode == 1 and lines and lines[0].startswith("qscope: '") and named and words in lines[0],
              f"{name}: exit 1 naming the file and '{words}'", f"exit {r.returncode}: {r.stderr!r}")
        check(not os.path.exists(os.path.join(tmp, f"out{i}")), f"{name}: nothing written")
    r = run(["-c", "absent.ini", os.path.join(DATA, "fc_0.w_0.npy"), "-o", "x"], tmp)
    check(r.returncode == 1 and "'absent.ini': cannot open config" in r.stderr, "missing config: exit 1, named", r.stderr)
    r = run([os.path.join(DATA, "fc_0.w_0.npy"), "-o", "x", "-c"], tmp)
    check(r.returncode == 2 and "needs a value" in r.stderr, "-c without a file: usage error", r.stderr)


def check_line_limit(tmp):
    """A line of 199 characters, inih's limit (its 200-byte buffer less the NUL), is read whole, with "\\n" or
    "\\r\\n"; the line after it keeps its own number and its effect."""
    tail = "/fc_0.w_0.npy"
    line = "inputs = " + DATA + "/" * (199 - len("inputs = " + DATA + tail)) + tail
    check(len(line) == 199, "line-limit fixture: the inputs line has 199 characters", len(line))
    for i, eol in enumerate(["\n", "\r\n"]):
        name = f"limit{i}.ini"
        with open(os.path.join(tmp, name), "w", newline="") as f:
            f.write(eol.join(["[sweep]", line, "bits = 5", "multipliers = 1", "granularity = tensor", ""]))
        r = run(["-c", name, "-o", f"out{i}", "--no-plots"], tmp)
        if check(r.returncode == 0, f"{name}: a 199-character line ({eol!r}) is accepted", r.stderr):
            t = rows(os.path.join(tmp, f"out{i}", "sweep.csv"))
            check(t and {x["tensor"] for x in t} == {"fc_0.w_0"} and {x["bits"] for x in t} == {"5"},
                  f"{name}: the long line's input swept at the next line's bits = 5",
                  sorted({(x["tensor"], x["bits"]) for x in t}))
    write(os.path.join(tmp, "limit_bad.ini"), "[sweep]\n" + line + "\nthis is not ini\n")
    r = run(["-c", "limit_bad.ini", "-o", "out_bad"], tmp)
    check(r.returncode == 1 and "'limit_bad.ini': line 3: not an INI line" in r.stderr,
          "limit_bad.ini: the line after a 199-character line is numbered right", r.stderr)
    check(not os.path.exists(os.path.join(tmp, "out_bad")), "limit_bad.ini: nothing written")


def main():
    if not QSCOPE:
        print("QSCOPE is not set")
        return 1
    with tempfile.TemporaryDirectory(prefix="qs-test-config-") as tmp:
        for f in (check_same_as_command_line, check_tensor_sections, check_shipped_examples, check_malformed,
                  check_line_limit):
            sub = os.path.join(tmp, f.__name__)
            os.makedirs(sub)
            f(sub)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
