/* Unit tests for the loaders (npy, raw) against fixtures whose values the test recomputes from closed formulas. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/format.h"
#include "tensor/tensor.h"
#include "util/qs_error.h"

#ifndef QS_FIXTURES
#error "QS_FIXTURES must name the fixtures directory"
#endif

/* The formulas scripts/make_fixtures.py writes (see tests/fixtures/README.md). */
static double wide(size_t i)
{
	volatile double p = (double)i * 0.37; /* two roundings, as numpy does them: no fused multiply-add */
	double x = p - 3.1;
	return i % 2 ? -x : x;
}

static double narrow(size_t i)
{
	return (double)((long)((37 * i + 11) % 251) - 125) / 8.0;
}

enum formula { W64, W32, NARROW };

static double expected(enum formula f, size_t i)
{
	switch (f) {
	case W64:
		return wide(i);
	case W32:
		return (double)(float)wide(i);
	case NARROW:
		return narrow(i);
	}
	return NAN;
}

static void fixture_path(char *buf, size_t len, const char *file)
{
	snprintf(buf, len, "%s/%s", QS_FIXTURES, file);
}

/* Opens and reads the first tensor; the first failing status is returned. */
static int load(const char *path, const struct qs_load_opts *opts, struct qs_tensor **t)
{
	struct qs_source *src = NULL;
	*t = NULL;
	int status = qs_source_open(path, opts, &src);
	if (status == QS_OK)
		status = qs_source_next(src, t);
	qs_source_close(src);
	return status;
}

static struct qs_load_opts raw_opts(const char *dtype, bool big_endian, int rank, const size_t *shape)
{
	struct qs_load_opts o = {.dtype = dtype, .rank = rank, .big_endian = big_endian};
	for (int i = 0; i < rank; i++)
		o.shape[i] = shape[i];
	return o;
}

/* ---- valid fixtures ---- */

struct valid_case {
	const char *file;
	const char *name;
	const char *format;
	const char *dtype;
	enum formula formula;
	int rank;
	size_t shape[QS_MAX_RANK];
	const char *raw_dtype;      /* non-NULL: read as raw with this --dtype, the given shape */
	bool big_endian;
};

#define NPY_VERSIONS(v)                                                                             \
	{"npy_v" #v "_f4le.npy", "npy_v" #v "_f4le", "npy", "f32", W32, 2, {3, 5}, NULL, false},        \
	{"npy_v" #v "_f4be.npy", "npy_v" #v "_f4be", "npy", "f32", W32, 3, {2, 3, 4}, NULL, false},     \
	{"npy_v" #v "_f8le.npy", "npy_v" #v "_f8le", "npy", "f64", W64, 1, {7}, NULL, false},           \
	{"npy_v" #v "_f8be.npy", "npy_v" #v "_f8be", "npy", "f64", W64, 3, {4, 1, 3}, NULL, false},     \
	{"npy_v" #v "_f2le.npy", "npy_v" #v "_f2le", "npy", "f16", NARROW, 2, {2, 5}, NULL, false},     \
	{"npy_v" #v "_f2be.npy", "npy_v" #v "_f2be", "npy", "f16", NARROW, 1, {6}, NULL, false}

static const struct valid_case valid_cases[] = {
	NPY_VERSIONS(1),
	NPY_VERSIONS(2),
	NPY_VERSIONS(3),
	{"c_f8_r3.npy", "c_f8_r3", "npy", "f64", W64, 3, {2, 3, 4}, NULL, false},
	{"fortran_f8_r3.npy", "fortran_f8_r3", "npy", "f64", W64, 3, {2, 3, 4}, NULL, false},
	{"fortran_f4be_r2.npy", "fortran_f4be_r2", "npy", "f32", W32, 2, {3, 5}, NULL, false},
	{"fortran_f2_r4.npy", "fortran_f2_r4", "npy", "f16", NARROW, 4, {2, 3, 2, 2}, NULL, false},
	{"rank0_f8.npy", "rank0_f8", "npy", "f64", W64, 0, {0}, NULL, false},
	{"rank1_f4.npy", "rank1_f4", "npy", "f32", W32, 1, {10}, NULL, false},
	{"rank8_f4.npy", "rank8_f4", "npy", "f32", W32, 8, {2, 1, 2, 1, 3, 1, 2, 2}, NULL, false},
	{"zero_size_f4.npy", "zero_size_f4", "npy", "f32", W32, 2, {0, 3}, NULL, false},
	{"header_odd1.npy", "header_odd1", "npy", "f32", W32, 2, {2, 3}, NULL, false},
	{"header_odd2.npy", "header_odd2", "npy", "f64", W64, 1, {6}, NULL, false},
	{"header_native1.npy", "header_native1", "npy", "f64", W64, 1, {4}, NULL, false},
	{"header_native2.npy", "header_native2", "npy", "f32", W32, 1, {3}, NULL, false},
	{"raw_le.f32", "raw_le", "raw", "f32", W32, 2, {4, 6}, "f32", false},
	{"raw_be.f32", "raw_be", "raw", "f32", W32, 2, {4, 6}, "f32", true},
	{"raw_le.f64", "raw_le", "raw", "f64", W64, 2, {4, 6}, "f64", false},
	{"raw_be.f64", "raw_be", "raw", "f64", W64, 2, {4, 6}, "f64", true},
	{"raw_le.f16", "raw_le", "raw", "f16", NARROW, 2, {4, 6}, "f16", false},
	{"raw_be.f16", "raw_be", "raw", "f16", NARROW, 2, {4, 6}, "f16", true},
	{"raw_le.bf16", "raw_le", "raw", "bf16", NARROW, 2, {4, 6}, "bf16", false},
	{"raw_be.bf16", "raw_be", "raw", "bf16", NARROW, 2, {4, 6}, "bf16", true},
	{"raw_le.bf16", "raw_le", "raw", "bf16", NARROW, 3, {2, 3, 4}, "bf16", false},
	{"raw_data.bin", "raw_data", "raw", "f32", W32, 1, {10}, "f32", false},
};
#define N_VALID ((int)(sizeof valid_cases / sizeof valid_cases[0]))

START_TEST(test_valid)
{
	const struct valid_case *c = &valid_cases[_i];
	char path[4096];
	fixture_path(path, sizeof path, c->file);
	struct qs_load_opts opts = raw_opts(c->raw_dtype, c->big_endian, c->rank, c->shape);
	if (c->raw_dtype && strcmp(c->file, "raw_data.bin") == 0)
		opts.rank = -1; /* no --shape: one 1-D tensor */

	struct qs_source *src = NULL;
	int status = qs_source_open(path, c->raw_dtype ? &opts : NULL, &src);
	ck_assert_msg(status == QS_OK, "%s: %s", c->file, qs_error_message());
	ck_assert_str_eq(qs_source_format_name(src), c->format);

	struct qs_tensor *t = NULL;
	status = qs_source_next(src, &t);
	ck_assert_msg(status == QS_OK, "%s: %s", c->file, qs_error_message());
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->name, c->name);
	ck_assert_str_eq(t->dtype, c->dtype);
	ck_assert_int_eq(t->rank, c->rank);
	size_t n = 1;
	for (int d = 0; d < c->rank; d++) {
		ck_assert_uint_eq(t->shape[d], c->shape[d]);
		n *= c->shape[d];
	}
	ck_assert_uint_eq(t->n, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(t->data[i] == expected(c->formula, i), "%s[%zu] = %.17g, expected %.17g", c->file, i,
		              t->data[i], expected(c->formula, i));
	qs_tensor_free(t);

	/* One file, one tensor. */
	t = (struct qs_tensor *)&t;
	ck_assert_int_eq(qs_source_next(src, &t), QS_OK);
	ck_assert_ptr_null(t);
	qs_source_close(src);
}
END_TEST

/* The Fortran-order file is transposed into the same C-order values as its C-order twin. */
START_TEST(test_fortran_matches_c)
{
	char pc[4096], pf[4096];
	fixture_path(pc, sizeof pc, "c_f8_r3.npy");
	fixture_path(pf, sizeof pf, "fortran_f8_r3.npy");
	struct qs_tensor *tc, *tf;
	ck_assert_int_eq(load(pc, NULL, &tc), QS_OK);
	ck_assert_int_eq(load(pf, NULL, &tf), QS_OK);
	ck_assert_uint_eq(tc->n, 24);
	ck_assert_uint_eq(tf->n, 24);
	for (size_t i = 0; i < tc->n; i++)
		ck_assert_msg(tc->data[i] == tf->data[i], "element %zu differs", i);
	/* Spot-check an index by hand: [1][2][3] is flat 1*12 + 2*4 + 3 = 23. */
	ck_assert(tf->data[23] == wide(23));
	qs_tensor_free(tc);
	qs_tensor_free(tf);
}
END_TEST

START_TEST(test_has_nan)
{
	char path[4096];
	fixture_path(path, sizeof path, "has_nan.npy");
	struct qs_tensor *t;
	ck_assert_int_eq(load(path, NULL, &t), QS_OK);
	ck_assert_str_eq(t->name, "has_nan");
	ck_assert_uint_eq(t->n, 12);
	for (size_t i = 0; i < t->n; i++) {
		if (i == 2)
			ck_assert(isnan(t->data[i]));
		else if (i == 5)
			ck_assert(isinf(t->data[i]) && t->data[i] > 0);
		else
			ck_assert(t->data[i] == (double)(float)wide(i));
	}
	qs_tensor_free(t);
}
END_TEST

/* numpy's float16 -> float64 conversion of the same bit patterns is the oracle. */
START_TEST(test_f16_grid_matches_numpy)
{
	char ph[4096], pd[4096];
	fixture_path(ph, sizeof ph, "f16_grid.npy");
	fixture_path(pd, sizeof pd, "f16_grid_f8.npy");
	struct qs_tensor *th, *td;
	ck_assert_int_eq(load(ph, NULL, &th), QS_OK);
	ck_assert_int_eq(load(pd, NULL, &td), QS_OK);
	ck_assert_str_eq(th->dtype, "f16");
	ck_assert_str_eq(td->dtype, "f64");
	ck_assert_uint_eq(th->n, 1036);
	ck_assert_uint_eq(td->n, th->n);
	for (size_t i = 0; i < th->n; i++) {
		double a = th->data[i], b = td->data[i];
		ck_assert_msg((isnan(a) && isnan(b)) || (a == b && !signbit(a) == !signbit(b)),
		              "element %zu: %.17g vs numpy %.17g", i, a, b);
	}
	qs_tensor_free(th);
	qs_tensor_free(td);
}
END_TEST

/* --dtype forces the raw reader even on an .npy file. */
START_TEST(test_dtype_forces_raw)
{
	char path[4096];
	fixture_path(path, sizeof path, "npy_v1_f4le.npy");
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	struct qs_load_opts opts = raw_opts("bf16", false, -1, NULL);
	struct qs_source *src;
	ck_assert_int_eq(qs_source_open(path, &opts, &src), QS_OK);
	ck_assert_str_eq(qs_source_format_name(src), "raw");
	struct qs_tensor *t;
	ck_assert_int_eq(qs_source_next(src, &t), QS_OK);
	ck_assert_int_eq(t->rank, 1);
	ck_assert_uint_eq(t->n, (size_t)st.st_size / 2);
	qs_tensor_free(t);
	qs_source_close(src);
}
END_TEST

/* ---- malformed fixtures: status, the path quoted first, and what went wrong ---- */

struct bad_case {
	const char *file;
	const char *raw_dtype;
	int rank;
	size_t shape[QS_MAX_RANK];
	int status;
	const char *keyword;
};

static const struct bad_case bad_cases[] = {
	{"bad_truncated.npy", NULL, -1, {0}, QS_EFORMAT, "truncated data (expected 400 bytes, found 300)"},
	{"bad_magic.npy", NULL, -1, {0}, QS_EFORMAT, "bad magic"},
	{"bad_header_noshape.npy", NULL, -1, {0}, QS_EFORMAT, "malformed header (missing key 'shape')"},
	{"bad_header_garbage.npy", NULL, -1, {0}, QS_EFORMAT, "malformed header"},
	{"bad_header_unclosed.npy", NULL, -1, {0}, QS_EFORMAT, "malformed header"},
	{"bad_header_len.npy", NULL, -1, {0}, QS_EFORMAT, "header length 5000 runs past the end of the file"},
	{"bad_shape_neg.npy", NULL, -1, {0}, QS_EFORMAT, "bad shape"},
	{"bad_fortran.npy", NULL, -1, {0}, QS_EFORMAT, "fortran_order"},
	{"bad_dtype_i4.npy", NULL, -1, {0}, QS_EFORMAT, "unsupported dtype '<i4' (qscope reads float16/32/64)"},
	{"bad_dtype_c8.npy", NULL, -1, {0}, QS_EFORMAT, "unsupported dtype '<c8'"},
	{"bad_dtype_obj.npy", NULL, -1, {0}, QS_EFORMAT, "unsupported dtype '|O'"},
	{"bad_dtype_struct.npy", NULL, -1, {0}, QS_EFORMAT, "unsupported dtype '[("},
	{"bad_version.npy", NULL, -1, {0}, QS_EFORMAT, "unsupported npy version 4.0"},
	{"bad_trailing.npy", NULL, -1, {0}, QS_EFORMAT, "7 bytes of trailing data after the array"},
	{"bad_rank9.npy", NULL, -1, {0}, QS_EFORMAT, "rank 9"},
	{"bad_overflow.npy", NULL, -1, {0}, QS_EFORMAT, "overflow"},
	{"bad_overflow_dim.npy", NULL, -1, {0}, QS_EFORMAT, "overflow"},
	{"empty.npy", NULL, -1, {0}, QS_EFORMAT, "empty file"},
	{"bad_unknown.dat", NULL, -1, {0}, QS_EFORMAT,
	 "unknown file format (expected .npy, .npz, .safetensors, .onnx, or raw data with --dtype)"},
	{"raw_mismatch.f32", "f32", 4, {64, 3, 3, 3}, QS_EFORMAT,
	 "size mismatch (shape 64x3x3x3 of f32 needs 6912 bytes, file has 6900)"},
	{"raw_odd.f32", "f32", -1, {0}, QS_EFORMAT, "size mismatch"},
	{"raw_le.f32", "f32", 2, {5, 5}, QS_EFORMAT, "needs 100 bytes, file has 96"},
	{"raw_le.f32", "f64", 2, {4, 6}, QS_EFORMAT, "needs 192 bytes, file has 96"},
	{"raw_data.bin", NULL, -1, {0}, QS_EUSAGE, "raw data needs --dtype (and usually --shape)"},
	{"raw_le.bf16", NULL, -1, {0}, QS_EUSAGE, "raw data needs --dtype"},
	{"no_such_file.npy", NULL, -1, {0}, QS_EIO, "No such file"},
	{"", NULL, -1, {0}, QS_EIO, "directory"}, /* the fixtures directory itself */
};
#define N_BAD ((int)(sizeof bad_cases / sizeof bad_cases[0]))

START_TEST(test_malformed)
{
	const struct bad_case *c = &bad_cases[_i];
	char path[4096];
	fixture_path(path, sizeof path, c->file);
	struct qs_load_opts opts = raw_opts(c->raw_dtype, false, c->rank, c->shape);
	struct qs_tensor *t = NULL;
	int status = load(path, c->raw_dtype ? &opts : NULL, &t);
	const char *msg = qs_error_message();
	ck_assert_msg(status == c->status, "%s: status %d, expected %d (%s)", c->file, status, c->status, msg);
	ck_assert_ptr_null(t);

	char prefix[4200];
	snprintf(prefix, sizeof prefix, "'%s': ", path);
	ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0, "%s: message does not start with the path: %s",
	              c->file, msg);
	ck_assert_msg(strstr(msg, c->keyword) != NULL, "%s: message lacks \"%s\": %s", c->file, c->keyword, msg);
	ck_assert_msg(!strchr(msg, '\n'), "message has a newline: %s", msg);
	size_t len = strlen(msg);
	ck_assert_msg(len > 0 && msg[len - 1] != '.', "message ends with a period: %s", msg);
}
END_TEST

START_TEST(test_unknown_dtype)
{
	char path[4096];
	fixture_path(path, sizeof path, "raw_le.f32");
	struct qs_load_opts opts = raw_opts("f8", false, -1, NULL);
	struct qs_tensor *t;
	ck_assert_int_eq(load(path, &opts, &t), QS_EUSAGE);
	ck_assert_str_eq(qs_error_message(), "unknown --dtype 'f8' (use f32, f64, f16 or bf16)");
}
END_TEST

/* A file that shrinks after the size check: the element reader reports how much it found. */
START_TEST(test_elem_read_short)
{
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	const unsigned char bytes[] = {0x00, 0x00, 0x80, 0x3f, 0x00};
	ck_assert_uint_eq(fwrite(bytes, 1, sizeof bytes, f), sizeof bytes);
	rewind(f);
	double out[2] = {0, 0};
	ck_assert_int_eq(qs_elem_read(f, "mem.f32", QS_ELEM_F32, false, 2, out), QS_EFORMAT);
	ck_assert_str_eq(qs_error_message(), "'mem.f32': truncated data (expected 8 bytes, found 5)");
	ck_assert(out[0] == 1.0);
	fclose(f);
}
END_TEST

/* ---- detection, stems, half/bfloat16 ---- */

START_TEST(test_detect)
{
	const unsigned char npy_head[] = "\x93NUMPY\x01\x00";
	const unsigned char junk[] = "hello world";
	ck_assert_int_eq(qs_format_npy.detect(npy_head, 8, "x.dat"), 2);
	ck_assert_int_eq(qs_format_npy.detect(npy_head, 5, "x.dat"), 0); /* short head */
	ck_assert_int_eq(qs_format_npy.detect(junk, 11, "dir/x.npy"), 1);
	ck_assert_int_eq(qs_format_npy.detect(junk, 11, "x.npz"), 0);
	const char *raw_names[] = {"a.bin", "a.raw", "d/a.f32", "a.f16", "a.bf16", "a.f64", "A.BIN"};
	for (size_t i = 0; i < sizeof raw_names / sizeof raw_names[0]; i++)
		ck_assert_msg(qs_format_raw.detect(junk, 11, raw_names[i]) == 1, "%s", raw_names[i]);
	ck_assert_int_eq(qs_format_raw.detect(junk, 11, "a.npy"), 0);
	ck_assert_int_eq(qs_format_raw.detect(junk, 11, "d.bin/a"), 0);
	ck_assert_int_eq(qs_format_raw.detect(junk, 11, "bin"), 0);
}
END_TEST

START_TEST(test_path_stem)
{
	static const char *const cases[][2] = {
		{"dir/conv.w_0.npy", "conv.w_0"}, {"w.npy", "w"},      {"a/b/c", "c"},   {"d.x/file", "file"},
		{".hidden", ".hidden"},           {"/abs/x.f32", "x"}, {"noext.", "noext"},
	};
	char buf[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		qs_path_stem(cases[i][0], buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i][1]);
	}
	qs_path_stem("dir/conv.w_0.npy", buf, 4);
	ck_assert_str_eq(buf, "con");
}
END_TEST

/* Bit patterns with values worked out by hand from the IEEE layouts. */
START_TEST(test_half_known)
{
	static const struct {
		unsigned short bits;
		double value;
	} cases[] = {
		{0x3c00, 1.0},         {0xc000, -2.0},          {0x7bff, 65504.0},       {0xfbff, -65504.0},
		{0x0001, 0x1p-24},     {0x03ff, 1023 * 0x1p-24}, {0x0400, 0x1p-14},      {0x3555, 0.333251953125},
		{0x3bff, 0.99951171875}, {0x4248, 3.140625},    {0x0000, 0.0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(qs_half_to_double(cases[i].bits) == cases[i].value, "0x%04x -> %.17g", cases[i].bits,
		              qs_half_to_double(cases[i].bits));
	ck_assert(qs_half_to_double(0x8000) == 0.0 && signbit(qs_half_to_double(0x8000)));
	ck_assert(isinf(qs_half_to_double(0x7c00)) && qs_half_to_double(0x7c00) > 0);
	ck_assert(isinf(qs_half_to_double(0xfc00)) && qs_half_to_double(0xfc00) < 0);
	ck_assert(isnan(qs_half_to_double(0x7e00)));
	ck_assert(isnan(qs_half_to_double(0x7c01)));
	ck_assert(isnan(qs_half_to_double(0xfe00)));
}
END_TEST

START_TEST(test_bf16_known)
{
	static const struct {
		unsigned short bits;
		double value;
	} cases[] = {
		{0x3f80, 1.0},      {0xc000, -2.0},       {0x4049, 3.140625}, {0x3eaa, 0.33203125},
		{0x0001, 0x1p-133}, {0x0080, 0x1p-126},   {0x007f, 127 * 0x1p-133},
		{0x7f7f, 0x1.fep127}, {0x0000, 0.0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(qs_bf16_to_double(cases[i].bits) == cases[i].value, "0x%04x -> %.17g", cases[i].bits,
		              qs_bf16_to_double(cases[i].bits));
	ck_assert(qs_bf16_to_double(0x8000) == 0.0 && signbit(qs_bf16_to_double(0x8000)));
	ck_assert(isinf(qs_bf16_to_double(0x7f80)) && qs_bf16_to_double(0x7f80) > 0);
	ck_assert(isinf(qs_bf16_to_double(0xff80)) && qs_bf16_to_double(0xff80) < 0);
	ck_assert(isnan(qs_bf16_to_double(0x7fc0)));
	ck_assert(isnan(qs_bf16_to_double(0x7f81)));
}
END_TEST

/* Independent reference: rebuild the IEEE single bit pattern (normalising subnormals by shifting). */
static double half_ref(unsigned h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x3ffu;
	uint32_t bits;
	if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (mant << 13);
	} else if (exp == 0) {
		if (mant == 0) {
			bits = sign;
		} else {
			uint32_t e = 127 - 15 + 1;
			while (!(mant & 0x400u)) {
				mant <<= 1;
				e--;
			}
			bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
		}
	} else {
		bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
	}
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

static double bf16_ref(unsigned b)
{
	uint32_t bits = (uint32_t)b << 16;
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

static bool same(double a, double b)
{
	return (isnan(a) && isnan(b)) || (a == b && !signbit(a) == !signbit(b));
}

START_TEST(test_half_bf16_exhaustive)
{
	for (unsigned u = 0; u <= 0xffff; u++) {
		ck_assert_msg(same(qs_half_to_double((unsigned short)u), half_ref(u)), "half 0x%04x", u);
		ck_assert_msg(same(qs_bf16_to_double((unsigned short)u), bf16_ref(u)), "bf16 0x%04x", u);
	}
}
END_TEST

START_TEST(test_elem_names)
{
	enum qs_elem e;
	static const char *const names[] = {"f16", "bf16", "f32", "f64"};
	static const size_t sizes[] = {2, 2, 4, 8};
	for (size_t i = 0; i < 4; i++) {
		ck_assert(qs_elem_parse(names[i], &e));
		ck_assert_str_eq(qs_elem_name(e), names[i]);
		ck_assert_uint_eq(qs_elem_size(e), sizes[i]);
	}
	ck_assert(!qs_elem_parse("f8", &e));
	ck_assert(!qs_elem_parse("F32", &e));
	ck_assert(!qs_elem_parse("", &e));
}
END_TEST

static Suite *formats_suite(void)
{
	Suite *s = suite_create("formats");
	TCase *tc = tcase_create("fixtures");
	tcase_add_loop_test(tc, test_valid, 0, N_VALID);
	tcase_add_test(tc, test_fortran_matches_c);
	tcase_add_test(tc, test_has_nan);
	tcase_add_test(tc, test_f16_grid_matches_numpy);
	tcase_add_test(tc, test_dtype_forces_raw);
	tcase_add_loop_test(tc, test_malformed, 0, N_BAD);
	tcase_add_test(tc, test_unknown_dtype);
	tcase_add_test(tc, test_elem_read_short);
	suite_add_tcase(s, tc);

	TCase *tb = tcase_create("bits");
	tcase_add_test(tb, test_detect);
	tcase_add_test(tb, test_path_stem);
	tcase_add_test(tb, test_half_known);
	tcase_add_test(tb, test_bf16_known);
	tcase_add_test(tb, test_half_bf16_exhaustive);
	tcase_add_test(tb, test_elem_names);
	suite_add_tcase(s, tb);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(formats_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
