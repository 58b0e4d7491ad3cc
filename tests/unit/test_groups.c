/* Unit tests of granularity parsing and group building (SPEC §4) against brute-force index arithmetic. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/groups.h"
#include "tensor/tensor.h"
#include "util/qs_error.h"

/* ck_assert_msg marks a checkpoint (a pipe write) on every pass; loops use this instead. */
#define REQUIRE(cond, ...)                                                                                      \
	do {                                                                                                    \
		if (!(cond))                                                                                    \
			ck_abort_msg(__VA_ARGS__);                                                              \
	} while (0)

/* ---- parse / format ---------------------------------------------------------------------------------------- */

static const struct {
	const char *text;
	enum qs_gran_kind kind;
	int axis;
	size_t group_size;
} parse_ok[] = {
	{ "tensor", QS_GRAN_TENSOR, QS_AXIS_DEFAULT, 0 },     { "channel", QS_GRAN_CHANNEL, QS_AXIS_DEFAULT, 0 },
	{ "channel:1", QS_GRAN_CHANNEL, 1, 0 },               { "channel:-1", QS_GRAN_CHANNEL, -1, 0 },
	{ "group:128", QS_GRAN_GROUP, QS_AXIS_DEFAULT, 128 }, { "group:32:0", QS_GRAN_GROUP, 0, 32 },
	{ "group:3:-2", QS_GRAN_GROUP, -2, 3 },               { "token", QS_GRAN_TOKEN, QS_AXIS_DEFAULT, 0 },
};
#define N_PARSE_OK (sizeof parse_ok / sizeof parse_ok[0])

START_TEST(test_parse_accepts)
{
	struct qs_granularity g;
	memset(&g, 0x5a, sizeof g);
	int st = qs_gran_parse(parse_ok[_i].text, &g);
	ck_assert_msg(st == QS_OK, "'%s' rejected (%d: %s)", parse_ok[_i].text, st, qs_error_message());
	ck_assert_msg(g.kind == parse_ok[_i].kind, "'%s': kind %d", parse_ok[_i].text, (int)g.kind);
	ck_assert_msg(g.axis == parse_ok[_i].axis, "'%s': axis %d, expected %d", parse_ok[_i].text, g.axis,
		      parse_ok[_i].axis);
	if (g.kind == QS_GRAN_GROUP)
		ck_assert_msg(g.group_size == parse_ok[_i].group_size, "'%s': group size %zu", parse_ok[_i].text,
			      g.group_size);
}
END_TEST

START_TEST(test_format_round_trip)
{
	struct qs_granularity g;
	char buf[64];
	ck_assert_int_eq(qs_gran_parse(parse_ok[_i].text, &g), QS_OK);
	memset(buf, 'X', sizeof buf);
	qs_gran_format(&g, buf, sizeof buf);
	ck_assert_str_eq(buf, parse_ok[_i].text);
}
END_TEST

/* The rejects the brief names, then a few more that are malformed by any reading. */
static const char *const parse_bad[] = {
	"channel:x", "group", "group:0", "bogus", "group:4:",
	"", "channel:", "group:-4", "group:4:x", "channel:1x", "group:4:0:1", "tensor:", "Tensor", "token:1", "tokens",
};

START_TEST(test_parse_rejects)
{
	struct qs_granularity g;
	int st = qs_gran_parse(parse_bad[_i], &g);
	ck_assert_msg(st == QS_EUSAGE, "'%s' gave status %d, expected QS_EUSAGE", parse_bad[_i], st);
}
END_TEST

/* ---- the brute-force oracle -------------------------------------------------------------------------------- */

struct expect {
	size_t count;
	size_t offset[512];
	double values[512];
	size_t n, n_nonfinite;
};

/* Index of flat element i along axis a of shape (C order). */
static size_t index_along(const size_t *shape, int rank, size_t i, int a)
{
	size_t stride = 1;
	for (int d = rank - 1; d > a; d--)
		stride *= shape[d];
	return (i / stride) % shape[a];
}

/* Expected groups by index arithmetic: channel c = the elements whose index along a is c, in flat (C) order;
 * group G = for each fibre along a (fibres in C order of the other indices: the flat order of their first
 * element), consecutive blocks of G. Non-finite values are dropped (and counted) when skip. */
static void oracle(const struct qs_tensor *t, enum qs_gran_kind kind, int a, size_t gsize, bool skip,
		   struct expect *e)
{
	memset(e, 0, sizeof *e);
	size_t stride = 1;
	for (int d = t->rank - 1; d > a; d--)
		stride *= t->shape[d];
#define PUSH(idx)                                                                                               \
	do {                                                                                                    \
		double v_ = t->data[idx];                                                                       \
		if (skip && !isfinite(v_))                                                                      \
			e->n_nonfinite++;                                                                       \
		else                                                                                            \
			e->values[e->n++] = v_;                                                                 \
	} while (0)
	if (kind == QS_GRAN_TENSOR) {
		for (size_t i = 0; i < t->n; i++)
			PUSH(i);
		e->count = 1;
		e->offset[1] = e->n;
		return;
	}
	if (kind == QS_GRAN_CHANNEL) {
		for (size_t c = 0; c < t->shape[a]; c++) {
			for (size_t i = 0; i < t->n; i++)
				if (index_along(t->shape, t->rank, i, a) == c)
					PUSH(i);
			e->offset[++e->count] = e->n;
		}
		return;
	}
	for (size_t i0 = 0; i0 < t->n; i0++) {
		if (index_along(t->shape, t->rank, i0, a) != 0)
			continue;
		for (size_t j = 0; j < t->shape[a]; j += gsize) {
			for (size_t k = j; k < j + gsize && k < t->shape[a]; k++)
				PUSH(i0 + k * stride);
			e->offset[++e->count] = e->n;
		}
	}
#undef PUSH
}

static void check_groups(const struct qs_groups *gr, const struct expect *e, const char *what)
{
	REQUIRE(gr->count == e->count, "%s: %zu groups, expected %zu", what, gr->count, e->count);
	REQUIRE(gr->n == e->n && gr->n_nonfinite == e->n_nonfinite, "%s: n=%zu nonfinite=%zu, expected %zu, %zu", what,
		gr->n, gr->n_nonfinite, e->n, e->n_nonfinite);
	for (size_t k = 0; k <= e->count; k++)
		REQUIRE(gr->offset[k] == e->offset[k], "%s: offset[%zu] = %zu, expected %zu", what, k, gr->offset[k],
			e->offset[k]);
	for (size_t i = 0; i < e->n; i++)
		REQUIRE(gr->values[i] == e->values[i], "%s: values[%zu] = %g, expected %g", what, i, gr->values[i],
			e->values[i]);
}

static struct qs_tensor *make_tensor(const char *name, int rank, const size_t *shape)
{
	struct qs_tensor *t = qs_tensor_alloc(name, "f32", rank, shape);
	ck_assert_ptr_nonnull(t);
	for (size_t i = 0; i < t->n; i++)
		t->data[i] = (double)i + 0.25;
	return t;
}

static struct qs_granularity gran(const char *text)
{
	struct qs_granularity g;
	ck_assert_msg(qs_gran_parse(text, &g) == QS_OK, "'%s' rejected", text);
	return g;
}

/* ---- literal layouts --------------------------------------------------------------------------------------- */

START_TEST(test_build_tensor_and_channel0)
{
	const size_t shape[3] = { 3, 4, 2 };
	struct qs_tensor *t = make_tensor("w", 3, shape);
	struct qs_granularity g = gran("tensor");
	struct qs_groups gr;
	ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
	ck_assert_uint_eq(gr.count, 1);
	ck_assert_uint_eq(gr.offset[0], 0);
	ck_assert_uint_eq(gr.offset[1], 24);
	ck_assert_uint_eq(gr.n, 24);
	ck_assert_uint_eq(gr.n_nonfinite, 0);
	for (size_t i = 0; i < 24; i++)
		REQUIRE(gr.values[i] == (double)i + 0.25, "tensor: values[%zu] = %g", i, gr.values[i]);
	qs_groups_free(&gr);

	g = gran("channel");
	ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
	ck_assert_uint_eq(gr.count, 3);
	for (size_t c = 0; c <= 3; c++)
		ck_assert_uint_eq(gr.offset[c], 8 * c);
	for (size_t i = 0; i < 24; i++)
		REQUIRE(gr.values[i] == (double)i + 0.25, "channel: values[%zu] = %g", i, gr.values[i]);
	qs_groups_free(&gr);
	qs_tensor_free(t);
}
END_TEST

/* channel:1 of [3,4,2]: group j holds (i0, j, i2) for i0 = 0..2, i2 = 0..1, flat i0*8 + j*2 + i2; e.g. group 1 =
 * flat 2, 3, 10, 11, 18, 19. channel:-1 (= channel:2): group k holds the flat indices = k mod 2. */
START_TEST(test_build_channel_axes)
{
	const size_t shape[3] = { 3, 4, 2 };
	struct qs_tensor *t = make_tensor("w", 3, shape);
	struct qs_granularity g = gran("channel:1");
	struct qs_groups gr;
	ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
	ck_assert_uint_eq(gr.count, 4);
	static const double g1[6] = { 2.25, 3.25, 10.25, 11.25, 18.25, 19.25 };
	ck_assert_uint_eq(gr.offset[1], 6);
	ck_assert_uint_eq(gr.offset[2], 12);
	for (int i = 0; i < 6; i++)
		ck_assert_double_eq(gr.values[6 + i], g1[i]);
	for (size_t j = 0; j < 4; j++)
		for (size_t i0 = 0; i0 < 3; i0++)
			for (size_t i2 = 0; i2 < 2; i2++)
				REQUIRE(gr.values[6 * j + 2 * i0 + i2] == (double)(i0 * 8 + j * 2 + i2) + 0.25,
					"channel:1 group %zu element (%zu, %zu): %g", j, i0, i2,
					gr.values[6 * j + 2 * i0 + i2]);
	qs_groups_free(&gr);

	const char *last[2] = { "channel:-1", "channel:2" };
	for (int k = 0; k < 2; k++) {
		g = gran(last[k]);
		ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
		ck_assert_uint_eq(gr.count, 2);
		ck_assert_uint_eq(gr.offset[1], 12);
		ck_assert_uint_eq(gr.offset[2], 24);
		for (size_t c = 0; c < 2; c++)
			for (size_t m = 0; m < 12; m++)
				REQUIRE(gr.values[12 * c + m] == (double)(2 * m + c) + 0.25, "%s: group %zu[%zu] = %g",
					last[k], c, m, gr.values[12 * c + m]);
		qs_groups_free(&gr);
	}
	qs_tensor_free(t);
}
END_TEST

/* group:3 on [2,7]: each row in blocks 3, 3, 1 -> 6 groups, offsets 0 3 6 7 10 13 14, values in flat order. */
START_TEST(test_build_group_last_axis)
{
	const size_t shape[2] = { 2, 7 };
	struct qs_tensor *t = make_tensor("w", 2, shape);
	struct qs_granularity g = gran("group:3");
	struct qs_groups gr;
	ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
	static const size_t off[7] = { 0, 3, 6, 7, 10, 13, 14 };
	ck_assert_uint_eq(gr.count, 6);
	for (int k = 0; k < 7; k++)
		ck_assert_uint_eq(gr.offset[k], off[k]);
	for (size_t i = 0; i < 14; i++)
		ck_assert_double_eq(gr.values[i], (double)i + 0.25);
	qs_groups_free(&gr);
	qs_tensor_free(t);
}
END_TEST

/* token on [2,3,4]: one group per row of the last axis, i.e. 6 groups of 4 consecutive values in storage order. */
START_TEST(test_build_token)
{
	const size_t shape[3] = { 2, 3, 4 };
	struct qs_tensor *t = make_tensor("act", 3, shape);
	struct qs_granularity g = gran("token");
	struct qs_groups gr;
	ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
	ck_assert_uint_eq(gr.count, 6);
	for (size_t k = 0; k <= 6; k++)
		ck_assert_uint_eq(gr.offset[k], 4 * k);
	for (size_t i = 0; i < 24; i++)
		ck_assert_double_eq(gr.values[i], (double)i + 0.25);
	qs_groups_free(&gr);
	qs_tensor_free(t);
}
END_TEST

/* group:2:0 on [5,2]: element (r, c) is flat 2r + c. Column 0: rows 0-1 {0, 2}, rows 2-3 {4, 6}, row 4 {8};
 * then column 1: {1, 3}, {5, 7}, {9}. Offsets 0 2 4 5 7 9 10. */
START_TEST(test_build_group_axis0)
{
	const size_t shape[2] = { 5, 2 };
	struct qs_tensor *t = make_tensor("w", 2, shape);
	struct qs_granularity g = gran("group:2:0");
	struct qs_groups gr;
	ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
	static const size_t off[7] = { 0, 2, 4, 5, 7, 9, 10 };
	static const double flat[10] = { 0, 2, 4, 6, 8, 1, 3, 5, 7, 9 };
	ck_assert_uint_eq(gr.count, 6);
	for (int k = 0; k < 7; k++)
		ck_assert_uint_eq(gr.offset[k], off[k]);
	for (int i = 0; i < 10; i++)
		ck_assert_double_eq(gr.values[i], flat[i] + 0.25);
	qs_groups_free(&gr);
	qs_tensor_free(t);
}
END_TEST

/* ---- many shapes against the oracle ------------------------------------------------------------------------ */

static const struct {
	int rank;
	size_t shape[4];
	const char *gran;
	enum qs_gran_kind kind;
	int axis; /* resolved */
	size_t gsize;
} layouts[] = {
	{ 3, { 3, 4, 2 }, "tensor", QS_GRAN_TENSOR, 0, 0 },     { 3, { 3, 4, 2 }, "channel", QS_GRAN_CHANNEL, 0, 0 },
	{ 3, { 3, 4, 2 }, "channel:1", QS_GRAN_CHANNEL, 1, 0 }, { 3, { 3, 4, 2 }, "channel:-2", QS_GRAN_CHANNEL, 1, 0 },
	{ 3, { 3, 4, 2 }, "group:3:1", QS_GRAN_GROUP, 1, 3 },   { 3, { 3, 4, 2 }, "group:2", QS_GRAN_GROUP, 2, 2 },
	{ 3, { 3, 4, 2 }, "group:5:0", QS_GRAN_GROUP, 0, 5 },   { 3, { 3, 4, 2 }, "group:2:-3", QS_GRAN_GROUP, 0, 2 },
	{ 4, { 2, 3, 4, 5 }, "channel:2", QS_GRAN_CHANNEL, 2, 0 },
	{ 4, { 2, 3, 4, 5 }, "channel:-1", QS_GRAN_CHANNEL, 3, 0 },
	{ 4, { 2, 3, 4, 5 }, "group:4:2", QS_GRAN_GROUP, 2, 4 },
	{ 4, { 2, 3, 4, 5 }, "group:3:1", QS_GRAN_GROUP, 1, 3 },
	{ 4, { 2, 3, 4, 5 }, "group:7", QS_GRAN_GROUP, 3, 7 },
	{ 4, { 2, 3, 4, 5 }, "group:2", QS_GRAN_GROUP, 3, 2 },
	{ 1, { 11 }, "group:4", QS_GRAN_GROUP, 0, 4 },           { 1, { 11 }, "channel", QS_GRAN_CHANNEL, 0, 0 },
	{ 2, { 1, 9 }, "group:9", QS_GRAN_GROUP, 1, 9 },         { 2, { 6, 1 }, "channel:1", QS_GRAN_CHANNEL, 1, 0 },
};
#define N_LAYOUTS (int)(sizeof layouts / sizeof layouts[0])

START_TEST(test_build_vs_oracle)
{
	struct qs_tensor *t = make_tensor("w", layouts[_i].rank, layouts[_i].shape);
	struct qs_granularity g = gran(layouts[_i].gran);
	struct qs_groups gr;
	ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
	struct expect *e = malloc(sizeof *e);
	ck_assert_ptr_nonnull(e);
	oracle(t, layouts[_i].kind, layouts[_i].axis, layouts[_i].gsize, false, e);
	char what[64];
	snprintf(what, sizeof what, "%s on rank %d", layouts[_i].gran, layouts[_i].rank);
	check_groups(&gr, e, what);
	qs_groups_free(&gr);
	free(e);
	qs_tensor_free(t);
}
END_TEST

/* ---- errors, rank 0, non-finite values --------------------------------------------------------------------- */

START_TEST(test_build_bad_axis)
{
	const size_t shape[2] = { 3, 4 };
	struct qs_tensor *t = make_tensor("w", 2, shape);
	const char *bad[] = { "channel:3", "channel:2", "channel:-3", "group:4:2", "group:4:-3" };
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct qs_granularity g = gran(bad[k]);
		struct qs_groups gr;
		memset(&gr, 0, sizeof gr);
		int st = qs_groups_build(t, &g, false, &gr);
		ck_assert_msg(st == QS_EINVAL, "%s on rank 2: status %d, expected QS_EINVAL", bad[k], st);
	}
	qs_tensor_free(t);
}
END_TEST

START_TEST(test_build_rank0)
{
	struct qs_tensor *t = qs_tensor_alloc("scalar_bias", "f32", 0, NULL);
	ck_assert_ptr_nonnull(t);
	t->data[0] = 2.385;
	struct qs_granularity g = gran("tensor");
	struct qs_groups gr;
	ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
	ck_assert_uint_eq(gr.count, 1);
	ck_assert_uint_eq(gr.n, 1);
	ck_assert_uint_eq(gr.offset[0], 0);
	ck_assert_uint_eq(gr.offset[1], 1);
	ck_assert_double_eq(gr.values[0], 2.385);
	qs_groups_free(&gr);
	/* a rank-0 tensor has no axis 0 */
	g = gran("channel");
	ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_EINVAL);
	qs_tensor_free(t);
}
END_TEST

static const char *const nonfinite_grans[] = { "tensor", "channel", "channel:1", "group:3", "group:2:0" };

/* NaN, +Inf, -Inf at scattered positions of a [3,4,2] tensor: an error naming the tensor, or with skip the
 * oracle's groups minus those values (no group is emptied). */
START_TEST(test_build_nonfinite)
{
	const size_t shape[3] = { 3, 4, 2 };
	struct qs_tensor *t = make_tensor("blocks.3.attn.qkv.weight", 3, shape);
	t->data[5] = NAN;
	t->data[11] = INFINITY;
	t->data[14] = -INFINITY;
	struct qs_granularity g = gran(nonfinite_grans[_i]);
	struct qs_groups gr;
	memset(&gr, 0, sizeof gr);
	qs_error_set(QS_OK, "%s", "");
	int st = qs_groups_build(t, &g, false, &gr);
	ck_assert_msg(st == QS_ENONFINITE, "%s: status %d, expected QS_ENONFINITE", nonfinite_grans[_i], st);
	ck_assert_msg(strstr(qs_error_message(), "blocks.3.attn.qkv.weight") != NULL, "message '%s' lacks the name",
		      qs_error_message());

	ck_assert_int_eq(qs_groups_build(t, &g, true, &gr), QS_OK);
	struct expect *e = malloc(sizeof *e);
	ck_assert_ptr_nonnull(e);
	int axis = _i == 2 ? 1 : _i == 3 ? 2 : 0;
	enum qs_gran_kind kind = _i == 0 ? QS_GRAN_TENSOR : _i <= 2 ? QS_GRAN_CHANNEL : QS_GRAN_GROUP;
	size_t gsize = _i == 3 ? 3 : 2;
	oracle(t, kind, axis, gsize, true, e);
	ck_assert_uint_eq(e->n_nonfinite, 3);
	ck_assert_uint_eq(e->n, 21);
	check_groups(&gr, e, nonfinite_grans[_i]);
	qs_groups_free(&gr);
	free(e);
	qs_tensor_free(t);
}
END_TEST

/* A finite value of 2^400 or more (found by fuzzing: 1e200 squared overflowed, giving rel 0 and "met") is an error
 * naming the tensor for every granularity, with or without skip_nonfinite; just below the limit is kept. */
START_TEST(test_build_too_large)
{
	const size_t shape[3] = { 3, 4, 2 };
	struct qs_tensor *t = make_tensor("huge", 3, shape);
	struct qs_granularity g = gran(nonfinite_grans[_i]);
	struct qs_groups gr;
	t->data[7] = -0x1p400;
	for (int skip = 0; skip < 2; skip++) {
		ck_assert_int_eq(qs_groups_build(t, &g, skip, &gr), QS_ENONFINITE);
		ck_assert_ptr_nonnull(strstr(qs_error_message(), "'huge'"));
		ck_assert_ptr_nonnull(strstr(qs_error_message(), "2^400"));
	}
	t->data[7] = -0x1.fffffffffffffp399;
	ck_assert_int_eq(qs_groups_build(t, &g, false, &gr), QS_OK);
	ck_assert_uint_eq(gr.n, 24);
	qs_groups_free(&gr);
	qs_tensor_free(t);
}
END_TEST

START_TEST(test_free_null)
{
	qs_groups_free(NULL);
}
END_TEST

static Suite *groups_suite(void)
{
	Suite *s = suite_create("groups");
	TCase *tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_accepts, 0, (int)N_PARSE_OK);
	tcase_add_loop_test(tc, test_format_round_trip, 0, (int)N_PARSE_OK);
	tcase_add_loop_test(tc, test_parse_rejects, 0, (int)(sizeof parse_bad / sizeof parse_bad[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_test(tc, test_build_tensor_and_channel0);
	tcase_add_test(tc, test_build_channel_axes);
	tcase_add_test(tc, test_build_group_last_axis);
	tcase_add_test(tc, test_build_group_axis0);
	tcase_add_test(tc, test_build_token);
	tcase_add_loop_test(tc, test_build_vs_oracle, 0, N_LAYOUTS);
	tcase_add_test(tc, test_build_bad_axis);
	tcase_add_test(tc, test_build_rank0);
	tcase_add_loop_test(tc, test_build_nonfinite, 0, (int)(sizeof nonfinite_grans / sizeof nonfinite_grans[0]));
	tcase_add_loop_test(tc, test_build_too_large, 0, (int)(sizeof nonfinite_grans / sizeof nonfinite_grans[0]));
	tcase_add_test(tc, test_free_null);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(groups_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
