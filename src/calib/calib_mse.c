/* The mse calibrator: the clip range whose quantizer gives the smallest sse on the group's own values. */
#include "calib.h"

#include <math.h>

#include "../metrics/err.h"
#include "../metrics/err_fast.h"
#include "../util/qs_error.h"
#include "../util/qs_threads.h"

/*
 * The search is one-dimensional in a factor a in (0, 1]:
 *   symmetric:  range a·[-A, A], A = max|x|      (T = a·A; SPEC §3 turns it into s = T / (2^(b-1) - 1));
 *   asymmetric: range a·[min(x, 0), max(x, 0)]   (one common factor: the ratio of the two ends, hence roughly the
 *               zero-point, stays that of the data; a full 2-D search over (lo, hi) is not done).
 * sse(a) is the actual Σ (x - x̂)² over the group after qs_quant_params (so profile, narrow range and the
 * power-of-two constraint are all honoured). It is continuous in a but has a kink wherever a value crosses a
 * rounding boundary or the clip edge, and can have several dips, so a local search alone could stop in the wrong
 * one: the whole curve is evaluated on MSE_GRID points a = k / MSE_GRID, k = 1..MSE_GRID (a = 1 is minmax) and on
 * MSE_GRID_FINE points a = 2^-j / MSE_GRID, j = 1..MSE_GRID_FINE (so a far outlier that puts the optimum below
 * A / MSE_GRID is still seen), then a golden-section search refines between the best grid point's two neighbours.
 * The returned range is the best point evaluated anywhere (never worse than the best grid point; ties keep the
 * smaller a).
 * Stochastic rounding is evaluated with round-half-even (sse would otherwise be a random variable).
 * Cost: MSE_GRID + MSE_GRID_FINE + MSE_GOLDEN_ITERS + 2 evaluations of sse_at, each O(levels log n) with the
 * fast exact evaluator on the group's prepared (sorted) values -- the sweep's, or prepared here once -- and O(n)
 * with the reference evaluator for values too large for it.
 */

#define MSE_GRID 200
#define MSE_GRID_FINE 24
#define MSE_GOLDEN_ITERS 32
#define MSE_PARALLEL_N 65536 /* from this many values the grid is evaluated on all threads, */
#define MSE_CHUNK 16         /* so many points at a time */

static int mse_parse(const char *arg, double *param)
{
	*param = 0.0;
	if (arg)
		return qs_error_set(QS_EUSAGE, "calibrator mse takes no parameter (got ':%s')", arg);
	return QS_OK;
}

struct mse_ctx {
	const double *x;
	size_t n;
	const struct qs_err_prepared *prep; /* NULL: evaluate with qs_err_ref */
	struct qs_quantizer q; /* the caller's quantizer with deterministic rounding */
	double lo, hi;         /* the range at a = 1 */
	double best_a, best_sse;
};

/* sse of the group quantized with the range a·[lo, hi] (reads c only: safe on several threads). */
static double sse_of(const struct mse_ctx *c, double a)
{
	struct qs_qparams p;
	struct qs_err e;
	qs_quant_params(&c->q, a * c->lo, a * c->hi, &p);
	if (c->prep)
		qs_err_fast(c->prep, &c->q, &p, &e);
	else
		qs_err_ref(c->x, c->n, &c->q, &p, NULL, &e);
	return qs_err_sse(&e);
}

/* Records (a, sse) if it is the best point seen so far (ties keep the smaller a). */
static double record(struct mse_ctx *c, double a, double sse)
{
	if (sse < c->best_sse || (sse == c->best_sse && a < c->best_a)) {
		c->best_sse = sse;
		c->best_a = a;
	}
	return sse;
}

static double sse_at(struct mse_ctx *c, double a)
{
	return record(c, a, sse_of(c, a));
}

/* Whether no clip factor a' <= a can have an sse below `low`: true when the error of the values outside an interval
 * holding the levels of every a' <= a alone exceeds low (with a margin far above the rounding of either sum). That
 * error is a lower bound of each such sse(a'). The scale s never grows as a shrinks (pow2 and the torch profile
 * included), so:
 * - symmetric: the zero-point is fixed and the levels' span [(qmin - z) s, (qmax - z) s] at a holds every smaller
 *   a's span;
 * - asymmetric: the zero-point puts the lowest level within s/2 of a'·lo, and the span is (qmax - qmin) s' long, at
 *   most a'·(hi - lo) + s' in the default profile (so the top level is within s/2 of a'·hi); pow2 and torch's eps
 *   floor can make it longer, but not beyond (qmax - qmin) s above a'·lo <= 0. So [a·lo - s/2, a·hi + s/2], or
 *   [a·lo - s/2, max(a·hi, (qmax - qmin) s) + s/2], widened here by s on both sides for rounding, holds them all.
 * A dead point (a range that underflows to 0) is not covered, but its sse, Σ x², is above minmax's, which is
 * evaluated first. Without the prepared values nothing is skipped. */
static bool no_better(const struct mse_ctx *c, double a, double low)
{
	if (!c->prep || !(low < INFINITY))
		return false;
	struct qs_qparams p;
	long qmin, qmax;
	qs_quant_params(&c->q, a * c->lo, a * c->hi, &p);
	qs_quant_range(&c->q, &qmin, &qmax);
	double s = p.scale, z = (double)p.zero_point, from, to;
	if (!c->q.asym) {
		from = ((double)qmin - z) * s;
		to = ((double)qmax - z) * s;
	} else {
		bool plain = c->q.profile == QS_PROFILE_DEFAULT && !c->q.pow2;
		from = a * c->lo - 1.5 * s;
		to = (plain ? a * c->hi : fmax(a * c->hi, (double)(qmax - qmin) * s)) + 1.5 * s;
	}
	return qs_err_fast_outside(c->prep, from, to) > low * (1.0 + 1e-9);
}

/* Golden-section search for a minimum of sse_at on [a, b]; the best point lands in c->best_a. */
static void golden(struct mse_ctx *c, double a, double b)
{
	const double r = 0.5 * (sqrt(5.0) - 1.0); /* 0.618... */
	double x1 = b - r * (b - a), x2 = a + r * (b - a);
	double f1 = sse_at(c, x1), f2 = sse_at(c, x2);
	for (int it = 0; it < MSE_GOLDEN_ITERS && x2 > x1; it++) {
		if (f1 <= f2) {
			b = x2;
			x2 = x1;
			f2 = f1;
			x1 = b - r * (b - a);
			f1 = sse_at(c, x1);
		} else {
			a = x1;
			x1 = x2;
			f1 = f2;
			x2 = a + r * (b - a);
			f2 = sse_at(c, x2);
		}
	}
}

static int mse_clip_range(const struct qs_calib_group *g, const struct qs_quantizer *q, double param, double *lo,
			  double *hi)
{
	(void)param;
	const double *x = g->x;
	size_t n = g->n;
	struct qs_err_prepared own = {0};
	struct mse_ctx c = {.x = x, .n = n, .prep = g->sorted, .q = *q, .best_a = 1.0, .best_sse = INFINITY};
	if (!c.prep) {
		int rc = qs_err_prepare(x, n, &own);
		if (rc == QS_ENOMEM)
			return rc;
		if (rc == QS_OK)
			c.prep = &own;
	}
	if (c.q.rounding == QS_ROUND_STOCHASTIC)
		c.q.rounding = QS_ROUND_EVEN;
	double mn = 0.0, mx = 0.0, amax = 0.0;
	if (c.prep && n) { /* the ends of the sorted values, as the loop below would find them */
		mn = fmin(mn, qs_err_prepared_at(c.prep, 0));
		mx = fmax(mx, qs_err_prepared_at(c.prep, n - 1));
		amax = fmax(-mn, mx);
	}
	for (size_t i = 0; i < n && !c.prep; i++) {
		mn = fmin(mn, x[i]);
		mx = fmax(mx, x[i]);
		amax = fmax(amax, fabs(x[i]));
	}
	*lo = *hi = 0.0;
	if (amax == 0.0) {
		qs_err_prepared_free(&own);
		return QS_OK;
	}
	c.lo = q->asym ? mn : -amax;
	c.hi = q->asym ? mx : amax;

	/* the grid, ascending: MSE_GRID_FINE geometric points below the first linear one (a far outlier can put the
	 * optimum far below A / MSE_GRID), then the linear points k / MSE_GRID */
	double grid[MSE_GRID_FINE + MSE_GRID];
	for (size_t k = 0; k < MSE_GRID_FINE; k++)
		grid[k] = ldexp(1.0 / MSE_GRID, (int)k - (int)MSE_GRID_FINE);
	for (size_t k = 1; k <= MSE_GRID; k++)
		grid[MSE_GRID_FINE + k - 1] = (double)k / MSE_GRID;
	size_t count = MSE_GRID_FINE + MSE_GRID, best_k = count - 1;
	double sse[MSE_GRID_FINE + MSE_GRID], best = INFINITY;
	/* The grid from a = 1 down, in chunks: a large group's chunk on all threads (when the caller is not already
	 * running groups in parallel), one point at a time otherwise. Before each chunk, the points left are skipped when
	 * no_better says none of them can beat the best so far. The points are recorded in grid order below, so the result
	 * depends neither on the thread count nor on the skipping. */
	bool threads = n >= MSE_PARALLEL_N && !qs_in_parallel();
	size_t chunk = threads ? MSE_CHUNK : 1;
	double low = INFINITY; /* the smallest sse evaluated so far */
	for (size_t top = count; top > 0;) {
		size_t bottom = top > chunk ? top - chunk : 0;
		if (no_better(&c, grid[top - 1], low)) {
			for (size_t k = 0; k < top; k++)
				sse[k] = INFINITY;
			break;
		}
		if (threads) { /* not an `if` clause: a parallel region per point of a small group would cost more */
			#pragma omp parallel for schedule(dynamic, 1)
			for (size_t k = bottom; k < top; k++)
				sse[k] = sse_of(&c, grid[k]);
		} else {
			for (size_t k = bottom; k < top; k++)
				sse[k] = sse_of(&c, grid[k]);
		}
		for (size_t k = bottom; k < top; k++)
			low = fmin(low, sse[k]);
		top = bottom;
	}
	for (size_t k = 0; k < count; k++) {
		if (sse[k] < INFINITY && record(&c, grid[k], sse[k]) < best) {
			best = sse[k];
			best_k = k;
		}
	}
	golden(&c, best_k ? grid[best_k - 1] : 0.0, grid[best_k + 1 < count ? best_k + 1 : best_k]);
	*lo = c.best_a * c.lo;
	*hi = c.best_a * c.hi;
	qs_err_prepared_free(&own);
	return QS_OK;
}

const struct qs_calib_type qs_calib_mse = {
	.name = "mse",
	.parse_param = mse_parse,
	.clip_range = mse_clip_range,
};
