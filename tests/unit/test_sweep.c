/* Sweep engine: rows, ordering, per-group qparams and their medians, dead groups, skipped axes, seeds. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/sweep.h"
#include "util/qs_error.h"

#define MAX_ROWS 4096

struct collected {
	size_t n;
	struct {
		size_t config_index, multiplier_index, n_groups, n_dead;
		int bits;
		bool asym;
		double multiplier, scale, zero_point, eff_bits, worst_group_rel, sse;
		double group_scale[8];
		unsigned long seed;
	} rows[MAX_ROWS];
	int skipped;
};

static int collect(void *ctx, const struct qs_sweep_row *r)
{
	struct collected *c = ctx;
	ck_assert_uint_lt(c->n, MAX_ROWS);
	c->rows[c->n].config_index = r->config_index;
	c->rows[c->n].multiplier_index = r->multiplier_index;
	c->rows[c->n].n_groups = r->n_groups;
	c->rows[c->n].n_dead = r->n_dead;
	c->rows[c->n].bits = r->quant->bits;
	c->rows[c->n].asym = r->quant->asym;
	c->rows[c->n].multiplier = r->multiplier;
	c->rows[c->n].scale = r->scale;
	c->rows[c->n].zero_point = r->zero_point;
	c->rows[c->n].eff_bits = r->eff_bits;
	c->rows[c->n].worst_group_rel = r->worst_group_rel;
	c->rows[c->n].sse = qs_err_sse(&r->err);
	c->rows[c->n].seed = r->seed;
	for (size_t g = 0; g < r->n_groups && g < 8; g++)
		c->rows[c->n].group_scale[g] = r->group_scale[g];
	c->n++;
	return QS_OK;
}

static void count_skip(void *ctx, const char *msg)
{
	(void)msg;
	((struct collected *)ctx)->skipped++;
}

/* A [4, 3] tensor: row k holds values whose max |x| is absmax[k]; row 2 is all zero (a dead channel). */
static struct qs_tensor *make_tensor(void)
{
	size_t shape[2] = {4, 3};
	struct qs_tensor *t = qs_tensor_alloc("w", "f32", 2, shape);
	const double v[12] = {0.5, -1.25, 0.75, 2.385, -0.1, 1.0, 0.0, 0.0, 0.0, -0.3, 0.2, 0.125};
	memcpy(t->data, v, sizeof v);
	return t;
}

struct spec_storage {
	int bits[2];
	struct qs_granularity grans[3];
	bool asym[2], is_signed[1], narrow[1], pow2[1];
	enum qs_rounding rounding[1];
	enum qs_profile profile[1];
	struct qs_calib calib[1];
	double mult[3];
};

static struct qs_sweep_spec make_spec(struct spec_storage *s)
{
	memset(s, 0, sizeof *s);
	s->bits[0] = 4;
	s->bits[1] = 8;
	qs_gran_parse("tensor", &s->grans[0]);
	qs_gran_parse("channel", &s->grans[1]);
	qs_gran_parse("channel:2", &s->grans[2]); /* rank 2: no axis 2 -> skipped */
	s->asym[0] = false;
	s->asym[1] = true;
	s->is_signed[0] = true;
	s->rounding[0] = QS_ROUND_EVEN;
	s->profile[0] = QS_PROFILE_DEFAULT;
	ck_assert_int_eq(qs_calib_parse("minmax", &s->calib[0]), QS_OK);
	s->mult[0] = 0.5;
	s->mult[1] = 1.0;
	s->mult[2] = 1.75;
	return (struct qs_sweep_spec){
		.bits = s->bits, .n_bits = 2, .grans = s->grans, .n_grans = 3, .asym = s->asym, .n_asym = 2,
		.is_signed = s->is_signed, .n_signed = 1, .narrow = s->narrow, .n_narrow = 1, .pow2 = s->pow2,
		.n_pow2 = 1, .roundings = s->rounding, .n_roundings = 1, .profiles = s->profile, .n_profiles = 1,
		.calibs = s->calib, .n_calibs = 1, .multipliers = s->mult, .n_multipliers = 3, .seed = 7,
	};
}

START_TEST(test_rows_and_order)
{
	struct spec_storage st;
	struct qs_sweep_spec spec = make_spec(&st);
	struct qs_tensor *t = make_tensor();
	static struct collected c;
	memset(&c, 0, sizeof c);
	ck_assert_uint_eq(qs_sweep_config_count(&spec), 3 * 2 * 2);
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, count_skip), QS_OK);
	/* channel:2 is skipped once; the other 2 granularities x 2 bits x 2 schemes x 3 multipliers remain */
	ck_assert_int_eq(c.skipped, 1);
	ck_assert_uint_eq(c.n, 2 * 2 * 2 * 3);
	for (size_t i = 0; i < c.n; i++) {
		ck_assert_uint_eq(c.rows[i].multiplier_index, i % 3);
		ck_assert_double_eq(c.rows[i].multiplier, st.mult[i % 3]);
		ck_assert_uint_eq(c.rows[i].config_index, i / 3);
		ck_assert_uint_eq(c.rows[i].n_groups, i < 12 ? 1 : 4);
	}
	qs_tensor_free(t);
}
END_TEST

/* Per-channel symmetric 4-bit: channel k's scale is m * absmax_k / 7; the median skips the dead channel. */
START_TEST(test_channel_scales_and_median)
{
	struct spec_storage st;
	struct qs_sweep_spec spec = make_spec(&st);
	spec.n_bits = 1;
	spec.n_asym = 1;
	spec.grans = &st.grans[1];
	spec.n_grans = 1;
	struct qs_tensor *t = make_tensor();
	static struct collected c;
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_OK);
	ck_assert_uint_eq(c.n, 3);
	const double absmax[4] = {1.25, 2.385, 0.0, 0.3};
	for (size_t i = 0; i < 3; i++) {
		double m = st.mult[i];
		ck_assert_uint_eq(c.rows[i].n_dead, 1);
		for (int k = 0; k < 4; k++)
			if (k == 2)
				ck_assert_double_eq(c.rows[i].group_scale[k], 1.0);
			else
				ck_assert_double_eq_tol(c.rows[i].group_scale[k], m * absmax[k] / 7.0, 1e-15);
		/* live scales m/7 * {1.25, 2.385, 0.3}: median m * 1.25 / 7 */
		ck_assert_double_eq_tol(c.rows[i].scale, m * 1.25 / 7.0, 1e-15);
		ck_assert_double_eq(c.rows[i].zero_point, 0.0);
		/* 4 groups of a 32-bit scale over 12 elements */
		ck_assert_double_eq_tol(c.rows[i].eff_bits, 4.0 + 4.0 * 32.0 / 12.0, 1e-12);
	}
	/* multiplier 1.0 clips nothing: the worst group's rel is below the per-tensor one's bound s/2 / |x| */
	ck_assert(c.rows[1].worst_group_rel > 0.0 && c.rows[1].worst_group_rel < 0.5);
	qs_tensor_free(t);
}
END_TEST

/* eff_bits for group:G asymmetric: b + groups * (16 + b) / n. */
START_TEST(test_eff_bits_groups)
{
	struct spec_storage st;
	struct qs_sweep_spec spec = make_spec(&st);
	qs_gran_parse("group:2", &st.grans[0]);
	spec.n_grans = 1;
	spec.n_bits = 1;
	spec.asym = &st.asym[1];
	spec.n_asym = 1;
	spec.n_multipliers = 1;
	struct qs_tensor *t = make_tensor();
	static struct collected c;
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_OK);
	ck_assert_uint_eq(c.n, 1);
	/* rows of 3 in blocks of 2: 2 blocks per row, 8 groups */
	ck_assert_uint_eq(c.rows[0].n_groups, 8);
	ck_assert_double_eq_tol(c.rows[0].eff_bits, 4.0 + 8.0 * (16.0 + 4.0) / 12.0, 1e-12);
	/* the block {0, 0} and the block {0} of the zero row are dead */
	ck_assert_uint_eq(c.rows[0].n_dead, 2);
	qs_tensor_free(t);
}
END_TEST

/* Stochastic rounding: every point has its own seed; a rerun reproduces it; another tensor index changes it. */
START_TEST(test_stochastic_seeds)
{
	struct spec_storage st;
	struct qs_sweep_spec spec = make_spec(&st);
	st.rounding[0] = QS_ROUND_STOCHASTIC;
	spec.n_grans = 1;
	struct qs_tensor *t = make_tensor();
	static struct collected a, b, d;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	memset(&d, 0, sizeof d);
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 3, collect, &a, NULL), QS_OK);
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 3, collect, &b, NULL), QS_OK);
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 4, collect, &d, NULL), QS_OK);
	ck_assert_uint_eq(a.n, b.n);
	size_t differ = 0;
	for (size_t i = 0; i < a.n; i++) {
		ck_assert_uint_eq(a.rows[i].seed, b.rows[i].seed);
		ck_assert_double_eq(a.rows[i].sse, b.rows[i].sse);
		ck_assert_uint_ne(a.rows[i].seed, d.rows[i].seed);
		for (size_t j = 0; j < i; j++)
			ck_assert_uint_ne(a.rows[i].seed, a.rows[j].seed);
		differ += a.rows[i].sse != d.rows[i].sse;
	}
	ck_assert_uint_gt(differ, 0);
	qs_tensor_free(t);
}
END_TEST

static int failing_sink(void *ctx, const struct qs_sweep_row *r)
{
	(void)ctx;
	(void)r;
	return qs_error_set(QS_EIO, "disk full");
}

START_TEST(test_sink_error_stops)
{
	struct spec_storage st;
	struct qs_sweep_spec spec = make_spec(&st);
	struct qs_tensor *t = make_tensor();
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, failing_sink, NULL, NULL), QS_EIO);
	ck_assert_str_eq(qs_error_message(), "disk full");
	qs_tensor_free(t);
}
END_TEST

START_TEST(test_nonfinite_rejected)
{
	struct spec_storage st;
	struct qs_sweep_spec spec = make_spec(&st);
	struct qs_tensor *t = make_tensor();
	t->data[4] = NAN;
	static struct collected c;
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_ENONFINITE);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "'w'"));
	spec.skip_nonfinite = true;
	spec.n_grans = 1;
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_OK);
	ck_assert_uint_eq(c.n, 2 * 2 * 3);
	qs_tensor_free(t);
}
END_TEST

/* The torch profile computes in float32: a value beyond FLT_MAX (an f64 input) is an error naming the tensor (found
 * by fuzzing: the zero-point became NaN, converted to LONG_MIN); the default profile measures the same tensor. */
START_TEST(test_torch_profile_float_range)
{
	struct spec_storage st;
	struct qs_sweep_spec spec = make_spec(&st);
	struct qs_tensor *t = make_tensor();
	t->data[4] = -1e39;
	static struct collected c;
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_OK);
	st.profile[0] = QS_PROFILE_TORCH;
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_ENONFINITE);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "'w'"));
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "float32"));
	/* -FLT_MAX itself has a torch scale, but not at multiplier 1.75 (float32's -inf, an infinite scale): an error
	 * naming the multiplier, for the symmetric and the asymmetric scheme alike */
	t->data[4] = -FLT_MAX;
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_ENONFINITE);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "'w': at multiplier 1.75 "));
	for (size_t ia = 0; ia < 2; ia++) {
		st.asym[0] = ia;
		spec.n_asym = 1;
		spec.n_multipliers = 2; /* 0.5 and 1 */
		memset(&c, 0, sizeof c);
		ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_OK);
		for (size_t i = 0; i < c.n; i++)
			ck_assert(isfinite(c.rows[i].scale) && isfinite(c.rows[i].sse));
		spec.n_multipliers = 3;
		ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_ENONFINITE);
	}
	/* asymmetric: max - min in float32 overflows at multiplier 1 when both ends are large (channel 1: FLT_MAX / 2
	 * and -FLT_MAX), where the symmetric scheme still has a scale */
	t->data[3] = FLT_MAX / 2;
	spec.n_multipliers = 2;
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_ENONFINITE);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "'w': at multiplier 1 "));
	st.asym[0] = false;
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &c, NULL), QS_OK);
	qs_tensor_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sweep");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_rows_and_order);
	tcase_add_test(tc, test_channel_scales_and_median);
	tcase_add_test(tc, test_eff_bits_groups);
	tcase_add_test(tc, test_stochastic_seeds);
	tcase_add_test(tc, test_sink_error_stops);
	tcase_add_test(tc, test_nonfinite_rejected);
	tcase_add_test(tc, test_torch_profile_float_range);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
