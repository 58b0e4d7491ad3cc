/* The percentile, entropy, aciq and mse calibrators, each against an oracle computed independently here. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "calib/calib.h"
#include "metrics/err.h"
#include "util/qs_error.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

static gsl_rng *rng_new(unsigned long seed)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, seed);
	return r;
}

static void clip(const char *spec, const double *x, size_t n, const struct qs_quantizer *q, double *lo, double *hi)
{
	struct qs_calib c;
	ck_assert_int_eq(qs_calib_parse(spec, &c), QS_OK);
	ck_assert_int_eq(qs_calib_clip_range(&c, x, n, q, lo, hi), QS_OK);
}

/* ---- parsing ------------------------------------------------------------------------------------------------ */

START_TEST(test_parse)
{
	static const char *const good[] = {"percentile:99.9", "percentile:100", "percentile:1e-3", "entropy",
					   "aciq:laplace", "aciq:gauss", "mse"};
	static const char *const bad[] = {"percentile", "percentile:", "percentile:0", "percentile:101",
					  "percentile:x", "percentile:99x", "percentile:-5", "percentile:nan",
					  "percentile:inf", "aciq", "aciq:cauchy", "aciq:", "entropy:3", "mse:1"};
	struct qs_calib c;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ck_assert_msg(qs_calib_parse(good[i], &c) == QS_OK, "%s: %s", good[i], qs_error_message());
	ck_assert_int_eq(qs_calib_parse("percentile:99.9", &c), QS_OK);
	ck_assert_double_eq(c.param, 99.9);
	ck_assert_str_eq(c.label, "percentile:99.9");
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(qs_calib_parse(bad[i], &c) == QS_EUSAGE, "%s accepted", bad[i]);
	ck_assert_int_eq(qs_calib_parse("aciq:cauchy", &c), QS_EUSAGE);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "cauchy"));
	const char *names = qs_calib_names();
	ck_assert_ptr_nonnull(strstr(names, "percentile"));
	ck_assert_ptr_nonnull(strstr(names, "entropy"));
	ck_assert_ptr_nonnull(strstr(names, "aciq"));
	ck_assert_ptr_nonnull(strstr(names, "mse"));
}
END_TEST

/* ---- percentile --------------------------------------------------------------------------------------------- */

/* The k-th smallest (0-based) of v[0..n) by counting, no sort: v[i] is it when #{v < v[i]} <= k < #{v <= v[i]}. */
static double kth_by_count(const double *v, size_t n, size_t k)
{
	for (size_t i = 0; i < n; i++) {
		size_t less = 0, leq = 0;
		for (size_t j = 0; j < n; j++) {
			less += v[j] < v[i];
			leq += v[j] <= v[i];
		}
		if (less <= k && k < leq)
			return v[i];
	}
	ck_abort_msg("no order statistic %zu", k);
	return NAN;
}

/* numpy.percentile(v, pct) (method 'linear'): position (n-1)·pct/100 between order statistics. */
static double np_percentile(const double *v, size_t n, double pct)
{
	double pos = (double)(n - 1) * pct / 100.0;
	size_t i = (size_t)floor(pos);
	if (i >= n - 1)
		return kth_by_count(v, n, n - 1);
	double a = kth_by_count(v, n, i), b = kth_by_count(v, n, i + 1);
	return a + (pos - (double)i) * (b - a);
}

START_TEST(test_percentile)
{
	static const double pcts[] = {100.0, 99.99, 99.9, 99.0, 97.5, 90.0, 50.0, 12.5, 0.001};
	static const size_t sizes[] = {1, 2, 3, 7, 64, 333, 1000};
	gsl_rng *r = rng_new(2385);
	double x[1000], ax[1000];
	for (size_t is = 0; is < sizeof sizes / sizeof *sizes; is++) {
		size_t n = sizes[is];
		for (size_t i = 0; i < n; i++) {
			/* heavy tails, an offset, and repeated values (rounded to 1/8) */
			x[i] = round(8.0 * (gsl_ran_cauchy(r, 2.385) + 0.7)) / 8.0;
			ax[i] = fabs(x[i]);
		}
		for (size_t ip = 0; ip < sizeof pcts / sizeof *pcts; ip++) {
			double pct = pcts[ip];
			char spec[48];
			snprintf(spec, sizeof spec, "percentile:%.17g", pct);
			for (int variant = 0; variant < 4; variant++) {
				struct qs_quantizer q = {.bits = 3 + 4 * variant, .asym = variant & 1,
							 .is_signed = variant < 2};
				double lo, hi;
				clip(spec, x, n, &q, &lo, &hi);
				double want_lo, want_hi;
				if (q.asym) {
					want_lo = np_percentile(x, n, (100.0 - pct) / 2.0);
					want_hi = np_percentile(x, n, 100.0 - (100.0 - pct) / 2.0);
				} else {
					want_hi = np_percentile(ax, n, pct);
					want_lo = -want_hi;
				}
				double tol = 1e-12 * (fabs(want_lo) + fabs(want_hi) + 1.0);
				ck_assert_msg(fabs(lo - want_lo) <= tol && fabs(hi - want_hi) <= tol,
					      "n=%zu %s asym=%d: [%.17g, %.17g] want [%.17g, %.17g]", n, spec,
					      q.asym, lo, hi, want_lo, want_hi);
				if (pct == 100.0) { /* the extreme order statistics themselves, exactly */
					double mn = x[0], mx = x[0], am = 0.0;
					for (size_t i = 0; i < n; i++) {
						mn = fmin(mn, x[i]);
						mx = fmax(mx, x[i]);
						am = fmax(am, ax[i]);
					}
					ck_assert_double_eq(lo, q.asym ? mn : -am);
					ck_assert_double_eq(hi, q.asym ? mx : am);
				}
			}
		}
	}
	gsl_rng_free(r);
}
END_TEST

/* ---- entropy ------------------------------------------------------------------------------------------------ */

#define ORACLE_BINS 2048

/* The KL threshold written the plain way: explicit P and Q arrays for every candidate, each normalised by its own
 * sum, KL summed bin by bin; smallest KL wins, ties to the larger i. Returns the number of bins kept. */
static size_t entropy_oracle_bins(const double *hist, int bits)
{
	size_t levels = (size_t)1 << (bits - 1);
	double *p = malloc(ORACLE_BINS * sizeof *p), *qd = malloc(ORACLE_BINS * sizeof *qd);
	double *mass = malloc(ORACLE_BINS * sizeof *mass), *nz = malloc(ORACLE_BINS * sizeof *nz);
	size_t best_i = ORACLE_BINS;
	double best = INFINITY;
	for (size_t i = levels < ORACLE_BINS ? levels : ORACLE_BINS; i <= ORACLE_BINS; i++) {
		for (size_t j = 0; j < i; j++)
			p[j] = hist[j];
		for (size_t j = i; j < ORACLE_BINS; j++)
			p[i - 1] += hist[j];
		size_t nlev = levels < i ? levels : i;
		for (size_t lev = 0; lev < nlev; lev++)
			mass[lev] = nz[lev] = 0.0;
		for (size_t j = 0; j < i; j++) {
			mass[j * nlev / i] += p[j];
			nz[j * nlev / i] += p[j] != 0.0;
		}
		for (size_t j = 0; j < i; j++)
			qd[j] = p[j] != 0.0 ? mass[j * nlev / i] / nz[j * nlev / i] : 0.0;
		double sp = 0.0, sq = 0.0, kl = 0.0;
		for (size_t j = 0; j < i; j++) {
			sp += p[j];
			sq += qd[j];
		}
		for (size_t j = 0; j < i; j++)
			if (p[j] > 0.0)
				kl += p[j] / sp * log((p[j] / sp) / (qd[j] / sq));
		if (kl <= best) {
			best = kl;
			best_i = i;
		}
	}
	free(p);
	free(qd);
	free(mass);
	free(nz);
	return best_i;
}

/* Histogram of |x| as SPEC §5 defines it, computed with a bin search instead of a division. */
static void oracle_hist(const double *x, size_t n, double amax, double *hist)
{
	memset(hist, 0, ORACLE_BINS * sizeof *hist);
	for (size_t k = 0; k < n; k++) {
		size_t lo = 0, hi = ORACLE_BINS; /* largest bin whose lower edge <= |x| */
		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;
			if ((double)mid / ORACLE_BINS * amax <= fabs(x[k]))
				lo = mid;
			else
				hi = mid;
		}
		hist[lo] += 1.0;
	}
}

START_TEST(test_entropy)
{
	static const int bits[] = {8, 4};
	gsl_rng *r = rng_new(7);
	size_t cap = 40000;
	double *x = malloc(cap * sizeof *x), *hist = malloc(ORACLE_BINS * sizeof *hist);
	for (int data = 0; data < 3; data++) {
		size_t n = 0;
		double amax = 3.7;
		if (data == 0) {
			/* a toy histogram placed at bin centres: a decaying bulk over ~600 bins, a few far outliers and
			 * the maximum itself */
			for (size_t j = 0; j < 700; j++) {
				size_t cnt = (size_t)floor(60.0 * exp(-(double)j / 90.0));
				for (size_t c = 0; c < cnt; c++)
					x[n++] = (c % 2 ? -1.0 : 1.0) * ((double)j + 0.5) / ORACLE_BINS * amax;
			}
			x[n++] = (1500.0 + 0.5) / ORACLE_BINS * amax;
			x[n++] = -(1800.0 + 0.5) / ORACLE_BINS * amax;
			x[n++] = amax;
		} else if (data == 1) {
			n = 20000; /* Laplace with a spike of outliers */
			for (size_t k = 0; k < n; k++)
				x[k] = gsl_ran_laplace(r, 0.1) + (k % 500 == 0 ? 1.5 : 0.0);
		} else {
			n = 30000;
			for (size_t k = 0; k < n; k++)
				x[k] = gsl_ran_gaussian(r, 1.3) + 0.4;
		}
		double am = 0.0, mn = x[0], mx = x[0];
		for (size_t k = 0; k < n; k++) {
			am = fmax(am, fabs(x[k]));
			mn = fmin(mn, x[k]);
			mx = fmax(mx, x[k]);
		}
		oracle_hist(x, n, am, hist);
		for (size_t ib = 0; ib < sizeof bits / sizeof *bits; ib++) {
			size_t i = entropy_oracle_bins(hist, bits[ib]);
			double t = (double)i / ORACLE_BINS * am;
			double lo, hi;
			struct qs_quantizer q = {.bits = bits[ib], .is_signed = true, .narrow = true};
			clip("entropy", x, n, &q, &lo, &hi);
			ck_assert_msg(fabs(hi - t) <= 1e-12 * am && lo == -hi,
				      "data %d b=%d: T=%.17g, oracle %.17g (bin %zu)", data, bits[ib], hi, t, i);
			ck_assert_msg(i < ORACLE_BINS, "data %d b=%d: no clipping chosen", data, bits[ib]);
			q.asym = true; /* same T, clipped to the data */
			clip("entropy", x, n, &q, &lo, &hi);
			ck_assert_double_eq_tol(lo, fmax(-t, mn), 1e-12 * am);
			ck_assert_double_eq_tol(hi, fmin(t, mx), 1e-12 * am);
		}
	}
	/* degenerate groups: all zero -> [0, 0]; all |x| equal -> every candidate has KL 0, the widest wins */
	struct qs_quantizer q = {.bits = 8, .is_signed = true};
	double z[5] = {0}, c[4] = {2.385, -2.385, 2.385, 2.385}, lo, hi;
	clip("entropy", z, 5, &q, &lo, &hi);
	ck_assert(lo == 0.0 && hi == 0.0);
	clip("entropy", c, 4, &q, &lo, &hi);
	ck_assert_double_eq(hi, 2.385);
	ck_assert_double_eq(lo, -2.385);
	free(x);
	free(hist);
	gsl_rng_free(r);
}
END_TEST

/* Ties in exact arithmetic go to the largest i even where rounding would split them. |x| in {0, ..., 9, 14} with
 * uneven counts: |x| = k lands in bin floor(k·2048/14), 146 bins apart, so from b = 5 (L = 16, levels 128 bins wide)
 * up every level at i = 2048 holds at most one non-empty bin and KL = 0 there; many smaller i have KL = 0 too (all
 * the outliers in one bin on their own level), and the rule picks i = 2048: T = A. Evaluated naively, the zero at
 * i = 439 (P[i-1] holds |x| = 3 plus the outliers) comes out a few ulps negative and wins (T = 3.0). */
START_TEST(test_entropy_ties)
{
	static const int cnt[15] = {8, 13, 15, 17, 18, 7, 6, 6, 1, 3, 0, 0, 0, 0, 1};
	double x[95];
	size_t n = 0;
	for (int k = 0; k < 15; k++)
		for (int c = 0; c < cnt[k]; c++)
			x[n++] = (c % 2 ? -1.0 : 1.0) * k;
	for (int b = 5; b <= 10; b++) {
		struct qs_quantizer q = {.bits = b, .is_signed = true};
		double lo, hi;
		clip("entropy", x, n, &q, &lo, &hi);
		ck_assert_msg(hi == 14.0 && lo == -14.0, "b=%d: [%.17g, %.17g], expected [-14, 14]", b, lo, hi);
	}
}
END_TEST

/* ---- the N(0,1) / Laplace(1) expected-error oracle (closed forms per cell) ---------------------------------- */

/* ∫_a^b (z - c)² φ(z) dz (a may be -inf, b +inf): (1 + c²)[Φ]_a^b - [zφ]_a^b + 2c[φ]_a^b. */
static double gauss_cell(double a, double b, double c)
{
	double pa = isinf(a) ? 0.0 : gsl_ran_ugaussian_pdf(a), pb = isinf(b) ? 0.0 : gsl_ran_ugaussian_pdf(b);
	double mass = (a >= 0.0) ? gsl_cdf_ugaussian_Q(a) - gsl_cdf_ugaussian_Q(b)
				 : gsl_cdf_ugaussian_P(b) - gsl_cdf_ugaussian_P(a);
	double za = isinf(a) ? 0.0 : a * pa, zb = isinf(b) ? 0.0 : b * pb;
	return (1.0 + c * c) * mass - (zb - za) + 2.0 * c * (pb - pa);
}

/* ∫_a^b (z - c)² ½e^{-z} dz for 0 <= a <= b <= +inf: ½[-e^{-z}((z-c)² + 2(z-c) + 2)]_a^b. */
static double laplace_pos(double a, double b, double c)
{
	double fa = exp(-a) * ((a - c) * (a - c) + 2.0 * (a - c) + 2.0);
	double fb = isinf(b) ? 0.0 : exp(-b) * ((b - c) * (b - c) + 2.0 * (b - c) + 2.0);
	return 0.5 * (fa - fb);
}

static double laplace_cell(double a, double b, double c)
{
	if (a >= 0.0)
		return laplace_pos(a, b, c);
	if (b <= 0.0) /* mirror: z -> -z */
		return laplace_pos(-b, -a, -c);
	return laplace_pos(0.0, -a, -c) + laplace_pos(0.0, b, c);
}

/* E[(Z - Q(Z))²] for the quantizer with levels -α + kΔ, k = 0..steps, Δ = 2α/steps, nearest level, clamped:
 * the outer cells reach to ±inf, so the clipping error is part of them. */
static double model_error(int laplace, long steps, double alpha)
{
	double d = 2.0 * alpha / (double)steps, e = 0.0;
	for (long k = 0; k <= steps; k++) {
		double c = -alpha + (double)k * d;
		double a = k == 0 ? -INFINITY : c - 0.5 * d, b = k == steps ? INFINITY : c + 0.5 * d;
		e += laplace ? laplace_cell(a, b, c) : gauss_cell(a, b, c);
	}
	return e;
}

/* α* by brute force: a grid of step 1e-2 over (0, 30], then grids of step 1e-5 and 1e-8 around the best point. */
static double model_alpha(int laplace, long steps)
{
	double best = 0.0, fbest = INFINITY;
	for (int k = 1; k <= 3000; k++) {
		double a = 1e-2 * k, f = model_error(laplace, steps, a);
		if (f < fbest) {
			fbest = f;
			best = a;
		}
	}
	for (double step = 1e-5; step > 1e-9; step *= 1e-3) {
		double centre = best;
		for (int k = -1000; k <= 1000; k++) {
			double a = centre + step * k, f = model_error(laplace, steps, a);
			if (f < fbest) {
				fbest = f;
				best = a;
			}
		}
	}
	return best;
}

/* ---- aciq --------------------------------------------------------------------------------------------------- */

static const int aciq_bits[] = {2, 3, 4, 8};

START_TEST(test_aciq_model)
{
	/* x = {-1, 1}: laplace fit median 0, b = 1; gauss fit mean 0, σ = 1 — so hi is α* in model units */
	int b = aciq_bits[_i];
	double x[2] = {-1.0, 1.0};
	struct qs_quantizer q = {.bits = b, .is_signed = true, .narrow = true};
	long steps = 2 * ((1L << (b - 1)) - 1);
	for (int laplace = 0; laplace < 2; laplace++) {
		double lo, hi, want = model_alpha(laplace, steps);
		clip(laplace ? "aciq:laplace" : "aciq:gauss", x, 2, &q, &lo, &hi);
		ck_assert_double_eq(lo, -hi);
		ck_assert_msg(fabs(hi - want) <= 2e-6 * want, "%s b=%d: alpha %.9g, oracle %.9g",
			      laplace ? "laplace" : "gauss", b, hi, want);
		if (laplace && b == 2) /* 3 levels {-α, 0, α}: dE/dα = -2∫_{α/2}^∞ (z-α) e^{-z} dz = 0  <=>  α = 2 */
			ck_assert_double_eq_tol(hi, 2.0, 1e-7);
		if (!laplace && b == 4) /* SPEC §6: s* = 0.35341 for N(0,1), 4 bits narrow symmetric */
			ck_assert_double_eq_tol(hi / 7.0, 0.35341, 5e-6);
		if (!laplace && b == 8) /* SPEC §6: s* = 0.030870 */
			ck_assert_double_eq_tol(hi / 127.0, 0.030870, 5e-7);
	}
}
END_TEST

/* The large-sample tests use 10^6 values; under valgrind (or with QS_QUICK set) 10^5, which keeps them inside
 * check's per-test timeout there (the mse search is ~250 passes of the reference evaluator). The 2% tolerances hold
 * at 10^5 too: the sampling spread there is below 1% (measured: fitted α within 0.46% over 8 seeds, the empirical
 * mse step within 0.97% of 0.35341 over 6 seeds). */
static size_t big_n(void)
{
	return RUNNING_ON_VALGRIND || getenv("QS_QUICK") ? 100000 : 1000000;
}

START_TEST(test_aciq_samples)
{
	/* 10^6 seeded samples of the fitted family itself: the α found (in data units) within 2% of the model's α* */
	int b = aciq_bits[_i];
	size_t n = big_n();
	double *x = malloc(n * sizeof *x);
	struct qs_quantizer q = {.bits = b, .is_signed = true, .narrow = true};
	long steps = 2 * ((1L << (b - 1)) - 1);
	for (int laplace = 0; laplace < 2; laplace++) {
		gsl_rng *r = rng_new(1000 + (unsigned long)b);
		for (size_t i = 0; i < n; i++)
			x[i] = laplace ? gsl_ran_laplace(r, 1.0) : gsl_ran_gaussian(r, 1.0);
		gsl_rng_free(r);
		double lo, hi, want = model_alpha(laplace, steps);
		clip(laplace ? "aciq:laplace" : "aciq:gauss", x, n, &q, &lo, &hi);
		double alpha = 0.5 * (hi - lo);
		ck_assert_msg(fabs(alpha - want) <= 0.02 * want, "%s b=%d: alpha %.6g, oracle %.6g",
			      laplace ? "laplace" : "gauss", b, alpha, want);
		ck_assert(fabs(0.5 * (hi + lo)) < 0.01); /* μ of a centred sample */
	}
	free(x);
}
END_TEST

/* ---- mse ---------------------------------------------------------------------------------------------------- */

static double sse_of(const double *x, size_t n, const struct qs_quantizer *q, double lo, double hi)
{
	struct qs_qparams p;
	struct qs_err e;
	qs_quant_params(q, lo, hi, &p);
	qs_err_ref(x, n, q, &p, NULL, &e);
	return qs_err_sse(&e);
}

/* The range mse's factor a scales: [-max|x|, max|x|], or [min(x, 0), max(x, 0)] for an asymmetric scheme. */
static void full_range(const double *x, size_t n, bool asym, double *lo, double *hi)
{
	double mn = 0.0, mx = 0.0, am = 0.0;
	for (size_t i = 0; i < n; i++) {
		mn = fmin(mn, x[i]);
		mx = fmax(mx, x[i]);
		am = fmax(am, fabs(x[i]));
	}
	*lo = asym ? mn : -am;
	*hi = asym ? mx : am;
}

START_TEST(test_mse_gauss)
{
	/* 10^6 N(0,1) samples, 4 bits symmetric signed narrow: s = T/7 near the optimum step of the N(0,1) density,
	 * s* = α* / 7 with α* minimising the closed-form expected error (model_error), and SPEC §6's 0.35341 */
	double s_model = model_alpha(0, 14) / 7.0;
	ck_assert_double_eq_tol(s_model, 0.35341, 5e-6);
	size_t n = big_n();
	double *x = malloc(n * sizeof *x);
	gsl_rng *r = rng_new(4242);
	for (size_t i = 0; i < n; i++)
		x[i] = gsl_ran_gaussian(r, 1.0);
	gsl_rng_free(r);
	struct qs_quantizer q = {.bits = 4, .is_signed = true, .narrow = true};
	double lo, hi;
	clip("mse", x, n, &q, &lo, &hi);
	ck_assert_double_eq(lo, -hi);
	double s = hi / 7.0;
	ck_assert_msg(fabs(s - s_model) <= 0.02 * s_model, "step %.6g, model optimum %.6g", s, s_model);
	ck_assert_msg(fabs(s - 0.35341) <= 0.02 * 0.35341, "step %.6g, SPEC 0.35341", s);
	/* and it is the data's own optimum: no T on a fine grid around it does better */
	double best = sse_of(x, n, &q, lo, hi);
	for (int k = -5; k <= 5; k++) {
		double t = hi * (1.0 + 0.002 * k);
		ck_assert_msg(sse_of(x, n, &q, -t, t) >= best * (1.0 - 1e-9), "T=%.6g beats mse's %.6g", t, hi);
	}
	free(x);
}
END_TEST

START_TEST(test_mse_brute)
{
	/* small groups, every scheme: mse's sse is within 0.5% of a brute-force scan of 4000 factors a in (0, 1] of
	 * the same a·[lo, hi] line, never above minmax, and stochastic rounding is measured as half-even */
	gsl_rng *r = rng_new(99);
	double x[400];
	for (int trial = 0; trial < 16; trial++) {
		size_t n = 50 + gsl_rng_uniform_int(r, 350);
		for (size_t i = 0; i < n; i++)
			x[i] = trial % 2 ? gsl_ran_laplace(r, 0.05) + 0.03
					 : gsl_ran_gaussian(r, 2.385) * (trial % 4 ? 1.0 : -0.2);
		struct qs_quantizer q = {.bits = 2 + trial % 7, .asym = trial % 3 == 1, .is_signed = trial % 5 != 2,
					 .narrow = trial % 2,
					 .rounding = trial % 4 == 3 ? QS_ROUND_STOCHASTIC : QS_ROUND_EVEN};
		double l0, h0;
		full_range(x, n, q.asym, &l0, &h0);
		double lo, hi;
		clip("mse", x, n, &q, &lo, &hi);
		struct qs_quantizer qe = q;
		qe.rounding = QS_ROUND_EVEN;
		double got = sse_of(x, n, &qe, lo, hi), brute = INFINITY;
		for (int k = 1; k <= 4000; k++) {
			double a = k / 4000.0;
			brute = fmin(brute, sse_of(x, n, &qe, a * l0, a * h0));
		}
		ck_assert_msg(got <= brute * 1.005, "trial %d: mse sse %.9g, brute force %.9g", trial, got, brute);
		ck_assert(got <= sse_of(x, n, &qe, l0, h0));
		ck_assert(lo <= 0.0 && hi >= 0.0 && lo >= l0 && hi <= h0);
	}
	gsl_rng_free(r);
}
END_TEST

/* The mse search skips grid points that provably cannot win (the error of the values outside the levels alone
 * exceeds the best sse so far). Whatever it skips, its result is never worse than the best of every grid point, each
 * evaluated here with the reference evaluator: a = 2^-j / 200 (j = 1..24) and k / 200 (k = 1..200), the grid
 * calib_mse.c documents. Groups: heavy tails, a far outlier, all-equal values, values on a grid, mixtures, small (one
 * point at a time) and above 65536 values (chunks on all threads); symmetric and asymmetric, every variant. */
START_TEST(test_mse_skipping)
{
	gsl_rng *r = rng_new(2385);
	size_t big = RUNNING_ON_VALGRIND || getenv("QS_QUICK") ? 70000 : 200000;
	double *x = malloc(big * sizeof *x);
	for (int trial = 0; trial < 60; trial++) {
		size_t n = trial < 56 ? 20 + gsl_rng_uniform_int(r, 3000) : big;
		int kind = trial % 6;
		for (size_t i = 0; i < n; i++) {
			double v = kind == 0 ? gsl_ran_tdist(r, 2.0)
				 : kind == 1 ? gsl_ran_gaussian(r, 1.0)
				 : kind == 2 ? 0.75
				 : kind == 3 ? 0.125 * (double)(long)gsl_rng_uniform_int(r, 33) - 2.0
				 : kind == 4 ? gsl_ran_laplace(r, 0.3) + 0.2
					     : (gsl_rng_uniform(r) < 0.9 ? gsl_ran_gaussian(r, 0.1) : gsl_ran_gaussian(r, 3.0));
			x[i] = (double)(float)v;
		}
		if (kind == 1)
			x[gsl_rng_uniform_int(r, n)] = 1e4; /* a far outlier: the optimum below the linear grid */
		struct qs_quantizer q = {.bits = 2 + trial % 7, .asym = trial % 2 == 1, .is_signed = trial % 3 != 1,
					 .narrow = trial % 4 == 1, .pow2 = trial % 5 == 2,
					 .profile = trial % 7 == 3 ? QS_PROFILE_TORCH : QS_PROFILE_DEFAULT};
		double l0, h0; /* the line a·[l0, h0] the grid runs on */
		full_range(x, n, q.asym, &l0, &h0);
		double lo, hi;
		clip("mse", x, n, &q, &lo, &hi);
		double got = sse_of(x, n, &q, lo, hi), grid = INFINITY;
		for (int j = 1; j <= 24; j++)
			grid = fmin(grid, sse_of(x, n, &q, ldexp(l0 / 200.0, -j), ldexp(h0 / 200.0, -j)));
		for (int k = 1; k <= 200; k++)
			grid = fmin(grid, sse_of(x, n, &q, l0 * k / 200.0, h0 * k / 200.0));
		ck_assert_msg(got <= grid * (1.0 + 1e-9), "trial %d (n %zu, %d bits): mse sse %.12g, best grid point %.12g",
			      trial, n, q.bits, got, grid);
	}
	free(x);
	gsl_rng_free(r);
}
END_TEST

/* ---- every calibrator, every quantizer ---------------------------------------------------------------------- */

START_TEST(test_all_quantizers)
{
	static const char *const specs[] = {"percentile:99", "entropy", "aciq:laplace", "aciq:gauss", "mse"};
	int bits = QS_BITS_MIN + _i;
	gsl_rng *r = rng_new(31 + (unsigned long)bits);
	double x[300], pos[300], z[3] = {0.0, 0.0, 0.0};
	for (size_t i = 0; i < 300; i++) {
		x[i] = gsl_ran_gaussian(r, 0.3) + (i % 50 == 0 ? 4.0 : 0.0);
		pos[i] = fabs(x[i]) + 0.1;
	}
	for (size_t is = 0; is < sizeof specs / sizeof *specs; is++)
		for (int v = 0; v < 16; v++) {
			struct qs_quantizer q = {.bits = bits, .asym = v & 1, .is_signed = v & 2, .narrow = v & 4,
						 .profile = v & 8 ? QS_PROFILE_TORCH : QS_PROFILE_DEFAULT};
			double lo, hi;
			for (int data = 0; data < 3; data++) {
				const double *d = data == 0 ? x : data == 1 ? pos : z;
				size_t n = data == 2 ? 3 : 300;
				clip(specs[is], d, n, &q, &lo, &hi);
				ck_assert_msg(isfinite(lo) && isfinite(hi) && lo <= hi,
					      "%s b=%d v=%d data=%d: [%g, %g]", specs[is], bits, v, data, lo, hi);
				if (data == 2) /* an all-zero group: a dead range, not a crash */
					ck_assert_msg(lo == 0.0 && hi == 0.0, "%s: [%g, %g]", specs[is], lo, hi);
			}
		}
	gsl_rng_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("calib_more");
	TCase *tc;
	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse);
	suite_add_tcase(s, tc);
	tc = tcase_create("percentile");
	tcase_add_test(tc, test_percentile);
	suite_add_tcase(s, tc);
	tc = tcase_create("entropy");
	tcase_add_test(tc, test_entropy);
	tcase_add_test(tc, test_entropy_ties);
	suite_add_tcase(s, tc);
	tc = tcase_create("aciq");
	tcase_add_loop_test(tc, test_aciq_model, 0, (int)(sizeof aciq_bits / sizeof *aciq_bits));
	tcase_add_loop_test(tc, test_aciq_samples, 0, (int)(sizeof aciq_bits / sizeof *aciq_bits));
	suite_add_tcase(s, tc);
	tc = tcase_create("mse");
	tcase_add_test(tc, test_mse_gauss);
	tcase_add_test(tc, test_mse_brute);
	tcase_add_test(tc, test_mse_skipping);
	suite_add_tcase(s, tc);
	tc = tcase_create("all");
	tcase_add_loop_test(tc, test_all_quantizers, 0, QS_BITS_MAX - QS_BITS_MIN + 1);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
