/* Unit tests of the layer simulation: float Linear/Conv2d against PyTorch float64 outputs (fixtures made once by
 * scripts/make_sim_fixtures.py), the BLAS path against the plain-loop oracle, fake quantization against formulas,
 * the integer pipeline against the fake-quant path, and accumulator overflow when provoked. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "formats/format.h"
#include "simulate/sim_run.h"
#include "util/qs_error.h"

/* ---- helpers ------------------------------------------------------------------------------------------------ */

static struct qs_tensor *load(const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/sim/%s", QS_FIXTURES, name);
	struct qs_load_opts opts = {.rank = -1};
	struct qs_source *src = NULL;
	struct qs_tensor *t = NULL;
	ck_assert_msg(qs_source_open(path, &opts, &src) == QS_OK, "%s", qs_error_message());
	ck_assert_int_eq(qs_source_next(src, &t), QS_OK);
	ck_assert_ptr_nonnull(t);
	qs_source_close(src);
	return t;
}

static struct qs_tensor *random_tensor(gsl_rng *r, int rank, const size_t *shape, double sd)
{
	struct qs_tensor *t = qs_tensor_alloc("random", "f64", rank, shape);
	ck_assert_ptr_nonnull(t);
	for (size_t i = 0; i < t->n; i++)
		t->data[i] = gsl_ran_gaussian(r, sd) + 0.1 * sd;
	return t;
}

/* max |a - b| / max |b|: the error relative to the output's scale */
static double scaled_diff(const double *a, const double *b, size_t n)
{
	double d = 0.0, m = 0.0;
	for (size_t i = 0; i < n; i++) {
		d = fmax(d, fabs(a[i] - b[i]));
		m = fmax(m, fabs(b[i]));
	}
	return m > 0.0 ? d / m : d;
}

static struct qs_sim_qspec qspec(int bits, bool asym, bool is_signed, const char *gran, const char *calib)
{
	struct qs_sim_qspec s = {.quant = {.bits = bits, .asym = asym, .is_signed = is_signed}, .multiplier = 1.0};
	ck_assert_int_eq(qs_gran_parse(gran, &s.gran), QS_OK);
	ck_assert_int_eq(qs_calib_parse(calib, &s.calib), QS_OK);
	return s;
}

/* ---- float layers against PyTorch float64 ------------------------------------------------------------------- */

struct fixture_case {
	const char *name;
	enum qs_sim_op op;
	bool bias;
	size_t stride[2], padding[2], dilation[2], groups;
};

/* the same parameters as CASES in scripts/make_sim_fixtures.py */
static const struct fixture_case cases[] = {
	{"linear", QS_SIM_LINEAR, true, {1, 1}, {0, 0}, {1, 1}, 1},
	{"linear_tokens", QS_SIM_LINEAR, false, {1, 1}, {0, 0}, {1, 1}, 1},
	{"conv_basic", QS_SIM_CONV2D, true, {1, 1}, {0, 0}, {1, 1}, 1},
	{"conv_strided", QS_SIM_CONV2D, true, {2, 1}, {1, 2}, {2, 1}, 1},
	{"conv_groups", QS_SIM_CONV2D, true, {1, 2}, {1, 1}, {1, 1}, 2},
	{"conv_depthwise", QS_SIM_CONV2D, true, {1, 1}, {1, 1}, {1, 1}, 5},
};

START_TEST(test_float_vs_torch)
{
	const struct fixture_case *c = &cases[_i];
	char name[256];
	snprintf(name, sizeof name, "%s.x.npy", c->name);
	struct qs_tensor *x = load(name);
	snprintf(name, sizeof name, "%s.w.npy", c->name);
	struct qs_tensor *w = load(name);
	snprintf(name, sizeof name, "%s.y.npy", c->name);
	struct qs_tensor *y = load(name);
	struct qs_tensor *b = NULL;
	if (c->bias) {
		snprintf(name, sizeof name, "%s.b.npy", c->name);
		b = load(name);
	}
	struct qs_sim_layer l = {.op = c->op, .weight = w, .bias = b, .groups = c->groups};
	for (int d = 0; d < 2; d++) {
		l.stride[d] = c->stride[d];
		l.padding[d] = c->padding[d];
		l.dilation[d] = c->dilation[d];
	}
	int yrank;
	size_t yshape[QS_MAX_RANK];
	ck_assert_msg(qs_sim_layer_shape(&l, x->rank, x->shape, &yrank, yshape) == QS_OK, "%s", qs_error_message());
	ck_assert_int_eq(yrank, y->rank);
	for (int i = 0; i < yrank; i++)
		ck_assert_uint_eq(yshape[i], y->shape[i]);
	double *fast = malloc(y->n * sizeof *fast), *ref = malloc(y->n * sizeof *ref);
	ck_assert_int_eq(qs_sim_layer_forward(&l, w->data, x->rank, x->shape, x->data, fast), QS_OK);
	qs_sim_layer_forward_ref(&l, w->data, x->rank, x->shape, x->data, ref);
	/* float64 on both sides, sums in different orders: agreement to a few ulps of the output scale */
	ck_assert_msg(scaled_diff(fast, y->data, y->n) < 1e-13, "%s: blas vs torch %g", c->name,
		      scaled_diff(fast, y->data, y->n));
	ck_assert_msg(scaled_diff(ref, y->data, y->n) < 1e-13, "%s: ref vs torch", c->name);
	free(fast);
	free(ref);
	qs_tensor_free(x);
	qs_tensor_free(w);
	qs_tensor_free(y);
	qs_tensor_free(b);
}
END_TEST

START_TEST(test_shape_errors)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	size_t ws[4] = {4, 3, 3, 3}, bs[1] = {5}, xs[4] = {2, 2, 8, 8}, small[4] = {1, 3, 2, 2};
	struct qs_tensor *w = random_tensor(r, 4, ws, 1.0), *b = random_tensor(r, 1, bs, 1.0);
	struct qs_sim_layer l = {.op = QS_SIM_CONV2D, .weight = w, .stride = {1, 1}, .dilation = {1, 1}, .groups = 1};
	int yrank;
	size_t yshape[QS_MAX_RANK];
	ck_assert_int_eq(qs_sim_layer_shape(&l, 4, xs, &yrank, yshape), QS_EFORMAT); /* 2 channels, weight wants 3 */
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "does not fit conv2d weight"));
	ck_assert_int_eq(qs_sim_layer_shape(&l, 4, small, &yrank, yshape), QS_EFORMAT); /* 2x2 < 3x3 kernel */
	l.bias = b;
	xs[1] = 3;
	ck_assert_int_eq(qs_sim_layer_shape(&l, 4, xs, &yrank, yshape), QS_EFORMAT); /* bias of 5 for 4 outputs */
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "bias has shape 5"));
	l.bias = NULL;
	l.groups = 3;
	ck_assert_int_eq(qs_sim_layer_shape(&l, 4, xs, &yrank, yshape), QS_EFORMAT); /* 4 outputs, 3 groups */
	l.op = QS_SIM_LINEAR;
	ck_assert_int_eq(qs_sim_layer_shape(&l, 4, xs, &yrank, yshape), QS_EFORMAT); /* rank-4 linear weight */
	qs_tensor_free(w);
	qs_tensor_free(b);
	gsl_rng_free(r);
}
END_TEST

/* No input channels (found by fuzzing: BLAS aborted on a leading dimension of 0): every sum is empty, so the output
 * is the bias alone, for conv2d as for linear, and the fast path agrees with the reference. */
START_TEST(test_no_input_channels)
{
	size_t ws[4] = {2, 0, 3, 3}, xs[4] = {1, 0, 5, 5}, bs[1] = {2}, lw[2] = {2, 0}, lx[2] = {3, 0};
	struct qs_tensor *w = qs_tensor_alloc("w", "f64", 4, ws), *b = qs_tensor_alloc("b", "f64", 1, bs);
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(b);
	b->data[0] = 2.385;
	b->data[1] = -1.5;
	struct qs_sim_layer l = {.op = QS_SIM_CONV2D, .weight = w, .bias = b, .stride = {1, 1}, .dilation = {1, 1},
				 .groups = 1};
	double x[1] = {0.0}, y[18], yref[18];
	for (int op = 0; op < 2; op++) {
		int yrank;
		size_t yshape[QS_MAX_RANK];
		const size_t *xshape = op ? lx : xs;
		if (op) {
			qs_tensor_free(w);
			w = qs_tensor_alloc("w", "f64", 2, lw);
			ck_assert_ptr_nonnull(w);
			l = (struct qs_sim_layer){.op = QS_SIM_LINEAR, .weight = w, .bias = b};
		}
		ck_assert_int_eq(qs_sim_layer_shape(&l, op ? 2 : 4, xshape, &yrank, yshape), QS_OK);
		size_t ny = op ? 6 : 18; /* [1, 2, 3, 3] or [3, 2] */
		ck_assert_uint_eq(yshape[1], 2); /* output channels, both ops */
		ck_assert_int_eq(qs_sim_layer_forward(&l, w->data, op ? 2 : 4, xshape, x, y), QS_OK);
		qs_sim_layer_forward_ref(&l, w->data, op ? 2 : 4, xshape, x, yref);
		for (size_t i = 0; i < ny; i++) {
			size_t o = op ? i % 2 : i / 9;
			ck_assert(y[i] == b->data[o]);
			ck_assert(yref[i] == b->data[o]);
		}
	}
	qs_tensor_free(w);
	qs_tensor_free(b);
}
END_TEST

/* ---- fake quantization -------------------------------------------------------------------------------------- */

/* The group index of every element gathers the same values, in the same order, as qs_groups_build. */
START_TEST(test_group_index_matches_groups)
{
	static const char *const grans[] = {"tensor", "channel", "channel:1", "channel:-1", "group:4", "group:3:1",
					    "group:2:0"};
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	size_t shape[4] = {3, 5, 2, 7};
	struct qs_tensor *t = random_tensor(r, 4, shape, 1.0);
	size_t *gid = malloc(t->n * sizeof *gid);
	for (size_t k = 0; k < sizeof grans / sizeof *grans; k++) {
		struct qs_granularity g;
		struct qs_groups gr;
		size_t count;
		ck_assert_int_eq(qs_gran_parse(grans[k], &g), QS_OK);
		ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
		ck_assert_int_eq(qs_sim_group_index(t, &g, gid, &count), QS_OK);
		ck_assert_uint_eq(count, gr.count);
		size_t *next = calloc(count, sizeof *next);
		for (size_t i = 0; i < t->n; i++) {
			size_t at = gr.offset[gid[i]] + next[gid[i]]++;
			ck_assert_msg(at < gr.offset[gid[i] + 1] && gr.values[at] == t->data[i], "%s element %zu", grans[k], i);
		}
		free(next);
		qs_groups_free(&gr);
	}
	free(gid);
	qs_tensor_free(t);
	gsl_rng_free(r);
}
END_TEST

/* Dynamic per-row (per-token) symmetric minmax: each row gets s = max|row| / (2^(b-1) - 1), x̂ = round(x/s)·s. */
START_TEST(test_dynamic_per_token)
{
	int bits = _i;
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, 7);
	size_t shape[2] = {6, 11};
	struct qs_tensor *x = random_tensor(r, 2, shape, 2.385);
	for (size_t j = 0; j < 11; j++)
		x->data[3 * 11 + j] *= 40.0; /* one loud token must not coarsen the others */
	struct qs_sim_qspec s = qspec(bits, false, true, "channel:0", "minmax");
	struct qs_sim_fq a, b;
	ck_assert_int_eq(qs_sim_fq_run(&s, x, NULL, 2, &a), QS_OK); /* batches of 2 rows, per-row groups */
	struct qs_sim_qspec t = qspec(bits, false, true, "tensor", "minmax");
	ck_assert_int_eq(qs_sim_fq_run(&t, x, NULL, 1, &b), QS_OK); /* batches of 1 row, one group each */
	double qmax = ldexp(1.0, bits - 1) - 1.0;
	for (size_t row = 0; row < 6; row++) {
		double amax = 0.0;
		for (size_t j = 0; j < 11; j++)
			amax = fmax(amax, fabs(x->data[row * 11 + j]));
		double sc = amax / qmax;
		for (size_t j = 0; j < 11; j++) {
			size_t i = row * 11 + j;
			double want = nearbyint(x->data[i] / sc) * sc;
			ck_assert_double_eq_tol(a.xhat[i], want, 1e-12 * amax);
			ck_assert_double_eq_tol(b.xhat[i], want, 1e-12 * amax);
		}
	}
	ck_assert_uint_eq(a.n_params, 6);
	ck_assert_uint_eq(b.n_params, 6);
	ck_assert_uint_eq(a.n_clipped, 0);
	qs_sim_fq_free(&a);
	qs_sim_fq_free(&b);
	qs_tensor_free(x);
	gsl_rng_free(r);
}
END_TEST

/* ---- integer pipeline against fake quantization ------------------------------------------------------------- */

/* Random layer, weights per channel symmetric (or asymmetric), activations asymmetric unsigned: the integer
 * pipeline with a wide accumulator must equal the fake-quant output up to double rounding. */
static void int_vs_fake(enum qs_sim_op op, int bits, bool wasym, enum qs_sim_act_mode mode, const char *agran)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(r, (unsigned long)(bits * 31 + wasym + 3 * (int)mode));
	size_t lws[2] = {7, 33}, lxs[2] = {5, 33}, cws[4] = {6, 2, 3, 3}, cxs[4] = {2, 4, 9, 7}, bs[1];
	bool lin = op == QS_SIM_LINEAR;
	struct qs_tensor *w = random_tensor(r, lin ? 2 : 4, lin ? lws : cws, 0.31);
	bs[0] = w->shape[0];
	struct qs_tensor *b = random_tensor(r, 1, bs, 0.7);
	struct qs_tensor *x = random_tensor(r, lin ? 2 : 4, lin ? lxs : cxs, 1.9);
	struct qs_sim_layer l = {.op = op, .weight = w, .bias = b, .stride = {1, 2}, .padding = {1, 0},
				 .dilation = {1, 1}, .groups = lin ? 1 : 2};
	struct qs_sim_qspec ws = qspec(bits, wasym, true, "channel", "minmax");
	struct qs_sim_qspec as = qspec(bits, true, false, agran, "minmax");
	struct qs_sim_int_spec is = {.acc_bits = 48};
	struct qs_sim_config c = {.weight = &ws, .act_mode = mode, .act = &as, .act_rows = 1, .integer = &is};
	int yrank;
	size_t yshape[QS_MAX_RANK], ny = 1;
	ck_assert_int_eq(qs_sim_layer_shape(&l, x->rank, x->shape, &yrank, yshape), QS_OK);
	for (int i = 0; i < yrank; i++)
		ny *= yshape[i];
	double *yref = malloc(ny * sizeof *yref), *ysim = malloc(ny * sizeof *ysim);
	struct qs_sim_result res;
	ck_assert_msg(qs_sim_layer_run(&l, &c, x, NULL, yref, ysim, &res) == QS_OK, "%s", qs_error_message());
	ck_assert_uint_eq(res.n_overflow, 0);
	/* double rounding only: Σ (q−z)s·(q−z)s versus s·s·Σ (q−z)(q−z) */
	ck_assert_msg(sqrt(res.int_vs_fake.sse / res.int_vs_fake.signal) < 1e-13, "bits %d: int vs fake rel %g", bits,
		      sqrt(res.int_vs_fake.sse / res.int_vs_fake.signal));
	ck_assert_msg(res.int_vs_fake.max_abs < 1e-12, "max_abs %g", res.int_vs_fake.max_abs);
	/* quantization did move the output, and more bits move it less (checked through the attribution) */
	ck_assert(res.out.sse > 0.0);
	ck_assert(res.out_w.sse > 0.0 && res.out_act.sse > 0.0);
	free(yref);
	free(ysim);
	qs_tensor_free(w);
	qs_tensor_free(b);
	qs_tensor_free(x);
	gsl_rng_free(r);
}

START_TEST(test_int_linear_dynamic_token) { int_vs_fake(QS_SIM_LINEAR, _i, false, QS_SIM_ACT_DYNAMIC, "channel:0"); }
END_TEST
START_TEST(test_int_linear_static_asym) { int_vs_fake(QS_SIM_LINEAR, _i, true, QS_SIM_ACT_STATIC, "tensor"); }
END_TEST
START_TEST(test_int_conv_dynamic) { int_vs_fake(QS_SIM_CONV2D, _i, false, QS_SIM_ACT_DYNAMIC, "tensor"); }
END_TEST
START_TEST(test_int_conv_static_asym) { int_vs_fake(QS_SIM_CONV2D, _i, true, QS_SIM_ACT_STATIC, "tensor"); }
END_TEST

/* All codes at the top of int8: every product is 127·127 = 16129, K of them. A 16-bit accumulator overflows on
 * the 3rd term; the wrapped final value is K·16129 mod 2^16 read as two's complement. */
START_TEST(test_overflow_provoked)
{
	const size_t K = 1000;
	size_t ws[2] = {3, K}, xs[2] = {2, K};
	struct qs_tensor *w = qs_tensor_alloc("w", "f64", 2, ws), *x = qs_tensor_alloc("x", "f64", 2, xs);
	for (size_t i = 0; i < w->n; i++)
		w->data[i] = 0.5;
	for (size_t i = 0; i < x->n; i++)
		x->data[i] = 2.0;
	struct qs_sim_layer l = {.op = QS_SIM_LINEAR, .weight = w};
	struct qs_sim_qspec s = qspec(8, false, true, "tensor", "minmax");
	struct qs_sim_fq wq, xq;
	ck_assert_int_eq(qs_sim_fq_run(&s, w, NULL, 0, &wq), QS_OK);
	ck_assert_int_eq(qs_sim_fq_run(&s, x, NULL, 0, &xq), QS_OK);
	ck_assert_int_eq(wq.code[0], 127);
	ck_assert_int_eq(xq.code[0], 127);
	double y[6];
	size_t n_ovf;
	struct qs_sim_int_spec wide = {.acc_bits = 32}, narrow = {.acc_bits = 16}, strict = {.acc_bits = 16,
											    .overflow_error = true};
	ck_assert_int_eq(qs_sim_int_forward(&l, &wq, &xq, 2, xs, &wide, y, &n_ovf), QS_OK);
	ck_assert_uint_eq(n_ovf, 0);
	/* K · 127 · s_x · 127 · s_w = K · 2 · 0.5 */
	ck_assert_double_eq_tol(y[0], (double)K, 1e-9);
	ck_assert_int_eq(qs_sim_int_forward(&l, &wq, &xq, 2, xs, &narrow, y, &n_ovf), QS_OK);
	ck_assert_uint_eq(n_ovf, 6);
	long exact = (long)K * 16129, m = exact % 65536, wrapped = m >= 32768 ? m - 65536 : m;
	double sx = 2.0 / 127.0, sw = 0.5 / 127.0;
	ck_assert_double_eq_tol(y[5], (double)wrapped * sx * sw, 1e-12);
	ck_assert_int_eq(qs_sim_int_forward(&l, &wq, &xq, 2, xs, &strict, y, &n_ovf), QS_EINVAL);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "16-bit accumulator overflows"));
	/* the boundary: 2 terms fit in 16 bits (32258 <= 32767), 3 do not */
	ws[1] = xs[1] = 2;
	struct qs_tensor w2 = qs_sim_view("w2", 2, ws, w->data), x2 = qs_sim_view("x2", 2, xs, x->data);
	struct qs_sim_layer l2 = {.op = QS_SIM_LINEAR, .weight = &w2};
	struct qs_sim_fq wq2, xq2;
	ck_assert_int_eq(qs_sim_fq_run(&s, &w2, NULL, 0, &wq2), QS_OK);
	ck_assert_int_eq(qs_sim_fq_run(&s, &x2, NULL, 0, &xq2), QS_OK);
	ck_assert_int_eq(qs_sim_int_forward(&l2, &wq2, &xq2, 2, xs, &narrow, y, &n_ovf), QS_OK);
	ck_assert_uint_eq(n_ovf, 0);
	ws[1] = xs[1] = 3;
	struct qs_tensor w3 = qs_sim_view("w3", 2, ws, w->data), x3 = qs_sim_view("x3", 2, xs, x->data);
	struct qs_sim_layer l3 = {.op = QS_SIM_LINEAR, .weight = &w3};
	struct qs_sim_fq wq3, xq3;
	ck_assert_int_eq(qs_sim_fq_run(&s, &w3, NULL, 0, &wq3), QS_OK);
	ck_assert_int_eq(qs_sim_fq_run(&s, &x3, NULL, 0, &xq3), QS_OK);
	ck_assert_int_eq(qs_sim_int_forward(&l3, &wq3, &xq3, 2, xs, &narrow, y, &n_ovf), QS_OK);
	ck_assert_uint_eq(n_ovf, 6);
	qs_sim_fq_free(&wq2);
	qs_sim_fq_free(&xq2);
	qs_sim_fq_free(&wq3);
	qs_sim_fq_free(&xq3);
	qs_sim_fq_free(&wq);
	qs_sim_fq_free(&xq);
	qs_tensor_free(w);
	qs_tensor_free(x);
}
END_TEST

/* The integer pipeline refuses weight groups that split an output channel. */
START_TEST(test_int_needs_channel_groups)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	size_t ws[2] = {4, 16}, xs[2] = {3, 16};
	struct qs_tensor *w = random_tensor(r, 2, ws, 1.0), *x = random_tensor(r, 2, xs, 1.0);
	struct qs_sim_layer l = {.op = QS_SIM_LINEAR, .weight = w};
	struct qs_sim_qspec s = qspec(8, false, true, "group:4", "minmax"), a = qspec(8, true, false, "tensor", "minmax");
	struct qs_sim_fq wq, xq;
	ck_assert_int_eq(qs_sim_fq_run(&s, w, NULL, 0, &wq), QS_OK);
	ck_assert_int_eq(qs_sim_fq_run(&a, x, NULL, 0, &xq), QS_OK);
	double y[12];
	size_t n_ovf;
	struct qs_sim_int_spec is = {.acc_bits = 32};
	ck_assert_int_eq(qs_sim_int_forward(&l, &wq, &xq, 2, xs, &is, y, &n_ovf), QS_EINVAL);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "split output channel"));
	qs_sim_fq_free(&wq);
	qs_sim_fq_free(&xq);
	qs_tensor_free(w);
	qs_tensor_free(x);
	gsl_rng_free(r);
}
END_TEST

/* The torch profile's float32 scale overflows for a range beyond FLT_MAX (here max - min, asymmetric, or the
 * multiplier): an error naming the tensor and the multiplier, not a fake-quant full of NaN. */
START_TEST(test_torch_scale_overflow)
{
	size_t shape[2] = {2, 2};
	struct qs_tensor *w = qs_tensor_alloc("w", "f32", 2, shape);
	const double v[4] = {3e38, -1e38, 1.0, 2.0};
	memcpy(w->data, v, sizeof v);
	struct qs_sim_qspec s = qspec(8, false, true, "tensor", "minmax");
	s.quant.profile = QS_PROFILE_TORCH;
	struct qs_sim_fq fq;
	ck_assert_int_eq(qs_sim_fq_run(&s, w, NULL, 0, &fq), QS_OK); /* symmetric: 3e38 / 127.5 */
	ck_assert(isfinite(fq.params[0].scale));
	qs_sim_fq_free(&fq);
	s.multiplier = 1.5; /* 4.5e38 > FLT_MAX */
	ck_assert_int_eq(qs_sim_fq_run(&s, w, NULL, 0, &fq), QS_ENONFINITE);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "'w': at multiplier 1.5 the clip range is beyond float32"));
	s = qspec(8, true, true, "tensor", "minmax"); /* asymmetric: 3e38 + 1e38 > FLT_MAX at multiplier 1 */
	s.quant.profile = QS_PROFILE_TORCH;
	ck_assert_int_eq(qs_sim_fq_run(&s, w, NULL, 0, &fq), QS_ENONFINITE);
	s.quant.profile = QS_PROFILE_DEFAULT; /* doubles: no overflow */
	ck_assert_int_eq(qs_sim_fq_run(&s, w, NULL, 0, &fq), QS_OK);
	ck_assert(isfinite(fq.params[0].scale));
	qs_sim_fq_free(&fq);
	qs_tensor_free(w);
}
END_TEST

/* ---- metrics ------------------------------------------------------------------------------------------------ */

START_TEST(test_metrics_closed_forms)
{
	double ref[4] = {1.5, -2.0, 0.25, 3.0}, twice[4], orth[4] = {2.0, 1.5, 0.0, 0.0};
	for (int i = 0; i < 4; i++)
		twice[i] = 2.0 * ref[i];
	struct qs_sim_err e = {0};
	qs_sim_err_add(&e, ref, twice, 4);
	ck_assert_double_eq_tol(qs_sim_err_rel(&e), 1.0, 1e-15);          /* ‖2r − r‖ = ‖r‖ */
	ck_assert_double_eq_tol(qs_sim_err_sqnr_db(&e), 0.0, 1e-12);
	ck_assert_double_eq_tol(qs_sim_err_cosine(&e), 1.0, 1e-15);
	ck_assert_double_eq(e.max_abs, 3.0);
	struct qs_sim_err o = {0};
	qs_sim_err_add(&o, ref, orth, 2);                                  /* (1.5, −2)·(2, 1.5) = 0 */
	ck_assert_double_eq_tol(qs_sim_err_cosine(&o), 0.0, 1e-15);
	struct qs_sim_err z = {0};
	qs_sim_err_add(&z, ref, ref, 4);
	ck_assert(isinf(qs_sim_err_sqnr_db(&z)));
	ck_assert_double_eq(qs_sim_err_rel(&z), 0.0);
}
END_TEST

static Suite *simulate_suite(void)
{
	Suite *s = suite_create("simulate");
	TCase *tc = tcase_create("float");
	tcase_add_loop_test(tc, test_float_vs_torch, 0, (int)(sizeof cases / sizeof *cases));
	tcase_add_test(tc, test_shape_errors);
	tcase_add_test(tc, test_no_input_channels);
	tcase_add_test(tc, test_torch_scale_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("fakequant");
	tcase_add_test(tc, test_group_index_matches_groups);
	tcase_add_loop_test(tc, test_dynamic_per_token, 2, 9);
	tcase_add_test(tc, test_metrics_closed_forms);
	suite_add_tcase(s, tc);

	tc = tcase_create("integer");
	tcase_add_loop_test(tc, test_int_linear_dynamic_token, 2, 9);
	tcase_add_loop_test(tc, test_int_linear_static_asym, 2, 9);
	tcase_add_loop_test(tc, test_int_conv_dynamic, 2, 9);
	tcase_add_loop_test(tc, test_int_conv_static_asym, 2, 9);
	tcase_add_test(tc, test_overflow_provoked);
	tcase_add_test(tc, test_int_needs_channel_groups);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(simulate_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
