/* Unit tests for the container readers (.npz, .safetensors, sharded index) against fixtures of known formulas. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/format.h"
#include "tensor/tensor.h"
#include "util/qs_error.h"

#ifndef QS_FIXTURES
#error "QS_FIXTURES must name the fixtures directory"
#endif

/* The formulas of scripts/make_fixtures_more.py (tests/fixtures/more/README.md), at flat index j = i + k. */
static double wide(size_t j)
{
	volatile double p = (double)j * 0.37; /* two roundings, as numpy does them: no fused multiply-add */
	double x = p - 3.1;
	return j % 2 ? -x : x;
}

static double narrow(size_t j)
{
	return (double)((long)((37 * j + 11) % 251) - 125) / 8.0;
}

enum formula { W64, W32, NARROW };

static double expected(enum formula f, size_t j)
{
	switch (f) {
	case W64:
		return wide(j);
	case W32:
		return (double)(float)wide(j);
	case NARROW:
		return narrow(j);
	}
	return NAN;
}

struct want {
	const char *name;
	const char *dtype;
	enum formula formula;
	size_t k;
	int rank;
	size_t shape[QS_MAX_RANK];
};

static const struct want CONV1 = {"conv1", "f32", W32, 0, 3, {4, 3, 3}};
static const struct want BIAS = {"bias", "f64", W64, 100, 1, {7}};
static const struct want HALF = {"half", "f16", NARROW, 0, 2, {2, 5}};
static const struct want SCALAR = {"scalar", "f64", W64, 7, 0, {0}};
static const struct want FORT = {"fort", "f64", W64, 200, 2, {3, 4}};
static const struct want BRAIN = {"brain", "bf16", NARROW, 50, 2, {3, 4}};

static void fixture_path(char *buf, size_t len, const char *file)
{
	snprintf(buf, len, "%s/more/%s", QS_FIXTURES, file);
}

#define MAX_TENSORS 16

/* Reads every tensor of a file; returns the first failing status (tensors read before it are kept). */
static int load_all(const char *path, struct qs_tensor **ts, size_t *n, const char **format)
{
	struct qs_source *src = NULL;
	*n = 0;
	int status = qs_source_open(path, NULL, &src);
	if (status == QS_OK && format)
		*format = qs_source_format_name(src);
	while (status == QS_OK) {
		struct qs_tensor *t;
		status = qs_source_next(src, &t);
		if (status != QS_OK || !t)
			break;
		ck_assert_int_lt(*n, MAX_TENSORS);
		ts[(*n)++] = t;
	}
	if (status == QS_OK) { /* the end stays the end */
		struct qs_tensor *t = (struct qs_tensor *)1;
		ck_assert_int_eq(qs_source_next(src, &t), QS_OK);
		ck_assert_ptr_null(t);
	}
	qs_source_close(src);
	return status;
}

static void free_all(struct qs_tensor **ts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		qs_tensor_free(ts[i]);
}

static void check_tensor(const char *file, const struct qs_tensor *t, const struct want *w)
{
	ck_assert_msg(strcmp(t->name, w->name) == 0, "%s: tensor '%s', expected '%s'", file, t->name, w->name);
	ck_assert_msg(strcmp(t->dtype, w->dtype) == 0, "%s: %s: dtype %s, expected %s", file, w->name, t->dtype, w->dtype);
	ck_assert_int_eq(t->rank, w->rank);
	size_t n = 1;
	for (int d = 0; d < w->rank; d++) {
		ck_assert_uint_eq(t->shape[d], w->shape[d]);
		n *= w->shape[d];
	}
	ck_assert_uint_eq(t->n, n);
	for (size_t i = 0; i < n; i++) {
		double e = expected(w->formula, i + w->k);
		ck_assert_msg(memcmp(&t->data[i], &e, sizeof e) == 0, "%s: %s[%zu] = %.17g, expected %.17g", file, w->name,
		              i, t->data[i], e);
	}
}

/* ---- valid containers: names, order, dtypes, shapes, values ---- */

static const struct {
	const char *file;
	const char *format;
	size_t n;
	const struct want *tensors[8];
} valid_cases[] = {
	{"arrays.npz", "npz", 5, {&CONV1, &BIAS, &HALF, &SCALAR, &FORT}},
	{"arrays_z.npz", "npz", 5, {&CONV1, &BIAS, &HALF, &SCALAR, &FORT}},
	{"model.safetensors", "safetensors", 5, {&CONV1, &BIAS, &HALF, &SCALAR, &BRAIN}},
	{"sharded/model.safetensors.index.json", "safetensors", 4, {&CONV1, &HALF, &BIAS, &BRAIN}},
};
#define N_VALID ((int)(sizeof valid_cases / sizeof valid_cases[0]))

START_TEST(test_valid)
{
	char path[4096];
	fixture_path(path, sizeof path, valid_cases[_i].file);
	struct qs_tensor *ts[MAX_TENSORS];
	size_t n;
	const char *format = NULL;
	int status = load_all(path, ts, &n, &format);
	ck_assert_msg(status == QS_OK, "%s: %s", path, qs_error_message());
	ck_assert_str_eq(format, valid_cases[_i].format);
	ck_assert_msg(n == valid_cases[_i].n, "%s: %zu tensors, expected %zu", path, n, valid_cases[_i].n);
	for (size_t i = 0; i < n; i++)
		check_tensor(valid_cases[_i].file, ts[i], valid_cases[_i].tensors[i]);
	free_all(ts, n);
}
END_TEST

/* ---- the same arrays through the .npy reader and through a container: bit for bit ---- */

static const char *const container_files[] = {"arrays.npz", "arrays_z.npz", "model.safetensors",
                                              "sharded/model.safetensors.index.json"};

START_TEST(test_same_as_npy)
{
	char path[4096];
	fixture_path(path, sizeof path, container_files[_i]);
	struct qs_tensor *ts[MAX_TENSORS];
	size_t n, compared = 0;
	ck_assert_msg(load_all(path, ts, &n, NULL) == QS_OK, "%s", qs_error_message());
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ts[i]->dtype, "bf16") == 0)
			continue; /* numpy has no bfloat16 */
		char npy[4096], file[256];
		snprintf(file, sizeof file, "npy/%s.npy", ts[i]->name);
		fixture_path(npy, sizeof npy, file);
		struct qs_tensor *ref[MAX_TENSORS];
		size_t m;
		ck_assert_msg(load_all(npy, ref, &m, NULL) == QS_OK, "%s", qs_error_message());
		ck_assert_uint_eq(m, 1);
		ck_assert_str_eq(ts[i]->name, ref[0]->name);
		ck_assert_str_eq(ts[i]->dtype, ref[0]->dtype);
		ck_assert_int_eq(ts[i]->rank, ref[0]->rank);
		ck_assert_mem_eq(ts[i]->shape, ref[0]->shape, sizeof ts[i]->shape);
		ck_assert_uint_eq(ts[i]->n, ref[0]->n);
		ck_assert_msg(memcmp(ts[i]->data, ref[0]->data, ts[i]->n * sizeof(double)) == 0, "%s: %s differs from %s",
		              container_files[_i], ts[i]->name, npy);
		free_all(ref, m);
		compared++;
	}
	ck_assert_uint_ge(compared, 3);
	free_all(ts, n);
}
END_TEST

/* ---- malformed fixtures: status, the path quoted first, and what went wrong ---- */

static const struct {
	const char *file;
	int status;
	const char *quoted;         /* the path the message starts with, if not the file itself */
	const char *keyword;
} bad_cases[] = {
	{"bad/st_truncated.safetensors", QS_EFORMAT, NULL, "tensor 'brain': data offsets [268, 292) out of range"},
	{"bad/st_short.safetensors", QS_EFORMAT, NULL, "truncated header (the file has 5 bytes)"},
	{"bad/st_header_len.safetensors", QS_EFORMAT, NULL, "header length 1048576 runs past the end of the file"},
	{"bad/st_json.safetensors", QS_EFORMAT, NULL, "invalid JSON header"},
	{"bad/st_not_object.safetensors", QS_EFORMAT, NULL, "expected a JSON object"},
	{"bad/st_missing_key.safetensors", QS_EFORMAT, NULL, "tensor 'w': malformed header (missing key 'shape')"},
	{"bad/st_offsets.safetensors", QS_EFORMAT, NULL, "data offsets [8, 16) out of range (the data buffer holds 8"},
	{"bad/st_offsets_order.safetensors", QS_EFORMAT, NULL, "[8, 4) out of order (end before begin)"},
	{"bad/st_dtype_size.safetensors", QS_EFORMAT, NULL,
	 "wrong dtype size (6 values of F32 need 24 bytes, data_offsets span 20)"},
	{"bad/st_dtype.safetensors", QS_EFORMAT, NULL, "tensor 'w': unknown dtype 'Q4_K'"},
	{"bad/st_metadata.safetensors", QS_EFORMAT, NULL, "__metadata__ must map strings to strings"},
	{"bad/st_overlap.safetensors", QS_EFORMAT, NULL, "tensors 'a' and 'b' overlap (bytes 0-16 and 8-24)"},
	{"bad/st_alias.safetensors", QS_EFORMAT, NULL, "tensors 'a' and 'b' overlap (bytes 0-16 and 0-16)"},
	{"bad/st_hole.safetensors", QS_EFORMAT, NULL, "bytes 8-16 of the data belong to no tensor"},
	{"bad/st_trailing.safetensors", QS_EFORMAT, NULL, "13 bytes after the last tensor"},
	{"bad/index_no_weight_map.safetensors.index.json", QS_EFORMAT, NULL, "missing key 'weight_map'"},
	{"bad/index_missing_shard.safetensors.index.json", QS_EIO, "bad/model-00009-of-00009.safetensors",
	 "cannot open"},
	{"bad/index_missing_tensor.safetensors.index.json", QS_EFORMAT, NULL,
	 "tensor 'ghost' is not in its shard"},
	{"bad/npz_truncated.npz", QS_EFORMAT, NULL, "not a zip archive"},
	{"bad/npz_member.npz", QS_EFORMAT, NULL, "member 'w.npy': truncated data (expected 144 bytes, found 134)"},
	{"bad/npz_member_magic.npz", QS_EFORMAT, NULL, "member 'w.npy': bad magic"},
};
#define N_BAD ((int)(sizeof bad_cases / sizeof bad_cases[0]))

START_TEST(test_malformed)
{
	char path[4096], quoted[4200];
	fixture_path(path, sizeof path, bad_cases[_i].file);
	struct qs_tensor *ts[MAX_TENSORS];
	size_t n;
	int status = load_all(path, ts, &n, NULL);
	const char *msg = qs_error_message();
	ck_assert_msg(status == bad_cases[_i].status, "%s: status %d, expected %d (%s)", path, status,
	              bad_cases[_i].status, msg);
	if (bad_cases[_i].quoted) {
		char q[4096];
		fixture_path(q, sizeof q, bad_cases[_i].quoted);
		snprintf(quoted, sizeof quoted, "'%s': ", q);
	} else {
		snprintf(quoted, sizeof quoted, "'%s': ", path);
	}
	ck_assert_msg(strncmp(msg, quoted, strlen(quoted)) == 0, "%s: message '%s' does not start with %s", path, msg,
	              quoted);
	ck_assert_msg(strstr(msg, bad_cases[_i].keyword), "%s: message '%s' lacks '%s'", path, msg,
	              bad_cases[_i].keyword);
	free_all(ts, n);
}
END_TEST

/* ---- files written by the test: detection, layouts the fixtures do not cover ---- */

static char tmp_dir[64];

static void tmp_setup(void)
{
	snprintf(tmp_dir, sizeof tmp_dir, "/tmp/qs_fmt_more_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void tmp_teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void *read_fixture(const char *file, size_t *len)
{
	char path[4096];
	fixture_path(path, sizeof path, file);
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	ck_assert_int_gt(size, 0);
	rewind(f);
	void *buf = malloc((size_t)size);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len = (size_t)size;
	return buf;
}

/* A safetensors file from a header text and a data buffer. */
static void write_st(const char *path, const char *header, const void *data, size_t len)
{
	size_t hlen = strlen(header);
	unsigned char *buf = malloc(8 + hlen + len + 1);
	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
	memcpy(buf + 8, header, hlen);
	if (len)
		memcpy(buf + 8 + hlen, data, len);
	write_file(path, buf, 8 + hlen + len);
	free(buf);
}

START_TEST(test_detect_by_magic)
{
	/* The formats are recognised by content whatever the name says; and a .npy is not taken for safetensors. */
	static const struct {
		const char *fixture;
		const char *as;
		const char *format;
	} cases[] = {
		{"arrays_z.npz", "weights.bin", "npz"},
		{"model.safetensors", "model.f32", "safetensors"},
		{"model.safetensors", "model", "safetensors"},
		{"npy/conv1.npy", "conv1.safetensors", "npy"},
		{"npy/conv1.npy", "conv1.npz", "npy"},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		size_t len;
		void *data = read_fixture(cases[c].fixture, &len);
		char path[256];
		snprintf(path, sizeof path, "%s/%s", tmp_dir, cases[c].as);
		write_file(path, data, len);
		free(data);
		struct qs_tensor *ts[MAX_TENSORS];
		size_t n;
		const char *format = NULL;
		ck_assert_msg(load_all(path, ts, &n, &format) == QS_OK, "%s: %s", path, qs_error_message());
		ck_assert_msg(strcmp(format, cases[c].format) == 0, "%s read as %s", path, format);
		ck_assert_uint_ge(n, 1);
		check_tensor(path, ts[0], &CONV1);
		free_all(ts, n);
	}
}
END_TEST

START_TEST(test_suffix_known)
{
	/* Folders pick containers by suffix; an index is not picked (its shards beside it are). */
	ck_assert(qs_format_suffix_known("a/model.safetensors"));
	ck_assert(qs_format_suffix_known("w.npz"));
	ck_assert(!qs_format_suffix_known("model.safetensors.index.json"));
	ck_assert(!qs_format_suffix_known("model.npz.txt"));
	ck_assert(!qs_format_suffix_known("config.json"));
}
END_TEST

START_TEST(test_st_layouts)
{
	/* Tensors tiling the buffer in an order unlike the key order: skipped BOOL/F8 entries first, a zero-size tensor
	 * at the end, unaligned offsets, header padded with spaces; entries handed out by offset. */
	const float v[3] = {2.385f, -0.5f, 1e-3f};
	unsigned char data[2 + sizeof v + 2 * sizeof v[0]];
	data[0] = 0xAB;
	data[1] = 0x38;
	memcpy(data + 2, v, sizeof v); /* the host is little-endian (see tests/fixtures/README.md) */
	memcpy(data + 2 + sizeof v, v + 1, 2 * sizeof v[0]);
	char path[256];
	snprintf(path, sizeof path, "%s/layouts.safetensors", tmp_dir);
	write_st(path,
	         "{\"tail\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[14,22]},"
	         "\"flag\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[0,1]},"
	         "\"all\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[2,14]},"
	         "\"none\":{\"dtype\":\"F64\",\"shape\":[0,4],\"data_offsets\":[22,22]},"
	         "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[1,2]},"
	         "\"__metadata__\":{\"a\":\"b\"}}    ",
	         data, sizeof data);
	struct qs_tensor *ts[MAX_TENSORS];
	size_t n;
	ck_assert_msg(load_all(path, ts, &n, NULL) == QS_OK, "%s", qs_error_message());
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(ts[0]->name, "all");
	ck_assert_str_eq(ts[1]->name, "tail");
	ck_assert_str_eq(ts[2]->name, "none");
	for (int i = 0; i < 3; i++)
		ck_assert(ts[0]->data[i] == (double)v[i]);
	ck_assert_int_eq(ts[1]->rank, 2);
	ck_assert(ts[1]->data[0] == (double)v[1] && ts[1]->data[1] == (double)v[2]);
	ck_assert_uint_eq(ts[2]->n, 0);
	ck_assert_str_eq(ts[2]->dtype, "f64");
	free_all(ts, n);
}
END_TEST

/* Offsets against the tiling rule: the data buffer is 16 bytes (or none) of zeros. keyword NULL: the file loads,
 * with n_float float tensors. */
static const struct {
	const char *header;
	size_t data_len;
	size_t n_float;
	const char *keyword;
} st_tilings[] = {
	/* a skipped I32 between two floats still counts towards the tiling */
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	 "\"ids\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[4,12]},"
	 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}",
	 16, 2, NULL},
	/* ... and so does its absence: a hole */
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}",
	 16, 0, "bytes 4-12 of the data belong to no tensor"},
	/* a skipped tensor overlapping a float one */
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	 "\"ids\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[12,16]}}",
	 16, 0, "tensors 'a' and 'ids' overlap (bytes 0-16 and 12-16)"},
	/* no tensor and no data; a zero-size tensor at either end */
	{"{}", 0, 0, NULL},
	{"{\"__metadata__\":{\"format\":\"pt\"}}", 0, 0, NULL},
	{"{\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, 1, NULL},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	 "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
	 "\"y\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[16,16]}}",
	 16, 3, NULL},
	/* a zero-size tensor inside another one */
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	 "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}",
	 16, 0, "tensors 'a' and 'z' overlap (bytes 0-16 and 8-8)"},
	/* data, but no tensor; the first tensor not at byte 0; a tensor short of the end */
	{"{}", 16, 0, "bytes 0-16 of the data belong to no tensor"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, 0,
	 "bytes 0-8 of the data belong to no tensor"},
	{"{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 16, 0,
	 "8 bytes after the last tensor"},
};

START_TEST(test_st_tiling)
{
	static const unsigned char zeros[16];
	char path[256], quoted[300];
	snprintf(path, sizeof path, "%s/tiling%d.safetensors", tmp_dir, _i);
	write_st(path, st_tilings[_i].header, zeros, st_tilings[_i].data_len);
	struct qs_tensor *ts[MAX_TENSORS];
	size_t n;
	int status = load_all(path, ts, &n, NULL);
	const char *msg = qs_error_message();
	if (!st_tilings[_i].keyword) {
		ck_assert_msg(status == QS_OK, "%s: %s", st_tilings[_i].header, msg);
		ck_assert_uint_eq(n, st_tilings[_i].n_float);
	} else {
		ck_assert_msg(status == QS_EFORMAT, "%s: status %d (%s)", st_tilings[_i].header, status, msg);
		snprintf(quoted, sizeof quoted, "'%s': ", path);
		ck_assert_msg(strncmp(msg, quoted, strlen(quoted)) == 0 && strstr(msg, st_tilings[_i].keyword),
		              "message '%s', expected %s...%s", msg, quoted, st_tilings[_i].keyword);
		ck_assert_uint_eq(n, 0);
	}
	free_all(ts, n);
}
END_TEST

START_TEST(test_st_large_window)
{
	/* A tensor larger than one conversion window (4 MiB), at an offset that is not page aligned (after a skipped
	 * 6-byte U8 tensor). */
	size_t count = (5u << 20) / 2 + 3; /* F16 values: ~5 MiB */
	unsigned char *data = malloc(6 + count * 2);
	ck_assert_ptr_nonnull(data);
	memset(data, 0, 6);
	for (size_t i = 0; i < count; i++) {
		/* narrow(i) in f16: the values are exact; written through the test's own encoder */
		double x = narrow(i);
		unsigned short h = 0;
		if (x != 0.0) {
			int e;
			double m = frexp(fabs(x), &e); /* |x| = m·2^e, m in [0.5, 1) */
			h = (unsigned short)(((e + 14) << 10) | ((unsigned)(m * 2048.0) & 0x3ff));
			if (x < 0)
				h |= 0x8000;
		}
		data[6 + 2 * i] = (unsigned char)(h & 0xff);
		data[6 + 2 * i + 1] = (unsigned char)(h >> 8);
	}
	char header[256], path[256];
	snprintf(header, sizeof header,
	         "{\"pad\":{\"dtype\":\"U8\",\"shape\":[6],\"data_offsets\":[0,6]},"
	         "\"big\":{\"dtype\":\"F16\",\"shape\":[%zu],\"data_offsets\":[6,%zu]}}",
	         count, 6 + 2 * count);
	snprintf(path, sizeof path, "%s/big.safetensors", tmp_dir);
	write_st(path, header, data, 6 + count * 2);
	free(data);
	struct qs_tensor *ts[MAX_TENSORS];
	size_t n;
	ck_assert_msg(load_all(path, ts, &n, NULL) == QS_OK, "%s", qs_error_message());
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ts[0]->n, count);
	size_t bad = 0;
	while (bad < count && ts[0]->data[bad] == narrow(bad))
		bad++;
	ck_assert_msg(bad == count, "big[%zu] = %g, expected %g", bad, bad < count ? ts[0]->data[bad] : 0.0,
	              narrow(bad));
	free_all(ts, n);
}
END_TEST

START_TEST(test_st_header_absurd)
{
	/* A header length over the format's 100 MB limit is refused before any JSON is parsed (sparse file). */
	char path[256];
	snprintf(path, sizeof path, "%s/absurd.safetensors", tmp_dir);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	unsigned char len[8] = {0, 0, 0, 0x10, 0, 0, 0, 0}; /* 256 MiB */
	ck_assert_uint_eq(fwrite(len, 1, 8, f), 8);
	ck_assert_int_eq(fputc('{', f), '{');
	ck_assert_int_eq(ftruncate(fileno(f), (off_t)300 << 20), 0);
	fclose(f);
	struct qs_tensor *ts[MAX_TENSORS];
	size_t n;
	ck_assert_int_eq(load_all(path, ts, &n, NULL), QS_EFORMAT);
	ck_assert_msg(strstr(qs_error_message(), "is absurd"), "%s", qs_error_message());
	ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *formats_more_suite(void)
{
	Suite *s = suite_create("formats_more");
	TCase *tc = tcase_create("fixtures");
	tcase_add_loop_test(tc, test_valid, 0, N_VALID);
	tcase_add_loop_test(tc, test_same_as_npy, 0, (int)(sizeof container_files / sizeof container_files[0]));
	tcase_add_loop_test(tc, test_malformed, 0, N_BAD);
	tcase_add_test(tc, test_suffix_known);
	suite_add_tcase(s, tc);
	TCase *tw = tcase_create("written");
	tcase_add_unchecked_fixture(tw, tmp_setup, tmp_teardown); /* in the parent: cleans up after failures too */
	tcase_add_test(tw, test_detect_by_magic);
	tcase_add_test(tw, test_st_layouts);
	tcase_add_loop_test(tw, test_st_tiling, 0, (int)(sizeof st_tilings / sizeof st_tilings[0]));
	tcase_add_test(tw, test_st_large_window);
	tcase_add_test(tw, test_st_header_absurd);
	suite_add_tcase(s, tw);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(formats_more_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
