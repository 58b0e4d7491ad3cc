/* Fake quantization of whole tensors: calibrate each group (qs_groups_build + the calibrator table), derive
 * (s, z) with the quantizer, and write x̂ and the integer code of every element back in tensor order. */
#include "sim_fq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "../util/qs_error.h"

struct qs_tensor qs_sim_view(const char *name, int rank, const size_t *shape, const double *data)
{
	struct qs_tensor t = {.name = (char *)name, .rank = rank, .data = (double *)data, .owns_data = false,
			      .channel_axis = -1};
	snprintf(t.dtype, sizeof t.dtype, "f64");
	t.n = 1;
	for (int i = 0; i < rank; i++) {
		t.shape[i] = shape[i];
		t.n *= shape[i];
	}
	return t;
}

int qs_sim_group_index(const struct qs_tensor *t, const struct qs_granularity *g, size_t *group, size_t *count)
{
	if (g->kind == QS_GRAN_TENSOR) {
		for (size_t i = 0; i < t->n; i++)
			group[i] = 0;
		*count = 1;
		return QS_OK;
	}
	int axis;
	int rc = qs_gran_axis(t, g, &axis);
	if (rc)
		return rc;
	size_t len = t->shape[axis], inner = 1;
	for (int d = axis + 1; d < t->rank; d++)
		inner *= t->shape[d];
	if (g->kind == QS_GRAN_CHANNEL) {
		for (size_t i = 0; i < t->n; i++)
			group[i] = (i / inner) % len;
		*count = len;
		return QS_OK;
	}
	/* group:G — fibres in C order of (outer, inner), blocks of G along the axis inside each fibre; token: one block
	 * of the whole last axis per fibre */
	size_t G = g->kind == QS_GRAN_TOKEN ? (len ? len : 1) : g->group_size, blocks = (len + G - 1) / G;
	for (size_t i = 0; i < t->n; i++) {
		size_t o = i / (inner * len), a = (i / inner) % len, in = i % inner;
		group[i] = (o * inner + in) * blocks + a / G;
	}
	*count = (t->n / (len ? len : 1)) * blocks;
	if (len == 0)
		*count = 0;
	return QS_OK;
}

int qs_sim_fq_calibrate(const struct qs_sim_qspec *s, const struct qs_tensor *calib_data, struct qs_qparams **params,
			size_t *count)
{
	struct qs_groups gr;
	*params = NULL;
	*count = 0;
	int rc = qs_groups_build(calib_data, &s->gran, false, &gr);
	if (rc)
		return rc;
	struct qs_qparams *p = malloc((gr.count ? gr.count : 1) * sizeof *p);
	if (!p) {
		qs_groups_free(&gr);
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", calib_data->name);
	}
	for (size_t k = 0; k < gr.count && rc == QS_OK; k++) {
		size_t off = gr.offset[k], n = gr.offset[k + 1] - off;
		double lo = 0.0, hi = 0.0;
		if (n)
			rc = qs_calib_clip_range(&s->calib, gr.values + off, n, &s->quant, &lo, &hi);
		if (rc == QS_OK) {
			qs_quant_params(&s->quant, s->multiplier * lo, s->multiplier * hi, &p[k]);
			rc = qs_quant_scale_check(p[k].scale, calib_data->name, s->multiplier);
		}
	}
	if (rc == QS_OK) {
		*params = p;
		*count = gr.count;
	} else {
		free(p);
	}
	qs_groups_free(&gr);
	return rc;
}

void qs_sim_fq_free(struct qs_sim_fq *fq)
{
	if (!fq)
		return;
	free(fq->xhat);
	free(fq->code);
	free(fq->group);
	free(fq->params);
	memset(fq, 0, sizeof *fq);
}

static int fq_alloc(const struct qs_tensor *t, struct qs_sim_fq *out)
{
	memset(out, 0, sizeof *out);
	size_t n = t->n ? t->n : 1;
	out->n = t->n;
	out->xhat = malloc(n * sizeof *out->xhat);
	out->code = malloc(n * sizeof *out->code);
	out->group = malloc(n * sizeof *out->group);
	if (!out->xhat || !out->code || !out->group) {
		qs_sim_fq_free(out);
		return qs_error_set(QS_ENOMEM, "'%s': out of memory quantizing %zu values", t->name, t->n);
	}
	return QS_OK;
}

/* Codes and x̂ of x[0..n) whose groups are group[i] - base, with params p; the SPEC §1 quantizer. */
static void quantize_span(const struct qs_sim_qspec *s, const double *x, size_t n, const size_t *group,
			  const struct qs_qparams *p, gsl_rng *rng, double *xhat, long *code, size_t *n_clipped)
{
	long qmin, qmax;
	qs_quant_range(&s->quant, &qmin, &qmax);
	for (size_t i = 0; i < n; i++) {
		const struct qs_qparams *g = &p[group[i]];
		double v = qs_quant_round(x[i] / g->scale, s->quant.rounding, rng) + (double)g->zero_point;
		long c;
		if (v < (double)qmin) {
			c = qmin;
			(*n_clipped)++;
		} else if (v > (double)qmax) {
			c = qmax;
			(*n_clipped)++;
		} else {
			c = (long)v;
		}
		code[i] = c;
		xhat[i] = (double)(c - g->zero_point) * g->scale;
	}
}

static int check_finite(const struct qs_tensor *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (!isfinite(t->data[i]))
			return qs_error_set(QS_ENONFINITE, "'%s': tensor contains non-finite values (NaN/Inf)", t->name);
	return QS_OK;
}

int qs_sim_fq_apply(const struct qs_sim_qspec *s, const struct qs_tensor *t, const struct qs_qparams *params,
		    size_t count, struct qs_sim_fq *out)
{
	size_t n_groups;
	int rc = check_finite(t);
	if (rc == QS_OK)
		rc = fq_alloc(t, out);
	if (rc == QS_OK)
		rc = qs_sim_group_index(t, &s->gran, out->group, &n_groups);
	if (rc == QS_OK && n_groups != count)
		rc = qs_error_set(QS_EINVAL, "'%s': %zu quantization groups, but %zu calibrated", t->name, n_groups, count);
	if (rc == QS_OK && !(out->params = malloc((count ? count : 1) * sizeof *out->params)))
		rc = qs_error_set(QS_ENOMEM, "'%s': out of memory", t->name);
	gsl_rng *rng = NULL;
	if (rc == QS_OK && s->quant.rounding == QS_ROUND_STOCHASTIC) {
		if (!(rng = gsl_rng_alloc(gsl_rng_mt19937)))
			rc = qs_error_set(QS_ENOMEM, "out of memory");
		else
			gsl_rng_set(rng, s->seed);
	}
	if (rc == QS_OK) {
		memcpy(out->params, params, count * sizeof *params);
		out->n_params = count;
		quantize_span(s, t->data, t->n, out->group, out->params, rng, out->xhat, out->code, &out->n_clipped);
	}
	gsl_rng_free(rng);
	if (rc)
		qs_sim_fq_free(out);
	return rc;
}

/* Dynamic quantization: batches of `rows` indices of axis 0, each with qparams from its own values. */
static int fq_dynamic(const struct qs_sim_qspec *s, const struct qs_tensor *t, size_t rows, struct qs_sim_fq *out)
{
	int rc = fq_alloc(t, out);
	if (rc)
		return rc;
	size_t per_row = t->rank ? t->n / (t->shape[0] ? t->shape[0] : 1) : t->n;
	size_t total = t->rank ? t->shape[0] : 1;
	if (rows > total)
		rows = total ? total : 1;
	for (size_t r0 = 0; r0 < total && rc == QS_OK; r0 += rows) {
		size_t nr = total - r0 < rows ? total - r0 : rows;
		size_t shape[QS_MAX_RANK];
		memcpy(shape, t->shape, sizeof shape);
		if (t->rank)
			shape[0] = nr;
		struct qs_tensor b = qs_sim_view(t->name, t->rank, shape, t->data + r0 * per_row);
		struct qs_sim_fq part;
		struct qs_qparams *p;
		size_t count;
		rc = qs_sim_fq_calibrate(s, &b, &p, &count);
		if (rc == QS_OK) {
			rc = qs_sim_fq_apply(s, &b, p, count, &part);
			free(p);
		}
		if (rc)
			break;
		struct qs_qparams *grown = realloc(out->params, (out->n_params + count + 1) * sizeof *grown);
		if (!grown) {
			qs_sim_fq_free(&part);
			rc = qs_error_set(QS_ENOMEM, "'%s': out of memory", t->name);
			break;
		}
		out->params = grown;
		memcpy(out->params + out->n_params, part.params, count * sizeof *grown);
		size_t off = r0 * per_row;
		memcpy(out->xhat + off, part.xhat, b.n * sizeof *out->xhat);
		memcpy(out->code + off, part.code, b.n * sizeof *out->code);
		for (size_t i = 0; i < b.n; i++)
			out->group[off + i] = out->n_params + part.group[i];
		out->n_params += count;
		out->n_clipped += part.n_clipped;
		qs_sim_fq_free(&part);
	}
	if (rc)
		qs_sim_fq_free(out);
	return rc;
}

int qs_sim_fq_run(const struct qs_sim_qspec *s, const struct qs_tensor *t, const struct qs_tensor *calib_data,
		  size_t rows, struct qs_sim_fq *out)
{
	int rc = check_finite(t);
	if (rc)
		return rc;
	if (rows)
		return fq_dynamic(s, t, rows, out);
	struct qs_qparams *p;
	size_t count;
	rc = qs_sim_fq_calibrate(s, calib_data ? calib_data : t, &p, &count);
	if (rc == QS_OK)
		rc = qs_sim_fq_apply(s, t, p, count, out);
	free(p);
	return rc;
}
