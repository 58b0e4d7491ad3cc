/* The percentile calibrator: exact order statistics of the group (numpy's default linear interpolation). */
#include "calib.h"

#include <math.h>
#include <stdlib.h>

#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "../util/qs_error.h"

/* "percentile:P", 0 < P <= 100, P required. */
static int percentile_parse(const char *arg, double *param)
{
	*param = 0.0;
	if (!arg || !*arg)
		return qs_error_set(QS_EUSAGE, "calibrator percentile needs a percentile (e.g. 'percentile:99.9')");
	char *end;
	double p = strtod(arg, &end);
	if (*end != '\0' || !(p > 0.0 && p <= 100.0))
		return qs_error_set(QS_EUSAGE, "'percentile:%s': the percentile must be a number in (0, 100]", arg);
	*param = p;
	return QS_OK;
}

/* The p-quantile (0 <= p <= 1) of sorted[0..n): GSL's gsl_stats_quantile_from_sorted_data is
 * (1 - d) x[i] + d x[i+1] with i = floor((n - 1) p), d = (n - 1) p - i — numpy.percentile's default 'linear'
 * method (Hyndman & Fan type 7). */
static double quantile(const double *sorted, size_t n, double p)
{
	return gsl_stats_quantile_from_sorted_data(sorted, 1, n, p);
}

/* |x| in ascending order from the prepared (ascending) values: the negative part read backwards merged with the rest
 * (O(n)). */
static void abs_sorted(const struct qs_err_prepared *d, double *out)
{
	size_t n = d->n, neg = 0;
	while (neg < n && qs_err_prepared_at(d, neg) < 0.0)
		neg++;
	size_t i = neg, j = neg, k = 0; /* i: next non-negative, j: one past the next negative (read downwards) */
	while (k < n) {
		if (j > 0 && (i == n || -qs_err_prepared_at(d, j - 1) <= qs_err_prepared_at(d, i)))
			out[k++] = -qs_err_prepared_at(d, --j);
		else
			out[k++] = qs_err_prepared_at(d, i++);
	}
}

/* Symmetric: T = P-th percentile of |x|, range [-T, T]. Asymmetric: (100 - P)/2 percent cut from each tail,
 * [percentile(x, (100-P)/2), percentile(x, 100 - (100-P)/2)]. Exact order statistics: from the group's sorted
 * values when the sweep prepared them (O(n)), else from a sorted copy (O(n log n)); n doubles of scratch. */
static int percentile_clip_range(const struct qs_calib_group *g, const struct qs_quantizer *q, double param,
				 double *lo, double *hi)
{
	const double *x = g->x;
	size_t n = g->n;
	double *s = malloc(n * sizeof *s);
	if (!s)
		return qs_error_set(QS_ENOMEM, "out of memory (percentile of %zu values)", n);
	if (g->sorted && q->asym) {
		qs_err_prepared_copy(g->sorted, s);
	} else if (g->sorted) {
		abs_sorted(g->sorted, s);
	} else {
		for (size_t i = 0; i < n; i++)
			s[i] = q->asym ? x[i] : fabs(x[i]);
		gsl_sort(s, 1, n);
	}
	if (q->asym) {
		double tail = (100.0 - param) / 200.0;
		*lo = quantile(s, n, tail);
		*hi = quantile(s, n, 1.0 - tail);
	} else {
		double t = quantile(s, n, param / 100.0);
		*lo = -t;
		*hi = t;
	}
	free(s);
	return QS_OK;
}

const struct qs_calib_type qs_calib_percentile = {
	.name = "percentile",
	.parse_param = percentile_parse,
	.clip_range = percentile_clip_range,
};
