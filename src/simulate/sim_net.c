/* Running a sequential network in float and quantized: per-layer error and top-1 agreement. */
#include "sim_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"

static void shape_text(int rank, const size_t *shape, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < rank && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, i ? "x%zu" : "%zu", shape[i]);
}

static int layer_shape(const struct qs_net_layer *l, int rank, const size_t *shape, int *yrank, size_t *yshape)
{
	char s[128];
	switch (l->kind) {
	case QS_NET_LINEAR:
	case QS_NET_CONV2D:
		return qs_sim_layer_shape(&l->op, rank, shape, yrank, yshape);
	case QS_NET_RELU:
	case QS_NET_RELU6:
		*yrank = rank;
		memcpy(yshape, shape, (size_t)rank * sizeof *shape);
		return QS_OK;
	case QS_NET_FLATTEN:
		if (rank < 1)
			return qs_error_set(QS_EFORMAT, "flatten needs an input with a batch axis");
		*yrank = 2;
		yshape[0] = shape[0];
		yshape[1] = 1;
		for (int i = 1; i < rank; i++)
			yshape[1] *= shape[i];
		return QS_OK;
	case QS_NET_MAXPOOL:
	case QS_NET_AVGPOOL:
		if (rank != 4) {
			shape_text(rank, shape, s, sizeof s);
			return qs_error_set(QS_EFORMAT, "a pool needs [N, C, H, W] input, not %s", s);
		}
		*yrank = 4;
		yshape[0] = shape[0];
		yshape[1] = shape[1];
		for (int d = 0; d < 2; d++) {
			size_t in = shape[2 + d] + 2 * l->padding[d];
			if (l->kernel[d] > in || 2 * l->padding[d] > l->kernel[d]) {
				shape_text(rank, shape, s, sizeof s);
				return qs_error_set(QS_EFORMAT, "pool kernel %zu (padding %zu) does not fit input %s",
						    l->kernel[d], l->padding[d], s);
			}
			yshape[2 + d] = (in - l->kernel[d]) / l->stride[d] + 1;
		}
		return QS_OK;
	}
	return QS_EINVAL;
}

int qs_net_shapes(const struct qs_net *net, int rank, const size_t *shape, int *ranks, size_t (*shapes)[QS_MAX_RANK])
{
	for (size_t i = 0; i < net->n_layers; i++) {
		int rc = layer_shape(&net->layers[i], i ? ranks[i - 1] : rank, i ? shapes[i - 1] : shape, &ranks[i],
				     shapes[i]);
		if (rc)
			return qs_error_prefix(rc, "'%s': layer [%s]: ", net->path, net->layers[i].name);
	}
	return QS_OK;
}

/* Max/average pooling (PyTorch semantics: max ignores padding, average counts it as zeros). */
static void pool(const struct qs_net_layer *l, const size_t *xs, const double *x, const size_t *ys, double *y)
{
	bool is_max = l->kind == QS_NET_MAXPOOL;
	for (size_t nc = 0; nc < xs[0] * xs[1]; nc++)
		for (size_t oy = 0; oy < ys[2]; oy++)
			for (size_t ox = 0; ox < ys[3]; ox++) {
				double acc = is_max ? -INFINITY : 0.0;
				for (size_t ky = 0; ky < l->kernel[0]; ky++)
					for (size_t kx = 0; kx < l->kernel[1]; kx++) {
						long iy = qs_sim_conv_in_pos(oy, ky, l->stride[0], 1, l->padding[0], xs[2]);
						long ix = qs_sim_conv_in_pos(ox, kx, l->stride[1], 1, l->padding[1], xs[3]);
						if (iy < 0 || ix < 0)
							continue;
						double v = x[(nc * xs[2] + (size_t)iy) * xs[3] + (size_t)ix];
						acc = is_max ? fmax(acc, v) : acc + v;
					}
				y[(nc * ys[2] + oy) * ys[3] + ox] = is_max ? acc : acc / (double)(l->kernel[0] * l->kernel[1]);
			}
}

/* y = layer(x) in float, or through the quantized path when wq != NULL / qcfg != NULL. */
static int layer_forward(const struct qs_net_layer *l, const struct qs_tensor *x, struct qs_tensor *y)
{
	switch (l->kind) {
	case QS_NET_LINEAR:
	case QS_NET_CONV2D:
		return qs_sim_layer_forward(&l->op, l->op.weight->data, x->rank, x->shape, x->data, y->data);
	case QS_NET_RELU:
	case QS_NET_RELU6:
		for (size_t i = 0; i < x->n; i++) {
			double v = x->data[i] > 0.0 ? x->data[i] : 0.0;
			y->data[i] = l->kind == QS_NET_RELU6 && v > 6.0 ? 6.0 : v;
		}
		return QS_OK;
	case QS_NET_FLATTEN:
		memcpy(y->data, x->data, x->n * sizeof *x->data);
		return QS_OK;
	case QS_NET_MAXPOOL:
	case QS_NET_AVGPOOL:
		pool(l, x->shape, x->data, y->shape, y->data);
		return QS_OK;
	}
	return QS_EINVAL;
}

/* Float activations after every layer for batch x: acts[i] (allocated). */
static int forward_all(const struct qs_net *net, const struct qs_tensor *x, struct qs_tensor **acts)
{
	int ranks[64];
	size_t shapes[64][QS_MAX_RANK];
	if (net->n_layers > 64)
		return qs_error_set(QS_EINVAL, "'%s': more than 64 layers", net->path);
	int rc = qs_net_shapes(net, x->rank, x->shape, ranks, shapes);
	for (size_t i = 0; i < net->n_layers && rc == QS_OK; i++) {
		acts[i] = qs_tensor_alloc(net->layers[i].name, "f64", ranks[i], shapes[i]);
		if (!acts[i])
			return qs_error_set(QS_ENOMEM, "out of memory");
		rc = layer_forward(&net->layers[i], i ? acts[i - 1] : x, acts[i]);
	}
	return rc;
}

static void free_acts(struct qs_tensor **acts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		qs_tensor_free(acts[i]);
		acts[i] = NULL;
	}
}

int qs_net_forward_float(const struct qs_net *net, const struct qs_tensor *x, struct qs_tensor **out)
{
	struct qs_tensor *acts[64] = {0};
	*out = NULL;
	int rc = forward_all(net, x, acts);
	if (rc == QS_OK) {
		*out = acts[net->n_layers - 1];
		acts[net->n_layers - 1] = NULL;
	}
	free_acts(acts, net->n_layers);
	return rc;
}

void qs_net_result_free(struct qs_net_result *r)
{
	if (!r)
		return;
	for (size_t b = 0; b < r->n_batches; b++) {
		if (r->outputs_float)
			free(r->outputs_float[b]);
		if (r->outputs_quant)
			free(r->outputs_quant[b]);
	}
	free(r->outputs_float);
	free(r->outputs_quant);
	free(r->out_count);
	free(r->err);
	free(r->w_err);
	free(r->n_overflow);
	free(r->quantized);
	memset(r, 0, sizeof *r);
}

/* Concatenates the same layer's activations of every batch along axis 0 (static calibration data). */
static struct qs_tensor *concat(struct qs_tensor *const *parts, size_t n)
{
	size_t shape[QS_MAX_RANK];
	memcpy(shape, parts[0]->shape, sizeof shape);
	shape[0] = 0;
	for (size_t b = 0; b < n; b++)
		shape[0] += parts[b]->shape[0];
	struct qs_tensor *t = qs_tensor_alloc(parts[0]->name, "f64", parts[0]->rank, shape);
	if (!t)
		return NULL;
	size_t off = 0;
	for (size_t b = 0; b < n; b++) {
		memcpy(t->data + off, parts[b]->data, parts[b]->n * sizeof *t->data);
		off += parts[b]->n;
	}
	return t;
}

/* What the quantized pass of one layer needs, prepared once per run. */
struct qlayer {
	bool on;
	struct qs_sim_fq wq;
	struct qs_qparams *ap, *op;
	size_t acount, ocount;
};

static size_t argmax_row(const double *row, size_t n)
{
	size_t best = 0;
	for (size_t j = 1; j < n; j++)
		if (row[j] > row[best])
			best = j;
	return best;
}

static int result_alloc(struct qs_net_result *r, size_t L, size_t B)
{
	memset(r, 0, sizeof *r);
	r->n_layers = L;
	r->n_batches = B;
	r->err = calloc(L, sizeof *r->err);
	r->w_err = calloc(L, sizeof *r->w_err);
	r->n_overflow = calloc(L, sizeof *r->n_overflow);
	r->quantized = calloc(L, sizeof *r->quantized);
	r->outputs_float = calloc(B, sizeof *r->outputs_float);
	r->outputs_quant = calloc(B, sizeof *r->outputs_quant);
	r->out_count = calloc(B, sizeof *r->out_count);
	if (!r->err || !r->w_err || !r->n_overflow || !r->quantized || !r->outputs_float || !r->outputs_quant ||
	    !r->out_count) {
		qs_net_result_free(r);
		return qs_error_set(QS_ENOMEM, "out of memory");
	}
	return QS_OK;
}

/* Calibration: the float activations entering (and leaving) every quantized layer, over all batches. */
static int prepare(const struct qs_net *net, const struct qs_sim_config *c, struct qs_tensor **const *facts,
		   struct qs_tensor *const *batches, size_t B, struct qlayer *ql, struct qs_net_result *r)
{
	int rc = QS_OK;
	struct qs_tensor **parts = malloc(B * sizeof *parts);
	if (!parts)
		return qs_error_set(QS_ENOMEM, "out of memory");
	for (size_t i = 0; i < net->n_layers && rc == QS_OK; i++) {
		if (!ql[i].on)
			continue;
		const struct qs_net_layer *l = &net->layers[i];
		if (c->weight) {
			rc = qs_sim_fq_run(c->weight, l->op.weight, NULL, 0, &ql[i].wq);
			if (rc)
				break;
			qs_sim_err_add(&r->w_err[i], l->op.weight->data, ql[i].wq.xhat, l->op.weight->n);
		}
		if (c->act_mode == QS_SIM_ACT_STATIC) {
			for (size_t b = 0; b < B; b++)
				parts[b] = i ? facts[b][i - 1] : batches[b];
			struct qs_tensor *all = concat(parts, B);
			rc = all ? qs_sim_fq_calibrate(c->act, all, &ql[i].ap, &ql[i].acount)
				 : qs_error_set(QS_ENOMEM, "out of memory");
			qs_tensor_free(all);
		}
		if (rc == QS_OK && c->out) {
			for (size_t b = 0; b < B; b++)
				parts[b] = facts[b][i];
			struct qs_tensor *all = concat(parts, B);
			rc = all ? qs_sim_fq_calibrate(c->out, all, &ql[i].op, &ql[i].ocount)
				 : qs_error_set(QS_ENOMEM, "out of memory");
			qs_tensor_free(all);
		}
	}
	free(parts);
	return rc;
}

/* The quantized pass of one batch; compares every layer with the float activations facts[]. */
static int run_batch(const struct qs_net *net, const struct qs_sim_config *c, const struct qlayer *ql,
		     const struct qs_tensor *x0, struct qs_tensor *const *facts, struct qs_net_result *r, size_t b)
{
	int rc = QS_OK;
	struct qs_tensor *prev = NULL;
	for (size_t i = 0; i < net->n_layers && rc == QS_OK; i++) {
		const struct qs_net_layer *l = &net->layers[i];
		const struct qs_tensor *x = i ? prev : x0;
		struct qs_tensor *y = qs_tensor_alloc(l->name, "f64", facts[i]->rank, facts[i]->shape);
		if (!y) {
			rc = qs_error_set(QS_ENOMEM, "out of memory");
			break;
		}
		if (ql[i].on) {
			rc = qs_sim_qforward(&l->op, c->weight ? &ql[i].wq : NULL, c, ql[i].ap, ql[i].acount, x, y->data,
					     NULL, &r->n_overflow[i], c->integer != NULL);
			if (rc == QS_OK && c->out)
				rc = qs_sim_quantize_output(c->out, ql[i].op, ql[i].ocount, y->rank, y->shape, y->data);
		} else {
			rc = layer_forward(l, x, y);
		}
		if (rc == QS_OK)
			qs_sim_err_add(&r->err[i], facts[i]->data, y->data, y->n);
		qs_tensor_free(prev);
		prev = y;
	}
	if (rc == QS_OK) {
		const struct qs_tensor *f = facts[net->n_layers - 1];
		size_t rows = f->rank ? f->shape[0] : 1, cols = rows ? f->n / rows : 0;
		for (size_t k = 0; k < rows && cols; k++) {
			r->samples++;
			r->top1_agree += argmax_row(f->data + k * cols, cols) == argmax_row(prev->data + k * cols, cols);
		}
		r->out_count[b] = f->n;
		r->outputs_float[b] = malloc((f->n ? f->n : 1) * sizeof *f->data);
		r->outputs_quant[b] = malloc((f->n ? f->n : 1) * sizeof *f->data);
		if (!r->outputs_float[b] || !r->outputs_quant[b])
			rc = qs_error_set(QS_ENOMEM, "out of memory");
		else {
			memcpy(r->outputs_float[b], f->data, f->n * sizeof *f->data);
			memcpy(r->outputs_quant[b], prev->data, f->n * sizeof *f->data);
		}
	}
	qs_tensor_free(prev);
	return rc;
}

int qs_net_run(const struct qs_net *net, const struct qs_sim_config *c, unsigned quant_mask,
	       struct qs_tensor *const *batches, size_t n_batches, struct qs_net_result *out)
{
	size_t L = net->n_layers, B = n_batches;
	if (L > 64)
		return qs_error_set(QS_EINVAL, "'%s': more than 64 layers", net->path);
	int rc = result_alloc(out, L, B);
	if (rc)
		return rc;
	struct qs_tensor ***facts = calloc(B, sizeof *facts);
	struct qlayer *ql = calloc(L, sizeof *ql);
	if (!facts || !ql)
		rc = qs_error_set(QS_ENOMEM, "out of memory");
	for (size_t b = 0; b < B && rc == QS_OK; b++) {
		facts[b] = calloc(L, sizeof **facts);
		rc = facts[b] ? forward_all(net, batches[b], facts[b]) : qs_error_set(QS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < L && rc == QS_OK; i++) {
		const struct qs_net_layer *l = &net->layers[i];
		ql[i].on = (l->kind == QS_NET_LINEAR || l->kind == QS_NET_CONV2D) && l->quantize &&
			   (quant_mask & (1u << l->kind));
		out->quantized[i] = ql[i].on;
	}
	if (rc == QS_OK)
		rc = prepare(net, c, facts, batches, B, ql, out);
	for (size_t b = 0; b < B && rc == QS_OK; b++)
		rc = run_batch(net, c, ql, batches[b], facts[b], out, b);
	for (size_t b = 0; facts && b < B; b++) {
		if (facts[b])
			free_acts(facts[b], L);
		free(facts[b]);
	}
	free(facts);
	for (size_t i = 0; ql && i < L; i++) {
		qs_sim_fq_free(&ql[i].wq);
		free(ql[i].ap);
		free(ql[i].op);
	}
	free(ql);
	if (rc)
		qs_net_result_free(out);
	return rc;
}
