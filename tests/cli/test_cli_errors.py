#!/usr/bin/python3
"""CLI error paths: every malformed fixture, non-finite data, usage errors, unusable paths.

Run by meson with QSCOPE=<built binary> and QS_SOURCE_ROOT=<repository root>. Each case runs in its own empty
directory (also the working directory) with `-o CASE/out`; after a failure nothing may be left behind: no
sweep.csv, no temporary files, CASE/out either absent or empty. Prints one line per check and finally
"N passed, M failed"; exits nonzero if anything failed.
"""
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

QSCOPE = os.environ.get("QSCOPE", "")
FAIL_RENAME_SHIM = os.environ.get("QS_FAIL_RENAME_SHIM", "")  # tests/cli/fail_rename.c, built by meson
ROOT = os.environ.get("QS_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(os.path.abspath(ROOT), "tests", "fixtures")
VALID = os.path.join(FIXTURES, "npy_v1_f4le.npy")

# (fixture, extra options, words the message must contain besides the path)
MALFORMED = [
    ("bad_truncated.npy", [], "truncated data (expected 400 bytes, found 300)"),
    ("bad_magic.npy", [], "bad magic"),
    ("bad_header_noshape.npy", [], "missing key 'shape'"),
    ("bad_header_garbage.npy", [], "malformed header"),
    ("bad_header_unclosed.npy", [], "malformed header"),
    ("bad_header_len.npy", [], "header length 5000"),
    ("bad_shape_neg.npy", [], "bad shape"),
    ("bad_fortran.npy", [], "fortran_order"),
    ("bad_dtype_i4.npy", [], "unsupported dtype '<i4'"),
    ("bad_dtype_c8.npy", [], "unsupported dtype '<c8'"),
    ("bad_dtype_obj.npy", [], "unsupported dtype '|O'"),
    ("bad_dtype_struct.npy", [], "unsupported dtype"),
    ("bad_version.npy", [], "unsupported npy version"),
    ("bad_trailing.npy", [], "trailing data"),
    ("bad_rank9.npy", [], "rank 9"),
    ("bad_overflow.npy", [], "overflow"),
    ("bad_overflow_dim.npy", [], "overflow"),
    ("empty.npy", [], "empty file"),
    ("bad_unknown.dat", [], "unknown file format"),
    ("raw_mismatch.f32", ["--dtype", "f32", "--shape", "64,3,3,3"],
     "size mismatch (shape 64x3x3x3 of f32 needs 6912 bytes, file has 6900)"),
    ("raw_odd.f32", ["--dtype", "f32"], "size mismatch"),
]

# Command lines that cannot be carried out as written: exit 2 and a short usage message on stderr.
USAGE = [
    ("unknown option", ["sweep", "--frobnicate", VALID]),
    ("--bits 1", ["sweep", "--bits", "1", VALID]),
    ("--bits 17", ["sweep", "--bits", "17", VALID]),
    ("--granularity bogus", ["sweep", "--granularity", "bogus", VALID]),
    ("--multipliers 0:1:5", ["sweep", "--multipliers", "0:1:5", VALID]),
    ("no input files", ["sweep"]),
    ("unknown command", ["frobnicate"]),
]

passed = 0
failed = 0


def report(name, problems):
    global passed, failed
    if problems:
        failed += 1
        print(f"FAIL {name}: " + "; ".join(problems))
    else:
        passed += 1
        print(f"ok   {name}")


def run(case_dir, args, with_output=True, env=None):
    """Runs qscope in case_dir (with env's variables added); returns (status, stdout, stderr, out_dir)."""
    out = os.path.join(case_dir, "out")
    argv = [QSCOPE] + args + (["-o", out] if with_output else [])
    try:
        p = subprocess.run(argv, cwd=case_dir, capture_output=True, text=True, errors="replace", timeout=120,
                           env=dict(os.environ, **env) if env else None)
    except subprocess.TimeoutExpired:
        return None, "", "timed out", out
    return p.returncode, p.stdout, p.stderr, out


def leftovers(case_dir):
    """Problems if the failed run left anything behind (CASE/out may exist but must be empty)."""
    problems = []
    for entry in sorted(os.listdir(case_dir)):
        path = os.path.join(case_dir, entry)
        if entry == "out" and os.path.isdir(path):
            inside = []
            for dirpath, dirnames, filenames in os.walk(path):
                inside += [os.path.relpath(os.path.join(dirpath, f), path) for f in filenames + dirnames]
            if inside:
                problems.append(f"output directory not empty: {sorted(inside)}")
        else:
            problems.append(f"left behind {entry!r}")
    return problems


SHORT_USAGE_LINES = 5


def one_line_error(status, stderr, want_status, must_contain):
    """Exit 1: exactly one line "qscope: '<subject>': <problem>". Exit 2: that line first; a short usage may follow."""
    problems = []
    if status != want_status:
        problems.append(f"exit status {status}, expected {want_status}")
    lines = stderr.splitlines()
    if want_status == 2:
        if not 1 <= len(lines) <= SHORT_USAGE_LINES:
            problems.append(f"stderr has {len(lines)} lines, expected 1 to {SHORT_USAGE_LINES}: {stderr!r}")
    elif len(lines) != 1:
        problems.append(f"stderr has {len(lines)} lines, expected 1: {stderr!r}")
    first = lines[0] if lines else ""
    if not first.startswith("qscope: '"):
        problems.append(f"stderr does not start with \"qscope: '\": {stderr!r}")
    for word in must_contain:
        if word.lower() not in first.lower():
            problems.append(f"first stderr line lacks {word!r}: {stderr!r}")
    return problems


def new_case(tmp, label):
    path = tempfile.mkdtemp(prefix=label.replace("/", "_").replace(" ", "_") + ".", dir=tmp)
    return path


def test_malformed(tmp):
    for fixture, opts, keyword in MALFORMED:
        case = new_case(tmp, fixture)
        path = os.path.join(FIXTURES, fixture)
        status, _, stderr, _ = run(case, ["sweep", path] + opts)
        problems = one_line_error(status, stderr, 1, [path, keyword])
        if not stderr.startswith(f"qscope: '{path}': "):
            problems.append(f"message does not start with the quoted path: {stderr!r}")
        report(f"malformed {fixture}", problems + leftovers(case))


def test_valid_then_malformed(tmp):
    # The first file is fine; the run still fails as a whole and leaves no partial CSV.
    case = new_case(tmp, "valid_then_bad")
    bad = os.path.join(FIXTURES, "bad_truncated.npy")
    status, _, stderr, _ = run(case, ["sweep", VALID, bad])
    report("valid file then malformed file", one_line_error(status, stderr, 1, [bad, "truncated"]) + leftovers(case))


def test_nonfinite(tmp):
    path = os.path.join(FIXTURES, "has_nan.npy")
    case = new_case(tmp, "has_nan")
    status, _, stderr, _ = run(case, ["sweep", path])
    problems = []
    if status != 1:
        problems.append(f"exit status {status}, expected 1")
    if len(stderr.splitlines()) != 1:
        problems.append(f"stderr has {len(stderr.splitlines())} lines, expected 1: {stderr!r}")
    if not stderr.startswith("qscope: "):
        problems.append(f"stderr does not start with 'qscope: ': {stderr!r}")
    for word in ("has_nan.npy", "'has_nan'", "non-finite"):  # the input file and the tensor
        if word not in stderr.lower():
            problems.append(f"stderr lacks {word!r}: {stderr!r}")
    report("non-finite values are an error", problems + leftovers(case))

    case = new_case(tmp, "has_nan_skip")
    status, _, stderr, out = run(case, ["sweep", "--skip-nonfinite", path])
    problems = []
    if status != 0:
        problems.append(f"exit status {status}, expected 0 (stderr: {stderr!r})")
    csv = os.path.join(out, "sweep.csv")
    if not os.path.isfile(csv) or os.path.getsize(csv) == 0:
        problems.append("no (or empty) sweep.csv")
    report("--skip-nonfinite sweeps the finite values", problems)

    # --profile torch computes the scale in float32: an asymmetric range of 3e38 - (-1e38) has none (torch's would be
    # infinite), a symmetric one does until the multiplier takes 3e38 past FLT_MAX
    case = new_case(tmp, "torch_overflow")
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"
    header += " " * (64 - 10 - 1 - len(header)) + "\n"
    big = os.path.join(case, "big.npy")
    with open(big, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() +
                struct.pack("<4f", 3e38, -1e38, 1.0, 2.0))
    for scheme, mult, ok in (("asym", "1", False), ("sym", "1", True), ("sym", "1.2", False)):
        status, _, stderr, out = run(case, ["sweep", big, "--profile", "torch", "-s", scheme, "-m", mult, "--no-plots"])
        if ok:
            problems = [] if status == 0 else [f"exit {status}: {stderr!r}"]
            shutil.rmtree(out, ignore_errors=True)
        else:
            problems = one_line_error(status, stderr, 1, [big, "'big'", f"at multiplier {mult} ", "beyond float32"])
            problems += [p for p in leftovers(case) if "big.npy" not in p]
        report(f"torch profile, {scheme} at multiplier {mult}: " + ("measured" if ok else "no float32 scale, exit 1"),
               problems)


def test_escaped_names(tmp):
    """A file name with a terminal escape sequence and a byte that is not UTF-8 is printed escaped (\\xNN), valid
    UTF-8 as it is: an error message cannot garble the terminal or the log."""
    case = new_case(tmp, "escaped")
    name = b"bad\x1b[31m\xff\xc3\xa9.npy"
    with open(os.path.join(FIXTURES, "has_nan.npy"), "rb") as src, open(os.path.join(case.encode(), name), "wb") as dst:
        dst.write(src.read())
    p = subprocess.run([QSCOPE, "sweep", name], cwd=case, capture_output=True, timeout=120)
    err = p.stderr
    problems = [] if p.returncode == 1 else [f"exit status {p.returncode}, expected 1"]
    if b"\x1b" in err or b"\xff" in err:
        problems.append(f"raw control or non-UTF-8 byte on stderr: {err!r}")
    if b"'bad\\x1b[31m\\xff\xc3\xa9.npy'" not in err or b"non-finite" not in err:
        problems.append(f"the escaped name (\\x1b, \\xff, the UTF-8 e-acute kept) is not in the message: {err!r}")
    p = subprocess.run([QSCOPE, b"no\x07such"], cwd=case, capture_output=True, timeout=120)
    if p.returncode != 2 or not p.stderr.startswith(b"qscope: unknown command 'no\\x07such'\n"):
        problems.append(f"unknown command not escaped: exit {p.returncode}, {p.stderr!r}")
    # the summary on stdout escapes them too (sweep.csv keeps the name as it is)
    header = json.dumps({"x\x1b[31mred": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    with open(os.path.join(case, "esc.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, -2.5))
    p = subprocess.run([QSCOPE, "sweep", "esc.safetensors", "-m", "1", "--no-plots", "-o", "out"], cwd=case,
                       capture_output=True, timeout=120)
    if p.returncode != 0 or b"\x1b" in p.stdout or b"x\\x1b[31mred" not in p.stdout:
        problems.append(f"summary not escaped: exit {p.returncode}, {p.stdout!r} {p.stderr!r}")
    with open(os.path.join(case, "out", "sweep.csv"), "rb") as f:
        if b"\nx\x1b[31mred," not in f.read():
            problems.append("sweep.csv does not keep the raw name")
    report("names in messages are escaped", problems)

    # random byte strings against Python's own UTF-8 decoder: invalid bytes as \xNN (backslashreplace), then control
    # characters and DEL as \xNN; everything else unchanged
    rng = random.Random(2385)
    pieces = [b"a", b"/", b"'", b"\\", b"\x1b", b"\x7f", b"\t", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80",
              b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe0\x80", b"\xff", b"\x80", b"\xc3", b"\xe2\x82"]
    wrong = []
    for _ in range(200):
        arg = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        if rng.random() < 0.3:
            arg += bytes(rng.randint(1, 255) for _ in range(3))
        text = arg.decode("utf-8", "backslashreplace")
        want = "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text).encode()
        p = subprocess.run([QSCOPE, arg], capture_output=True, timeout=60)
        line = p.stderr.split(b"\n")[0]
        if line != b"qscope: unknown command '" + want + b"'":
            wrong.append(f"{arg!r}: {line!r}")
    report("escaping agrees with Python's UTF-8 decoder on 200 random byte strings", wrong[:5])


def test_usage(tmp):
    for label, args in USAGE:
        case = new_case(tmp, label)
        status, stdout, stderr, _ = run(case, args, with_output=args[:1] == ["sweep"])
        problems = []
        if status != 2:
            problems.append(f"exit status {status}, expected 2")
        if not stderr.startswith("qscope: "):
            problems.append(f"stderr does not start with 'qscope: ': {stderr!r}")
        if "usage" not in stderr.lower():
            problems.append(f"no usage message on stderr: {stderr!r}")
        if len(stderr.splitlines()) > SHORT_USAGE_LINES:
            problems.append(f"usage message is not short ({len(stderr.splitlines())} lines, "
                            f"at most {SHORT_USAGE_LINES}): {stderr!r}")
        if stdout:
            problems.append(f"stdout not empty: {stdout[:200]!r}")
        report(f"usage error: {label}", problems + leftovers(case))

    # The loader's usage errors: raw data without --dtype, an unknown --dtype.
    raw = os.path.join(FIXTURES, "raw_data.bin")
    case = new_case(tmp, "raw_no_dtype")
    status, _, stderr, _ = run(case, ["sweep", raw])
    report("raw data without --dtype", one_line_error(status, stderr, 2, [raw, "--dtype"]) + leftovers(case))
    case = new_case(tmp, "raw_bad_dtype")
    status, _, stderr, _ = run(case, ["sweep", "--dtype", "f8", raw])
    problems = []
    if status != 2:
        problems.append(f"exit status {status}, expected 2")
    if "'f8'" not in stderr:
        problems.append(f"stderr does not name the dtype: {stderr!r}")
    report("unknown --dtype", problems + leftovers(case))


def test_paths(tmp):
    case = new_case(tmp, "missing_input")
    missing = os.path.join(case, "no_such_dir", "missing.npy")
    status, _, stderr, _ = run(case, ["sweep", missing])
    report("nonexistent input file", one_line_error(status, stderr, 1, [missing]) + leftovers(case))

    # A folder input holding no file a format claims (only a text file).
    folder = tempfile.mkdtemp(prefix="no_tensors.", dir=tmp)
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("not a tensor\n")
    case = new_case(tmp, "empty_folder")
    status, _, stderr, _ = run(case, ["sweep", folder])
    report("folder without tensor files",
           one_line_error(status, stderr, 1, [folder, "holds no tensor files"]) + leftovers(case))

    # -o names an existing regular file: fail, and touch nothing.
    case = new_case(tmp, "output_is_file")
    target = os.path.join(case, "out")
    with open(target, "w") as f:
        f.write("keep me\n")
    status, _, stderr, _ = run(case, ["sweep", VALID])
    problems = one_line_error(status, stderr, 1, [target])
    if not stderr.startswith("qscope: "):
        problems.append("stderr does not start with 'qscope: '")
    with open(target) as f:
        if f.read() != "keep me\n":
            problems.append("the existing file was modified")
    if sorted(os.listdir(case)) != ["out"]:
        problems.append(f"left behind {sorted(set(os.listdir(case)) - {'out'})}")
    report("output path is a regular file", problems)

    # Results of an earlier run stay whole when something is in the way of one new result: OUT/recommend.csv a folder,
    # OUT/qparams a file (before, sweep.csv was replaced and then the run failed, a mix of two runs), or a broken link.
    for blocker, kind, words in (("recommend.csv", "folder", "(a folder)"), ("qparams", "file", "(not a folder)"),
                                 ("qparams", "broken link", "(a broken link)")):
        case = new_case(tmp, "in_the_way")
        out = os.path.join(case, "out")
        os.makedirs(out)
        with open(os.path.join(out, "sweep.csv"), "w") as f:
            f.write("earlier run\n")
        if kind == "folder":
            os.makedirs(os.path.join(out, blocker))
        elif kind == "file":
            with open(os.path.join(out, blocker), "w") as f:
                f.write("a file\n")
        else:
            os.symlink(os.path.join(case, "absent"), os.path.join(out, blocker))
        status, _, stderr, _ = run(case, ["sweep", VALID, "--save-qparams", "--no-plots"])
        problems = one_line_error(status, stderr, 1, [os.path.join(out, blocker), words, "nothing was replaced"])
        with open(os.path.join(out, "sweep.csv")) as f:
            if f.read() != "earlier run\n":
                problems.append("the earlier sweep.csv was replaced")
        if sorted(os.listdir(out)) != sorted(["sweep.csv", blocker]):
            problems.append(f"output folder holds {sorted(os.listdir(out))}")
        report(f"OUT/{blocker} a {kind} in the way: nothing replaced, nothing left", problems)
    # ... but a link to a folder is a folder: OUT/qparams -> elsewhere takes the qparams files
    case = new_case(tmp, "linked_qparams")
    out, elsewhere = os.path.join(case, "out"), os.path.join(case, "elsewhere")
    os.makedirs(out)
    os.makedirs(elsewhere)
    os.symlink(elsewhere, os.path.join(out, "qparams"))
    status, _, stderr, _ = run(case, ["sweep", VALID, "--save-qparams", "--no-plots"])
    report("OUT/qparams a link to a folder: the qparams land there",
           [] if status == 0 and os.listdir(elsewhere) else [f"exit {status}, {os.listdir(elsewhere)}: {stderr!r}"])


def tree(top):
    """Everything under top: relative path -> file content, "<folder>" or "-> link target" (links not followed)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, top)
            if os.path.islink(path):
                found[rel] = "-> " + os.readlink(path)
            elif os.path.isdir(path):
                found[rel] = "<folder>"
            else:
                with open(path, "rb") as f:
                    found[rel] = f.read()
    return found


def earlier_results(case):
    """OUT as an earlier run left it, for a new run that stages sweep.csv, qparams/npy_v1_f4le/*, recommend.csv."""
    out = os.path.join(case, "out")
    os.makedirs(os.path.join(out, "qparams", "other"))
    for rel, text in (("sweep.csv", "earlier sweep\n"), ("recommend.csv", "earlier recommend\n"),
                      ("qparams/other/keep.npy", "earlier qparams\n")):
        with open(os.path.join(out, rel), "w") as f:
            f.write(text)
    return out


def test_rollback(tmp):
    """A rename failing after others succeeded: the commit puts the earlier results back (the staged files are
    renamed in the order sweep.csv, qparams/..., recommend.csv, so failing recommend.csv's comes after the others)."""
    if not FAIL_RENAME_SHIM:
        report("rollback tests", ["QS_FAIL_RENAME_SHIM is not set (run them through meson test)"])
        return
    args = ["sweep", VALID, "--save-qparams", "--no-plots"]
    # The shim goes in front of the sanitizer runtime in an ASan build, which ASan refuses unless told not to check.
    asan = os.environ.get("ASAN_OPTIONS", "")
    shim = {"LD_PRELOAD": FAIL_RENAME_SHIM, "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}

    case = new_case(tmp, "rollback")
    out = earlier_results(case)
    before = tree(out)
    status, _, stderr, _ = run(case, args, env=dict(shim, QS_FAIL_RENAME="out/recommend.csv"))
    problems = one_line_error(status, stderr, 1, [os.path.join(out, "recommend.csv"), "no space left on device",
                                                  "the previous results were restored"])
    after = tree(out)
    if after != before:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        problems.append(f"OUT differs from before the run in {changed}")
    report("a rename failing part-way: the earlier results are back, no new file or folder left", problems)

    # Without hard links the earlier files are kept by renaming them into the staging folder: a success leaves the new
    # results and nothing else, a failure part-way puts the earlier files back all the same.
    case = new_case(tmp, "no_links")
    out = earlier_results(case)
    status, _, stderr, _ = run(case, args, env=dict(shim, QS_FAIL_LINK="1"))
    after = tree(out)
    problems = [] if status == 0 else [f"exit {status}: {stderr!r}"]
    if after.get("sweep.csv", b"").startswith(b"earlier") or after.get("recommend.csv", b"").startswith(b"earlier"):
        problems.append("an earlier result was not replaced")
    if [k for k in after if k.startswith(".qscope-")] or "qparams/npy_v1_f4le" not in after:
        problems.append(f"OUT holds {sorted(after)}")
    report("no hard links: a commit still replaces the earlier results and leaves no backup", problems)
    case = new_case(tmp, "no_links_rollback")
    out = earlier_results(case)
    before = tree(out)
    status, _, stderr, _ = run(case, args, env=dict(shim, QS_FAIL_LINK="1", QS_FAIL_RENAME="out/recommend.csv"))
    problems = one_line_error(status, stderr, 1,
                              [os.path.join(out, "recommend.csv"), "the previous results were restored"])
    if tree(out) != before:
        problems.append(f"OUT differs from before the run: {sorted(tree(out))}")
    report("no hard links: a rename failing part-way, the earlier results are back", problems)

    # The rollback fails too (putting the earlier sweep.csv back): the message names the file and where it is kept.
    case = new_case(tmp, "rollback_fails")
    out = earlier_results(case)
    before = tree(out)
    status, _, stderr, _ = run(case, args, env=dict(shim, QS_FAIL_RENAME="out/recommend.csv,out/sweep.csv@2"))
    sweep = os.path.join(out, "sweep.csv")
    problems = one_line_error(status, stderr, 1, [os.path.join(out, "recommend.csv"),
                                                  f"'{sweep}' could not be put back", "the previous file is kept as"])
    kept = re.search(r"kept as '([^']*)'", stderr)
    if not kept or not os.path.isfile(kept.group(1)):
        problems.append(f"the kept file is not named or not there: {stderr!r}")
    else:
        with open(kept.group(1)) as f:
            if f.read() != "earlier sweep\n":
                problems.append("the kept file is not the earlier sweep.csv")
        after = tree(out)
        staging = os.path.relpath(kept.group(1), out).split(os.sep)[0]
        others = {k: v for k, v in after.items() if k != "sweep.csv" and k.split(os.sep)[0] != staging}
        if others != {k: v for k, v in before.items() if k != "sweep.csv"}:
            problems.append(f"besides sweep.csv, OUT holds {sorted(others)}")
    report("the rollback failing for one file: named, the earlier file kept and the others restored", problems)


def test_other_file_system(tmp):
    """OUT/qparams a link to a folder on another file system, where rename cannot go (EXDEV): refused before the first
    rename (it used to fail after sweep.csv had been replaced)."""
    elsewhere = None
    for candidate in ("/dev/shm", os.environ.get("XDG_RUNTIME_DIR", "")):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK) and \
                os.stat(candidate).st_dev != os.stat(tmp).st_dev:
            elsewhere = tempfile.mkdtemp(prefix="qscope_cli_errors.", dir=candidate)
            break
    if not elsewhere:
        print("skip a result folder on another file system: no writable folder on another file system")
        return
    try:
        case = new_case(tmp, "other_fs")
        out = os.path.join(case, "out")
        os.makedirs(out)
        for rel, text in (("sweep.csv", "earlier sweep\n"), ("recommend.csv", "earlier recommend\n")):
            with open(os.path.join(out, rel), "w") as f:
                f.write(text)
        os.symlink(elsewhere, os.path.join(out, "qparams"))
        before = tree(out)
        status, _, stderr, _ = run(case, ["sweep", VALID, "--save-qparams", "--no-plots"])
        problems = one_line_error(status, stderr, 1, [f"'{os.path.join(out, 'qparams')}': on another file system",
                                                      "nothing was replaced"])
        if tree(out) != before:
            problems.append(f"OUT differs from before the run: {sorted(tree(out))}")
        if os.listdir(elsewhere):
            problems.append(f"left in the linked folder: {os.listdir(elsewhere)}")
        report("OUT/qparams a link to another file system: refused, nothing replaced", problems)
    finally:
        shutil.rmtree(elsewhere)


def staging_folders(out):
    """The names of the staging folders in out."""
    return sorted(e for e in os.listdir(out) if e.startswith(".qscope-")) if os.path.isdir(out) else []


def wait_for_staging(p, out, known=()):
    """Waits (up to 120 s) until the running qscope p has a staging folder in out that is not in known; returns the
    new folders' names, [] if p ended or the time ran out first."""
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:
        new = [e for e in staging_folders(out) if e not in known]
        if new:
            return new
        time.sleep(0.02)
    return []


def long_sweep(tmp):
    """The arguments of a sweep that runs for seconds (a 1024x4096 per-channel tensor, written once per test run)."""
    big = os.path.join(tmp, "long_sweep.npy")
    if not os.path.exists(big):
        import numpy as np
        np.save(big, np.random.default_rng(2385).standard_t(4, size=(1024, 4096)).astype(np.float32))
    return ["sweep", big, "-q", "--no-plots", "-g", "channel", "-b", "2-8", "--calib", "minmax,mse,entropy", "-m",
            "0.3:1.2:100", "-o", "out"]


def interrupt(case, args, sig):
    """Starts qscope, sends sig once its staging folder exists, waits; returns (status, stderr, problems)."""
    p = subprocess.Popen([QSCOPE] + args, cwd=case, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = wait_for_staging(p, os.path.join(case, "out"))
    problems = [] if started and p.poll() is None else ["the run ended before it could be interrupted"]
    time.sleep(0.3)  # into the sweep's work: files are being staged
    p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        problems.append("still running 120 s after the signal")
    return p.returncode, err, problems


def test_interrupted(tmp):
    """Ctrl-C (SIGINT) or kill (SIGTERM) during a sweep: the staging folder is removed, an OUT the run created too, an
    earlier run's results stay as they were; the process still ends by the signal, after one line saying so."""
    args = long_sweep(tmp)
    case = new_case(tmp, "interrupt_new_out")
    status, err, problems = interrupt(case, args, signal.SIGINT)
    if status != -signal.SIGINT:
        problems.append(f"status {status}, expected -SIGINT (ended by the signal)")
    if "interrupted (Interrupt); the results of this run were not written" not in err:
        problems.append(f"no line saying so: {err!r}")
    problems += [f"left behind: {sorted(os.listdir(case))}"] if os.listdir(case) else []
    report("SIGINT during a sweep: no staging folder left, OUT (created by the run) removed", problems)

    case = new_case(tmp, "interrupt_earlier")
    before = tree(earlier_results(case))
    status, err, problems = interrupt(case, args, signal.SIGTERM)
    if status != -signal.SIGTERM:
        problems.append(f"status {status}, expected -SIGTERM")
    after = tree(os.path.join(case, "out"))
    if after != before:
        problems.append(f"OUT changed: {sorted(set(after) ^ set(before)) or 'contents'}")
    report("SIGTERM during a sweep: the earlier results untouched, no staging folder left", problems)


def test_killed(tmp):
    """A run killed outright (SIGKILL: no clean-up) leaves its staging folder; the next run into the same OUT removes
    it with a note. It keeps a live run's folder (its lock is held), a folder holding a commit's backups (named in the
    note) and a folder without a lock file (an older qscope's)."""
    long_run = long_sweep(tmp)
    quick = ["sweep", VALID, "-q", "--no-plots", "-m", "1"]
    case = new_case(tmp, "killed")
    out = os.path.join(case, "out")
    status, _, problems = interrupt(case, long_run, signal.SIGKILL)
    left = staging_folders(out)
    if status != -signal.SIGKILL or len(left) != 1:
        problems.append(f"status {status}, staging folders {left}: expected one left by the killed run")
    status, _, err, _ = run(case, quick)
    if status != 0 or staging_folders(out) or \
            f"note: removed 1 staging folder that killed runs left in '{out}'" not in err:
        problems.append(f"next run: exit {status}, staging folders {staging_folders(out)}, stderr {err!r}")
    report("a staging folder left by SIGKILL is removed by the next run, with a note", problems)

    # a live run's folder, a killed commit's backups, an older qscope's folder: all kept
    old = os.path.join(out, ".qscope-0ld000")
    os.makedirs(old)
    with open(os.path.join(old, "sweep.csv"), "w") as f:
        f.write("a run of an older qscope\n")
    backups = os.path.join(out, ".qscope-bak000")
    os.makedirs(os.path.join(backups, ".old-abc123"))
    open(os.path.join(backups, ".qscope-lock"), "w").close()  # nobody holds it: its run is dead
    with open(os.path.join(backups, ".old-abc123", "sweep.csv"), "w") as f:
        f.write("the results a killed commit was replacing\n")
    others = [".qscope-0ld000", ".qscope-bak000"]
    p = subprocess.Popen([QSCOPE] + long_run, cwd=case, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    live = wait_for_staging(p, out, others)
    status, _, err, _ = run(case, quick)
    problems = [] if live else ["the live run's staging folder never appeared"]
    if status != 0 or staging_folders(out) != sorted(live + others):
        problems.append(f"exit {status}; staging folders {staging_folders(out)}, expected the live run's {live} and "
                        "both others")
    if f"'{backups}' was left by a run killed while it replaced results" not in err or "removed" in err:
        problems.append(f"the note does not name the backups (only): {err!r}")
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=120)
    report("the next run keeps a live run's staging folder, a killed commit's backups and an older qscope's folder",
           problems)


def main():
    if not QSCOPE or not os.access(QSCOPE, os.X_OK):
        print(f"QSCOPE is not set to an executable ({QSCOPE!r})")
        print("0 passed, 1 failed")
        return 1
    with tempfile.TemporaryDirectory(prefix="qscope_cli_errors.") as tmp:
        test_malformed(tmp)
        test_valid_then_malformed(tmp)
        test_nonfinite(tmp)
        test_escaped_names(tmp)
        test_usage(tmp)
        test_paths(tmp)
        test_rollback(tmp)
        test_other_file_system(tmp)
        test_interrupted(tmp)
        test_killed(tmp)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
