/* Fake quantization of a whole tensor under one setting (quantizer, granularity, calibrator, multiplier): every
 * value replaced by x̂ = (q − z)·s of its group, the integer codes q kept for the integer pipeline. */
#ifndef QS_SIM_FQ_H
#define QS_SIM_FQ_H

#include <stdbool.h>
#include <stddef.h>

#include "../calib/calib.h"
#include "../quant/quantizer.h"
#include "../tensor/groups.h"
#include "../tensor/tensor.h"

/* One quantization setting of a tensor. */
struct qs_sim_qspec {
	struct qs_quantizer quant;
	struct qs_granularity gran;
	struct qs_calib calib;
	double multiplier;        /* the calibrated clip range [lo, hi] becomes m·[lo, hi] (as in qscope sweep) */
	unsigned long seed;       /* stochastic rounding stream */
};

/* A fake-quantized tensor: n values and codes, each value's group, and the groups' qparams. */
struct qs_sim_fq {
	size_t n;
	double *xhat;                 /* n dequantized values */
	long *code;                   /* n integer codes q in [qmin, qmax] */
	size_t *group;                /* n: index into params */
	struct qs_qparams *params;    /* n_params entries */
	size_t n_params;
	size_t n_clipped;
};

/* The group index of every element of t under granularity g, numbered as qs_groups_build numbers its groups.
 * Returns the number of groups in *count; `group` has t->n entries. Errors as qs_groups_build. */
int qs_sim_group_index(const struct qs_tensor *t, const struct qs_granularity *g, size_t *group, size_t *count);

/* Calibrates the groups of `calib_data` (a tensor of the same granularity layout as t, usually t itself), then
 * quantizes t. `rows`: 0 = the whole tensor at once; k > 0 = dynamic quantization, every k consecutive indices
 * of axis 0 (a batch) calibrated and quantized on their own, from that batch's values (calib_data ignored).
 * Allocates *out (free with qs_sim_fq_free). NaN/Inf is an error naming the tensor. */
int qs_sim_fq_run(const struct qs_sim_qspec *s, const struct qs_tensor *t, const struct qs_tensor *calib_data,
		  size_t rows, struct qs_sim_fq *out);
void qs_sim_fq_free(struct qs_sim_fq *fq);

/* Per-group qparams of a tensor from calibration on `calib_data` (count = its number of groups). */
int qs_sim_fq_calibrate(const struct qs_sim_qspec *s, const struct qs_tensor *calib_data, struct qs_qparams **params,
			size_t *count);
/* Quantizes t with given per-group qparams (count must match t's groups under s->gran). */
int qs_sim_fq_apply(const struct qs_sim_qspec *s, const struct qs_tensor *t, const struct qs_qparams *params,
		    size_t count, struct qs_sim_fq *out);

/* A tensor that borrows data (owns_data = false), for views of buffers. */
struct qs_tensor qs_sim_view(const char *name, int rank, const size_t *shape, const double *data);

#endif
