"""`qscope recommend` on hand-made sweep CSVs: the picks below are derived by hand in the comments."""
import csv
import os
import subprocess
import sys
import tempfile

from checks import check, summary

QSCOPE = os.environ["QSCOPE"]
COLS = ("tensor,shape,n,bits,signed,range,scheme,granularity,calib,multiplier,scale,zero_point,sse_clip,sse_round,"
        "sse,signal,rel,rel_clip,rel_round,sqnr_db,clip_frac,n_clipped,max_abs,worst_group_rel,eff_bits,profile,"
        "rounding,pow2").split(",")


def row(tensor, bits, gran, mult, rel, eff, calib="minmax", clip_share=0.0):
    """A sweep row; rel_clip = rel*sqrt(clip_share), rel_round the rest (so rel² = rel_clip² + rel_round²)."""
    rc = rel * clip_share ** 0.5
    rr = (rel * rel - rc * rc) ** 0.5
    import math
    sqnr = -20 * math.log10(rel)
    vals = dict(tensor=tensor, shape="8x4", n=32, bits=bits, signed=1, range="full", scheme="sym", granularity=gran,
                calib=calib, multiplier=mult, scale=0.1 * mult, zero_point=0, sse_clip=0, sse_round=0, sse=0,
                signal=1, rel=rel, rel_clip=rc, rel_round=rr, sqnr_db=sqnr, clip_frac=0, n_clipped=0, max_abs=0,
                worst_group_rel=rel, eff_bits=eff, profile="default", rounding="even", pow2=0)
    return [str(vals[c]) for c in COLS]


rows = [
    # A: 4-bit per-tensor curve (min 0.03 at m=0.9; within 5% = 0.0315: m 0.85..0.95), clip-dominated at the min
    row("A", 4, "tensor", 0.8, 0.05, 4.03), row("A", 4, "tensor", 0.85, 0.0312, 4.03),
    row("A", 4, "tensor", 0.9, 0.03, 4.03, clip_share=0.6), row("A", 4, "tensor", 0.95, 0.0314, 4.03),
    row("A", 4, "tensor", 1.0, 0.032, 4.03),
    # A: 4-bit per-channel meets 0.02 with 4.5 bits; 8-bit options meet it with more bits -> A picks 4/channel
    row("A", 4, "channel", 1.0, 0.015, 4.5), row("A", 4, "channel", 1.1, 0.016, 4.5),
    row("A", 8, "tensor", 1.0, 0.004, 8.03), row("A", 8, "channel", 1.0, 0.002, 8.5),
    # B: only 8-bit meets 0.02; per-tensor is cheaper -> B picks 8/tensor. Two calibrators: mse wins at 4/tensor.
    row("B", 4, "tensor", 1.0, 0.03, 4.03), row("B", 4, "tensor", 1.0, 0.028, 4.03, calib="mse"),
    row("B", 4, "channel", 1.0, 0.025, 4.5), row("B", 8, "tensor", 1.0, 0.01, 8.03),
    row("B", 8, "channel", 1.0, 0.005, 8.5),
    # C: equal effective bits, both meet: the coarser granularity (channel before group:64) wins
    row("C", 8, "group:64", 1.0, 0.001, 8.5), row("C", 8, "channel", 1.0, 0.003, 8.5),
    # D: nothing meets 0.02 -> the lowest rel (8/channel, 0.021) is recommended, marked meets_target 0
    row("D", 4, "tensor", 1.0, 0.2, 4.03), row("D", 8, "channel", 1.0, 0.021, 8.5),
]

tmp = tempfile.mkdtemp()
sweep = os.path.join(tmp, "sweep.csv")
with open(sweep, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(COLS)
    w.writerows(rows)


def run(*args):
    return subprocess.run([QSCOPE, "recommend", *args], capture_output=True, text=True)


r = run(sweep)
check(r.returncode == 0, "recommend exits 0")
out = list(csv.DictReader(open(os.path.join(tmp, "recommend.csv"))))
rec = {x["tensor"]: x for x in out if x["recommended"] == "1"}
check(len(out) == 4 + 4 + 2 + 2, "one row per configuration")
check(sorted(rec) == ["A", "B", "C", "D"], "one recommendation per tensor")
check((rec["A"]["bits"], rec["A"]["granularity"]) == ("4", "channel"), "A: 4-bit per-channel")
check((rec["B"]["bits"], rec["B"]["granularity"]) == ("8", "tensor"), "B: 8-bit per-tensor")
check(rec["C"]["granularity"] == "channel", "C: tie on bits goes to the coarser channel")
check(rec["D"]["granularity"] == "channel" and rec["D"]["meets_target"] == "0", "D: nothing meets: lowest rel, flagged")
a4t = [x for x in out if x["tensor"] == "A" and x["bits"] == "4" and x["granularity"] == "tensor"][0]
check(float(a4t["multiplier"]) == 0.9 and float(a4t["rel"]) == 0.03, "A 4/tensor best multiplier 0.9")
check((float(a4t["flat_lo"]), float(a4t["flat_hi"])) == (0.85, 0.95), "A 4/tensor flat interval 0.85..0.95")
check(a4t["dominant"] == "clip", "A 4/tensor clip-dominated")
check(a4t["meets_target"] == "0", "A 4/tensor misses the target")
b4t = [x for x in out if x["tensor"] == "B" and x["bits"] == "4" and x["granularity"] == "tensor"][0]
check(b4t["calib"] == "mse", "B 4/tensor: the better calibrator (mse)")
check("rel <= 0.02" in r.stdout, "summary names the target")

# SQNR target 45 dB: rel <= 10^(-45/20) = 0.00562 -> A: 8/tensor (0.004, 8.03 bits) beats 8/channel (0.002, 8.5 bits);
# B: only 8/channel (0.005) qualifies
r = run(sweep, "--target-sqnr", "45", "-o", os.path.join(tmp, "sq"))
check(r.returncode == 0, "sqnr target exits 0")
out = list(csv.DictReader(open(os.path.join(tmp, "sq", "recommend.csv"))))
rec = {x["tensor"]: x for x in out if x["recommended"] == "1"}
check((rec["A"]["bits"], rec["A"]["granularity"]) == ("8", "tensor"), "sqnr 45: A 8/tensor")
check((rec["B"]["bits"], rec["B"]["granularity"]) == ("8", "channel"), "sqnr 45: B 8/channel")

# broken inputs: exit 1, the file named, nothing written
bad = os.path.join(tmp, "bad")
os.makedirs(bad)
with open(os.path.join(bad, "sweep.csv"), "w") as f:
    f.write("tensor,bits\nA,4\n")
r = run(os.path.join(bad, "sweep.csv"))
check(r.returncode == 1 and "sweep.csv" in r.stderr and "'rel'" not in r.stdout, "missing column: exit 1")
check(os.listdir(bad) == ["sweep.csv"], "missing column: nothing written")
with open(os.path.join(bad, "sweep.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(COLS)
    broken = row("A", 4, "tensor", 1.0, 0.03, 4.03)
    broken[COLS.index("rel")] = "abc"
    w.writerow(broken)
r = run(os.path.join(bad, "sweep.csv"))
check(r.returncode == 1 and "line 2" in r.stderr and "'rel'" in r.stderr, "bad number: exit 1 naming line and column")
check(os.listdir(bad) == ["sweep.csv"], "bad number: nothing written")
# numbers no sweep writes (found by fuzzing: bits 1e10 was printed as -2147483648 and the target 'met'; bits 100
# reached a 99-bit shift in export): each one alone is rejected, naming the line, the column and the value
out_of_range = [("bits", "100"), ("bits", "1e10"), ("bits", "1"), ("bits", "4.5"), ("bits", "nan"), ("n", "-1"),
                ("n", "2.5"), ("signed", "2"), ("pow2", "-1"), ("multiplier", "inf"), ("scale", "-0.1"),
                ("zero_point", "-9.3e18"), ("zero_point", "inf"), ("rel", "nan"), ("rel", "-0.5"),
                ("rel_clip", "inf"), ("rel_round", "-1"), ("sqnr_db", "nan"), ("eff_bits", "-4"),
                ("worst_group_rel", "nan")]
for col, value in out_of_range:
    with open(os.path.join(bad, "sweep.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLS)
        w.writerow(row("A", 4, "tensor", 1.0, 0.03, 4.03))
        broken = row("A", 4, "tensor", 1.0, 0.03, 4.03)
        broken[COLS.index(col)] = value
        w.writerow(broken)
    r = run(os.path.join(bad, "sweep.csv"))
    check(r.returncode == 1 and "line 3" in r.stderr and f"'{col}'" in r.stderr and f"'{value}'" in r.stderr
          and os.listdir(bad) == ["sweep.csv"], f"{col} = {value}: exit 1 naming line, column and value")
# the extremes a sweep does write are read: sqnr inf (no error) and -inf (no signal), rel 0, zero_point -65536, and
# scale and zero_point NaN (a run-time setting has none)
with open(os.path.join(bad, "sweep.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(COLS)
    edge = row("A", 16, "tensor", 1.0, 0.03, 16.03)
    edge[COLS.index("sqnr_db")] = "inf"
    edge[COLS.index("rel")] = edge[COLS.index("rel_clip")] = edge[COLS.index("rel_round")] = "0"
    edge[COLS.index("zero_point")] = "-65536"
    w.writerow(edge)
    edge = row("B", 2, "tensor", 1.0, 0.03, 2.03)
    edge[COLS.index("sqnr_db")] = "-inf"
    edge[COLS.index("scale")] = edge[COLS.index("zero_point")] = "nan"
    w.writerow(edge)
r = run(os.path.join(bad, "sweep.csv"))
check(r.returncode == 0, "sweep.csv with the extreme values a sweep writes: exit 0")
check(run().returncode == 2 and run(sweep, "--target-rel", "-1").returncode == 2, "usage error: exit 2")

subprocess.run(["rm", "-rf", tmp])
sys.exit(summary())
