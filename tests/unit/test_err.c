/* Unit tests of the error decomposition (SPEC §2) against closed forms, numerical integration and brute force. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "metrics/err.h"
#include "quant/quantizer.h"

/* ck_assert_msg marks a checkpoint (a pipe write) on every pass; loops use this instead. */
#define REQUIRE(cond, ...)                                                                                      \
	do {                                                                                                    \
		if (!(cond))                                                                                    \
			ck_abort_msg(__VA_ARGS__);                                                              \
	} while (0)

#define REQUIRE_REL(got, want, tol, ...)                                                                        \
	REQUIRE(fabs((got) - (want)) <= (tol) * fabs(want), __VA_ARGS__)

static struct qs_quantizer mkq(int bits, bool is_signed, bool narrow, bool asym, bool pow2, enum qs_rounding r,
			       enum qs_profile prof)
{
	struct qs_quantizer q = {
		.bits = bits, .is_signed = is_signed, .narrow = narrow, .asym = asym, .pow2 = pow2,
		.rounding = r, .profile = prof,
	};
	return q;
}

/* ---- N(0,1) moments by numerical integration --------------------------------------------------------------- */

struct moment {
	double c; /* centre: the reconstruction level */
	int p;    /* power of (x - c) */
};

static double moment_integrand(double x, void *arg)
{
	const struct moment *m = arg;
	return pow(x - m->c, m->p) * gsl_ran_ugaussian_pdf(x);
}

/* ∫_a^b (x - c)^p φ(x) dx by adaptive Gauss-Kronrod (b = +inf: qagiu). */
static double integrate(double a, double b, double c, int p)
{
	gsl_integration_workspace *w = gsl_integration_workspace_alloc(1000);
	struct moment m = { c, p };
	gsl_function f = { moment_integrand, &m };
	double r = NAN, abserr;
	int st = isinf(b) ? gsl_integration_qagiu(&f, a, 0.0, 1e-12, 1000, w, &r, &abserr)
			  : gsl_integration_qags(&f, a, b, 0.0, 1e-12, 1000, w, &r, &abserr);
	gsl_integration_workspace_free(w);
	ck_assert_msg(st == GSL_SUCCESS || st == GSL_EROUND, "integration [%g, %g] failed: %s", a, b, gsl_strerror(st));
	return r;
}

/* The same p = 2 integral in closed form (for checking the integrator): with I0 = Φ(b) - Φ(a),
 * I1 = φ(a) - φ(b), I2 = I0 + a φ(a) - b φ(b):  ∫ (x - c)² φ = I2 - 2 c I1 + c² I0. */
static double closed_form2(double a, double b, double c)
{
	double pa = gsl_ran_ugaussian_pdf(a);
	double pb = isinf(b) ? 0.0 : gsl_ran_ugaussian_pdf(b);
	double i0 = isinf(b) ? gsl_cdf_ugaussian_Q(a) : gsl_cdf_ugaussian_P(b) - gsl_cdf_ugaussian_P(a);
	double i2 = i0 + a * pa - (isinf(b) ? 0.0 : b * pb);
	return i2 - 2.0 * c * (pa - pb) + c * c * i0;
}

/* Expected per-element error of x ~ N(0,1) in the symmetric quantizer with levels k s, |k| <= m (z = 0):
 * clip  = 2 ∫_{(m+1/2)s}^∞ (x - m s)^p φ(x) dx           (v = round(x/s) > m: clipped to m s)
 * round = Σ_{|k|<=m} ∫_{(k-1/2)s}^{(k+1/2)s} (x - k s)^p φ(x) dx
 * p = 2 gives the expected squared error, p = 4 its second moment (for the sampling standard error). */
static void gauss_parts(int m, double s, int p, double *clip, double *round_)
{
	*clip = 2.0 * integrate((m + 0.5) * s, INFINITY, m * s, p);
	double r = 0;
	for (int k = -m; k <= m; k++)
		r += integrate((k - 0.5) * s, (k + 0.5) * s, k * s, p);
	*round_ = r;
}

static double gauss_total(int m, double s)
{
	double c, r;
	gauss_parts(m, s, 2, &c, &r);
	return c + r;
}

START_TEST(test_integrator_vs_closed_form)
{
	static const double cases[][3] = {
		{ 2.65, INFINITY, 2.474 }, { 1.5, INFINITY, 1.4 }, { -0.17, 0.17, 0.0 }, { 0.53, 0.88, 0.7068 },
		{ 3.936, INFINITY, 3.92 }, { -2.3, -1.9, -2.1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double a = cases[i][0], b = cases[i][1], c = cases[i][2];
		double num = integrate(a, b, c, 2), cf = closed_form2(a, b, c);
		REQUIRE_REL(num, cf, 1e-9, "∫_%g^%g (x-%g)² φ: quadrature %.15g, closed form %.15g", a, b, c, num, cf);
	}
}
END_TEST

/* SPEC §6: the MSE-optimal step of N(0,1), symmetric narrow range, is s* = 0.35341 (b = 4) and 0.030870 (b = 8).
 * The integrated expected error must be lower at s* than at 0.98 s* and 1.02 s*, and a golden-section search
 * on it must land within half a unit of the last digit SPEC quotes. */
START_TEST(test_optimal_step_reference)
{
	static const struct {
		int bits;
		double s_star, half_ulp;
	} ref[] = { { 4, 0.35341, 0.000005 }, { 8, 0.030870, 0.0000005 } };
	int m = (1 << (ref[_i].bits - 1)) - 1;
	double s = ref[_i].s_star;
	double e0 = gauss_total(m, s), elo = gauss_total(m, 0.98 * s), ehi = gauss_total(m, 1.02 * s);
	REQUIRE(e0 < elo && e0 < ehi, "b=%d: E(s*)=%.10g, E(0.98 s*)=%.10g, E(1.02 s*)=%.10g", ref[_i].bits, e0, elo,
		ehi);
	const double g = (sqrt(5.0) - 1.0) / 2.0;
	double a = 0.9 * s, b = 1.1 * s, x1 = b - g * (b - a), x2 = a + g * (b - a);
	double f1 = gauss_total(m, x1), f2 = gauss_total(m, x2);
	while (b - a > 1e-9 * s) {
		if (f1 < f2) {
			b = x2;
			x2 = x1;
			f2 = f1;
			x1 = b - g * (b - a);
			f1 = gauss_total(m, x1);
		} else {
			a = x1;
			x1 = x2;
			f1 = f2;
			x2 = a + g * (b - a);
			f2 = gauss_total(m, x2);
		}
	}
	double smin = 0.5 * (a + b);
	REQUIRE(fabs(smin - s) <= ref[_i].half_ulp, "b=%d: integrated optimum %.8f, SPEC says %.6g", ref[_i].bits, smin,
		s);
}
END_TEST

/* ---- the clip / round split on Gaussian data --------------------------------------------------------------- */

/* Symmetric signed narrow range (levels -m..m, m = 2^(b-1) - 1) on N(0,1) data. tol_q: tolerances for the
 * quantile data (measured quadrature error there: b=4 < 0.05%; b=8 clip -3.6%, as only ~80 quantiles fall in
 * its tail beyond 3.94, round < 0.01%). */
static const struct {
	int bits;
	double s, tol_q_clip, tol_q_round;
} gauss_cases[] = {
	{ 4, 0.35341, 0.0025, 0.0025 }, /* SPEC §6 s* for b = 4 */
	{ 4, 0.2, 0.0025, 0.0025 },     /* heavy clipping: 13% of the values */
	{ 8, 0.030870, 0.05, 0.0025 },  /* SPEC §6 s* for b = 8 */
};
#define N_GAUSS (int)(sizeof gauss_cases / sizeof gauss_cases[0])

static void check_split(const double *x, size_t n, int bits, double s, double tol_clip, double tol_round,
			const char *what)
{
	const int m = (1 << (bits - 1)) - 1;
	struct qs_quantizer q = mkq(bits, true, true, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	struct qs_qparams p = { .scale = s, .zero_point = 0, .dead = false };
	struct qs_err e;
	memset(&e, 0xff, sizeof e);
	qs_err_ref(x, n, &q, &p, NULL, &e);
	double clip, round_;
	gauss_parts(m, s, 2, &clip, &round_);
	double got_clip = e.sse_clip / (double)n, got_round = e.sse_round / (double)n;
	REQUIRE(e.n == n, "%s: n = %zu", what, e.n);
	REQUIRE(fabs(got_clip - clip) <= tol_clip * clip,
		"%s b=%d s=%g: sse_clip/n = %.6g, integrated %.6g (tol %.3g%%)", what, bits, s, got_clip, clip,
		100 * tol_clip);
	REQUIRE(fabs(got_round - round_) <= tol_round * round_,
		"%s b=%d s=%g: sse_round/n = %.6g, integrated %.6g (tol %.3g%%)", what, bits, s, got_round, round_,
		100 * tol_round);
	double pclip = 2.0 * gsl_cdf_ugaussian_Q((m + 0.5) * s);
	double se = sqrt(pclip * (1 - pclip) / (double)n);
	REQUIRE(fabs((double)e.n_clipped / (double)n - pclip) <= fmax(5 * se, 1e-3 * pclip),
		"%s b=%d s=%g: clipped fraction %.6g, expected 2Q((m+1/2)s) = %.6g", what, bits, s,
		(double)e.n_clipped / (double)n, pclip);
}

/* 10^6 seeded N(0,1) samples. The tolerance is 1%, widened to 5 sampling standard errors where 10^6 samples
 * cannot resolve 1%: the clipping term at the b=4 s* comes from only ~8000 tail samples (standard error ~2.4%),
 * at the b=8 s* from ~80. The standard error is sqrt((E[Y²] - E[Y]²) / n), E[Y²] integrated like E[Y] with
 * (x - c)^4 in place of (x - c)². */
START_TEST(test_gauss_split_random)
{
	const size_t n = 1000000;
	const int bits = gauss_cases[_i].bits, m = (1 << (bits - 1)) - 1;
	const double s = gauss_cases[_i].s;
	double *x = malloc(n * sizeof *x);
	ck_assert_ptr_nonnull(x);
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 8675309);
	for (size_t i = 0; i < n; i++)
		x[i] = gsl_ran_gaussian(rng, 1.0);
	double c2, r2, c4, r4;
	gauss_parts(m, s, 2, &c2, &r2);
	gauss_parts(m, s, 4, &c4, &r4);
	double se_clip = sqrt((c4 - c2 * c2) / (double)n), se_round = sqrt((r4 - r2 * r2) / (double)n);
	check_split(x, n, bits, s, fmax(0.01, 5 * se_clip / c2), fmax(0.01, 5 * se_round / r2), "random");
	gsl_rng_free(rng);
	free(x);
}
END_TEST

/* 10^6 deterministic N(0,1) quantiles x_i = Φ^-1((i + 1/2) / n): the sums are then a quadrature of the same
 * integrals, so the split is held to 0.25% (b = 4) with no sampling noise. */
START_TEST(test_gauss_split_quantiles)
{
	const size_t n = 1000000;
	double *x = malloc(n * sizeof *x);
	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < n; i++)
		x[i] = gsl_cdf_ugaussian_Pinv(((double)i + 0.5) / (double)n);
	check_split(x, n, gauss_cases[_i].bits, gauss_cases[_i].s, gauss_cases[_i].tol_q_clip,
		    gauss_cases[_i].tol_q_round, "quantiles");
	free(x);
}
END_TEST

/* ---- uniform noise law ------------------------------------------------------------------------------------- */

static const int uniform_bits[] = { 2, 3, 4, 5, 6, 8, 10, 12, 16 };

/* SPEC §6: 10^6 values uniform over [-(2^(b-1)-1) s, (2^(b-1)-1) s] in a symmetric quantizer (signed and
 * unsigned): nothing is clipped and sse_round / n = s²/12 within 1% (sampling error ~0.09%). */
START_TEST(test_uniform_noise_law)
{
	const int bits = uniform_bits[_i];
	const size_t n = 1000000;
	const double t = 2.385;
	double *x = malloc(n * sizeof *x);
	ck_assert_ptr_nonnull(x);
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 1000u + (unsigned long)bits);
	for (size_t i = 0; i < n; i++)
		x[i] = -t + 2.0 * t * gsl_rng_uniform(rng);
	for (int sg = 0; sg < 2; sg++) {
		struct qs_quantizer q = mkq(bits, sg, false, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
		struct qs_qparams p;
		qs_quant_params(&q, -t, t, &p);
		double s = p.scale;
		REQUIRE_REL(s, t / (ldexp(1.0, bits - 1) - 1.0), 1e-14, "b=%d: scale %.17g", bits, s);
		struct qs_err e;
		qs_err_ref(x, n, &q, &p, NULL, &e);
		REQUIRE(e.n == n && e.n_clipped == 0 && e.sse_clip == 0.0, "b=%d signed=%d: n=%zu clipped=%zu sse_clip=%g",
			bits, sg, e.n, e.n_clipped, e.sse_clip);
		REQUIRE_REL(e.sse_round / (double)n, s * s / 12.0, 0.01, "b=%d signed=%d: sse_round/n = %.6g, s²/12 = %.6g",
			    bits, sg, e.sse_round / (double)n, s * s / 12.0);
		REQUIRE(e.max_abs <= 0.5 * s * (1 + 1e-12) && e.max_abs > 0.49 * s, "b=%d: max_abs %.6g, s/2 = %.6g",
			bits, e.max_abs, 0.5 * s);
		/* signal = Σ x² ≈ n t²/3 */
		REQUIRE_REL(e.signal, (double)n * t * t / 3.0, 0.01, "b=%d: signal %.6g", bits, e.signal);
	}
	gsl_rng_free(rng);
	free(x);
}
END_TEST

/* ---- dead groups and the derived figures ------------------------------------------------------------------- */

/* All zeros: params are dead, nothing clipped, no error: rel 0, sqnr +inf, clip_frac 0. */
START_TEST(test_dead_group)
{
	double x[64] = { 0 };
	for (int sg = 0; sg < 2; sg++)
		for (int as = 0; as < 2; as++)
			for (int pr = 0; pr < 2; pr++) {
				struct qs_quantizer q = mkq(8, sg, false, as, false, QS_ROUND_EVEN,
							    pr ? QS_PROFILE_TORCH : QS_PROFILE_DEFAULT);
				struct qs_qparams p;
				qs_quant_params(&q, 0.0, 0.0, &p);
				ck_assert(p.dead);
				struct qs_err e;
				qs_err_ref(x, 64, &q, &p, NULL, &e);
				REQUIRE(e.n == 64 && e.n_clipped == 0 && e.signal == 0 && e.sse_clip == 0 &&
						e.sse_round == 0 && e.max_abs == 0,
					"signed=%d asym=%d torch=%d: n=%zu clipped=%zu sse=%g/%g max=%g", sg, as, pr, e.n,
					e.n_clipped, e.sse_clip, e.sse_round, e.max_abs);
				ck_assert(qs_err_rel(&e) == 0.0);
				ck_assert(qs_err_rel_clip(&e) == 0.0 && qs_err_rel_round(&e) == 0.0);
				double sq = qs_err_sqnr_db(&e);
				ck_assert_msg(isinf(sq) && sq > 0, "sqnr of a dead group = %g", sq);
				ck_assert(qs_err_clip_frac(&e) == 0.0);
			}
}
END_TEST

/* Derived figures from hand-made sums: rel = sqrt(0.4 / 2.385), rel² = rel_clip² + rel_round²,
 * sqnr = 10 log10(5.9625) = 7.75428 dB, clip_frac = 3/17. */
START_TEST(test_derived_figures)
{
	struct qs_err e = { .n = 17, .n_clipped = 3, .signal = 2.385, .sse_clip = 0.3, .sse_round = 0.1, .max_abs = 0.5 };
	ck_assert_double_eq_tol(qs_err_sse(&e), 0.4, 1e-15);
	ck_assert_double_eq_tol(qs_err_rel(&e), sqrt(0.4 / 2.385), 1e-15);
	ck_assert_double_eq_tol(qs_err_rel_clip(&e), sqrt(0.3 / 2.385), 1e-15);
	ck_assert_double_eq_tol(qs_err_rel_round(&e), sqrt(0.1 / 2.385), 1e-15);
	double rc = qs_err_rel_clip(&e), rr = qs_err_rel_round(&e), r = qs_err_rel(&e);
	ck_assert_double_eq_tol(r * r, rc * rc + rr * rr, 1e-15);
	ck_assert_double_eq_tol(qs_err_sqnr_db(&e), 10.0 * log(2.385 / 0.4) / log(10.0), 1e-12);
	ck_assert_double_eq_tol(qs_err_sqnr_db(&e), 7.75428, 1e-5);
	ck_assert_double_eq_tol(qs_err_clip_frac(&e), 3.0 / 17.0, 1e-15);

	/* no error at all: sqnr +inf, rel 0 */
	struct qs_err z = { .n = 5, .signal = 2.385 };
	ck_assert(qs_err_rel(&z) == 0.0);
	ck_assert(isinf(qs_err_sqnr_db(&z)) && qs_err_sqnr_db(&z) > 0);
	/* zero signal with some error: rel is 0 by definition (SPEC §2) */
	struct qs_err zs = { .n = 5, .n_clipped = 1, .signal = 0.0, .sse_clip = 0.25, .sse_round = 0.0 };
	ck_assert(qs_err_rel(&zs) == 0.0 && qs_err_rel_clip(&zs) == 0.0 && qs_err_rel_round(&zs) == 0.0);
	ck_assert_double_eq_tol(qs_err_clip_frac(&zs), 0.2, 1e-15);
}
END_TEST

/* qs_err_add over three chunks equals one pass over the whole. */
START_TEST(test_add_chunks)
{
	enum { N = 1000 };
	double x[N];
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 271828);
	for (int i = 0; i < N; i++)
		x[i] = gsl_ran_gaussian(rng, 1.3);
	gsl_rng_free(rng);
	struct qs_quantizer q = mkq(4, true, false, true, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	struct qs_qparams p;
	qs_quant_params(&q, -2.1, 1.7, &p);
	struct qs_err whole, acc, g;
	qs_err_ref(x, N, &q, &p, NULL, &whole);
	memset(&acc, 0, sizeof acc);
	const size_t cut[4] = { 0, 123, 700, N };
	for (int k = 0; k < 3; k++) {
		qs_err_ref(x + cut[k], cut[k + 1] - cut[k], &q, &p, NULL, &g);
		qs_err_add(&acc, &g);
	}
	ck_assert_uint_eq(acc.n, whole.n);
	ck_assert_uint_eq(acc.n_clipped, whole.n_clipped);
	ck_assert(whole.n_clipped > 0);
	ck_assert_double_eq_tol(acc.signal, whole.signal, 1e-12 * whole.signal);
	ck_assert_double_eq_tol(acc.sse_clip, whole.sse_clip, 1e-12 * whole.sse_clip);
	ck_assert_double_eq_tol(acc.sse_round, whole.sse_round, 1e-12 * whole.sse_round);
	ck_assert(acc.max_abs == whole.max_abs);
}
END_TEST

/* ---- brute force against the SPEC formulas ----------------------------------------------------------------- */

static double bf_round(double v, enum qs_rounding mode, gsl_rng *rng)
{
	double f = floor(v), d = v - f;
	switch (mode) {
	case QS_ROUND_EVEN:
		return d > 0.5 ? f + 1 : d < 0.5 ? f : (fmod(f, 2.0) == 0.0 ? f : f + 1);
	case QS_ROUND_AWAY: {
		double a = fabs(v), fa = floor(a);
		return copysign(a - fa >= 0.5 ? fa + 1 : fa, v);
	}
	case QS_ROUND_STOCHASTIC:
		return f + (gsl_rng_uniform(rng) < d ? 1.0 : 0.0);
	}
	return NAN;
}

/* SPEC §1-§2 in one plain loop, with its own integer range, rounding and clamp. */
static void bf_err(const double *x, size_t n, const struct qs_quantizer *q, const struct qs_qparams *p, gsl_rng *rng,
		   struct qs_err *e)
{
	double qmin = q->is_signed ? -ldexp(1.0, q->bits - 1) : 0.0;
	double qmax = q->is_signed ? ldexp(1.0, q->bits - 1) - 1.0 : ldexp(1.0, q->bits) - 1.0;
	if (q->narrow)
		qmin += 1.0;
	memset(e, 0, sizeof *e);
	for (size_t i = 0; i < n; i++) {
		double v = bf_round(x[i] / p->scale, q->rounding, rng) + (double)p->zero_point;
		double qq = fmin(fmax(v, qmin), qmax);
		double d = x[i] - (qq - (double)p->zero_point) * p->scale;
		e->n++;
		e->signal += x[i] * x[i];
		if (v < qmin || v > qmax) {
			e->n_clipped++;
			e->sse_clip += d * d;
		} else {
			e->sse_round += d * d;
		}
		e->max_abs = fmax(e->max_abs, fabs(d));
	}
}

static const int bf_bits[] = { 2, 3, 4, 5, 7, 8, 11, 13, 16 };

/* Small seeded tensors (Gaussian with a few outliers, no exact zeros, and 24 half-way points spread over the
 * integer range, beyond both of its ends too) through every combination of signedness,
 * range, scheme, pow2, rounding and profile; the clip range is 0.7 x the data's min/max so both terms occur. */
START_TEST(test_brute_force)
{
	enum { N = 301, NT = 24 };
	const int bits = bf_bits[_i];
	double x[N + NT], xmin = INFINITY, xmax = -INFINITY;
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 123457u + (unsigned long)bits);
	for (int i = 0; i < N; i++) {
		x[i] = 0.3 + gsl_ran_gaussian(rng, 1.3) * (i % 37 == 0 ? 6.0 : 1.0);
		xmin = fmin(xmin, x[i]);
		xmax = fmax(xmax, x[i]);
	}
	gsl_rng *ra = gsl_rng_alloc(gsl_rng_mt19937), *rb = gsl_rng_alloc(gsl_rng_mt19937);
	for (int pr = 0; pr < 2; pr++)
		for (int sg = 0; sg < 2; sg++)
			for (int nr = 0; nr < 2; nr++)
				for (int as = 0; as < 2; as++)
					for (int p2 = 0; p2 < 2 - pr; p2++)
						for (int rd = 0; rd < 3; rd++) {
							enum qs_rounding mode = rd == 0   ? QS_ROUND_EVEN
										: rd == 1 ? QS_ROUND_AWAY
											  : QS_ROUND_STOCHASTIC;
							struct qs_quantizer q = mkq(bits, sg, nr, as, p2, mode,
										    pr ? QS_PROFILE_TORCH : QS_PROFILE_DEFAULT);
							struct qs_qparams p;
							qs_quant_params(&q, 0.7 * xmin, 0.7 * xmax, &p);
							/* plus half-way points (k + 1/2) s, exact ties when s is a
							 * power of two, so even and away rounding differ */
							long span = (long)ldexp(1.0, bits - 1);
							for (int k = 0; k < NT; k++)
								x[N + k] = ((double)((k - NT / 2) * span / (NT / 2)) + 0.5) *
									   p.scale;
							gsl_rng_set(ra, 99u + (unsigned long)rd);
							gsl_rng_set(rb, 99u + (unsigned long)rd);
							struct qs_err got, want;
							qs_err_ref(x, N + NT, &q, &p, ra, &got);
							bf_err(x, N + NT, &q, &p, rb, &want);
							REQUIRE(got.n == want.n && got.n_clipped == want.n_clipped &&
									fabs(got.signal - want.signal) <= 1e-12 * want.signal &&
									fabs(got.sse_clip - want.sse_clip) <= 1e-12 * want.sse_clip &&
									fabs(got.sse_round - want.sse_round) <= 1e-12 * want.sse_round &&
									fabs(got.max_abs - want.max_abs) <= 1e-12 * want.max_abs,
								"b=%d torch=%d signed=%d narrow=%d asym=%d pow2=%d round=%d "
								"(s=%.17g z=%ld): got n=%zu clip=%zu signal=%.17g sse_clip=%.17g "
								"sse_round=%.17g max=%.17g; brute force n=%zu clip=%zu "
								"signal=%.17g sse_clip=%.17g sse_round=%.17g max=%.17g",
								bits, pr, sg, nr, as, p2, rd, p.scale, p.zero_point, got.n,
								got.n_clipped, got.signal, got.sse_clip, got.sse_round, got.max_abs,
								want.n, want.n_clipped, want.signal, want.sse_clip, want.sse_round,
								want.max_abs);
						}
	gsl_rng_free(ra);
	gsl_rng_free(rb);
	gsl_rng_free(rng);
}
END_TEST

static Suite *err_suite(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("gauss");
	tcase_add_test(tc, test_integrator_vs_closed_form);
	tcase_add_loop_test(tc, test_optimal_step_reference, 0, 2);
	tcase_add_loop_test(tc, test_gauss_split_random, 0, N_GAUSS);
	tcase_add_loop_test(tc, test_gauss_split_quantiles, 0, N_GAUSS);
	suite_add_tcase(s, tc);

	tc = tcase_create("uniform");
	tcase_add_loop_test(tc, test_uniform_noise_law, 0, (int)(sizeof uniform_bits / sizeof uniform_bits[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("figures");
	tcase_add_test(tc, test_dead_group);
	tcase_add_test(tc, test_derived_figures);
	tcase_add_test(tc, test_add_chunks);
	suite_add_tcase(s, tc);

	tc = tcase_create("brute");
	tcase_add_loop_test(tc, test_brute_force, 0, (int)(sizeof bf_bits / sizeof bf_bits[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	gsl_set_error_handler_off();
	SRunner *sr = srunner_create(err_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
