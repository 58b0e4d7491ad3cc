/* One layer under one quantization configuration: the float reference, the quantized output (fake quant in double
 * or the integer pipeline) and the attribution of the output error to weights and activations. */
#ifndef QS_SIM_RUN_H
#define QS_SIM_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "sim_fq.h"
#include "sim_int.h"
#include "sim_layer.h"
#include "sim_metrics.h"

enum qs_sim_act_mode {
	QS_SIM_ACT_NONE,     /* activations stay float */
	QS_SIM_ACT_STATIC,   /* (s, z) calibrated once, on calibration data */
	QS_SIM_ACT_DYNAMIC,  /* (s, z) from each batch's own values (PyTorch quantize_dynamic) */
};

/* How a quantized layer runs. */
struct qs_sim_config {
	const struct qs_sim_qspec *weight;     /* NULL: float weights */
	enum qs_sim_act_mode act_mode;
	const struct qs_sim_qspec *act;        /* input-activation setting (act_mode != NONE) */
	size_t act_rows;                       /* dynamic: indices of axis 0 per batch; 0 = the whole input */
	const struct qs_sim_qspec *out;        /* output quantizer, calibrated on the float reference; or NULL */
	const struct qs_sim_int_spec *integer; /* integer pipeline; NULL = fake quantization */
};

/* Quantized forward pass of one layer: y = layer(x̂) with the given fake-quantized weights (NULL: float), x
 * quantized per the config (static: with act_params, act_count groups); the output quantizer is not applied.
 * Adds x's quantization error to *act_err and overflowing outputs to *n_overflow when they are not NULL. */
int qs_sim_qforward(const struct qs_sim_layer *l, const struct qs_sim_fq *wq, const struct qs_sim_config *c,
		    const struct qs_qparams *act_params, size_t act_count, const struct qs_tensor *x, double *y,
		    struct qs_sim_err *act_err, size_t *n_overflow, bool use_integer);

/* Everything measured for one layer and configuration. */
struct qs_sim_result {
	struct qs_sim_err w, act;               /* W vs Ŵ, X vs X̂ */
	struct qs_sim_err out_w, out_act, out;  /* output error: weights only, activations only, everything (incl.
						 * the output quantizer and the integer pipeline when asked) */
	struct qs_sim_err int_vs_fake;          /* integer pipeline against the fake-quant output (integer only) */
	size_t n_overflow, w_clipped, act_clipped, n_out;
	size_t w_groups;                        /* quantization groups of the weight (0: float weights) */
};

/* Runs the layer in float (yref) and under config c (ysim); both have the output's element count. x_calib: the
 * static activation calibration data (NULL: x itself). */
int qs_sim_layer_run(const struct qs_sim_layer *l, const struct qs_sim_config *c, const struct qs_tensor *x,
		     const struct qs_tensor *x_calib, double *yref, double *ysim, struct qs_sim_result *r);

/* Applies an output quantizer with known qparams to y[0..n) of shape (rank, shape), in place. */
int qs_sim_quantize_output(const struct qs_sim_qspec *s, const struct qs_qparams *p, size_t count, int rank,
			   const size_t *shape, double *y);

#endif
