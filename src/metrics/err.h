/* Error decomposition of SPEC §2: clipping and rounding error measured separately, per group and summed. */
#ifndef QS_ERR_H
#define QS_ERR_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

#include "../quant/quantizer.h"

/* Sums over the elements of one group (or of several groups, after qs_err_add). */
struct qs_err {
	size_t n;
	size_t n_clipped;
	double signal;     /* Σ x² */
	double sse_clip;   /* Σ over clipped elements of (x - x̂)² */
	double sse_round;  /* Σ over the others of (x - x̂)² */
	double max_abs;    /* max |x - x̂| */
};

/* The reference evaluator: a plain pass in double over x[0..n), quantizing every value with (q, p). Every fast
 * path is tested equal to it. rng is used only for stochastic rounding. */
void qs_err_ref(const double *x, size_t n, const struct qs_quantizer *q, const struct qs_qparams *p, gsl_rng *rng,
		struct qs_err *out);

/* acc += g (counts and sums added, max_abs maxed). */
void qs_err_add(struct qs_err *acc, const struct qs_err *g);

/* Derived figures. A zero signal gives rel 0 (and sqnr +inf when sse is 0). */
double qs_err_sse(const struct qs_err *e);
double qs_err_rel(const struct qs_err *e);
double qs_err_rel_clip(const struct qs_err *e);
double qs_err_rel_round(const struct qs_err *e);
double qs_err_sqnr_db(const struct qs_err *e);
double qs_err_clip_frac(const struct qs_err *e);

#endif
