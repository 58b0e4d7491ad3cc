/* The sweep: the cartesian product of quantizer settings × granularities × calibrators × scale multipliers,
 * evaluated for one tensor at a time; every point is handed to a sink as one row. */
#ifndef QS_SWEEP_H
#define QS_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "../calib/calib.h"
#include "../metrics/err.h"
#include "../quant/quantizer.h"
#include "../tensor/groups.h"
#include "../tensor/tensor.h"

/* The axes of a sweep. Every list has at least one entry. */
struct qs_sweep_spec {
	const int *bits;                      size_t n_bits;
	const struct qs_granularity *grans;   size_t n_grans;
	const bool *asym;                     size_t n_asym;      /* scheme: false = sym, true = asym */
	const bool *is_signed;                size_t n_signed;
	const bool *narrow;                   size_t n_narrow;
	const bool *pow2;                     size_t n_pow2;
	const enum qs_rounding *roundings;    size_t n_roundings;
	const enum qs_profile *profiles;      size_t n_profiles;
	const struct qs_calib *calibs;        size_t n_calibs;
	const double *multipliers;            size_t n_multipliers;
	unsigned long seed;                   /* stochastic rounding: every point draws from its own seeded stream */
	bool skip_nonfinite;
};

/* One sweep point: a tensor under one configuration and one multiplier. Pointers are valid during the callback. */
struct qs_sweep_row {
	const struct qs_tensor *tensor;
	const struct qs_granularity *gran;
	const struct qs_quantizer *quant;
	const struct qs_calib *calib;
	size_t config_index;        /* index of (granularity, quantizer, calibrator) for this tensor */
	size_t multiplier_index;
	double multiplier;
	size_t n_groups, n_dead, n_nonfinite;
	double scale, zero_point;   /* medians over the live groups (over all groups when none is live) */
	const double *group_scale;  /* n_groups entries */
	const long *group_zero_point;
	struct qs_err err;          /* summed over groups */
	double worst_group_rel;
	double eff_bits;            /* b + n_groups · (scale bits + zero-point bits if asym) / n */
	unsigned long seed;
};

typedef int (*qs_sweep_sink)(void *ctx, const struct qs_sweep_row *row);

/* Number of (granularity, quantizer, calibrator) configurations and of rows per tensor. */
size_t qs_sweep_config_count(const struct qs_sweep_spec *spec);

/* Sweeps one tensor; tensor_index makes stochastic-rounding streams distinct per tensor. A granularity whose axis
 * the tensor lacks is skipped (reported through `skipped`, if not NULL, once per granularity). Stops at the first
 * error of the sink or of the data. */
int qs_sweep_tensor(const struct qs_sweep_spec *spec, const struct qs_tensor *t, size_t tensor_index,
		    qs_sweep_sink sink, void *ctx, void (*skipped)(void *ctx, const char *message));

#endif
