#!/usr/bin/python3
"""Feasibility study for an exact mse calibration that does not sort every value (issue 3's open speed target).

Usage: scripts/study_mse_bounds.py [--n 16777216] [--bits 8] [--key-bits 16 20]

The mse calibrator evaluates sse(a) exactly on a grid of clip factors a, then refines between the best grid point's
neighbours. This script asks how much of that needs the values themselves. It buckets the float32 values by the top
K bits of their order key (sign, exponent, K - 9 mantissa bits) and keeps per bucket only the count, Σx and Σx².
For a scale s, a bucket that no rounding boundary cuts contributes exactly Σ(x - q)²; a bucket cut by one boundary
m between levels q1 < q2 = q1 + s contributes Σ(x - q1)² - 2 s P with P = Σ_{x >= m} (x - m), and P is bounded by
max(0, Σ(x - m)) from below and by the chord of (x - m)+ over the bucket's value range from above. That gives a
rigorous [lower, upper] for sse(a) at every grid point from one counting pass. Grid points whose lower bound is
above the smallest upper bound cannot be the optimum; the clip factors whose lower bound is not (the "window") are
where exact values are needed, and only the buckets some boundary cuts for a scale in the window would have to be
gathered and sorted. Printed: the bound gap at the optimum, the window, and the share of values in those buckets.
The bounds are checked against exact numpy evaluations (float64) at a few clip factors. Data as in
scripts/bench_sweep.py (seeded Student-t(4), per-tensor symmetric, signed full range, round half to even).
"""
import argparse

import numpy as np


def order_keys(x):
    u = x.view(np.uint32)
    return np.where(u >> 31, ~u, u | np.uint32(1 << 31))


def key_values(k):
    """The float32 values of order keys k (inverse of order_keys)."""
    k = k.astype(np.uint32)
    u = np.where(k >> 31, k & np.uint32(0x7FFFFFFF), ~k)
    return u.view(np.float32).astype(np.float64)


class Buckets:
    def __init__(self, x, key_bits):
        b = (order_keys(x) >> np.uint32(32 - key_bits)).astype(np.int64)
        xd = x.astype(np.float64)
        nb = 1 << key_bits
        used = np.bincount(b, minlength=nb) > 0
        ids = np.nonzero(used)[0]
        self.n = np.bincount(b, minlength=nb)[ids].astype(np.float64)
        self.s1 = np.bincount(b, weights=xd, minlength=nb)[ids]
        self.s2 = np.bincount(b, weights=xd * xd, minlength=nb)[ids]
        # the value range of each bucket's keys (what one counting pass knows without tracking min and max)
        shift = 32 - key_bits
        self.lo = key_values(ids << shift)
        self.hi = key_values((ids << shift) | ((1 << shift) - 1))

    def levels(self, s, qmin, qmax):
        return np.clip(np.rint(self.lo / s), qmin, qmax), np.clip(np.rint(self.hi / s), qmin, qmax)

    def bounds(self, s, qmin, qmax):
        """Rigorous lower and upper bounds of sse at scale s (up to float64 rounding of the sums)."""
        l0, l1 = self.levels(s, qmin, qmax)
        q = l0 * s
        exact = self.s2 - 2 * q * self.s1 + self.n * q * q  # every value of the bucket at level l0
        one = l1 - l0 == 1
        multi = l1 - l0 > 1
        m = (l0 + 0.5) * s
        t = self.s1 - self.n * m
        width = np.where(self.hi > self.lo, self.hi - self.lo, 1.0)
        chord = (self.s1 - self.n * self.lo) * (self.hi - m) / width
        p_hi = np.minimum(np.minimum(self.n * (self.hi - m), t + self.n * (m - self.lo)), chord)
        p_lo = np.maximum(0.0, t)
        lower = np.where(one, exact - 2 * s * p_hi, exact)
        upper = np.where(one, exact - 2 * s * p_lo, exact)
        # a bucket wider than a step (rare: very small scales): 0 <= error <= worst case over its range
        far = np.maximum(np.abs(self.lo), np.abs(self.hi))
        worst = np.maximum((s / 2) ** 2, np.maximum(far - qmax * s, 0.0) ** 2)
        lower = np.where(multi, 0.0, lower)
        upper = np.where(multi, self.n * worst, upper)
        return lower.sum(), upper.sum()

    def cut(self, s, qmin, qmax):
        l0, l1 = self.levels(s, qmin, qmax)
        return l0 != l1


def exact_sse(xd, s, qmin, qmax):
    d = xd - np.clip(np.rint(xd / s), qmin, qmax) * s
    return float(d @ d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1 << 24)
    ap.add_argument("--bits", type=int, default=8)
    ap.add_argument("--key-bits", type=int, nargs="+", default=[16, 20])
    args = ap.parse_args()
    x = np.random.default_rng(2385).standard_t(4, size=args.n).astype(np.float32)
    xd = x.astype(np.float64)
    amax = float(np.abs(xd).max())
    qmin, qmax = -(1 << (args.bits - 1)), (1 << (args.bits - 1)) - 1
    grid = np.arange(1, 201) / 200

    def scale(a):
        return a * amax / qmax

    print(f"{args.n} float32 Student-t(4) values, {args.bits} bits, max|x| {amax:.4g}, 200 grid points a = k/200")
    for kb in args.key_bits:
        bk = Buckets(x, kb)
        lu = np.array([bk.bounds(scale(a), qmin, qmax) for a in grid])
        best_upper = lu[:, 1].min()
        k = int(np.argmin(lu[:, 1]))
        cand = grid[lu[:, 0] <= best_upper]
        fine = np.linspace(grid[max(np.searchsorted(grid, cand[0]) - 1, 0)],
                           grid[min(np.searchsorted(grid, cand[-1]) + 1, len(grid) - 1)], 241)
        flu = np.array([bk.bounds(scale(a), qmin, qmax) for a in fine])
        best_upper = min(best_upper, flu[:, 1].min())
        window = fine[flu[:, 0] <= best_upper]
        needed = np.zeros(len(bk.n), bool)
        for a in np.linspace(window[0], window[-1], 400):
            needed |= bk.cut(scale(a), qmin, qmax)
        print(f"{kb}-bit keys: {len(bk.n)} busy buckets; at a = {grid[k]:.3f} the bounds are "
              f"[{lu[k, 0]:.6g}, {lu[k, 1]:.6g}] (gap {(lu[k, 1] - lu[k, 0]) / lu[k, 1]:.2e} of sse); grid points "
              f"left: {len(cand)} of 200; window a in [{window[0]:.4f}, {window[-1]:.4f}] "
              f"(+-{(window[-1] - window[0]) / 2 / grid[k] * 100:.2f}%); values in buckets cut there: "
              f"{bk.n[needed].sum() / args.n * 100:.1f}%")
        for a in (grid[k], 0.05, 0.5, window[0], window[-1]):
            lo, hi = bk.bounds(scale(a), qmin, qmax)
            e = exact_sse(xd, scale(a), qmin, qmax)
            ok = lo <= e * (1 + 1e-12) and e <= hi * (1 + 1e-12)
            print(f"  check a = {a:.4f}: lower {lo:.8g} <= exact {e:.8g} <= upper {hi:.8g}: {'ok' if ok else 'FAILED'}")
            if not ok:
                raise SystemExit(1)


if __name__ == "__main__":
    main()
