/* The aciq calibrator: fit a Laplace or Gaussian to the group, then clip where the fitted model's expected
 * quantization error is smallest (Banner et al., "ACIQ", computed numerically for the quantizer at hand). */
#include "calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "../util/qs_error.h"

/*
 * Fit (the data x, n values):
 *   laplace: μ = median(x) (exact order statistic), b = mean |x - μ| (the maximum-likelihood pair);
 *   gauss:   μ = mean(x), σ = sqrt(mean (x - μ)²) (maximum likelihood, divisor n).
 * In units of the fitted scale (z = (x - μ) / b or / σ) the model is Z with density f: ½ e^{-|z|} or φ(z).
 *
 * The error model minimised over the clip α (in those units): a uniform quantizer on [-α, α] with N = `steps`
 * equal steps Δ = 2α / N, i.e. the N + 1 levels -α + kΔ, every z sent to its nearest level, values beyond ±α to
 * ±α. N is the quantizer's own: symmetric 2(2^(b-1) - 1) (2^b - 1 under the torch profile, qmax - qmin),
 * asymmetric qmax - qmin. For the symmetric default profile and μ = 0 this is exactly the quantizer
 * qs_quant_params builds from [μ - α, μ + α] (the full range's extra level -2^(b-1)·s is ignored). Then
 *   E(α) = E[(Z - Q_α(Z))²] = 2∫_α^∞ (z - α)² f(z) dz  +  Σ_levels ∫_{cell ∩ [-α, α]} (z - level)² f(z) dz
 * (clipping term in closed form: laplace 2e^{-α}, gauss 2[(1 + α²) Q(α) - α φ(α)]; rounding term by
 * Gauss-Legendre quadrature, gsl_integration_glfixed with ACIQ_GL_POINTS points, on every piece of every cell of
 * [0, α] (f is even), pieces cut at 0 and no wider than ACIQ_MAX_PIECE so the rule is exact to rounding; the
 * laplace cusp at 0 is a piece boundary). Above ACIQ_EXACT_STEPS steps (b >= 12) the rounding term is taken as
 * Δ²/12 · P(|Z| < α) (cost O(1) instead of O(N)): the cell sum differs from it by O(Δ² f''/f) relative, and the
 * α* it gives differs from the exact cell sum's by < 3e-7 relative at b = 12..16 (measured, both families).
 * α* = argmin E: E is evaluated on ACIQ_GRID points over (0, α_max] (α_max = 48 laplace, 16 gauss: beyond any
 * optimum for b <= 16), then Brent's method (gsl_min_fminimizer_brent) refines between the grid neighbours of
 * the best grid point. α* depends only on (family, N), so it is memoised per thread.
 * Range handed back: [μ - α*·scale, μ + α*·scale]. A symmetric quantizer then uses T = max(|lo|, |hi|) (so a
 * non-zero μ widens it); an asymmetric one includes 0 (SPEC §3): the model assumes neither.
 * Not modelled: the torch profile's half-step offset, power-of-two scales, zero-point rounding.
 */

enum aciq_family { ACIQ_LAPLACE = 1, ACIQ_GAUSS = 2 };

#define ACIQ_GL_POINTS 10
#define ACIQ_MAX_PIECE 0.25
#define ACIQ_EXACT_STEPS 2048
#define ACIQ_GRID 200
#define ACIQ_MEMO 128

static int aciq_parse(const char *arg, double *param)
{
	*param = 0.0;
	if (!arg)
		return qs_error_set(QS_EUSAGE, "calibrator aciq needs a distribution ('aciq:laplace' or 'aciq:gauss')");
	if (strcmp(arg, "laplace") == 0)
		*param = ACIQ_LAPLACE;
	else if (strcmp(arg, "gauss") == 0)
		*param = ACIQ_GAUSS;
	else
		return qs_error_set(QS_EUSAGE, "'aciq:%s': unknown distribution (use laplace or gauss)", arg);
	return QS_OK;
}

struct aciq_model {
	enum aciq_family family;
	long steps;
	gsl_integration_glfixed_table *gl;
};

static double density(enum aciq_family family, double z)
{
	return family == ACIQ_LAPLACE ? 0.5 * exp(-fabs(z)) : exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
}

/* P(Z > a), a >= 0 */
static double upper_tail(enum aciq_family family, double a)
{
	return family == ACIQ_LAPLACE ? 0.5 * exp(-a) : gsl_cdf_ugaussian_Q(a);
}

static double clip_term(enum aciq_family family, double a)
{
	if (family == ACIQ_LAPLACE)
		return 2.0 * exp(-a);
	double t = (1.0 + a * a) * gsl_cdf_ugaussian_Q(a) - a * density(ACIQ_GAUSS, a);
	return t > 0.0 ? 2.0 * t : 0.0;
}

struct piece_arg {
	enum aciq_family family;
	double level;
};

static double piece_integrand(double z, void *arg)
{
	const struct piece_arg *p = arg;
	double d = z - p->level;
	return d * d * density(p->family, z);
}

/* ∫_a^b (z - level)² f(z) dz, 0 <= a <= b, in sub-pieces no wider than ACIQ_MAX_PIECE. */
static double piece(const struct aciq_model *m, double level, double a, double b)
{
	struct piece_arg arg = {m->family, level};
	gsl_function fn = {piece_integrand, &arg};
	int parts = (int)ceil((b - a) / ACIQ_MAX_PIECE);
	double sum = 0.0;
	for (int k = 0; k < parts; k++)
		sum += gsl_integration_glfixed(&fn, a + (b - a) * k / parts, a + (b - a) * (k + 1) / parts, m->gl);
	return sum;
}

/* E(α) of the header comment. */
static double expected_error(double alpha, void *arg)
{
	const struct aciq_model *m = arg;
	double e = clip_term(m->family, alpha);
	double delta = 2.0 * alpha / (double)m->steps;
	if (m->steps > ACIQ_EXACT_STEPS)
		return e + delta * delta / 12.0 * (1.0 - 2.0 * upper_tail(m->family, alpha));
	/* levels in [0, α]: j·Δ (N even: a level at 0) or (j + ½)·Δ (N odd), j = 0 .. floor(N/2), the last one α */
	double off = m->steps % 2 ? 0.5 : 0.0;
	double round = 0.0;
	long last = m->steps / 2;
	for (long j = 0; j <= last; j++) {
		double level = j == last ? alpha : ((double)j + off) * delta;
		double a = fmax(0.0, level - 0.5 * delta), b = fmin(alpha, level + 0.5 * delta);
		if (b > a)
			round += piece(m, level, a, b);
	}
	return e + 2.0 * round;
}

/* α* for (family, steps): grid over (0, α_max], then Brent between the best grid point's neighbours. */
static int optimal_alpha(enum aciq_family family, long steps, double *alpha)
{
	static _Thread_local struct {
		enum aciq_family family;
		long steps;
		double alpha;
	} memo[ACIQ_MEMO];
	static _Thread_local size_t memo_used, memo_next;
	for (size_t k = 0; k < memo_used; k++)
		if (memo[k].family == family && memo[k].steps == steps) {
			*alpha = memo[k].alpha;
			return QS_OK;
		}

	struct aciq_model m = {family, steps, gsl_integration_glfixed_table_alloc(ACIQ_GL_POINTS)};
	gsl_min_fminimizer *min = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
	int rc = QS_OK;
	if (!m.gl || !min) {
		rc = qs_error_set(QS_ENOMEM, "out of memory (aciq)");
		goto out;
	}
	double amax = family == ACIQ_LAPLACE ? 48.0 : 16.0;
	double f[ACIQ_GRID + 1];
	size_t best = 1;
	for (size_t k = 1; k <= ACIQ_GRID; k++) {
		f[k] = expected_error(amax * (double)k / ACIQ_GRID, &m);
		if (f[k] < f[best])
			best = k;
	}
	double a = amax * (double)(best - 1) / ACIQ_GRID;
	double b = amax * (double)(best < ACIQ_GRID ? best + 1 : best) / ACIQ_GRID;
	double x = amax * (double)best / ACIQ_GRID;
	*alpha = x;
	gsl_function fn = {expected_error, &m};
	/* Brent needs f(x) < f(a), f(b); at a grid edge (or a flat stretch) the grid point is the answer */
	if (best < ACIQ_GRID && f[best] < f[best + 1] && (best == 1 || f[best] < f[best - 1]) &&
	    gsl_min_fminimizer_set_with_values(min, &fn, x, f[best], a,
					       best == 1 ? expected_error(a, &m) : f[best - 1], b,
					       f[best + 1]) == GSL_SUCCESS) {
		for (int it = 0; it < 100; it++) {
			if (gsl_min_fminimizer_iterate(min) != GSL_SUCCESS)
				break;
			double lo = gsl_min_fminimizer_x_lower(min), hi = gsl_min_fminimizer_x_upper(min);
			if (gsl_min_test_interval(lo, hi, 1e-12, 1e-10) == GSL_SUCCESS)
				break;
		}
		*alpha = gsl_min_fminimizer_x_minimum(min);
	}
	memo[memo_next].family = family;
	memo[memo_next].steps = steps;
	memo[memo_next].alpha = *alpha;
	memo_next = (memo_next + 1) % ACIQ_MEMO;
	if (memo_used < ACIQ_MEMO)
		memo_used++;
out:
	gsl_min_fminimizer_free(min);
	gsl_integration_glfixed_table_free(m.gl);
	return rc;
}

/* Number of quantizer steps across the clip range (see the header comment). */
static long quantizer_steps(const struct qs_quantizer *q)
{
	long qmin, qmax;
	qs_quant_range(q, &qmin, &qmax);
	if (q->asym || q->profile == QS_PROFILE_TORCH)
		return qmax - qmin;
	return 2 * ((1L << (q->bits - 1)) - 1);
}

static int aciq_clip_range(const struct qs_calib_group *g, const struct qs_quantizer *q, double param, double *lo,
			   double *hi)
{
	enum aciq_family family = param == ACIQ_LAPLACE ? ACIQ_LAPLACE : ACIQ_GAUSS;
	const double *x = g->x;
	size_t n = g->n;
	double mu, scale;
	if (family == ACIQ_LAPLACE && g->sorted) {
		/* the median as gsl_stats_median_from_sorted_data takes it */
		mu = n % 2 ? qs_err_prepared_at(g->sorted, n / 2)
			   : (qs_err_prepared_at(g->sorted, n / 2 - 1) + qs_err_prepared_at(g->sorted, n / 2)) / 2.0;
		scale = gsl_stats_absdev_m(x, 1, n, mu);
	} else if (family == ACIQ_LAPLACE) {
		double *s = malloc(n * sizeof *s);
		if (!s)
			return qs_error_set(QS_ENOMEM, "out of memory (median of %zu values)", n);
		memcpy(s, x, n * sizeof *s);
		gsl_sort(s, 1, n);
		mu = gsl_stats_median_from_sorted_data(s, 1, n);
		free(s);
		scale = gsl_stats_absdev_m(x, 1, n, mu);
	} else {
		mu = gsl_stats_mean(x, 1, n);
		scale = gsl_stats_sd_with_fixed_mean(x, 1, n, mu);
	}
	*lo = *hi = mu;
	if (!(scale > 0.0))
		return QS_OK;
	double alpha;
	int rc = optimal_alpha(family, quantizer_steps(q), &alpha);
	if (rc)
		return rc;
	*lo = mu - alpha * scale;
	*hi = mu + alpha * scale;
	return QS_OK;
}

const struct qs_calib_type qs_calib_aciq = {
	.name = "aciq",
	.parse_param = aciq_parse,
	.clip_range = aciq_clip_range,
};
