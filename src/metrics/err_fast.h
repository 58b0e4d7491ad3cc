/* Fast error decomposition: a group is sorted once, then each (scale, zero-point) costs O(levels · log n), not O(n). */
#ifndef QS_ERR_FAST_H
#define QS_ERR_FAST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../quant/quantizer.h"
#include "err.h"

/* Elements per prefix-sum block: whole blocks inside a level's run are summed from the prefix sums, the partial
 * blocks at either end of the run element by element. */
#define QS_ERR_BLOCK 32

/* A double-double: the unevaluated sum hi + lo, |lo| <= ulp(hi) / 2 (about 106 significant bits). */
struct qs_dd {
	double hi, lo;
};

/* Prefix sums at one block boundary (see struct qs_err_prepared). */
struct qs_err_prefix {
	struct qs_dd x;  /* Σ x  */
	struct qs_dd x2; /* Σ x² */
};

/* One group's values prepared for qs_err_fast. Independent of the quantizer: one prepare serves every bit width,
 * scheme, profile, rounding and multiplier. Read-only to callers; the arrays are owned by the struct.
 *
 * The values ascending are kept in one of two forms (read them with qs_err_prepared_at / qs_err_prepared_copy):
 * when every value is exactly a float32 (the usual case: tensors stored as f32, f16, bf16), as keys32, the float's
 * bits mapped to an unsigned integer with the floats' order (half the memory of doubles, and the sort is a
 * 16-bit bucket pass plus small in-cache sorts); otherwise as doubles in sorted64.
 *
 * With B = QS_ERR_BLOCK and i0 = origin * B (origin: the block holding the first value whose sign bit is clear),
 * prefix[k] holds the sums over sorted[i0 .. kB) for k >= origin and minus the sums over sorted[kB .. i0) for
 * k < origin, so that the sums over [kB, k'B) are prefix[k'] - prefix[k]. Summing outward from the values nearest 0
 * keeps the error of a difference relative to the magnitudes it spans (far outliers do not spoil the bulk). A block
 * of float32 values of one sign and exponent (nearly all of them) is summed exactly, the others to double-double
 * quality. */
struct qs_err_prepared {
	size_t n;                      /* number of values */
	uint32_t *keys32;              /* the values ascending as float32 order keys, or NULL (see above; n of them) */
	double *sorted64;              /* the values ascending as doubles when keys32 is NULL (n of them) */
	double signal;                 /* Σ x², from the prefix sums (see qs_err_fast) */
	size_t nblk;                   /* block boundaries: n / QS_ERR_BLOCK + 1 */
	size_t origin;                 /* the block boundary where the prefix sums are 0 */
	struct qs_err_prefix *prefix;  /* nblk prefix sums (see above) */
	uint32_t *starts;              /* with keys32: starts[k] = keys32[k B], the first key of every whole block (a
					* small array that searches narrow down to one block with), else NULL */
	uint32_t *keys_buf;            /* buffers behind keys32, sorted64 and starts, with their allocated lengths */
	double *sorted_buf;            /* (reused by the next prepare) */
	uint32_t *starts_buf;
	size_t cap32, cap64, cap_blk, cap_starts;
};

/* The i-th smallest value of a prepared group (exactly the value that was prepared). */
static inline double qs_err_prepared_at(const struct qs_err_prepared *d, size_t i)
{
	if (!d->keys32)
		return d->sorted64[i];
	uint32_t k = d->keys32[i];
	uint32_t u = (k >> 31) ? k & UINT32_C(0x7fffffff) : ~k;
	float f;
	memcpy(&f, &u, sizeof f);
	return (double)f;
}

/* Writes the n values ascending into out[0..n). */
void qs_err_prepared_copy(const struct qs_err_prepared *d, double *out);

/* Prepares x[0..n) (copied, x is not kept). `out` must be zero-initialised (`= {0}`) or hold an earlier prepare,
 * whose buffers are reused (grown as needed): a sweep over many groups can prepare them one after the other into
 * one struct. Cost O(n) (radix sort); keeps 4 (float32 values) or 8 bytes per value plus 36 (doubles: 32) per
 * QS_ERR_BLOCK values, and needs 8 more per value while sorting doubles (float32 values: a buffer the size of the
 * largest 16-bit bucket). Returns QS_OK, QS_ENONFINITE for a NaN/Inf or |x| >= 2^400 (far beyond float32; keeps
 * every double-double product finite: use qs_err_ref for such data), or QS_ENOMEM. On error *out holds no group
 * (n = 0) but stays valid for qs_err_prepared_free and for another prepare. */
int qs_err_prepare(const double *x, size_t n, struct qs_err_prepared *out);

/* Frees what qs_err_prepare allocated and zeroes *d; d may be NULL or zeroed. */
void qs_err_prepared_free(struct qs_err_prepared *d);

/* The error decomposition of the prepared group under (q, p): the same result as
 * qs_err_ref(x, n, q, p, NULL, out) for rounding QS_ROUND_EVEN or QS_ROUND_AWAY (stochastic rounding is not
 * supported: asserted; use qs_err_ref). Levels are classified with the very expression qs_err_ref uses
 * (round(x / s) + z, clamped), so counts, clipped flags and max_abs are identical, ties included; signal, sse_clip
 * and sse_round are sums of the same terms taken in another order, with cancellation-free double-double arithmetic
 * for the bulk of each level (signal: the whole prefix, as accurate as double-double, where qs_err_ref's plain loop
 * is within n ulp of the true sum). Measured agreement with qs_err_ref: see
 * tests/unit/test_err_fast.c.
 * Per level present in the data: sse(level) = Σx² - 2 x̂ Σx + m x̂² over its whole blocks (double-double) plus
 * Σ(x - x̂)² over its <= 2 (QS_ERR_BLOCK - 1) other values. Falls back to one pass over the sorted values when that
 * is cheaper (many levels, few values). No allocation; d is not modified (safe to share between threads). */
void qs_err_fast(const struct qs_err_prepared *d, const struct qs_quantizer *q, const struct qs_qparams *p,
		 struct qs_err *out);

/* Σ (x - hi)² over the prepared values above hi plus Σ (lo - x)² over those below lo (lo <= hi), as accurate as
 * qs_err_fast's sums: a lower bound of the sse of any quantizer whose levels x̂ all lie in [lo, hi], since every value
 * outside is at least that far from its x̂. Cost O(log n) plus the partial blocks at the two ends. */
double qs_err_fast_outside(const struct qs_err_prepared *d, double lo, double hi);

/* qs_err_fast without the fallback: always walks the levels. Exposed so that tests exercise the walk on groups
 * small enough for qs_err_fast to choose the plain pass (e.g. 16 bits on 10^5 values). */
void qs_err_fast_walk(const struct qs_err_prepared *d, const struct qs_quantizer *q, const struct qs_qparams *p,
		      struct qs_err *out);

#endif
