/* Fast error decomposition: a group is sorted once, then each (scale, zero-point) costs O(levels · log n), not O(n). */
#ifndef QS_ERR_FAST_H
#define QS_ERR_FAST_H

#include <stddef.h>

#include "../quant/quantizer.h"
#include "err.h"

/* Elements per prefix-sum block: whole blocks inside a level's run are summed from the prefix sums, the partial
 * blocks at either end of the run element by element. */
#define QS_ERR_BLOCK 32

/* A double-double: the unevaluated sum hi + lo, |lo| <= ulp(hi) / 2 (about 106 significant bits). */
struct qs_dd {
	double hi, lo;
};

/* One group's values prepared for qs_err_fast. Independent of the quantizer: one prepare serves every bit width,
 * scheme, profile, rounding and multiplier. Read-only to callers; all arrays are owned by the struct.
 *
 * With i0 = origin * QS_ERR_BLOCK (the block holding the first non-negative value) and k the block boundary
 * k * QS_ERR_BLOCK:  p1[k] = Σ sorted[i0..k),  p2[k] = Σ sorted[i0..k)²  for k >= origin, and the negated sums over
 * sorted[k..i0) for k < origin, so Σ over [kB, k'B) = p[k'] - p[k]. Summing outward from the values nearest 0 keeps
 * the error of a difference relative to the magnitudes it spans (a far outlier does not spoil the bulk). */
struct qs_err_prepared {
	size_t n;            /* number of values */
	double *sorted;      /* the values ascending (n of them) */
	double signal;       /* Σ x², accumulated in input order exactly as qs_err_ref does (bit-identical) */
	size_t nblk;         /* number of block boundaries: n / QS_ERR_BLOCK + 1 */
	size_t origin;       /* block boundary where the prefix sums are 0 */
	struct qs_dd *p1;    /* nblk prefix sums of x (see above) */
	struct qs_dd *p2;    /* nblk prefix sums of x² */
	size_t cap, cap_blk; /* allocated lengths of sorted and of p1/p2 (reused by the next prepare) */
};

/* Prepares x[0..n) (copied, x is not kept). `out` must be zero-initialised (`= {0}`) or hold an earlier prepare,
 * whose buffers are reused (grown as needed): a sweep over many groups can prepare them one after the other into
 * one struct. Cost O(n) (radix sort) and 8 + 32/QS_ERR_BLOCK bytes per value.
 * Returns QS_OK, QS_ENONFINITE for a NaN/Inf or a value too large to square (|x| >= 2^500; use qs_err_ref), or
 * QS_ENOMEM. On error *out stays valid for qs_err_prepared_free (and for another prepare) but holds no group. */
int qs_err_prepare(const double *x, size_t n, struct qs_err_prepared *out);

/* Frees what qs_err_prepare allocated and zeroes *d; d may be NULL or zeroed. */
void qs_err_prepared_free(struct qs_err_prepared *d);

/* The error decomposition of the prepared group under (q, p): the same result as
 * qs_err_ref(x, n, q, p, NULL, out) for rounding QS_ROUND_EVEN or QS_ROUND_AWAY (stochastic rounding is not
 * supported: asserted; use qs_err_ref). Levels are classified with the very expression qs_err_ref uses
 * (round(x / s) + z, clamped), so counts, clipped flags and max_abs are identical, ties included; signal is
 * identical; sse_clip and sse_round are sums of the same (x - x̂)² taken in another order, with cancellation-free
 * double-double arithmetic for the bulk of each level. Measured agreement with qs_err_ref: see
 * tests/unit/test_err_fast.c.
 * Per level present in the data: sse(level) = Σx² - 2 x̂ Σx + m x̂² over its whole blocks (double-double) plus
 * Σ(x - x̂)² over its <= 2 (QS_ERR_BLOCK - 1) other values. Falls back to one pass over the sorted values when that
 * is cheaper (many levels, few values). No allocation; d is not modified (safe to share between threads). */
void qs_err_fast(const struct qs_err_prepared *d, const struct qs_quantizer *q, const struct qs_qparams *p,
		 struct qs_err *out);

#endif
