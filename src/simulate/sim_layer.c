/* Linear and Conv2d in double precision: GEMM through CBLAS (GSL's gslcblas), convolution as im2col + GEMM. */
#include "sim_layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>

#include "../util/qs_error.h"
#include "../util/qs_names.h"
#include "../util/qs_threads.h"

static const char *const op_names[] = {"linear", "conv2d"};

const char *qs_sim_op_name(enum qs_sim_op op)
{
	return op_names[op];
}

int qs_sim_op_parse(const char *s, enum qs_sim_op *out)
{
	int i = qs_name_index(op_names, sizeof op_names / sizeof *op_names, s);
	if (i < 0)
		return qs_error_set(QS_EUSAGE, "unknown op '%s' (use linear or conv2d)", s);
	*out = (enum qs_sim_op)i;
	return QS_OK;
}

static void shape_text(int rank, const size_t *shape, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < rank && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, i ? "x%zu" : "%zu", shape[i]);
	if (rank == 0)
		snprintf(buf, len, "scalar");
}

static int check_bias(const struct qs_sim_layer *l, size_t out)
{
	const struct qs_tensor *b = l->bias;
	if (b && (b->rank != 1 || b->shape[0] != out)) {
		char s[128];
		shape_text(b->rank, b->shape, s, sizeof s);
		return qs_error_set(QS_EFORMAT, "'%s': bias has shape %s, expected %zu (the weight's output channels)",
				    b->name, s, out);
	}
	return QS_OK;
}

static int linear_check(const struct qs_sim_layer *l)
{
	const struct qs_tensor *w = l->weight;
	if (w->rank != 2) {
		char s[128];
		shape_text(w->rank, w->shape, s, sizeof s);
		return qs_error_set(QS_EFORMAT, "'%s': linear weight has shape %s, expected [out, in]", w->name, s);
	}
	return check_bias(l, w->shape[0]);
}

static int linear_shape(const struct qs_sim_layer *l, int xrank, const size_t *xshape, int *yrank, size_t *yshape)
{
	const struct qs_tensor *w = l->weight;
	if (xrank < 1 || xshape[xrank - 1] != w->shape[1]) {
		char s[128];
		shape_text(xrank, xshape, s, sizeof s);
		return qs_error_set(QS_EFORMAT, "input of shape %s does not fit linear weight '%s' [%zu, %zu] "
				    "(last dimension must be %zu)", s, w->name, w->shape[0], w->shape[1], w->shape[1]);
	}
	*yrank = xrank;
	memcpy(yshape, xshape, (size_t)xrank * sizeof *yshape);
	yshape[xrank - 1] = w->shape[0];
	return QS_OK;
}

static int conv_check(const struct qs_sim_layer *l)
{
	const struct qs_tensor *w = l->weight;
	if (w->rank != 4) {
		char s[128];
		shape_text(w->rank, w->shape, s, sizeof s);
		return qs_error_set(QS_EFORMAT, "'%s': conv2d weight has shape %s, expected [out, in/groups, kh, kw]",
				    w->name, s);
	}
	if (l->groups == 0 || l->stride[0] == 0 || l->stride[1] == 0 || l->dilation[0] == 0 || l->dilation[1] == 0)
		return qs_error_set(QS_EINVAL, "conv2d: stride, dilation and groups must be at least 1");
	if (w->shape[0] % l->groups)
		return qs_error_set(QS_EFORMAT, "'%s': %zu output channels are not divisible by groups = %zu", w->name,
				    w->shape[0], l->groups);
	return check_bias(l, w->shape[0]);
}

static int conv_shape(const struct qs_sim_layer *l, int xrank, const size_t *xshape, int *yrank, size_t *yshape)
{
	const struct qs_tensor *w = l->weight;
	char s[128];
	if (xrank != 4 || xshape[1] != w->shape[1] * l->groups) {
		shape_text(xrank, xshape, s, sizeof s);
		return qs_error_set(QS_EFORMAT, "input of shape %s does not fit conv2d weight '%s' (expected [N, %zu, H, W]: "
				    "in/groups = %zu times groups = %zu)", s, w->name, w->shape[1] * l->groups,
				    w->shape[1], l->groups);
	}
	yshape[0] = xshape[0];
	yshape[1] = w->shape[0];
	for (int d = 0; d < 2; d++) {
		size_t span = l->dilation[d] * (w->shape[2 + d] - 1) + 1, in = xshape[2 + d] + 2 * l->padding[d];
		if (w->shape[2 + d] == 0 || span > in) {
			shape_text(xrank, xshape, s, sizeof s);
			return qs_error_set(QS_EFORMAT, "input of shape %s is smaller than conv2d kernel '%s' "
					    "(%zu with dilation, padding %zu)", s, w->name, span, l->padding[d]);
		}
		yshape[2 + d] = (in - span) / l->stride[d] + 1;
	}
	*yrank = 4;
	return QS_OK;
}

int qs_sim_layer_check(const struct qs_sim_layer *l)
{
	return l->op == QS_SIM_LINEAR ? linear_check(l) : conv_check(l);
}

int qs_sim_layer_shape(const struct qs_sim_layer *l, int xrank, const size_t *xshape, int *yrank, size_t *yshape)
{
	int rc = qs_sim_layer_check(l);
	if (rc)
		return rc;
	return l->op == QS_SIM_LINEAR ? linear_shape(l, xrank, xshape, yrank, yshape)
				      : conv_shape(l, xrank, xshape, yrank, yshape);
}

static size_t rows_of(int xrank, const size_t *xshape)
{
	size_t m = 1;
	for (int i = 0; i < xrank - 1; i++)
		m *= xshape[i];
	return m;
}

static void add_bias_rows(const struct qs_sim_layer *l, size_t rows, size_t out, double *y)
{
	if (!l->bias)
		return;
	for (size_t r = 0; r < rows; r++)
		for (size_t o = 0; o < out; o++)
			y[r * out + o] += l->bias->data[o];
}

/* Conv2d geometry shared by both paths. */
struct conv_geom {
	size_t n, c, h, w, out, oh, ow, kh, kw, cg, og; /* cg, og: input and output channels per group */
};

static struct conv_geom conv_geom(const struct qs_sim_layer *l, const size_t *xshape)
{
	const size_t *ws = l->weight->shape;
	struct conv_geom g = {.n = xshape[0], .c = xshape[1], .h = xshape[2], .w = xshape[3], .out = ws[0],
			      .kh = ws[2], .kw = ws[3], .cg = ws[1], .og = ws[0] / l->groups};
	g.oh = (g.h + 2 * l->padding[0] - (l->dilation[0] * (g.kh - 1) + 1)) / l->stride[0] + 1;
	g.ow = (g.w + 2 * l->padding[1] - (l->dilation[1] * (g.kw - 1) + 1)) / l->stride[1] + 1;
	return g;
}

long qs_sim_conv_in_pos(size_t o, size_t k, size_t stride, size_t dil, size_t pad, size_t len)
{
	long p = (long)(o * stride + k * dil) - (long)pad;
	return p >= 0 && p < (long)len ? p : -1;
}

/* The output indices [*lo, *hi) whose input index o·stride + off lies inside [0, len). */
static void valid_span(long off, size_t stride, size_t len, size_t count, size_t *lo, size_t *hi)
{
	long s = (long)stride, first = off >= 0 ? 0 : (-off + s - 1) / s;
	long last = (long)len - 1 - off < 0 ? -1 : ((long)len - 1 - off) / s; /* last valid o */
	*lo = (size_t)first < count ? (size_t)first : count;
	*hi = last + 1 < first ? *lo : ((size_t)(last + 1) < count ? (size_t)(last + 1) : count);
}

/* Columns of one sample and group: col[(c·kh + ky)·kw + kx][oy·ow + ox], zeros in the padding. */
static void im2col(const struct qs_sim_layer *l, const struct conv_geom *g, const double *x, double *col)
{
	size_t P = g->oh * g->ow;
	for (size_t c = 0; c < g->cg; c++)
		for (size_t ky = 0; ky < g->kh; ky++)
			for (size_t kx = 0; kx < g->kw; kx++) {
				double *dst = col + ((c * g->kh + ky) * g->kw + kx) * P;
				long offx = (long)(kx * l->dilation[1]) - (long)l->padding[1];
				size_t lo, hi;
				valid_span(offx, l->stride[1], g->w, g->ow, &lo, &hi);
				for (size_t oy = 0; oy < g->oh; oy++) {
					double *d = dst + oy * g->ow;
					long iy = qs_sim_conv_in_pos(oy, ky, l->stride[0], l->dilation[0], l->padding[0], g->h);
					if (iy < 0) {
						memset(d, 0, g->ow * sizeof *d);
						continue;
					}
					const double *row = x + (c * g->h + (size_t)iy) * g->w;
					for (size_t ox = 0; ox < lo; ox++)
						d[ox] = 0.0;
					for (size_t ox = lo; ox < hi; ox++)
						d[ox] = row[(size_t)((long)(ox * l->stride[1]) + offx)];
					for (size_t ox = hi; ox < g->ow; ox++)
						d[ox] = 0.0;
				}
			}
}

/* (sample, group) pairs are independent GEMMs, shared among threads (from 16M multiply-adds on), each with its
 * own im2col buffer. */
static int conv_forward(const struct qs_sim_layer *l, const double *w, const size_t *xshape, const double *x,
			double *y)
{
	struct conv_geom g = conv_geom(l, xshape);
	size_t P = g.oh * g.ow, K = g.cg * g.kh * g.kw, KP = K * P > 0 ? K * P : 1;
	long jobs = (long)(g.n * l->groups);
	int threads = qs_max_threads();
	double *cols = malloc((size_t)threads * KP * sizeof *cols);
	if (!cols)
		return qs_error_set(QS_ENOMEM, "conv2d: out of memory for the im2col workspace (%zu x %zu)", K, P);
#pragma omp parallel for schedule(dynamic) if (jobs > 1 && (double)jobs * (double)(g.og * K * P) >= 16777216.0)
	for (long j = 0; j < jobs; j++) {
		size_t n = (size_t)j / l->groups, gi = (size_t)j % l->groups;
		double *col = cols + (size_t)qs_thread_num() * KP;
		im2col(l, &g, x + (n * g.c + gi * g.cg) * g.h * g.w, col);
		double *yg = y + (n * g.out + gi * g.og) * P;
		if (K) /* no input channels (K = 0): the sums are empty, and BLAS refuses a leading dimension of 0 */
			cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.og, (int)P, (int)K, 1.0,
				    w + gi * g.og * K, (int)K, col, (int)P, 0.0, yg, (int)P);
		else
			memset(yg, 0, g.og * P * sizeof *yg);
		if (l->bias)
			for (size_t o = 0; o < g.og; o++)
				for (size_t p = 0; p < P; p++)
					yg[o * P + p] += l->bias->data[gi * g.og + o];
	}
	free(cols);
	return QS_OK;
}

int qs_sim_layer_forward(const struct qs_sim_layer *l, const double *w, int xrank, const size_t *xshape,
			 const double *x, double *y)
{
	if (l->op == QS_SIM_CONV2D)
		return conv_forward(l, w, xshape, x, y);
	size_t M = rows_of(xrank, xshape), K = l->weight->shape[1], O = l->weight->shape[0];
	if (M && O && !K)
		memset(y, 0, M * O * sizeof *y);
	/* row blocks of X are independent GEMMs: one per thread, when there is enough work (16M multiply-adds) */
	long blocks = M >= 64 && (double)M * (double)O * (double)K >= 16777216.0 ? qs_max_threads() : 1;
	size_t per = blocks > 0 ? (M + (size_t)blocks - 1) / (size_t)blocks : M;
#pragma omp parallel for schedule(static) if (blocks > 1)
	for (long t = 0; t < blocks; t++) {
		size_t r0 = (size_t)t * per, nr = r0 < M ? (M - r0 < per ? M - r0 : per) : 0;
		if (nr && O && K)
			cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)O, (int)K, 1.0, x + r0 * K,
				    (int)K, w, (int)K, 0.0, y + r0 * O, (int)O);
	}
	add_bias_rows(l, M, O, y);
	return QS_OK;
}

void qs_sim_layer_forward_ref(const struct qs_sim_layer *l, const double *w, int xrank, const size_t *xshape,
			      const double *x, double *y)
{
	if (l->op == QS_SIM_LINEAR) {
		size_t M = rows_of(xrank, xshape), K = l->weight->shape[1], O = l->weight->shape[0];
		for (size_t r = 0; r < M; r++)
			for (size_t o = 0; o < O; o++) {
				double acc = l->bias ? l->bias->data[o] : 0.0;
				for (size_t k = 0; k < K; k++)
					acc += x[r * K + k] * w[o * K + k];
				y[r * O + o] = acc;
			}
		return;
	}
	struct conv_geom g = conv_geom(l, xshape);
	for (size_t n = 0; n < g.n; n++)
		for (size_t o = 0; o < g.out; o++) {
			size_t gi = o / g.og;
			for (size_t oy = 0; oy < g.oh; oy++)
				for (size_t ox = 0; ox < g.ow; ox++) {
					double acc = l->bias ? l->bias->data[o] : 0.0;
					for (size_t c = 0; c < g.cg; c++)
						for (size_t ky = 0; ky < g.kh; ky++)
							for (size_t kx = 0; kx < g.kw; kx++) {
								long iy = qs_sim_conv_in_pos(oy, ky, l->stride[0], l->dilation[0],
										 l->padding[0], g.h);
								long ix = qs_sim_conv_in_pos(ox, kx, l->stride[1], l->dilation[1],
										 l->padding[1], g.w);
								if (iy < 0 || ix < 0)
									continue;
								acc += w[((o * g.cg + c) * g.kh + ky) * g.kw + kx] *
								       x[((n * g.c + gi * g.cg + c) * g.h + (size_t)iy) * g.w +
									 (size_t)ix];
							}
					y[((n * g.out + o) * g.oh + oy) * g.ow + ox] = acc;
				}
		}
}
