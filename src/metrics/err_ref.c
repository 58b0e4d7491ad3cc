/* The reference error evaluator: one plain pass in double, every value quantized the SPEC §1 way. */
#include "err.h"

#include <math.h>
#include <string.h>

void qs_err_ref(const double *x, size_t n, const struct qs_quantizer *q, const struct qs_qparams *p, gsl_rng *rng,
		struct qs_err *out)
{
	memset(out, 0, sizeof *out);
	out->n = n;
	for (size_t i = 0; i < n; i++) {
		bool clipped;
		double d = x[i] - qs_quant_fake(q, p, x[i], rng, &clipped);
		out->signal += x[i] * x[i];
		if (clipped) {
			out->n_clipped++;
			out->sse_clip += d * d;
		} else {
			out->sse_round += d * d;
		}
		out->max_abs = fmax(out->max_abs, fabs(d));
	}
}

void qs_err_add(struct qs_err *acc, const struct qs_err *g)
{
	acc->n += g->n;
	acc->n_clipped += g->n_clipped;
	acc->signal += g->signal;
	acc->sse_clip += g->sse_clip;
	acc->sse_round += g->sse_round;
	acc->max_abs = fmax(acc->max_abs, g->max_abs);
}

double qs_err_sse(const struct qs_err *e)
{
	return e->sse_clip + e->sse_round;
}

static double rel_of(double sse, double signal)
{
	return signal > 0.0 ? sqrt(sse / signal) : 0.0;
}

double qs_err_rel(const struct qs_err *e)
{
	return rel_of(qs_err_sse(e), e->signal);
}

double qs_err_rel_clip(const struct qs_err *e)
{
	return rel_of(e->sse_clip, e->signal);
}

double qs_err_rel_round(const struct qs_err *e)
{
	return rel_of(e->sse_round, e->signal);
}

double qs_err_sqnr_db(const struct qs_err *e)
{
	double sse = qs_err_sse(e);
	if (sse == 0.0)
		return INFINITY;
	return 10.0 * log10(e->signal / sse);
}

double qs_err_clip_frac(const struct qs_err *e)
{
	return e->n ? (double)e->n_clipped / (double)e->n : 0.0;
}
