/* Fast error decomposition over sorted values: each quantization level is a run of the sorted array. */
#include "err_fast.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"

#define B QS_ERR_BLOCK

/* ---- double-double arithmetic (needs FLT_EVAL_METHOD == 0 and no FP contraction: C11 mode, SSE2) ------------- */

static struct qs_dd two_sum(double a, double b)
{
	double s = a + b;
	double bb = s - a;
	return (struct qs_dd){ s, (a - (s - bb)) + (b - bb) };
}

static struct qs_dd quick_two_sum(double a, double b) /* |a| >= |b| */
{
	double s = a + b;
	return (struct qs_dd){ s, b - (s - a) };
}

static struct qs_dd two_prod(double a, double b)
{
	double p = a * b;
	return (struct qs_dd){ p, fma(a, b, -p) };
}

static struct qs_dd dd_add(struct qs_dd a, struct qs_dd b)
{
	struct qs_dd s = two_sum(a.hi, b.hi);
	struct qs_dd t = two_sum(a.lo, b.lo);
	s.lo += t.hi;
	s = quick_two_sum(s.hi, s.lo);
	s.lo += t.lo;
	return quick_two_sum(s.hi, s.lo);
}

static struct qs_dd dd_neg(struct qs_dd a)
{
	return (struct qs_dd){ -a.hi, -a.lo };
}

static struct qs_dd dd_sub(struct qs_dd a, struct qs_dd b)
{
	return dd_add(a, dd_neg(b));
}

static struct qs_dd dd_mul_d(struct qs_dd a, double b)
{
	struct qs_dd p = two_prod(a.hi, b);
	p.lo += a.lo * b;
	return quick_two_sum(p.hi, p.lo);
}

/* ---- sorting ---------------------------------------------------------------------------------------------------- */

/* Unsigned integer with the order of the (non-NaN) double: flip all bits of negatives, the sign bit of the rest. */
static uint64_t sort_key(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof u);
	return (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* LSD radix sort of a[0..n) by bytes of sort_key; tmp holds n doubles. Passes whose byte is constant are skipped. */
static void radix_sort(double *a, double *tmp, size_t n)
{
	static const int nd = 8;
	size_t count[8][256] = { { 0 } };
	for (size_t i = 0; i < n; i++) {
		uint64_t k = sort_key(a[i]);
		for (int d = 0; d < nd; d++)
			count[d][(k >> (8 * d)) & 255]++;
	}
	uint64_t k0 = sort_key(a[0]);
	double *src = a, *dst = tmp;
	for (int d = 0; d < nd; d++) {
		if (count[d][(k0 >> (8 * d)) & 255] == n)
			continue;
		size_t off[256], sum = 0;
		for (int j = 0; j < 256; j++) {
			off[j] = sum;
			sum += count[d][j];
		}
		for (size_t i = 0; i < n; i++)
			dst[off[(sort_key(src[i]) >> (8 * d)) & 255]++] = src[i];
		double *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof *a);
}

/* ---- prepare ---------------------------------------------------------------------------------------------------- */

void qs_err_prepared_free(struct qs_err_prepared *d)
{
	if (!d)
		return;
	free(d->sorted);
	free(d->p1);
	free(d->p2);
	memset(d, 0, sizeof *d);
}

/* Grows *buf to hold n elements of size `size` (contents not kept). */
static int grow(void **buf, size_t *cap, size_t n, size_t size)
{
	if (n <= *cap)
		return QS_OK;
	if (n > SIZE_MAX / size)
		return QS_ENOMEM;
	void *p = malloc(n * size);
	if (!p)
		return QS_ENOMEM;
	free(*buf);
	*buf = p;
	*cap = n;
	return QS_OK;
}

int qs_err_prepare(const double *x, size_t n, struct qs_err_prepared *out)
{
	out->n = 0;
	out->signal = 0.0;
	out->nblk = 0;
	out->origin = 0;
	double signal = 0.0;
	for (size_t i = 0; i < n; i++) {
		if (!(fabs(x[i]) < 0x1p500))
			return qs_error_set(QS_ENONFINITE, "value %g at index %zu cannot be measured by the fast path", x[i],
					    i);
		signal += x[i] * x[i];
	}
	size_t nblk = n / B + 1;
	void *sorted = out->sorted, *p1 = out->p1, *p2 = out->p2;
	size_t cap_blk = out->cap_blk;
	int rc = grow(&sorted, &out->cap, n, sizeof(double));
	out->sorted = sorted;
	if (rc == QS_OK) {
		size_t c1 = cap_blk, c2 = cap_blk;
		rc = grow(&p1, &c1, nblk, sizeof(struct qs_dd));
		out->p1 = p1;
		if (rc == QS_OK)
			rc = grow(&p2, &c2, nblk, sizeof(struct qs_dd));
		out->p2 = p2;
		out->cap_blk = c1 < c2 ? c1 : c2;
	}
	double *tmp = NULL;
	if (rc == QS_OK && n >= 256 && !(tmp = malloc(n * sizeof *tmp)))
		rc = QS_ENOMEM;
	if (rc != QS_OK)
		return qs_error_set(QS_ENOMEM, "out of memory preparing %zu values", n);

	double *s = out->sorted;
	if (n)
		memcpy(s, x, n * sizeof *s);
	if (tmp)
		radix_sort(s, tmp, n);
	else if (n > 1)
		qsort(s, n, sizeof *s, cmp_double);
	free(tmp);

	/* Origin: the block holding the first non-negative value; prefix sums run outward from it. */
	size_t i0 = 0;
	while (i0 < n && s[i0] < 0.0)
		i0++;
	size_t origin = i0 / B;
	struct qs_dd zero = { 0.0, 0.0 };
	out->p1[origin] = zero;
	out->p2[origin] = zero;
	for (size_t k = 0; k + 1 < nblk; k++) {
		struct qs_dd s1 = zero, s2 = zero;
		for (size_t i = k * B; i < (k + 1) * B; i++) {
			s1 = dd_add(s1, (struct qs_dd){ s[i], 0.0 });
			s2 = dd_add(s2, two_prod(s[i], s[i]));
		}
		/* Block k is stored temporarily at k + 1 (>= origin) or k (< origin), then accumulated below. */
		size_t at = k >= origin ? k + 1 : k;
		out->p1[at] = s1;
		out->p2[at] = s2;
	}
	for (size_t k = origin + 1; k < nblk; k++) {
		out->p1[k] = dd_add(out->p1[k - 1], out->p1[k]);
		out->p2[k] = dd_add(out->p2[k - 1], out->p2[k]);
	}
	for (size_t k = origin; k-- > 0;) {
		out->p1[k] = dd_sub(out->p1[k + 1], out->p1[k]);
		out->p2[k] = dd_sub(out->p2[k + 1], out->p2[k]);
	}
	out->n = n;
	out->signal = signal;
	out->nblk = nblk;
	out->origin = origin;
	return QS_OK;
}

/* ---- evaluate --------------------------------------------------------------------------------------------------- */

/* The level of x exactly as qs_quant_fake computes it (v = round(x / s) + z), with all clipped-low values merged
 * into qmin - 1 and all clipped-high ones into qmax + 1. Monotone non-decreasing in x. */
struct level {
	double s, z, qmin, qmax;
	enum qs_rounding mode;
};

static double level_of(const struct level *lv, double x)
{
	double v = qs_quant_round(x / lv->s, lv->mode, NULL) + lv->z;
	if (v < lv->qmin)
		return lv->qmin - 1.0;
	if (v > lv->qmax)
		return lv->qmax + 1.0;
	return v;
}

/* First index r in (l, n] with level_of(x[r]) > level_of(x[l]) (r = n if none): galloping, then bisection. */
static size_t run_end(const struct level *lv, const double *x, size_t n, size_t l)
{
	double k = level_of(lv, x[l]);
	size_t lo = l, hi = n, step = 1;
	while (n - lo > step) {
		size_t probe = lo + step;
		if (level_of(lv, x[probe]) > k) {
			hi = probe;
			break;
		}
		lo = probe;
		step *= 2;
	}
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (level_of(lv, x[mid]) > k)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

static double sse_direct(const double *x, size_t l, size_t r, double c)
{
	double sse = 0.0;
	for (size_t i = l; i < r; i++) {
		double dx = x[i] - c;
		sse += dx * dx;
	}
	return sse;
}

/* Σ (x[i] - c)² over the run [l, r): whole blocks from the prefix sums in double-double, the rest directly. */
static double sse_run(const struct qs_err_prepared *d, size_t l, size_t r, double c)
{
	const double *x = d->sorted;
	if (x[l] == x[r - 1]) { /* constant run (e.g. data already on the grid): exact, 0 when x == c */
		double dx = x[l] - c;
		return (double)(r - l) * (dx * dx);
	}
	size_t kl = (l + B - 1) / B, kr = r / B;
	if (kl >= kr)
		return sse_direct(x, l, r, c);
	double sse = sse_direct(x, l, kl * B, c) + sse_direct(x, kr * B, r, c);
	struct qs_dd s1 = dd_sub(d->p1[kr], d->p1[kl]);
	struct qs_dd s2 = dd_sub(d->p2[kr], d->p2[kl]);
	struct qs_dd blk = dd_add(s2, dd_mul_d(s1, -2.0 * c));
	blk = dd_add(blk, dd_mul_d(two_prod(c, c), (double)((kr - kl) * B)));
	return sse + fmax(blk.hi + blk.lo, 0.0);
}

/* The fallback: one pass over the sorted values, each quantized as qs_err_ref does. */
static void err_sorted_pass(const struct qs_err_prepared *d, const struct qs_quantizer *q,
			    const struct qs_qparams *p, struct qs_err *out)
{
	for (size_t i = 0; i < d->n; i++) {
		bool clipped;
		double dx = d->sorted[i] - qs_quant_fake(q, p, d->sorted[i], NULL, &clipped);
		if (clipped) {
			out->n_clipped++;
			out->sse_clip += dx * dx;
		} else {
			out->sse_round += dx * dx;
		}
		out->max_abs = fmax(out->max_abs, fabs(dx));
	}
}

void qs_err_fast(const struct qs_err_prepared *d, const struct qs_quantizer *q, const struct qs_qparams *p,
		 struct qs_err *out)
{
	assert(q->rounding != QS_ROUND_STOCHASTIC && "the fast path needs deterministic rounding: use qs_err_ref");
	memset(out, 0, sizeof *out);
	out->n = d->n;
	out->signal = d->signal;
	if (d->n == 0)
		return;
	long qmin, qmax;
	qs_quant_range(q, &qmin, &qmax);
	const struct level lv = { p->scale, (double)p->zero_point, (double)qmin, (double)qmax, q->rounding };
	const double *x = d->sorted;
	size_t n = d->n;

	/* Runs to visit <= the levels spanned; each costs ~2 log2(n) level_of probes plus up to 2 B cheap terms. */
	double levels = level_of(&lv, x[n - 1]) - level_of(&lv, x[0]) + 1.0;
	if (levels * (2.0 * log2((double)n) + B / 4.0) >= (double)n) {
		err_sorted_pass(d, q, p, out);
		return;
	}
	for (size_t l = 0; l < n;) {
		size_t r = run_end(&lv, x, n, l);
		bool clipped;
		double c = qs_quant_fake(q, p, x[l], NULL, &clipped); /* x̂ of the whole run, bit-identical to the ref's */
		double sse = sse_run(d, l, r, c);
		if (clipped) {
			out->n_clipped += r - l;
			out->sse_clip += sse;
		} else {
			out->sse_round += sse;
		}
		/* fl(x - c) is monotone in x, so the run's largest |x - x̂| is at one of its ends. */
		out->max_abs = fmax(out->max_abs, fmax(fabs(x[l] - c), fabs(x[r - 1] - c)));
		l = r;
	}
}
