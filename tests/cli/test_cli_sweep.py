"""CLI test of `qscope sweep`: every numeric CSV column against an independent numpy oracle written from SPEC §1-4.

The oracle below never looks at the program's output: it re-derives qparams (default and torch.ao MinMaxObserver
conventions), quantizes in float64 and sums the error terms itself. Sums taken in a different order differ in the
last bits, hence the 1e-12 relative tolerance; integer columns are compared exactly.
Env: QSCOPE = the built binary. Prints one line per check and `N passed, M failed`; exit 0 iff all passed.
"""
import csv
import fnmatch
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from checks import check, summary

QSCOPE = os.environ.get("QSCOPE", "qscope")
REL = 1e-12
ABS = 1e-300
F32_EPS = np.float32(1.1920929e-07)

HEADER27 = ("tensor,shape,n,bits,signed,range,scheme,granularity,calib,multiplier,scale,zero_point,sse_clip,"
            "sse_round,sse,signal,rel,rel_clip,rel_round,sqnr_db,clip_frac,n_clipped,max_abs,worst_group_rel,"
            "eff_bits,profile,rounding").split(",")
HEADER_TAIL = "pow2,seed,ngroups,dead_groups,nonfinite,qparams".split(",")

MAX_DETAIL = 25          # failing comparisons printed individually per check, the rest are counted


# ----------------------------------------------------------------------------------------------- oracle
def qrange(bits, signed, narrow):
    if signed:
        qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        qmin, qmax = 0, (1 << bits) - 1
    if narrow:
        qmin += 1
    return qmin, qmax


def parse_gran(spec, ndim):
    """-> (kind, G, axis) with axis resolved for a tensor of rank ndim, or None when the tensor lacks the axis."""
    parts = spec.split(":")
    kind = parts[0]
    if kind == "tensor":
        return ("tensor", 0, 0)
    if kind == "channel":
        axis = int(parts[1]) if len(parts) > 1 else 0
        G = 0
    elif kind == "group":
        G = int(parts[1])
        axis = int(parts[2]) if len(parts) > 2 else -1
    else:
        raise ValueError(spec)
    if ndim == 0:
        return None
    if axis < 0:
        axis += ndim
    if not 0 <= axis < ndim:
        return None
    return (kind, G, axis)


def group_ids(shape, gran):
    """Group index of every element (array of `shape`) and the number of groups.

    Group order: channel -> index along the axis; group:G -> fibres in C order of the remaining axes, then the
    blocks along the axis inside each fibre."""
    kind, G, axis = gran
    n = int(np.prod(shape, dtype=np.int64))
    if kind == "tensor":
        return np.zeros(shape, dtype=np.int64), 1
    L = shape[axis]
    idx = np.indices(shape)
    if kind == "channel":
        return idx[axis].astype(np.int64), L
    nb = -(-L // G)
    nfib = n // L
    # fibre number: C-order rank of the other coordinates
    other = [a for a in range(len(shape)) if a != axis]
    fib = np.zeros(shape, dtype=np.int64)
    for a in other:
        fib = fib * shape[a] + idx[a]
    gid = fib * nb + idx[axis] // G
    return gid.astype(np.int64), nfib * nb


def pow2_scale(s):
    """2^ceil(log2 s) exactly; exact powers of two unchanged."""
    s = np.asarray(s, dtype=np.float64)
    m, e = np.frexp(s)              # s = m * 2^e, m in [0.5, 1)
    return np.where(m == 0.5, s, np.ldexp(1.0, e))


def qparams(lo, hi, m, cfg):
    """Per-group (scale float64, zero_point int64, dead bool) for clip range m*[lo, hi]."""
    bits, signed, narrow, asym, pow2, profile = (cfg["bits"], cfg["signed"], cfg["narrow"], cfg["asym"],
                                                 cfg["pow2"], cfg["profile"])
    qmin, qmax = qrange(bits, signed, narrow)
    lo = m * lo
    hi = m * hi
    ng = lo.shape[0]
    if profile == "default":
        if not asym:
            T = np.maximum(np.abs(lo), np.abs(hi))
            dead = T == 0
            s = np.where(dead, 1.0, T / float((1 << (bits - 1)) - 1))
            if pow2:
                s = pow2_scale(s)
            z = np.full(ng, 0 if signed else (1 << (bits - 1)), dtype=np.int64)
            z[dead] = max(qmin, 0)  # a dead group's zero-point must be an integer of the range
            s = np.where(dead, 1.0, s)
        else:
            lo0 = np.minimum(lo, 0.0)
            hi0 = np.maximum(hi, 0.0)
            dead = (hi0 - lo0) == 0
            with np.errstate(divide="ignore", invalid="ignore"):
                s = (hi0 - lo0) / float(qmax - qmin)
            s = np.where(dead, 1.0, s)
            if pow2:
                s = pow2_scale(s)
            z = np.clip(np.rint(qmin - lo0 / s), qmin, qmax).astype(np.int64)
            z[dead] = max(qmin, 0)  # a dead group's zero-point must be an integer of the range
            s = np.where(dead, 1.0, s)
        return s.astype(np.float64), z, dead
    # torch.ao MinMaxObserver, float32 arithmetic
    min_neg = np.minimum(lo.astype(np.float32), np.float32(0))
    max_pos = np.maximum(hi.astype(np.float32), np.float32(0))
    if not asym:
        T = np.maximum(-min_neg, max_pos)
        dead = T == 0
        s = np.maximum(T.astype(np.float32) / np.float32((qmax - qmin) / 2), F32_EPS).astype(np.float32)
        if pow2:
            s = pow2_scale(s.astype(np.float64))
        z = np.full(ng, 0 if signed else (1 << (bits - 1)), dtype=np.int64)
    else:
        dead = (max_pos - min_neg) == 0
        s = np.maximum((max_pos - min_neg).astype(np.float32) / np.float32(qmax - qmin), F32_EPS).astype(np.float32)
        if pow2:
            s = pow2_scale(s.astype(np.float64)).astype(np.float32)
        zq = np.rint((min_neg / s).astype(np.float32)).astype(np.float64)
        z = np.clip(qmin - zq, qmin, qmax).astype(np.int64)
    return np.asarray(s, dtype=np.float64), z, dead


def rnd(u, mode):
    if mode == "even":
        return np.rint(u)
    return np.sign(u) * np.floor(np.abs(u) + 0.5)


def oracle_row(x, gid, ng, lo, hi, m, cfg):
    bits = cfg["bits"]
    qmin, qmax = qrange(bits, cfg["signed"], cfg["narrow"])
    s_g, z_g, dead = qparams(lo, hi, m, cfg)
    s = s_g[gid]
    z = z_g[gid].astype(np.float64)
    v = rnd(x / s, cfg["rounding"]) + z
    q = np.clip(v, qmin, qmax)
    xhat = (q - z) * s
    clipped = (v < qmin) | (v > qmax)
    e2 = (x - xhat) ** 2
    n = x.size
    signal = float(np.sum(x * x))
    sse_clip = float(np.sum(e2[clipped]))
    sse_round = float(np.sum(e2[~clipped]))
    sse = sse_clip + sse_round
    sig_g = np.bincount(gid, weights=x * x, minlength=ng)
    sse_g = np.bincount(gid, weights=e2, minlength=ng)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_g = np.where(sig_g > 0, np.sqrt(sse_g / np.where(sig_g > 0, sig_g, 1.0)), 0.0)

    def relof(a):
        return math.sqrt(a / signal) if signal > 0 else 0.0

    ncl = int(np.count_nonzero(clipped))
    S = 16 if cfg["gran"][0] == "group" else 32
    live = ~dead
    med_s = float(np.median(s_g[live])) if live.any() else float(np.median(s_g))
    med_z = float(np.median(z_g[live])) if live.any() else float(np.median(z_g))
    return {
        "n": n, "ngroups": ng, "dead_groups": int(np.count_nonzero(dead)), "n_clipped": ncl,
        "signal": signal, "sse_clip": sse_clip, "sse_round": sse_round, "sse": sse,
        "rel": relof(sse), "rel_clip": relof(sse_clip), "rel_round": relof(sse_round),
        # sse > 0 with signal 0 cannot happen for dead groups (their z represents 0); kept general here
        "sqnr_db": math.inf if sse == 0 else (-math.inf if signal == 0 else 10.0 * math.log10(signal / sse)),
        "clip_frac": ncl / n, "max_abs": float(np.max(np.abs(x - xhat))),
        "worst_group_rel": float(np.max(rel_g)),
        "eff_bits": bits + ng * (S + (bits if cfg["asym"] else 0)) / n,
        "scale": med_s, "zero_point": med_z,
        "_s_g": s_g, "_z_g": z_g,
    }


# ----------------------------------------------------------------------------------------------- helpers
def close(a, b, rel=REL, abs_=ABS):
    if math.isinf(b) or math.isinf(a):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


def fnum(text):
    return float(text)     # float() accepts 'inf'


def run(args, cwd=None):
    return subprocess.run([QSCOPE] + args, cwd=cwd, capture_output=True, text=True)


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]], rows


def shape_str(shape):
    return "x".join(str(d) for d in shape) if shape else "scalar"


def make_tensors(tmp):
    rng = np.random.default_rng(20240611)
    t = {}
    w = rng.standard_t(4, size=(6, 5, 3)) * 0.05
    w[:, 1, :] *= 9.0                      # two outlier channels along axis 1
    w[:, 3, :] *= -6.5
    w[2, 4, 1] = 2.385                     # one lone outlier
    t["wt"] = w.astype(np.float32)
    t["m47"] = rng.normal(0.3, 1.7, size=(4, 7))                       # float64, shifted (asym matters)
    t["v1"] = (rng.uniform(-0.8, 2.9, size=17)).astype(np.float32)     # 1-D
    d = rng.laplace(0.0, 0.4, size=(4, 6))
    d[2, :] = 0.0                          # dead output channel
    d[0, 4:] = 0.0                         # dead group:4 block of row 0 (elements 4..5)
    t["dead"] = d
    paths = {}
    for name, arr in t.items():
        p = os.path.join(tmp, name + ".npy")
        np.save(p, arr)
        paths[name] = p
    return t, paths


def configs(bits, grans, schemes, ranges, signs, pow2s, roundings, profiles):
    out = []
    for b in bits:
        for g in grans:
            for sc in schemes:
                for rg in ranges:
                    for sg in signs:
                        for p2 in pow2s:
                            for rd in roundings:
                                for pf in profiles:
                                    out.append(dict(bits=b, granspec=g, asym=(sc == "asym"), narrow=(rg == "narrow"),
                                                    signed=sg, pow2=p2, rounding=rd, profile=pf))
    return out


def verify_sweep(label, outdir, tensors, cfgs, mults, check_qparams, rounding_exact=True):
    """Compare every row of outdir/sweep.csv with the oracle. Returns the parsed rows."""
    header, rows, _ = read_csv(os.path.join(outdir, "sweep.csv"))
    check(header[:27] == HEADER27, f"{label}: first 27 header columns", f"got {header[:27]}")
    check(header[27:33] == HEADER_TAIL, f"{label}: trailing header columns", f"got {header[27:]}")

    # index rows by their configuration key
    index = {}
    dup = 0
    for r in rows:
        key = (r["tensor"], int(r["bits"]), r["signed"], r["range"], r["scheme"], r["granularity"], r["calib"],
               r["profile"], r["rounding"], r["pow2"])
        index.setdefault(key, []).append(r)

    expected_rows = 0
    bad = {}            # column -> list of messages
    missing = []
    nrows_checked = 0
    qp_cache = {}
    stems = {}
    for name, x_arr in tensors.items():
        x64 = np.asarray(x_arr, dtype=np.float64)
        xf = x64.reshape(-1)
        for cfg in cfgs:
            gran = parse_gran(cfg["granspec"], x64.ndim)
            if gran is None:
                continue
            cfg = dict(cfg, gran=gran)
            gid, ng = group_ids(x64.shape, gran)
            gid = gid.reshape(-1)
            lo = np.full(ng, np.inf)
            hi = np.full(ng, -np.inf)
            np.minimum.at(lo, gid, xf)
            np.maximum.at(hi, gid, xf)
            key = (name, cfg["bits"], "1" if cfg["signed"] else "0", "narrow" if cfg["narrow"] else "full",
                   "asym" if cfg["asym"] else "sym", cfg["granspec"], "minmax", cfg["profile"], cfg["rounding"],
                   "1" if cfg["pow2"] else "0")
            got_rows = index.pop(key, [])
            expected_rows += len(mults)
            if len(got_rows) != len(mults):
                missing.append(f"{key}: {len(got_rows)} rows, expected {len(mults)}")
            for mi, m in enumerate(mults):
                match = [r for r in got_rows if close(fnum(r["multiplier"]), m)]
                if len(match) != 1:
                    missing.append(f"{key} multiplier {m!r}: {len(match)} matching rows")
                    continue
                r = match[0]
                nrows_checked += 1
                # The multiplier column is checked against the requested value (list or np.linspace) to 1e-12;
                # the oracle then runs with the exact double the program printed (17 significant digits round-trip),
                # because START:STOP:COUNT may legitimately differ from np.linspace in the last bit and a pow2 scale
                # at a knife edge (s exactly 2^k in real arithmetic) flips on that bit.
                exp = oracle_row(xf, gid, ng, lo, hi, fnum(r["multiplier"]), cfg)
                where = (f"row tensor={name} bits={cfg['bits']} signed={int(cfg['signed'])} "
                         f"range={'narrow' if cfg['narrow'] else 'full'} scheme={'asym' if cfg['asym'] else 'sym'} "
                         f"gran={cfg['granspec']} profile={cfg['profile']} rounding={cfg['rounding']} "
                         f"pow2={int(cfg['pow2'])} m={m}")

                def cmp(col, ok, e, g):
                    if not ok:
                        bad.setdefault(col, []).append(f"{where}: {col} expected {e!r} got {g!r}")

                if r["shape"] != shape_str(x64.shape):
                    cmp("shape", False, shape_str(x64.shape), r["shape"])
                for col in ("n", "ngroups", "dead_groups") + (("n_clipped",) if rounding_exact else ()):
                    cmp(col, r[col].strip() == str(exp[col]), exp[col], r[col])
                cmp("nonfinite", r["nonfinite"] == "0", "0", r["nonfinite"])
                cmp("multiplier", close(fnum(r["multiplier"]), m), m, r["multiplier"])
                cols = ["signal", "eff_bits", "scale", "zero_point"]
                if rounding_exact:
                    cols += ["sse_clip", "sse_round", "sse", "rel", "rel_clip", "rel_round", "clip_frac", "max_abs",
                             "worst_group_rel"]
                for col in cols:
                    g = fnum(r[col])
                    cmp(col, close(g, exp[col]), exp[col], r[col])
                if rounding_exact:
                    # sqnr: 10 log10 of a ratio whose last bits depend on summation order -> absolute slack too
                    e, g = exp["sqnr_db"], fnum(r["sqnr_db"])
                    if math.isinf(e):
                        cmp("sqnr_db", r["sqnr_db"] == ("inf" if e > 0 else "-inf"), e, r["sqnr_db"])
                    else:
                        cmp("sqnr_db", close(g, e, abs_=1e-11), e, r["sqnr_db"])
                if check_qparams:
                    stem = r["qparams"]
                    expect_prefix = f"qparams/{name}/"
                    if not stem.startswith(expect_prefix):
                        cmp("qparams", False, expect_prefix + "<config>", stem)
                        continue
                    stems.setdefault((name, stem), set()).add(key)
                    if stem not in qp_cache:
                        sp = os.path.join(outdir, stem + ".scale.npy")
                        zp = os.path.join(outdir, stem + ".zero_point.npy")
                        try:
                            qp_cache[stem] = (np.load(sp), np.load(zp))
                        except OSError as ex:
                            qp_cache[stem] = None
                            cmp("qparams", False, "readable .scale.npy/.zero_point.npy", str(ex))
                    if qp_cache[stem] is None:
                        continue
                    S, Z = qp_cache[stem]
                    if S.dtype != np.float64 or Z.dtype != np.int64:
                        cmp("qparams-dtype", False, "float64/int64", f"{S.dtype}/{Z.dtype}")
                        continue
                    if S.shape != (len(mults), ng) or Z.shape != (len(mults), ng):
                        cmp("qparams-shape", False, (len(mults), ng), f"{S.shape}/{Z.shape}")
                        continue
                    es, ez = exp["_s_g"], exp["_z_g"]
                    okS = all(close(float(a), float(b)) for a, b in zip(S[mi], es))
                    okZ = bool(np.array_equal(Z[mi], ez))
                    cmp("qparams-scale", okS, es.tolist(), S[mi].tolist())
                    cmp("qparams-zero_point", okZ, ez.tolist(), Z[mi].tolist())
                    cmp("qparams-row", r.get("qparams_row") == str(mi), mi, r.get("qparams_row"))
                    # CSV scale/zero_point = median over live groups of the saved arrays
                    dead_n = int(r["dead_groups"])
                    cmp("qparams-dead-count", dead_n == exp["dead_groups"], exp["dead_groups"], dead_n)

    check(not missing, f"{label}: every expected (tensor, config, multiplier) row present once",
          "; ".join(missing[:10]) + (f" ... ({len(missing)} total)" if len(missing) > 10 else ""))
    extra = sum(len(v) for v in index.values())
    check(extra == 0, f"{label}: no unexpected rows", f"{extra} rows, e.g. {list(index)[:3]}")
    check(len(rows) == expected_rows, f"{label}: row count = tensors x configs x multipliers = {expected_rows}",
          f"got {len(rows)}")
    if check_qparams:
        clash = [k for k, v in stems.items() if len(v) != 1]
        check(not clash, f"{label}: one qparams stem per (tensor, configuration)", f"{clash[:3]}")
    for col in ("shape", "n", "ngroups", "dead_groups", "n_clipped", "nonfinite", "multiplier", "signal",
                "eff_bits", "scale", "zero_point", "sse_clip", "sse_round", "sse", "rel", "rel_clip", "rel_round",
                "clip_frac", "max_abs", "worst_group_rel", "sqnr_db", "qparams", "qparams-dtype", "qparams-shape",
                "qparams-scale", "qparams-zero_point", "qparams-row", "qparams-dead-count"):
        if col.startswith("qparams") and not check_qparams:
            continue
        if col in ("n_clipped", "sse_clip", "sse_round", "sse", "rel", "rel_clip", "rel_round", "clip_frac",
                   "max_abs", "worst_group_rel", "sqnr_db") and not rounding_exact:
            continue
        msgs = bad.get(col, [])
        check(not msgs, f"{label}: column {col} matches the oracle in all {nrows_checked} rows",
              f"{len(msgs)} mismatches\n    " + "\n    ".join(msgs[:MAX_DETAIL]))
    return rows


# ----------------------------------------------------------------------------------------------- tests
def main():
    tmp = tempfile.mkdtemp(prefix="qscope-sweep-test-")
    try:
        tensors, paths = make_tensors(tmp)
        files = [paths[k] for k in tensors]

        # --- A: bit widths x granularities x scheme x range x signedness, save qparams --------------------
        mults_a = [0.37, 0.8, 1.0, 1.3]
        grans_a = ["tensor", "channel", "channel:1", "channel:-1", "group:4", "group:3:0"]
        out_a = os.path.join(tmp, "outA")
        p = run(["sweep"] + files + ["-o", out_a, "-q", "-b", "2,3,4,8,16", "-g", ",".join(grans_a),
                                     "-s", "sym,asym", "-r", "full,narrow", "--signed", "--unsigned",
                                     "-m", "0.37,0.8,1,1.3", "--save-qparams"])
        if check(p.returncode == 0, "A: sweep exits 0", f"rc={p.returncode} stderr={p.stderr.strip()}"):
            check("v1" in p.stderr and "channel:1" in p.stderr,
                  "A: note on stderr for the granularity the 1-D tensor lacks (channel:1 on v1)",
                  repr(p.stderr))
            cfgs = configs([2, 3, 4, 8, 16], grans_a, ["sym", "asym"], ["full", "narrow"], [True, False],
                           [False], ["even"], ["default"])
            verify_sweep("A", out_a, tensors, cfgs, mults_a, check_qparams=True)

        # --- B: profiles x pow2 x rounding, START:STOP:COUNT multipliers, a tie-heavy tensor -------------------
        # 'ties': b=4 default sym, T=1.75 -> s = 0.25 exactly; values are odd multiples of 0.125 -> x/s exact .5 ties
        # and at m=0.5 (s = 0.125) x=-1.0625 gives x/s = -8.5: half-even -> -8 (kept), half-away -> -9 (clipped)
        ties = np.array([[1.75, -1.0625, -0.375, 0.625, -0.875, 1.125, -1.375, 1.625],
                         [-1.75, -1.0625, 0.375, -0.625, 0.875, -1.125, 1.375, -1.625]], dtype=np.float32)
        np.save(os.path.join(tmp, "ties.npy"), ties)
        zeros = np.zeros((3, 4), dtype=np.float64)
        np.save(os.path.join(tmp, "zeros.npy"), zeros)
        tens_b = dict(tensors, ties=ties, zeros=zeros)
        files_b = files + [os.path.join(tmp, "ties.npy"), os.path.join(tmp, "zeros.npy")]
        out_b = os.path.join(tmp, "outB")
        p = run(["sweep"] + files_b + ["-o", out_b, "-q", "-b", "4,8", "-g", "tensor,channel,group:4",
                                       "-s", "sym,asym", "-r", "full,narrow", "--signed", "--unsigned",
                                       "--pow2=both", "--rounding", "even,away", "--profile", "default,torch",
                                       "-m", "0.5:1.5:11", "--save-qparams"])
        mults_b = [float(v) for v in np.linspace(0.5, 1.5, 11)]
        if check(p.returncode == 0, "B: sweep exits 0", f"rc={p.returncode} stderr={p.stderr.strip()}"):
            cfgs = configs([4, 8], ["tensor", "channel", "group:4"], ["sym", "asym"], ["full", "narrow"],
                           [True, False], [False, True], ["even", "away"], ["default", "torch"])
            rows = verify_sweep("B", out_b, tens_b, cfgs, mults_b, check_qparams=True)
            # multiplier column equals np.linspace(0.5, 1.5, 11), in order, for one configuration
            sel = [fnum(r["multiplier"]) for r in rows if r["tensor"] == "m47" and r["bits"] == "4"
                   and r["granularity"] == "tensor" and r["scheme"] == "sym" and r["range"] == "full"
                   and r["signed"] == "1" and r["pow2"] == "0" and r["rounding"] == "even"
                   and r["profile"] == "default"]
            check(len(sel) == 11 and all(close(a, b) for a, b in zip(sel, mults_b)),
                  "B: multiplier column = np.linspace(0.5, 1.5, 11)", f"got {sel}")
            # the tie tensor really separates the two rounding modes (so the oracle comparison means something)
            def pick(rd):
                return [(r["n_clipped"], r["sse_clip"], r["sse_round"]) for r in rows if r["tensor"] == "ties" and r["bits"] == "4"
                        and r["granularity"] == "tensor" and r["scheme"] == "sym" and r["signed"] == "1"
                        and r["range"] == "full" and r["pow2"] == "0" and r["profile"] == "default"
                        and r["rounding"] == rd and fnum(r["multiplier"]) == 0.5]
            check(pick("even") != pick("away"), "B: half-even and half-away split a -8.5 tie differently (clipped or not)",
                  f"even={pick('even')} away={pick('away')}")
            zr = [r for r in rows if r["tensor"] == "zeros"]
            check(zr and all(fnum(r["rel"]) == 0 and (r["sqnr_db"] == "inf") == (fnum(r["sse"]) == 0) for r in zr),
                  "B: all-zero tensor -> rel 0, sqnr_db inf exactly when sse is 0")

        # --- E: '--pow2' alone and '--pow2=on' mean power-of-two scales only ---------------------------------
        for tag, flag in (("E1", "--pow2"), ("E2", "--pow2=on")):
            o = os.path.join(tmp, "out" + tag)
            p = run(["sweep"] + files + ["-o", o, "-q", "-b", "3,16", "-g", "channel:-1,group:3:0", "-s", "sym,asym",
                                         flag, "--profile", "default,torch", "--rounding", "away",
                                         "-m", "0.9,1.05", "--save-qparams"])
            if check(p.returncode == 0, f"{tag}: sweep {flag} exits 0", p.stderr.strip()):
                cfgs = configs([3, 16], ["channel:-1", "group:3:0"], ["sym", "asym"], ["full"], [True], [True],
                               ["away"], ["default", "torch"])
                verify_sweep(f"{tag} ({flag})", o, tensors, cfgs, [0.9, 1.05], check_qparams=True)

        # --- C: --tensor GLOB ------------------------------------------------------------------------
        out_c = os.path.join(tmp, "outC")
        p = run(["sweep"] + files + ["-o", out_c, "-q", "-b", "4", "-g", "tensor", "-m", "1", "--tensor", "*t"])
        if check(p.returncode == 0, "C: sweep --tensor '*t' exits 0", p.stderr.strip()):
            _, rows, _ = read_csv(os.path.join(out_c, "sweep.csv"))
            want = sorted(n for n in tensors if fnmatch.fnmatchcase(n, "*t"))
            check(sorted(r["tensor"] for r in rows) == want, f"C: --tensor '*t' selects {want}",
                  f"got {[r['tensor'] for r in rows]}")
        out_c2 = os.path.join(tmp, "outC2")
        p = run(["sweep"] + files + ["-o", out_c2, "-q", "-b", "4", "-g", "tensor", "-m", "1",
                                     "-t", "m4?", "-t", "v*"])
        if check(p.returncode == 0, "C: sweep -t 'm4?' -t 'v*' exits 0", p.stderr.strip()):
            _, rows, _ = read_csv(os.path.join(out_c2, "sweep.csv"))
            check(sorted(r["tensor"] for r in rows) == ["m47", "v1"], "C: repeated -t selects m47 and v1",
                  f"got {[r['tensor'] for r in rows]}")

        # --- D: stochastic rounding: reproducible per seed, different across seeds -----------------------
        def stoch(seed, tag):
            o = os.path.join(tmp, "outD" + tag)
            pr = run(["sweep", paths["wt"], paths["m47"], "-o", o, "-q", "-b", "3,8", "-g", "tensor,channel",
                      "-s", "sym,asym", "--rounding", "stochastic", "--seed", str(seed), "-m", "0.6,1"])
            if pr.returncode != 0:
                return None, pr
            with open(os.path.join(o, "sweep.csv"), "rb") as f:
                return f.read(), pr

        a1, pa = stoch(7, "a")
        a2, _ = stoch(7, "b")
        b1, _ = stoch(8, "c")
        if check(a1 is not None and a2 is not None and b1 is not None, "D: stochastic sweeps exit 0",
                 pa.stderr.strip()):
            check(a1 == a2, "D: same --seed -> byte-identical sweep.csv")
            ra = list(csv.DictReader(a1.decode().splitlines()))
            rb = list(csv.DictReader(b1.decode().splitlines()))
            diff = sum(1 for x, y in zip(ra, rb) if x["sse_round"] != y["sse_round"])
            check(len(ra) == len(rb) and diff > 0, "D: different --seed -> different sse_round",
                  f"{diff} of {len(ra)} rows differ")
            cfgs = configs([3, 8], ["tensor", "channel"], ["sym", "asym"], ["full"], [True], [False],
                           ["stochastic"], ["default"])
            # rounding-independent columns (n, groups, qparams, signal, eff_bits) still follow the oracle
            verify_sweep("D", os.path.join(tmp, "outDa"), {"wt": tensors["wt"], "m47": tensors["m47"]}, cfgs,
                         [0.6, 1.0], check_qparams=False, rounding_exact=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    return summary()


if __name__ == "__main__":
    sys.exit(main())
