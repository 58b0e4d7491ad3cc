"""CLI test: the qscope binary itself under valgrind (memcheck). The unit tests run under valgrind in CI; this covers
what only the binary does: option parsing, the commands end to end, staging and commit (removing a staging folder a
killed run left), the signal thread, chart rendering in child processes, and an error exit. Every command must end
with the status it has without valgrind and with no memcheck error or leak (definite or possible).
Skipped (counted neither way) under AddressSanitizer, which cannot run inside valgrind.
Env: QSCOPE = the built binary, QS_SOURCE_ROOT = the source tree.
"""
import os
import shutil
import subprocess
import sys
import tempfile

from checks import check, summary

QSCOPE = os.environ.get("QSCOPE", "qscope")
ROOT = os.environ.get("QS_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
VALGRIND_ERROR = 99
VALGRIND = ["valgrind", f"--error-exitcode={VALGRIND_ERROR}", "--leak-check=full",
            "--errors-for-leak-kinds=definite,possible", "--quiet"]


def main():
    if "ASAN_OPTIONS" in os.environ:
        print("skip the valgrind runs: an AddressSanitizer build cannot run inside valgrind")
        return summary()
    if not shutil.which("valgrind"):
        check(False, "valgrind is installed (scripts/install-deps.sh installs it)")
        return summary()
    tmp = tempfile.mkdtemp(prefix="qscope-valgrind-")
    out = os.path.join(tmp, "out")
    sim = os.path.join(FIX, "sim")
    runs = [
        ("--version", ["--version"], 0),
        ("sweep, every calibrator, tensor and channel, qparams, charts",
         ["sweep", os.path.join(FIX, "c_f8_r3.npy"), os.path.join(FIX, "fortran_f4be_r2.npy"), "-g", "tensor,channel", "-b",
          "4,8", "--calib", "minmax,mse,entropy,percentile:99,aciq:laplace,aciq:gauss", "-m", "0.8:1:3",
          "--save-qparams", "-o", out], 0),
        ("recommend from the sweep's CSV", ["recommend", os.path.join(out, "sweep.csv"), "--target-sqnr", "30", "-o",
                                            os.path.join(tmp, "rec")], 0),
        ("export to every format", ["export", out, "--to", "all", "-o", os.path.join(tmp, "export")], 0),
        ("inspect", ["inspect", os.path.join(FIX, "c_f8_r3.npy"), os.path.join(FIX, "fortran_f4be_r2.npy")], 0),
        ("simulate a conv2d layer, static activations",
         ["simulate", "--op", "conv2d", "--weight", os.path.join(sim, "conv_basic.w.npy"), "--input",
          os.path.join(sim, "conv_basic.x.npy"), "-b", "4,8", "--act", "static", "-o", os.path.join(tmp, "sim")], 0),
        ("a truncated file: exit 1", ["sweep", os.path.join(FIX, "bad_truncated.npy"), "-o",
                                       os.path.join(tmp, "bad")], 1),
    ]
    stale = os.path.join(out, ".qscope-stale0", "qparams")  # a killed run's staging folder: the sweep removes it
    os.makedirs(stale)
    for name in (os.path.join(stale, "w.npy"), os.path.join(out, ".qscope-stale0", ".qscope-lock")):
        open(name, "w").close()
    try:
        for what, args, want in runs:
            r = subprocess.run(VALGRIND + [QSCOPE] + args, capture_output=True, text=True, errors="replace",
                               timeout=600)
            check(r.returncode == want, f"under valgrind: {what}: exit {want}, no memcheck error",
                  f"exit {r.returncode}: {r.stderr[-3000:]}")
        check(not os.path.exists(os.path.dirname(stale)), "the sweep removed a killed run's staging folder")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
