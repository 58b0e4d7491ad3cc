/* Tensor statistics with GSL: moments over the finite values, max|x| spread over output channels. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

#include "../tensor/groups.h"
#include "../util/qs_error.h"

/* Spread of max|x| over the output channels: the groups of plain `channel` granularity (axis 0, or the axis of the
 * op consuming the tensor when the format knows it), finite values only; channels without any are left out. */
static int channel_spread(const struct qs_tensor *t, struct qs_stats *out)
{
	struct qs_granularity g;
	struct qs_groups gr;
	qs_gran_parse("channel", &g);
	int rc = qs_groups_build(t, &g, true, &gr);
	if (rc)
		return rc;
	double *absmax = malloc((gr.count ? gr.count : 1) * sizeof *absmax);
	if (!absmax) {
		qs_groups_free(&gr);
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", t->name);
	}
	size_t k = 0;
	for (size_t c = 0; c < gr.count; c++) {
		if (gr.offset[c + 1] == gr.offset[c])
			continue;
		double m = 0.0;
		for (size_t i = gr.offset[c]; i < gr.offset[c + 1]; i++)
			m = fmax(m, fabs(gr.values[i]));
		absmax[k++] = m;
	}
	qs_groups_free(&gr);
	out->has_channels = true;
	out->ch_absmax_min = out->ch_absmax_median = out->ch_absmax_max = NAN;
	if (k > 0) {
		gsl_stats_minmax(&out->ch_absmax_min, &out->ch_absmax_max, absmax, 1, k);
		out->ch_absmax_median = gsl_stats_median(absmax, 1, k); /* quickselect, reorders absmax */
	}
	free(absmax);
	return QS_OK;
}

/* Moments over the finite values: the tensor's own data when all are finite (no copy), else a gathered copy. */
static int moments(const struct qs_tensor *t, struct qs_stats *out)
{
	struct qs_granularity g;
	struct qs_groups gr;
	qs_gran_parse("tensor", &g);
	int rc = qs_groups_build(t, &g, true, &gr);
	if (rc)
		return rc;
	const double *x = gr.values;
	size_t n = out->n_finite = gr.n;
	out->min = out->max = out->mean = out->std = out->absmax_over_std = out->kurtosis = NAN;
	if (n > 0) {
		gsl_stats_minmax(&out->min, &out->max, x, 1, n);
		out->mean = gsl_stats_mean(x, 1, n);
		out->std = sqrt(gsl_stats_variance_with_fixed_mean(x, 1, n, out->mean));
		if (out->std > 0.0) {
			out->absmax_over_std = fmax(fabs(out->min), fabs(out->max)) / out->std;
			out->kurtosis = gsl_stats_kurtosis_m_sd(x, 1, n, out->mean, out->std);
		}
	}
	qs_groups_free(&gr);
	return QS_OK;
}

int qs_stats_compute(const struct qs_tensor *t, struct qs_stats *out)
{
	memset(out, 0, sizeof *out);
	out->n = t->n;
	for (size_t i = 0; i < t->n; i++) {
		double x = t->data[i];
		out->n_nan += isnan(x) != 0; /* isnan and isinf return any non-zero value (isinf(-inf) is -1 in glibc) */
		out->n_inf += isinf(x) != 0;
		out->n_zero += x == 0.0;
	}
	out->frac_zero = t->n ? (double)out->n_zero / (double)t->n : NAN;
	int rc = moments(t, out);
	if (rc == QS_OK && t->rank >= 1)
		rc = channel_spread(t, out);
	return rc;
}
