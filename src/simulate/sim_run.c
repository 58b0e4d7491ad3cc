/* A quantized layer run against its float reference, with the error attributed to weights and activations. */
#include "sim_run.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"

int qs_sim_qforward(const struct qs_sim_layer *l, const struct qs_sim_fq *wq, const struct qs_sim_config *c,
		    const struct qs_qparams *act_params, size_t act_count, const struct qs_tensor *x, double *y,
		    struct qs_sim_err *act_err, size_t *n_overflow, bool use_integer)
{
	const double *w = wq ? wq->xhat : l->weight->data;
	if (c->act_mode == QS_SIM_ACT_NONE) {
		if (use_integer)
			return qs_error_set(QS_EUSAGE, "the integer pipeline needs an activation quantizer (--act)");
		return qs_sim_layer_forward(l, w, x->rank, x->shape, x->data, y);
	}
	struct qs_sim_fq xq;
	int rc = c->act_mode == QS_SIM_ACT_STATIC ? qs_sim_fq_apply(c->act, x, act_params, act_count, &xq)
						  : qs_sim_fq_run(c->act, x, NULL, c->act_rows ? c->act_rows : SIZE_MAX,
								  &xq);
	if (rc)
		return rc;
	if (act_err)
		qs_sim_err_add(act_err, x->data, xq.xhat, x->n);
	if (!use_integer) {
		rc = qs_sim_layer_forward(l, w, x->rank, x->shape, xq.xhat, y);
	} else if (!wq) {
		rc = qs_error_set(QS_EUSAGE, "the integer pipeline needs a weight quantizer");
	} else {
		size_t n_ovf = 0;
		rc = qs_sim_int_forward(l, wq, &xq, x->rank, x->shape, c->integer, y, &n_ovf);
		if (n_overflow)
			*n_overflow += n_ovf;
	}
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
			rc = qs_sim_layer_forward(l, wq.xhat, x->rank, x->shape, x->data, tmp);
		}
		if (rc == QS_OK)
			qs_sim_err_add(&r->out_w, yref, tmp, ny);
	}
	if (rc == QS_OK && c->act_mode == QS_SIM_ACT_STATIC)
		rc = qs_sim_fq_calibrate(c->act, x_calib ? x_calib : x, &ap, &acount);
	if (rc == QS_OK && c->act_mode != QS_SIM_ACT_NONE) {
		rc = qs_sim_qforward(l, NULL, c, ap, acount, x, tmp, &r->act, NULL, false);
		if (rc == QS_OK)
			qs_sim_err_add(&r->out_act, yref, tmp, ny);
	}
	if (rc == QS_OK)
		rc = qs_sim_qforward(l, c->weight ? &wq : NULL, c, ap, acount, x, ysim, NULL, NULL, false);
	if (rc == QS_OK && c->integer) {
		memcpy(tmp, ysim, ny * sizeof *tmp);
		rc = qs_sim_qforward(l, c->weight ? &wq : NULL, c, ap, acount, x, ysim, NULL, &r->n_overflow, true);
		if (rc == QS_OK)
			qs_sim_err_add(&r->int_vs_fake, tmp, ysim, ny);
	}
	if (rc == QS_OK && c->out) {
		struct qs_tensor yt = qs_sim_view("output", yrank, yshape, yref);
		rc = qs_sim_fq_calibrate(c->out, &yt, &op, &ocount);
		if (rc == QS_OK)
			rc = qs_sim_quantize_output(c->out, op, ocount, yrank, yshape, ysim);
	}
	if (rc == QS_OK) {
		qs_sim_err_add(&r->out, yref, ysim, ny);
		if (c->act_mode != QS_SIM_ACT_NONE) {
			/* the activation clip count of the full run equals the act-only run's: same X, same qparams */
			struct qs_sim_fq xq;
			rc = c->act_mode == QS_SIM_ACT_STATIC ? qs_sim_fq_apply(c->act, x, ap, acount, &xq)
				: qs_sim_fq_run(c->act, x, NULL, c->act_rows ? c->act_rows : SIZE_MAX, &xq);
			if (rc == QS_OK)
				r->act_clipped = xq.n_clipped;
			qs_sim_fq_free(&xq);
		}
	}
	free(tmp);
	free(ap);
	free(op);
	qs_sim_fq_free(&wq);
	return rc;
}
