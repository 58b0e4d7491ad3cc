/* The minmax calibrator: the clip range is the group's own [min, max] (PyTorch's MinMaxObserver). */
#include "calib.h"

#include "../util/qs_error.h"

static int minmax_parse(const char *arg, double *param)
{
	*param = 0.0;
	if (arg)
		return qs_error_set(QS_EUSAGE, "calibrator minmax takes no parameter (got ':%s')", arg);
	return QS_OK;
}

static int minmax_clip_range(const struct qs_calib_group *g, const struct qs_quantizer *q, double param, double *lo,
			     double *hi)
{
	(void)q;
	(void)param;
	if (g->sorted) {
		*lo = qs_err_prepared_at(g->sorted, 0);
		*hi = qs_err_prepared_at(g->sorted, g->n - 1);
		return QS_OK;
	}
	const double *x = g->x;
	size_t n = g->n;
	double mn = x[0], mx = x[0];
	for (size_t i = 1; i < n; i++) {
		if (x[i] < mn)
			mn = x[i];
		if (x[i] > mx)
			mx = x[i];
	}
	*lo = mn;
	*hi = mx;
	return QS_OK;
}

const struct qs_calib_type qs_calib_minmax = {
	.name = "minmax",
	.parse_param = minmax_parse,
	.clip_range = minmax_clip_range,
};
