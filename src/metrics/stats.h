/* Descriptive statistics of a tensor for `qscope inspect` (over its finite values). */
#ifndef QS_STATS_H
#define QS_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "../tensor/tensor.h"

struct qs_stats {
	size_t n, n_finite, n_nan, n_inf, n_zero;
	double min, max, mean;
	double std;              /* population standard deviation (ddof = 0) */
	double absmax_over_std;  /* max|x| / std */
	double kurtosis;         /* excess kurtosis, population: m4 / m2² - 3 (0 for a Gaussian) */
	double frac_zero;        /* zeros / n */
	bool has_channels;       /* rank >= 1: per-channel max|x| (axis 0, or the consuming op's channel axis) below */
	double ch_absmax_min, ch_absmax_median, ch_absmax_max;
};

/* Statistics of t. Values are NaN where undefined (no finite value, zero std). */
int qs_stats_compute(const struct qs_tensor *t, struct qs_stats *out);

#endif
