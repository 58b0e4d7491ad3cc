/* Output error metrics of a simulation, accumulated over batches. */
#include "sim_metrics.h"

#include <math.h>

void qs_sim_err_add(struct qs_sim_err *e, const double *ref, const double *y, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double d = y[i] - ref[i];
		e->sse += d * d;
		e->signal += ref[i] * ref[i];
		e->dot += y[i] * ref[i];
		e->norm_y2 += y[i] * y[i];
		if (fabs(d) > e->max_abs)
			e->max_abs = fabs(d);
	}
	e->n += n;
}

double qs_sim_err_rel(const struct qs_sim_err *e)
{
	if (e->signal == 0.0)
		return e->sse == 0.0 ? 0.0 : INFINITY;
	return sqrt(e->sse / e->signal);
}

double qs_sim_err_sqnr_db(const struct qs_sim_err *e)
{
	if (e->sse == 0.0)
		return INFINITY;
	return 10.0 * log10(e->signal / e->sse);
}

double qs_sim_err_cosine(const struct qs_sim_err *e)
{
	if (e->signal == 0.0 && e->norm_y2 == 0.0)
		return 1.0;
	if (e->signal == 0.0 || e->norm_y2 == 0.0)
		return 0.0;
	return e->dot / (sqrt(e->signal) * sqrt(e->norm_y2));
}
