/* Unit tests for the .onnx reader against scripts/make_onnx_fixtures.py's models, whose values are closed formulas. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "formats/format.h"
#include "tensor/groups.h"
#include "tensor/tensor.h"
#include "util/qs_error.h"

#ifndef QS_FIXTURES
#error "QS_FIXTURES must name the fixtures directory"
#endif

/* The generator's formulas: dyadic rationals, exact in every dtype the fixtures store them in. */
static double coarse(long k, long i)
{
	return (double)((i * 37 + k * 11) % 101 - 50) / 64.0;
}

static double fine(long k, long i)
{
	return coarse(k, i) + (double)((i * 13 + k) % 97) / 1048576.0;
}

struct expect {
	const char *name;
	const char *dtype;
	int rank;
	size_t shape[4];
	long k;
	double (*formula)(long, long);
	const char *consumer;
	int channel_axis;
};

/* initializers.onnx and external.onnx (the same graph, its data in external.bin); the INT64 "shape" is skipped. */
static const struct expect initializers[] = {
	{"conv.W", "f32", 4, {4, 3, 3, 3}, 1, fine, "Conv", 0},
	{"conv.B", "f32", 1, {4}, 2, fine, "Conv", 0},
	{"mm.B", "f32", 2, {8, 5}, 3, fine, "MatMul", 1},
	{"gemm_t.B", "f32", 2, {6, 8}, 4, fine, "Gemm", 0},
	{"gemm_n.B", "f32", 2, {8, 6}, 5, fine, "Gemm", 1},
	{"convt.W", "f32", 4, {3, 2, 2, 2}, 6, fine, "ConvTranspose", 1},
	{"scale", "f32", 1, {5}, 7, fine, "Mul", -1},
	{"orphan", "f32", 1, {3}, 8, fine, "", -1},
	{NULL, NULL, 0, {0}, 0, NULL, NULL, 0},
};

/* Constant nodes: in the main graph (consumed inside If_0's branches), in both branches, in the unnamed Loop's body;
 * in model order (nodes, then each node's attributes as stored). */
static const struct expect subgraphs[] = {
	{"WO", "f32", 2, {3, 4}, 24, fine, "MatMul", 1},
	{"If_0/else_branch/W", "f32", 2, {2, 3}, 22, fine, "MatMul", 1}, /* onnx.helper sorts a node's attributes */
	{"If_0/then_branch/W", "f32", 2, {2, 3}, 21, fine, "MatMul", 1},
	{"Loop_2/body/LW", "f32", 1, {4}, 23, fine, "Add", -1},
	{NULL, NULL, 0, {0}, 0, NULL, NULL, 0},
};

/* Typed fields and raw 16-bit floats; the INT32 tensor is skipped. */
static const struct expect typed[] = {
	{"tf32", "f32", 2, {3, 4}, 31, fine, "Identity", -1},
	{"tf64", "f64", 1, {5}, 32, fine, "Identity", -1},
	{"tf16", "f16", 3, {2, 2, 2}, 33, coarse, "Identity", -1},
	{"tbf16", "bf16", 1, {6}, 34, coarse, "Identity", -1},
	{"rf16", "f16", 1, {4}, 35, coarse, "Identity", -1},
	{"rbf16", "bf16", 2, {2, 3}, 36, coarse, "Identity", -1},
	{"rf64", "f64", 2, {2, 2}, 37, fine, "Identity", -1},
	{"empty", "f32", 2, {0, 3}, 38, fine, "Identity", -1},
	{NULL, NULL, 0, {0}, 0, NULL, NULL, 0},
};

static const struct {
	const char *file;
	const struct expect *tensors;
} valid[] = {
	{"initializers.onnx", initializers},
	{"external.onnx", initializers},
	{"subgraphs.onnx", subgraphs},
	{"typed.onnx", typed},
};
#define N_VALID ((int)(sizeof valid / sizeof valid[0]))

static void fixture_path(char *buf, size_t len, const char *file)
{
	snprintf(buf, len, "%s/onnx/%s", QS_FIXTURES, file);
}

START_TEST(test_valid)
{
	char path[1024];
	fixture_path(path, sizeof path, valid[_i].file);
	struct qs_source *src = NULL;
	ck_assert_msg(qs_source_open(path, NULL, &src) == QS_OK, "%s", qs_error_message());
	ck_assert_str_eq(qs_source_format_name(src), "onnx");
	for (const struct expect *e = valid[_i].tensors;; e++) {
		struct qs_tensor *t = NULL;
		ck_assert_msg(qs_source_next(src, &t) == QS_OK, "%s", qs_error_message());
		if (!e->name) {
			ck_assert_msg(t == NULL, "%s: unexpected tensor '%s'", valid[_i].file, t ? t->name : "");
			break;
		}
		ck_assert_msg(t != NULL, "%s: tensor '%s' missing", valid[_i].file, e->name);
		ck_assert_str_eq(t->name, e->name);
		ck_assert_str_eq(t->dtype, e->dtype);
		ck_assert_int_eq(t->rank, e->rank);
		size_t n = 1;
		for (int d = 0; d < e->rank; d++) {
			ck_assert_uint_eq(t->shape[d], e->shape[d]);
			n *= e->shape[d];
		}
		ck_assert_uint_eq(t->n, n);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(t->data[i] == e->formula(e->k, (long)i), "%s[%zu] = %.17g, expected %.17g", e->name, i,
			              t->data[i], e->formula(e->k, (long)i));
		ck_assert_str_eq(t->consumer, e->consumer);
		ck_assert_int_eq(t->channel_axis, e->channel_axis);
		qs_tensor_free(t);
	}
	qs_source_close(src);
}
END_TEST

/* `channel` without an axis follows the consumer's output-channel axis; an explicit axis still wins. */
START_TEST(test_channel_groups_follow_consumer)
{
	static const struct {
		const char *name;
		size_t groups, groups_axis0;
	} cases[] = {
		{"conv.W", 4, 4}, {"mm.B", 5, 8}, {"gemm_t.B", 6, 6}, {"gemm_n.B", 6, 8}, {"convt.W", 2, 3},
	};
	char path[1024];
	fixture_path(path, sizeof path, "initializers.onnx");
	struct qs_source *src = NULL;
	ck_assert_msg(qs_source_open(path, NULL, &src) == QS_OK, "%s", qs_error_message());
	struct qs_granularity chan, chan0;
	ck_assert_int_eq(qs_gran_parse("channel", &chan), QS_OK);
	ck_assert_int_eq(qs_gran_parse("channel:0", &chan0), QS_OK);
	size_t seen = 0;
	struct qs_tensor *t = NULL;
	while (qs_source_next(src, &t) == QS_OK && t) {
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
			if (strcmp(t->name, cases[c].name) != 0)
				continue;
			struct qs_groups gr;
			ck_assert_int_eq(qs_groups_build(t, &chan, false, &gr), QS_OK);
			ck_assert_msg(gr.count == cases[c].groups, "%s: %zu groups", t->name, gr.count);
			qs_groups_free(&gr);
			ck_assert_int_eq(qs_groups_build(t, &chan0, false, &gr), QS_OK);
			ck_assert_uint_eq(gr.count, cases[c].groups_axis0);
			qs_groups_free(&gr);
			seen++;
		}
		qs_tensor_free(t);
	}
	qs_source_close(src);
	ck_assert_uint_eq(seen, sizeof cases / sizeof cases[0]);
}
END_TEST

static const struct {
	const char *file;
	int status;
	const char *message; /* after "'PATH': " */
} bad[] = {
	{"bad_truncated.onnx", QS_EFORMAT, "not a valid ONNX model (protobuf parse error)"},
	{"bad_garbage.onnx", QS_EFORMAT, "not a valid ONNX model (protobuf parse error)"},
	{"bad_nograph.onnx", QS_EFORMAT, "not a valid ONNX model (no graph)"},
	{"bad_raw_size.onnx", QS_EFORMAT,
	 "tensor 'W': wrong data size (6 values of FLOAT need 24 bytes, raw_data holds 10)"},
	{"bad_float_data_count.onnx", QS_EFORMAT, "tensor 'W': wrong data size (6 values of FLOAT, float_data holds 5)"},
	{"bad_external_missing.onnx", QS_EIO, "tensor 'W': cannot open external data '"},
	{"bad_external_short.onnx", QS_EFORMAT, "tensor 'W': truncated external data '"},
	{"bad_external_escape.onnx", QS_EFORMAT,
	 "tensor 'W': external data location '../initializers.onnx' is outside the model's folder"},
};
#define N_BAD ((int)(sizeof bad / sizeof bad[0]))

START_TEST(test_malformed)
{
	char path[1024], want[1200];
	fixture_path(path, sizeof path, bad[_i].file);
	snprintf(want, sizeof want, "'%s': %s", path, bad[_i].message);
	struct qs_source *src = NULL;
	int status = qs_source_open(path, NULL, &src);
	ck_assert_ptr_null(src);
	ck_assert_msg(status == bad[_i].status, "%s: status %d", bad[_i].file, status);
	ck_assert_msg(strncmp(qs_error_message(), want, strlen(want)) == 0, "%s: message '%s'", bad[_i].file,
	              qs_error_message());
}
END_TEST

START_TEST(test_detect)
{
	ck_assert_int_eq(qs_format_onnx.detect(NULL, 0, "dir/m.onnx"), 1);
	ck_assert_int_eq(qs_format_onnx.detect((const unsigned char *)"\x08\x08", 2, "m.onnx.bak"), 0);
	ck_assert_int_eq(qs_format_onnx.detect(NULL, 0, ".onnx"), 0);
	ck_assert(qs_format_suffix_known("models/m.onnx"));
}
END_TEST

static Suite *onnx_suite(void)
{
	Suite *s = suite_create("onnx");
	TCase *tc = tcase_create("read");
	tcase_add_loop_test(tc, test_valid, 0, N_VALID);
	tcase_add_test(tc, test_channel_groups_follow_consumer);
	tcase_add_loop_test(tc, test_malformed, 0, N_BAD);
	tcase_add_test(tc, test_detect);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(onnx_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
