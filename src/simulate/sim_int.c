/* Integer simulation of Linear and Conv2d: integer products in an accumulator of a chosen width, then dequantized. */
#include "sim_int.h"

#include <stdint.h>
#include <stdlib.h>

#include "../util/qs_error.h"

/* The one group every element of [begin, begin + len) belongs to, or false if the span straddles groups. */
static bool span_group(const struct qs_sim_fq *fq, size_t begin, size_t len, size_t *group)
{
	*group = len ? fq->group[begin] : 0;
	for (size_t i = 1; i < len; i++)
		if (fq->group[begin + i] != *group)
			return false;
	return true;
}

struct acc {
	int64_t lo, hi, v;   /* range of the accumulator and its value */
	unsigned bits;
	bool overflowed;
};

static void acc_add(struct acc *a, int64_t term)
{
	a->v += term;
	if (a->v < a->lo || a->v > a->hi) {
		a->overflowed = true;
		/* two's complement wrap to `bits` bits */
		uint64_t mask = (UINT64_C(1) << a->bits) - 1, u = (uint64_t)a->v & mask;
		a->v = u > (uint64_t)a->hi ? (int64_t)(u - mask - 1) : (int64_t)u;
	}
}

/* Finishes one output: counts or rejects an overflow, dequantizes. */
static int acc_finish(const struct acc *a, const struct qs_sim_int_spec *spec, double sx, double sw, double bias,
		      double *y, size_t *n_overflow, size_t index)
{
	if (a->overflowed) {
		if (spec->overflow_error)
			return qs_error_set(QS_EINVAL, "integer pipeline: the %d-bit accumulator overflows (output %zu; "
					    "use more --acc-bits)", spec->acc_bits, index);
		(*n_overflow)++;
	}
	*y = (double)a->v * sx * sw + bias;
	return QS_OK;
}

int qs_sim_int_forward(const struct qs_sim_layer *l, const struct qs_sim_fq *w, const struct qs_sim_fq *x, int xrank,
		       const size_t *xshape, const struct qs_sim_int_spec *spec, double *y, size_t *n_overflow)
{
	if (spec->acc_bits < QS_ACC_BITS_MIN || spec->acc_bits > QS_ACC_BITS_MAX)
		return qs_error_set(QS_EINVAL, "accumulator width %d out of range (%d to %d bits)", spec->acc_bits,
				    QS_ACC_BITS_MIN, QS_ACC_BITS_MAX);
	const size_t *ws = l->weight->shape;
	size_t out = ws[0], per_out = l->weight->n / (out ? out : 1);
	size_t samples = xshape[0], per_sample = 1;
	for (int d = 1; d < xrank; d++)
		per_sample *= xshape[d];
	if (l->op == QS_SIM_LINEAR) { /* rows of [..., in] are the samples */
		samples = 1;
		for (int d = 0; d < xrank - 1; d++)
			samples *= xshape[d];
		per_sample = ws[1];
	}
	size_t *wg = malloc((out ? out : 1) * sizeof *wg), *xg = malloc((samples ? samples : 1) * sizeof *xg);
	int rc = wg && xg ? QS_OK : qs_error_set(QS_ENOMEM, "integer pipeline: out of memory");
	for (size_t o = 0; o < out && rc == QS_OK; o++)
		if (!span_group(w, o * per_out, per_out, &wg[o]))
			rc = qs_error_set(QS_EINVAL, "integer pipeline: weight quantization groups split output channel "
					  "%zu (use weight granularity tensor or channel:0)", o);
	for (size_t s = 0; s < samples && rc == QS_OK; s++)
		if (!span_group(x, s * per_sample, per_sample, &xg[s]))
			rc = qs_error_set(QS_EINVAL, "integer pipeline: activation quantization groups split sample %zu "
					  "(use activation granularity tensor or channel:0)", s);
	*n_overflow = 0;
	struct acc proto = {.bits = (unsigned)spec->acc_bits, .lo = -(INT64_C(1) << (spec->acc_bits - 1)),
			    .hi = (INT64_C(1) << (spec->acc_bits - 1)) - 1};
	if (rc == QS_OK && l->op == QS_SIM_LINEAR) {
		size_t K = ws[1];
		for (size_t r = 0; r < samples && rc == QS_OK; r++) {
			const struct qs_qparams *px = &x->params[xg[r]];
			for (size_t o = 0; o < out && rc == QS_OK; o++) {
				const struct qs_qparams *pw = &w->params[wg[o]];
				struct acc a = proto;
				for (size_t k = 0; k < K; k++)
					acc_add(&a, (int64_t)(x->code[r * K + k] - px->zero_point) *
							    (int64_t)(w->code[o * K + k] - pw->zero_point));
				rc = acc_finish(&a, spec, px->scale, pw->scale, l->bias ? l->bias->data[o] : 0.0,
						&y[r * out + o], n_overflow, r * out + o);
			}
		}
	} else if (rc == QS_OK) {
		size_t C = xshape[1], H = xshape[2], W = xshape[3], cg = ws[1], kh = ws[2], kw = ws[3];
		size_t og = out / l->groups;
		size_t oh = (H + 2 * l->padding[0] - (l->dilation[0] * (kh - 1) + 1)) / l->stride[0] + 1;
		size_t ow = (W + 2 * l->padding[1] - (l->dilation[1] * (kw - 1) + 1)) / l->stride[1] + 1;
		for (size_t n = 0; n < samples && rc == QS_OK; n++) {
			const struct qs_qparams *px = &x->params[xg[n]];
			for (size_t o = 0; o < out && rc == QS_OK; o++) {
				const struct qs_qparams *pw = &w->params[wg[o]];
				size_t gi = o / og;
				for (size_t oy = 0; oy < oh && rc == QS_OK; oy++)
					for (size_t ox = 0; ox < ow && rc == QS_OK; ox++) {
						struct acc a = proto;
						for (size_t c = 0; c < cg; c++)
							for (size_t ky = 0; ky < kh; ky++)
								for (size_t kx = 0; kx < kw; kx++) {
									long iy = qs_sim_conv_in_pos(oy, ky, l->stride[0],
										l->dilation[0], l->padding[0], H);
									long ix = qs_sim_conv_in_pos(ox, kx, l->stride[1],
										l->dilation[1], l->padding[1], W);
									if (iy < 0 || ix < 0)
										continue;
									size_t xi = ((n * C + gi * cg + c) * H + (size_t)iy) * W
										    + (size_t)ix;
									size_t wi = ((o * cg + c) * kh + ky) * kw + kx;
									acc_add(&a, (int64_t)(x->code[xi] - px->zero_point) *
										    (int64_t)(w->code[wi] - pw->zero_point));
								}
						size_t yi = ((n * out + o) * oh + oy) * ow + ox;
						rc = acc_finish(&a, spec, px->scale, pw->scale,
								l->bias ? l->bias->data[o] : 0.0, &y[yi], n_overflow, yi);
					}
			}
		}
	}
	free(wg);
	free(xg);
	return rc;
}
