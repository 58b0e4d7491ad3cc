/* Sweep points kept past the sink's callback, for the two activation measurements that need a second look:
 * a static scale chosen on calibration batches evaluated on other batches, and dynamic quantization (every batch
 * with its own scale, as PyTorch's quantize_dynamic does at run time) summed over batches. */
#ifndef QS_KEPT_H
#define QS_KEPT_H

#include "sweep.h"

struct qs_kept_point {
	struct qs_sweep_row row;     /* read it through qs_kept_row (the points move as the list grows) */
	struct qs_quantizer quant;
	double *group_scale;         /* static: the calibration's qparams per group */
	long *group_zero_point;
	char ref[512];               /* the qparams files' stem, "" if not saved */
	struct qs_err eval;          /* static: summed over the evaluation batches */
	double *batch_scale;         /* dynamic: the row scale of every batch (the kept scale is their median) */
	size_t n_batches;
	double bits_sum;             /* dynamic: Σ eff_bits · n over batches */
};

struct qs_kept_points {
	struct qs_kept_point *p;
	size_t n, cap;
};

/* The point's row, its pointers led to the point's own copies (tensor: set by the caller). */
struct qs_sweep_row *qs_kept_row(struct qs_kept_point *pt);

/* Keeps a copy of a static point (its configuration and per-group qparams). */
int qs_kept_add(struct qs_kept_points *k, const struct qs_sweep_row *row, const char *ref);

/* Adds the error that every kept static point's qparams give on `batch` (grouped by the point's granularity, which
 * must give as many groups as on the calibration data) to its `eval`. batch_index seeds stochastic rounding. */
int qs_kept_eval_batch(struct qs_kept_points *k, const struct qs_tensor *batch, size_t batch_index, bool skip_nonfinite);

/* Dynamic quantization: adds one batch's row to the point of the same (configuration, multiplier); the first batch
 * creates the points. Errors and group counts are summed, worst_group_rel maxed, eff_bits averaged by values. */
int qs_kept_accumulate(struct qs_kept_points *k, const struct qs_sweep_row *row, size_t n_multipliers);
/* Finishes the dynamic sums: the median batch scale, the averaged eff_bits. */
void qs_kept_finish_dynamic(struct qs_kept_points *k);

void qs_kept_free(struct qs_kept_points *k);

#endif
