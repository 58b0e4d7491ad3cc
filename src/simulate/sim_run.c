/* A quantized layer run against its float reference, with the error attributed to weights and activations. */
#include "sim_run.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"

/* x quantized per the config: static with the given qparams, or dynamic per batch of act_rows. */
static int act_quantize(const struct qs_sim_config *c, const struct qs_qparams *params, size_t count,
			const struct qs_tensor *x, struct qs_sim_fq *xq)
{
	if (c->act_mode == QS_SIM_ACT_STATIC)
		return qs_sim_fq_apply(c->act, x, params, count, xq);
	return qs_sim_fq_run(c->act, x, NULL, c->act_rows ? c->act_rows : SIZE_MAX, xq);
}

/* y = layer(x̂) from an already quantized input (xq NULL: x stays float). */
static int forward_q(const struct qs_sim_layer *l, const struct qs_sim_fq *wq, const struct qs_sim_config *c,
		     const struct qs_sim_fq *xq, const struct qs_tensor *x, double *y, size_t *n_overflow,
		     bool use_integer)
{
	const double *w = wq ? wq->xhat : l->weight->data;
	if (!use_integer)
		return qs_sim_layer_forward(l, w, x->rank, x->shape, xq ? xq->xhat : x->data, y);
	if (!xq)
		return qs_error_set(QS_EUSAGE, "the integer pipeline needs an activation quantizer (--act)");
	if (!wq)
		return qs_error_set(QS_EUSAGE, "the integer pipeline needs a weight quantizer");
	size_t n_ovf = 0;
	int rc = qs_sim_int_forward(l, wq, xq, x->rank, x->shape, c->integer, y, &n_ovf);
	if (n_overflow)
		*n_overflow += n_ovf;
	return rc;
}

int qs_sim_qforward(const struct qs_sim_layer *l, const struct qs_sim_fq *wq, const struct qs_sim_config *c,
		    const struct qs_qparams *act_params, size_t act_count, const struct qs_tensor *x, double *y,
		    struct qs_sim_err *act_err, size_t *n_overflow, bool use_integer)
{
	if (c->act_mode == QS_SIM_ACT_NONE)
		return forward_q(l, wq, c, NULL, x, y, n_overflow, use_integer);
	struct qs_sim_fq xq;
	int rc = act_quantize(c, act_params, act_count, x, &xq);
	if (rc)
		return rc;
	if (act_err)
		qs_sim_err_add(act_err, x->data, xq.xhat, x->n);
	rc = forward_q(l, wq, c, &xq, x, y, n_overflow, use_integer);
	qs_sim_fq_free(&xq);
	return rc;
}

int qs_sim_quantize_output(const struct qs_sim_qspec *s, const struct qs_qparams *p, size_t count, int rank,
			   const size_t *shape, double *y)
{
	struct qs_tensor t = qs_sim_view("output", rank, shape, y);
	struct qs_sim_fq fq;
	int rc = qs_sim_fq_apply(s, &t, p, count, &fq);
	if (rc == QS_OK)
		memcpy(y, fq.xhat, t.n * sizeof *y);
	qs_sim_fq_free(&fq);
	return rc;
}

int qs_sim_layer_run(const struct qs_sim_layer *l, const struct qs_sim_config *c, const struct qs_tensor *x,
		     const struct qs_tensor *x_calib, double *yref, double *ysim, struct qs_sim_result *r)
{
	int yrank;
	size_t yshape[QS_MAX_RANK], ny = 1;
	memset(r, 0, sizeof *r);
	int rc = qs_sim_layer_shape(l, x->rank, x->shape, &yrank, yshape);
	if (rc)
		return rc;
	for (int i = 0; i < yrank; i++)
		ny *= yshape[i];
	r->n_out = ny;
	struct qs_sim_fq wq = {0};
	struct qs_qparams *ap = NULL, *op = NULL;
	size_t acount = 0, ocount = 0;
	double *tmp = malloc((ny ? ny : 1) * sizeof *tmp);
	if (!tmp)
		return qs_error_set(QS_ENOMEM, "out of memory for a %zu-value output", ny);
	rc = qs_sim_layer_forward(l, l->weight->data, x->rank, x->shape, x->data, yref);
	if (rc == QS_OK && c->weight) {
		rc = qs_sim_fq_run(c->weight, l->weight, NULL, 0, &wq);
		if (rc == QS_OK) {
			qs_sim_err_add(&r->w, l->weight->data, wq.xhat, l->weight->n);
			r->w_clipped = wq.n_clipped;
			r->w_groups = wq.n_params;
			rc = qs_sim_layer_forward(l, wq.xhat, x->rank, x->shape, x->data, tmp);
		}
		if (rc == QS_OK)
			qs_sim_err_add(&r->out_w, yref, tmp, ny);
	}
	struct qs_sim_fq xq = {0};
	bool act = c->act_mode != QS_SIM_ACT_NONE;
	if (rc == QS_OK && c->act_mode == QS_SIM_ACT_STATIC)
		rc = qs_sim_fq_calibrate(c->act, x_calib ? x_calib : x, &ap, &acount);
	if (rc == QS_OK && act) {
		rc = act_quantize(c, ap, acount, x, &xq);
		if (rc == QS_OK) {
			qs_sim_err_add(&r->act, x->data, xq.xhat, x->n);
			r->act_clipped = xq.n_clipped;
			rc = forward_q(l, NULL, c, &xq, x, tmp, NULL, false);
		}
		if (rc == QS_OK)
			qs_sim_err_add(&r->out_act, yref, tmp, ny);
	}
	const struct qs_sim_fq *wqp = c->weight ? &wq : NULL, *xqp = act ? &xq : NULL;
	if (rc == QS_OK)
		rc = forward_q(l, wqp, c, xqp, x, ysim, NULL, false);
	if (rc == QS_OK && c->integer) {
		memcpy(tmp, ysim, ny * sizeof *tmp);
		rc = forward_q(l, wqp, c, xqp, x, ysim, &r->n_overflow, true);
		if (rc == QS_OK)
			qs_sim_err_add(&r->int_vs_fake, tmp, ysim, ny);
	}
	if (rc == QS_OK && c->out) {
		struct qs_tensor yt = qs_sim_view("output", yrank, yshape, yref);
		rc = qs_sim_fq_calibrate(c->out, &yt, &op, &ocount);
		if (rc == QS_OK)
			rc = qs_sim_quantize_output(c->out, op, ocount, yrank, yshape, ysim);
	}
	if (rc == QS_OK)
		qs_sim_err_add(&r->out, yref, ysim, ny);
	qs_sim_fq_free(&xq);
	free(tmp);
	free(ap);
	free(op);
	qs_sim_fq_free(&wq);
	return rc;
}
