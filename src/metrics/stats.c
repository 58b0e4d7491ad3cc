/* Tensor statistics with GSL: moments over the finite values, max|x| spread over output channels. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

#include "../util/qs_error.h"

static void channel_spread(const struct qs_tensor *t, double *absmax, struct qs_stats *out)
{
	size_t channels = t->shape[0];
	size_t per = channels ? t->n / channels : 0;
	for (size_t c = 0; c < channels; c++) {
		double m = NAN;
		for (size_t i = 0; i < per; i++) {
			double a = fabs(t->data[c * per + i]);
			if (isfinite(a) && !(a <= m))
				m = a;
		}
		absmax[c] = m;
	}
	/* channels without a finite value are left out of the spread */
	size_t k = 0;
	for (size_t c = 0; c < channels; c++)
		if (!isnan(absmax[c]))
			absmax[k++] = absmax[c];
	out->has_channels = true;
	out->ch_absmax_min = out->ch_absmax_median = out->ch_absmax_max = NAN;
	if (k == 0)
		return;
	gsl_stats_minmax(&out->ch_absmax_min, &out->ch_absmax_max, absmax, 1, k);
	out->ch_absmax_median = gsl_stats_median(absmax, 1, k); /* quickselect, reorders absmax */
}

int qs_stats_compute(const struct qs_tensor *t, struct qs_stats *out)
{
	memset(out, 0, sizeof *out);
	out->n = t->n;
	size_t cap = t->n;
	if (t->rank >= 1 && t->shape[0] > cap)
		cap = t->shape[0];
	double *buf = malloc((cap ? cap : 1) * sizeof *buf);
	if (!buf)
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", t->name);
	for (size_t i = 0; i < t->n; i++) {
		double x = t->data[i];
		if (isnan(x))
			out->n_nan++;
		else if (isinf(x))
			out->n_inf++;
		else
			buf[out->n_finite++] = x;
		out->n_zero += x == 0.0;
	}
	out->frac_zero = t->n ? (double)out->n_zero / (double)t->n : NAN;
	out->min = out->max = out->mean = out->std = out->absmax_over_std = out->kurtosis = NAN;
	size_t n = out->n_finite;
	if (n > 0) {
		gsl_stats_minmax(&out->min, &out->max, buf, 1, n);
		out->mean = gsl_stats_mean(buf, 1, n);
		out->std = sqrt(gsl_stats_variance_with_fixed_mean(buf, 1, n, out->mean));
		if (out->std > 0.0) {
			out->absmax_over_std = fmax(fabs(out->min), fabs(out->max)) / out->std;
			out->kurtosis = gsl_stats_kurtosis_m_sd(buf, 1, n, out->mean, out->std);
		}
	}
	if (t->rank >= 1)
		channel_spread(t, buf, out);
	free(buf);
	return QS_OK;
}
