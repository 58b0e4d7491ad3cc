/* Unit tests of the fast error decomposition: every field equal to the brute-force qs_err_ref on seeded tensors. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "metrics/err.h"
#include "metrics/err_fast.h"
#include "quant/quantizer.h"
#include "util/qs_error.h"

/* ck_assert_msg marks a checkpoint (a pipe write) on every pass; loops use this instead. */
#define REQUIRE(cond, ...)                                                                                      \
	do {                                                                                                    \
		if (!(cond))                                                                                    \
			ck_abort_msg(__VA_ARGS__);                                                              \
	} while (0)

/* Required agreement with qs_err_ref (relative), by bit width. */
#define TOL_LE8 1e-9
#define TOL_LE16 1e-6
#define TOL_SIGNAL 1e-12
/* Where the ref's sse is exactly 0, fast may leave the rounding residue of its double-double block formula,
 * about 2^-104 of the block's Σx², so anything below signal · 1e-18 is accepted (and 0 when the signal is 0). */
#define ZERO_FLOOR 1e-18

enum field { F_SIGNAL, F_CLIP, F_ROUND, F_MAX, NFIELD };
static const char *const field_names[NFIELD] = { "signal", "sse_clip", "sse_round", "max_abs" };
static double worst[NFIELD]; /* worst relative difference seen by this test (reported with QS_ERR_FAST_REPORT) */

static const double multipliers[] = { 0.05, 0.2, 0.55, 0.9, 1.0, 1.37, 2.0 };
#define NMULT (sizeof multipliers / sizeof *multipliers)

static struct qs_quantizer config(int bits, unsigned c)
{
	struct qs_quantizer q = {
		.bits = bits,
		.is_signed = c & 1,
		.narrow = c >> 1 & 1,
		.asym = c >> 2 & 1,
		.pow2 = c >> 3 & 1,
		.rounding = (c >> 4 & 1) ? QS_ROUND_AWAY : QS_ROUND_EVEN,
		.profile = (c >> 5 & 1) ? QS_PROFILE_TORCH : QS_PROFILE_DEFAULT,
	};
	return q;
}
#define NCONFIG 64u

static void describe(char *buf, size_t size, const char *what, size_t n, const struct qs_quantizer *q, double m,
		     const struct qs_qparams *p)
{
	snprintf(buf, size, "%s n=%zu b=%d %s %s %s%s round=%s profile=%s m=%g s=%.17g z=%ld", what, n, q->bits,
		 q->is_signed ? "signed" : "unsigned", q->narrow ? "narrow" : "full", q->asym ? "asym" : "sym",
		 q->pow2 ? " pow2" : "", qs_rounding_name(q->rounding), qs_profile_name(q->profile), m, p->scale,
		 p->zero_point);
}

static double rel_diff(double got, double want)
{
	return want == 0.0 ? (got == 0.0 ? 0.0 : INFINITY) : fabs(got - want) / fabs(want);
}

static void check_sse(const char *name, enum field f, double got, double want, double signal, double tol,
		      const char *ctx)
{
	if (want == 0.0) {
		REQUIRE(got >= 0.0 && got <= ZERO_FLOOR * signal, "%s: %s = %.17g where the ref has 0 (signal %.17g)", ctx,
			name, got, signal);
		return;
	}
	double r = rel_diff(got, want);
	worst[f] = fmax(worst[f], r);
	REQUIRE(r <= tol, "%s: %s = %.17g, ref %.17g (rel %.3g > %.3g)", ctx, name, got, want, r, tol);
}

static void check_same(const struct qs_err *got, const struct qs_err *want, int bits, const char *ctx)
{
	double tol = bits <= 8 ? TOL_LE8 : TOL_LE16;
	REQUIRE(got->n == want->n, "%s: n %zu, ref %zu", ctx, got->n, want->n);
	REQUIRE(got->n_clipped == want->n_clipped, "%s: n_clipped %zu, ref %zu", ctx, got->n_clipped, want->n_clipped);
	double r = rel_diff(got->signal, want->signal);
	worst[F_SIGNAL] = fmax(worst[F_SIGNAL], r);
	REQUIRE(r <= TOL_SIGNAL, "%s: signal %.17g, ref %.17g", ctx, got->signal, want->signal);
	check_sse("sse_clip", F_CLIP, got->sse_clip, want->sse_clip, want->signal, tol, ctx);
	check_sse("sse_round", F_ROUND, got->sse_round, want->sse_round, want->signal, tol, ctx);
	/* Same x̂, same fl(x - x̂), and the maximum of a monotone function sits at a run's end: bit-identical. */
	worst[F_MAX] = fmax(worst[F_MAX], rel_diff(got->max_abs, want->max_abs));
	REQUIRE(got->max_abs == want->max_abs, "%s: max_abs %.17g, ref %.17g", ctx, got->max_abs, want->max_abs);
}

/* Both entry points (with and without the plain-pass fallback) against the ref for one (q, p). */
static void check_point(const double *x, const struct qs_err_prepared *d, const struct qs_quantizer *q,
			const struct qs_qparams *p, double m, const char *what)
{
	struct qs_err ref, fast, walk;
	qs_err_ref(x, d->n, q, p, NULL, &ref);
	qs_err_fast(d, q, p, &fast);
	qs_err_fast_walk(d, q, p, &walk);
	char ctx[320];
	describe(ctx, sizeof ctx, what, d->n, q, m, p);
	check_same(&fast, &ref, q->bits, ctx);
	strncat(ctx, " (walk)", sizeof ctx - strlen(ctx) - 1);
	check_same(&walk, &ref, q->bits, ctx);
}

/* Every multiplier of the data's [min, max] under config c. */
static void check_config(const double *x, const struct qs_err_prepared *d, int bits, unsigned c, const char *what)
{
	struct qs_quantizer q = config(bits, c);
	double lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < d->n; i++) {
		lo = fmin(lo, x[i]);
		hi = fmax(hi, x[i]);
	}
	for (size_t k = 0; k < NMULT; k++) {
		struct qs_qparams p;
		qs_quant_params(&q, multipliers[k] * lo, multipliers[k] * hi, &p);
		check_point(x, d, &q, &p, multipliers[k], what);
	}
}

/* ---- data ------------------------------------------------------------------------------------------------------- */

enum dist { D_NORMAL, D_T2, D_T3, D_T4, D_LAPLACE, D_UNIFORM, D_RELU, D_EQUAL, D_ZERO, NDIST };
static const char *const dist_names[NDIST] = { "N(0,1)", "t2", "t3", "t4", "laplace", "uniform", "relu", "equal",
					       "zero" };

static void fill(double *x, size_t n, enum dist dist, gsl_rng *r)
{
	for (size_t i = 0; i < n; i++) {
		switch (dist) {
		case D_NORMAL: x[i] = gsl_ran_ugaussian(r); break;
		case D_T2: x[i] = 0.0385 * gsl_ran_tdist(r, 2.0); break;
		case D_T3: x[i] = gsl_ran_tdist(r, 3.0); break;
		case D_T4: x[i] = 2.385 * gsl_ran_tdist(r, 4.0); break;
		case D_LAPLACE: x[i] = gsl_ran_laplace(r, 0.7); break;
		case D_UNIFORM: x[i] = -0.31 + 2.03 * gsl_rng_uniform(r); break;
		case D_RELU: x[i] = fmax(0.0, 1.3 * gsl_ran_ugaussian(r) + 0.2); break;
		case D_EQUAL: x[i] = -2.385; break;
		case D_ZERO: x[i] = (i & 1) ? -0.0 : 0.0; break;
		default: x[i] = NAN; break;
		}
	}
}

static const size_t sizes[] = { 1, 2, 7, 31, 32, 33, 100, 1000, 4099, 30011, 100000 };
#define NSIZE (sizeof sizes / sizeof *sizes)
#define ALL_CONFIGS_UP_TO 100 /* larger groups: a few seeded configurations each (total time) */

/* The float32 form (keys32) is taken when every value is exactly a float32; groups of >= 65536 values are then
 * sorted through 16-bit buckets. These sizes reach both. */
static const size_t sizes_f32[] = { 1, 2, 7, 33, 1000, 4099, 65535, 65536, 131075 };
#define NSIZE_F32 (sizeof sizes_f32 / sizeof *sizes_f32)

/* Every distribution and size against the ref; f32: the values rounded to float32 first (the keys32 form). */
static void matches_ref(int bits, bool f32)
{
	const size_t *sz = f32 ? sizes_f32 : sizes;
	size_t nsz = f32 ? NSIZE_F32 : NSIZE;
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, (f32 ? 5000u : 1000u) + (unsigned long)bits);
	double *x = malloc(sz[nsz - 1] * sizeof *x);
	struct qs_err_prepared d = { 0 }; /* one struct for all groups: exercises buffer reuse */
	ck_assert_ptr_nonnull(x);
	memset(worst, 0, sizeof worst);
	for (size_t si = 0; si < nsz; si++) {
		size_t n = sz[si];
		for (int dist = 0; dist < NDIST; dist++) {
			if (n > 50000 ? dist != D_NORMAL && dist != D_T2
				      : n > 5000 && dist != D_NORMAL && dist != D_T2 && dist != D_RELU && dist != D_UNIFORM)
				continue;
			fill(x, n, (enum dist)dist, r);
			for (size_t i = 0; f32 && i < n; i++)
				x[i] = (float)x[i];
			ck_assert_int_eq(qs_err_prepare(x, n, &d), QS_OK);
			ck_assert(!f32 || d.keys32 != NULL);
			char what[64];
			snprintf(what, sizeof what, "%s%s seed %d", dist_names[dist], f32 ? " f32" : "",
				 (f32 ? 5000 : 1000) + bits);
			if (n <= ALL_CONFIGS_UP_TO) {
				for (unsigned c = 0; c < NCONFIG; c++)
					check_config(x, &d, bits, c, what);
			} else {
				int k = n > 50000 ? 2 : n > 5000 ? 3 : n > 2000 ? 6 : 12;
				while (k--)
					check_config(x, &d, bits, (unsigned)gsl_rng_uniform_int(r, NCONFIG), what);
			}
		}
	}
	if (getenv("QS_ERR_FAST_REPORT"))
		for (int f = 0; f < NFIELD; f++)
			fprintf(stderr, "err_fast%s b=%d worst %s rel %.3g\n", f32 ? " f32" : "", bits, field_names[f],
				worst[f]);
	qs_err_prepared_free(&d);
	free(x);
	gsl_rng_free(r);
}

START_TEST(test_matches_ref)
{
	matches_ref(_i, false);
}
END_TEST

START_TEST(test_matches_ref_f32)
{
	matches_ref(_i, true);
}
END_TEST

/* Values on level boundaries x = (k + 1/2) s and on levels x = k s of the tested s (plus their neighbours one ulp
 * away), so half-even and half-away ties and exact zeros of the error decide the counts. */
START_TEST(test_ties)
{
	const int bits = _i;
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, 2000u + (unsigned long)bits);
	enum { N = 1500 };
	double *x = malloc(N * sizeof *x);
	struct qs_err_prepared d = { 0 };
	ck_assert_ptr_nonnull(x);
	for (unsigned c = 0; c < NCONFIG; c++) {
		struct qs_quantizer q = config(bits, c);
		double m = multipliers[gsl_rng_uniform_int(r, NMULT)];
		struct qs_qparams p;
		qs_quant_params(&q, -1.7 * m, 2.385 * m, &p);
		long qmin, qmax;
		qs_quant_range(&q, &qmin, &qmax);
		long span = qmax - qmin + 8; /* a few levels beyond either end: clipped ties too */
		for (int kind = 0; kind < 3; kind++) {
			for (size_t i = 0; i < N; i++) {
				long k = (long)gsl_rng_uniform_int(r, (unsigned long)span) + qmin - 4 - p.zero_point;
				double v = kind == 0 ? ((double)k + 0.5) * p.scale : (double)k * p.scale;
				if (kind == 2) /* neighbours of the ties */
					v = nextafter(((double)k + 0.5) * p.scale, (i & 1) ? INFINITY : -INFINITY);
				x[i] = v;
			}
			ck_assert_int_eq(qs_err_prepare(x, N, &d), QS_OK);
			check_point(x, &d, &q, &p, m, kind == 0 ? "ties" : kind == 1 ? "on levels" : "next to ties");
		}
		/* Few distinct values, each repeated: constant runs longer than a block. */
		for (size_t i = 0; i < N; i++)
			x[i] = ((double)(long)(i % 5) - 2.0 + 0.5 * (double)(i % 2)) * p.scale;
		ck_assert_int_eq(qs_err_prepare(x, N, &d), QS_OK);
		check_point(x, &d, &q, &p, m, "repeated levels and ties");
	}
	qs_err_prepared_free(&d);
	free(x);
	gsl_rng_free(r);
}
END_TEST

/* Far outliers: the bulk's rounding error must not drown in the outliers' x² (the prefix sums start at the values
 * nearest 0). The scale is set for the bulk, as a percentile calibrator would. An outlier of 1e10 (x² = 2^66.4) is
 * where summing from the most negative value would cost ~1e-9 of sse_round at 16 bits; we require the b <= 8
 * agreement (1e-9) here at every width. */
START_TEST(test_outlier)
{
	enum { N = 20000 };
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, 3001);
	double *x = malloc(N * sizeof *x);
	struct qs_err_prepared d = { 0 };
	ck_assert_ptr_nonnull(x);
	static const double outliers[] = { -3.1e12, -1.02e10, -4.7e9 };
	for (size_t k = 0; k < sizeof outliers / sizeof *outliers; k++) {
		for (size_t i = 0; i < N; i++)
			x[i] = gsl_ran_ugaussian(r);
		x[17] = outliers[k];
		x[N - 5] = -0.5 * outliers[k];
		ck_assert_int_eq(qs_err_prepare(x, N, &d), QS_OK);
		for (int bits = 8; bits <= 16; bits += 4) {
			struct qs_quantizer q = config(bits, 1); /* signed full sym, half-even */
			struct qs_qparams p;
			qs_quant_params(&q, -4.0, 4.0, &p);
			struct qs_err ref, fast, walk;
			qs_err_ref(x, N, &q, &p, NULL, &ref);
			qs_err_fast(&d, &q, &p, &fast);
			qs_err_fast_walk(&d, &q, &p, &walk);
			char ctx[320];
			describe(ctx, sizeof ctx, "outliers", N, &q, outliers[k], &p);
			check_same(&fast, &ref, 8, ctx);
			check_same(&walk, &ref, 8, ctx);
		}
	}
	qs_err_prepared_free(&d);
	free(x);
	gsl_rng_free(r);
}
END_TEST

/* Long runs at high bit widths: Σx² - 2 x̂ Σx + m x̂² cancels to ~(s / x)² of its terms, 1e-9 at 16 bits for data
 * near 37.5 (x / s ~ 3e4): plain double prefix sums lose 1e-5..1e-4 of sse_round here (measured), the double-double ones 1e-14.
 * 2^20 values, so a level holds hundreds of values and the block formula carries the bulk. */
START_TEST(test_cancellation)
{
	const size_t n = (size_t)1 << 20;
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, 4001);
	double *x = malloc(n * sizeof *x);
	struct qs_err_prepared d = { 0 };
	ck_assert_ptr_nonnull(x);
	for (int data = 0; data < 2; data++) {
		double lo = INFINITY, hi = -INFINITY;
		for (size_t i = 0; i < n; i++) {
			x[i] = data == 0 ? gsl_ran_ugaussian(r) : 37.5 + 0.1 * gsl_ran_ugaussian(r);
			lo = fmin(lo, x[i]);
			hi = fmax(hi, x[i]);
		}
		ck_assert_int_eq(qs_err_prepare(x, n, &d), QS_OK);
		for (int bits = 12; bits <= 16; bits += 2) {
			static const unsigned configs[] = { 1, 4 + 16, 2 + 32 }; /* sym signed; asym away; narrow torch */
			for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
				struct qs_quantizer q = config(bits, configs[c]);
				struct qs_qparams p;
				qs_quant_params(&q, lo, hi, &p);
				check_point(x, &d, &q, &p, 1.0, data == 0 ? "N(0,1)" : "37.5 + 0.1 N(0,1)");
			}
		}
	}
	qs_err_prepared_free(&d);
	free(x);
	gsl_rng_free(r);
}
END_TEST

START_TEST(test_edge_cases)
{
	struct qs_err_prepared d = { 0 };
	struct qs_quantizer q = config(8, 1);
	struct qs_qparams p;
	qs_quant_params(&q, -1.0, 1.0, &p);
	struct qs_err ref, fast;

	/* Empty group. */
	ck_assert_int_eq(qs_err_prepare(NULL, 0, &d), QS_OK);
	qs_err_fast(&d, &q, &p, &fast);
	qs_err_ref(NULL, 0, &q, &p, NULL, &ref);
	ck_assert(memcmp(&fast, &ref, sizeof ref) == 0);

	/* Non-finite values are refused; the struct stays usable. */
	double bad[] = { 0.5, NAN, 1.0 };
	ck_assert_int_eq(qs_err_prepare(bad, 3, &d), QS_ENONFINITE);
	ck_assert_uint_eq(d.n, 0);
	bad[1] = -INFINITY;
	ck_assert_int_eq(qs_err_prepare(bad, 3, &d), QS_ENONFINITE);
	bad[1] = -0x1p400;
	ck_assert_int_eq(qs_err_prepare(bad, 3, &d), QS_ENONFINITE);
	bad[1] = -0.25;
	ck_assert_int_eq(qs_err_prepare(bad, 3, &d), QS_OK);
	qs_err_fast(&d, &q, &p, &fast);
	qs_err_ref(bad, 3, &q, &p, NULL, &ref);
	check_same(&fast, &ref, 8, "three values");

	/* The sort keeps the order of doubles across signs, subnormals and zeros of both signs. */
	double mixed[] = { 3.0, -0.0, 5e-324, -5e-324, 0.0, -1e-300, 1e-300, -7.5, 2.0, -DBL_MAX / 0x1p700 };
	ck_assert_int_eq(qs_err_prepare(mixed, 10, &d), QS_OK);
	ck_assert_ptr_nonnull(d.sorted64);
	for (size_t i = 1; i < d.n; i++)
		ck_assert(qs_err_prepared_at(&d, i - 1) <= qs_err_prepared_at(&d, i));

	/* The radix sort (n >= 256) on the same kind of data. */
	double big[600];
	for (size_t i = 0; i < 600; i++)
		big[i] = mixed[i % 10] * (double)(i % 7 + 1);
	ck_assert_int_eq(qs_err_prepare(big, 600, &d), QS_OK);
	for (size_t i = 1; i < d.n; i++)
		ck_assert(qs_err_prepared_at(&d, i - 1) <= qs_err_prepared_at(&d, i));

	qs_err_prepared_free(&d);
	ck_assert_ptr_null(d.keys_buf);
	ck_assert_ptr_null(d.sorted_buf);
	qs_err_prepared_free(&d); /* twice, and NULL */
	qs_err_prepared_free(NULL);
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Float32 values that stress the keys32 form: zeros of both signs, subnormals, the largest and smallest normal
 * floats, values on level boundaries (k + 1/2) s of power-of-two scales -- which are also bucket boundaries (7
 * mantissa bits) -- their float neighbours, and a t(4) bulk. n = 65539 and 2^20 + 3 (bucket path, the latter
 * sorted and summed by OpenMP threads) and 3000 (byte sort). The prepared values must be the input's multiset
 * ascending (compared with qsort), and every field equal to the ref. */
START_TEST(test_f32_buckets)
{
	static const size_t ns[] = { 65539, 3000, ((size_t)1 << 20) + 3 }; /* the last: prepared with threads */
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, 6001);
	const size_t nmax = ns[2];
	double *x = malloc(nmax * sizeof *x), *want = malloc(nmax * sizeof *want), *got = malloc(nmax * sizeof *got);
	struct qs_err_prepared d = { 0 };
	ck_assert(x && want && got);
	for (size_t in = 0; in < sizeof ns / sizeof *ns; in++) {
		size_t n = ns[in];
		for (int data = 0; data < (n == nmax ? 1 : 3); data++) {
			double s = ldexp(1.0, -3 - 2 * data); /* the tie grid's step */
			for (size_t i = 0; i < n; i++) {
				long k = (long)gsl_rng_uniform_int(r, 600) - 300;
				double v;
				switch (gsl_rng_uniform_int(r, 8)) {
				case 0: v = ((double)k + 0.5) * s; break;
				case 1: v = (double)k * s; break;
				case 2: v = nextafterf((float)(((double)k + 0.5) * s), (i & 1) ? INFINITY : -INFINITY); break;
				case 3: v = (i & 1) ? -0.0 : 0.0; break;
				case 4: v = (double)FLT_TRUE_MIN * (double)(k % 40); break; /* subnormals */
				case 5: v = (i & 2 ? -1.0 : 1.0) * (data == 2 ? (double)FLT_MAX : data == 1 ? 3.1e30 : FLT_MIN);
					break;
				default: v = 2.385 * gsl_ran_tdist(r, 4.0); break;
				}
				x[i] = (float)v;
			}
			ck_assert_int_eq(qs_err_prepare(x, n, &d), QS_OK);
			ck_assert_ptr_nonnull(d.keys32);
			memcpy(want, x, n * sizeof *x);
			qsort(want, n, sizeof *want, cmp_double);
			qs_err_prepared_copy(&d, got);
			for (size_t i = 0; i < n; i++)
				REQUIRE(got[i] == want[i] && signbit(got[i]) == signbit(qs_err_prepared_at(&d, i)),
					"value %zu: %.9g, want %.9g", i, got[i], want[i]);
			for (size_t i = 1; i < n; i++) /* -0 before +0: the order of the keys */
				REQUIRE(!(signbit(got[i - 1]) == 0 && got[i - 1] == 0.0 && signbit(got[i]) && got[i] == 0.0),
					"+0 before -0 at %zu", i);
			for (int bits = n == nmax ? 8 : QS_BITS_MIN; bits <= (n == nmax ? 8 : QS_BITS_MAX);
			     bits += 1 + (bits >= 8)) {
				for (unsigned c = 0; c < NCONFIG; c += n == nmax ? 31 : 11) {
					struct qs_quantizer q = config(bits, c | 8); /* pow2: level boundaries are floats */
					long qmin, qmax;
					qs_quant_range(&q, &qmin, &qmax);
					for (int m = -1; m <= 1; m++) { /* the grid's step, and half and twice it */
						double t = ldexp(s, m) * (double)(qmax > 1 ? qmax : 1);
						struct qs_qparams p;
						qs_quant_params(&q, q.asym ? -0.7 * t : -t, t, &p);
						check_point(x, &d, &q, &p, ldexp(1.0, m), data == 2 ? "f32 FLT_MAX" : "f32 mix");
					}
				}
			}
		}
	}
	/* A NaN deep inside a large group, in the second thread's slice: refused, named by its index. */
	x[777777] = NAN;
	ck_assert_int_eq(qs_err_prepare(x, nmax, &d), QS_ENONFINITE);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "index 777777"));
	qs_err_prepared_free(&d);
	free(x);
	free(want);
	free(got);
	gsl_rng_free(r);
}
END_TEST

/* The matches_ref cases for every bit width, or, under valgrind (QS_UNDER_VALGRIND, set by the meson test setup),
 * for 2, 8 and 16 bits only: the same code paths at a fraction of the time (valgrind checks memory, the normal and
 * sanitizer runs check every width). The cases not run are not registered, so they are never counted as passes. */
static void add_bit_widths(TCase *tc, const TTest *test)
{
	if (!getenv("QS_UNDER_VALGRIND")) {
		tcase_add_loop_test(tc, test, QS_BITS_MIN, QS_BITS_MAX + 1);
		return;
	}
	static const int widths[] = { 2, 8, 16 };
	for (size_t i = 0; i < sizeof widths / sizeof *widths; i++)
		tcase_add_loop_test(tc, test, widths[i], widths[i] + 1);
}

/* qs_err_fast_outside against a direct sum with long double, on seeded groups (float32 and double values, sizes
 * around the block and bucket thresholds), bounds inside, at and beyond the data, values equal to a bound included. */
START_TEST(test_outside)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, 77);
	static const size_t sizes[] = {1, 2, 31, 32, 33, 100, 4097, 70000};
	double *x = malloc(70000 * sizeof *x);
	struct qs_err_prepared d = {0};
	for (size_t is = 0; is < sizeof sizes / sizeof *sizes; is++) {
		for (int f32 = 0; f32 < 2; f32++) {
			size_t n = sizes[is];
			for (size_t i = 0; i < n; i++) {
				double v = gsl_ran_tdist(r, 3.0) + 0.1;
				x[i] = f32 ? (double)(float)v : v;
			}
			ck_assert_int_eq(qs_err_prepare(x, n, &d), QS_OK);
			for (int t = 0; t < 12; t++) {
				double lo = t < 10 ? x[gsl_rng_uniform_int(r, n)] - 0.5 * gsl_rng_uniform(r) : -1e9;
				double hi = t < 10 ? lo + 3.0 * gsl_rng_uniform(r) : t == 10 ? -1e9 : 1e9;
				if (t == 5)
					hi = lo; /* a single point: every other value is outside */
				long double want = 0.0L;
				for (size_t i = 0; i < n; i++) {
					long double dx = x[i] < lo ? (long double)lo - x[i] : x[i] > hi ? (long double)x[i] - hi : 0.0L;
					want += dx * dx;
				}
				double got = qs_err_fast_outside(&d, lo, hi);
				ck_assert_msg(fabsl(got - want) <= 1e-12L * want + 1e-300L,
					      "n %zu f32 %d [%g, %g]: %.17g, direct %.17Lg", n, f32, lo, hi, got, want);
			}
		}
	}
	qs_err_prepared_free(&d);
	free(x);
	gsl_rng_free(r);
}
END_TEST

static Suite *err_fast_suite(void)
{
	Suite *s = suite_create("err_fast");
	TCase *tc = tcase_create("matches_ref");
	add_bit_widths(tc, test_matches_ref);
	suite_add_tcase(s, tc);
	tc = tcase_create("matches_ref_f32");
	add_bit_widths(tc, test_matches_ref_f32);
	tcase_add_test(tc, test_f32_buckets);
	suite_add_tcase(s, tc);
	tc = tcase_create("ties");
	tcase_add_loop_test(tc, test_ties, QS_BITS_MIN, QS_BITS_MAX + 1);
	suite_add_tcase(s, tc);
	tc = tcase_create("edge");
	tcase_add_test(tc, test_outlier);
	tcase_add_test(tc, test_cancellation);
	tcase_add_test(tc, test_edge_cases);
	tcase_add_test(tc, test_outside);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(err_fast_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
