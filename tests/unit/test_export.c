/* Export writers on hand-made points, parsed back: AIMET min/max/offset, TensorRT cache bits, ONNX Runtime ranges and
 * qparams.json + .npy, each compared with its closed-form translation of q = clamp(round(x/s) + z), x̂ = (q − z)·s. */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "output/export.h"
#include "output/npy_write.h"
#include "util/qs_error.h"

/* A hand-made point: the strings live in the struct's own buffers below. */
struct hand_point {
	struct qs_rec_point p;
	char tensor[64], shape[32], qparams[8];
};

static void make_point(struct hand_point *h, const char *name, int bits, int is_signed, const char *range,
		       const char *scheme, const char *gran)
{
	memset(h, 0, sizeof *h);
	snprintf(h->tensor, sizeof h->tensor, "%s", name);
	snprintf(h->shape, sizeof h->shape, "3x5");
	h->p.tensor = h->tensor;
	h->p.shape = h->shape;
	h->p.qparams = h->qparams;
	h->p.n = 15;
	h->p.bits = bits;
	h->p.is_signed = is_signed;
	snprintf(h->p.range, sizeof h->p.range, "%s", range);
	snprintf(h->p.scheme, sizeof h->p.scheme, "%s", scheme);
	snprintf(h->p.granularity, sizeof h->p.granularity, "%s", gran);
	snprintf(h->p.calib, sizeof h->p.calib, "minmax");
	snprintf(h->p.profile, sizeof h->p.profile, "default");
	snprintf(h->p.rounding, sizeof h->p.rounding, "even");
	h->p.multiplier = 0.93;
	h->p.rel = 0.0187;
	h->p.rel_clip = 0.0061;
	h->p.rel_round = sqrt(0.0187 * 0.0187 - 0.0061 * 0.0061);
	h->p.sqnr_db = -20.0 * log10(0.0187);
	h->p.eff_bits = bits + 32.0 / 15.0;
}

static void set_groups(struct qs_export_tensor *t, const struct hand_point *h, size_t n, const double *s,
		       const long *z)
{
	t->point = &h->p;
	t->ngroups = n;
	t->scale = malloc(n * sizeof *t->scale);
	t->zero_point = malloc(n * sizeof *t->zero_point);
	ck_assert_ptr_nonnull(t->scale);
	ck_assert_ptr_nonnull(t->zero_point);
	memcpy(t->scale, s, n * sizeof *s);
	memcpy(t->zero_point, z, n * sizeof *z);
}

/* The three points most tests use:
 * A: 8-bit signed full asymmetric per-tensor, s = 0.0123, z = −7   (qmin −128, qmax 127)
 * B: 4-bit signed full symmetric per-channel, 3 channels, z = 0     (qmin −8, qmax 7)
 * C: 8-bit unsigned narrow asymmetric per-tensor, s = 0.0045, z = 37 (qmin 1, qmax 255) */
static struct hand_point hp[3];
static struct qs_export_tensor tens[3];
static const double b_scale[3] = {0.0371, 0.112, 0.00583};
static const long b_zero[3] = {0, 0, 0};

static void setup_points(void)
{
	static const double a_s = 0.0123, c_s = 0.0045;
	static const long a_z = -7, c_z = 37;
	make_point(&hp[0], "conv1.weight", 8, 1, "full", "asym", "tensor");
	make_point(&hp[1], "fc.weight", 4, 1, "full", "sym", "channel");
	make_point(&hp[2], "fc.bias", 8, 0, "narrow", "asym", "tensor");
	set_groups(&tens[0], &hp[0], 1, &a_s, &a_z);
	set_groups(&tens[1], &hp[1], 3, b_scale, b_zero);
	set_groups(&tens[2], &hp[2], 1, &c_s, &c_z);
}

static void teardown_points(void)
{
	for (int i = 0; i < 3; i++)
		qs_export_tensor_free(&tens[i]);
}

/* Writes one format into a fresh folder TMP/exp; returns that folder (release with cleanup()). */
static char *export_to_dir(const char *format, const struct qs_export_tensor *t, size_t n, int *rc_out)
{
	char tmpl[] = "/tmp/qs-test-export-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	char *dir = malloc(strlen(tmpl) + 8);
	ck_assert_ptr_nonnull(dir);
	sprintf(dir, "%s/exp", tmpl);
	const struct qs_export_format *fmt = qs_export_find(format);
	ck_assert_ptr_nonnull(fmt);
	struct qs_stage *st;
	ck_assert_int_eq(qs_stage_open(dir, &st), QS_OK);
	int rc = fmt->write(st, fmt->file, t, n);
	if (rc == QS_OK)
		ck_assert_int_eq(qs_stage_commit(st), QS_OK);
	else
		qs_stage_abort(st);
	*rc_out = rc;
	return dir;
}

/* rm -r (the test's own temporary folders only). */
static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
				char sub[1024];
				snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
				rm_tree(sub);
			}
		closedir(d);
		ck_assert_int_eq(rmdir(path), 0);
	} else {
		ck_assert_int_eq(unlink(path), 0);
	}
}

/* Removes the mkdtemp folder holding `dir` (dir = TMP/exp, or TMP itself when exp = false) and frees dir. */
static void cleanup(char *dir, bool exp)
{
	if (exp)
		*strrchr(dir, '/') = '\0';
	/* never anything but a folder this test made */
	ck_assert_msg(strncmp(dir, "/tmp/qs-test-export-", 20) == 0 && strlen(dir) == 26, "refusing to remove '%s'", dir);
	rm_tree(dir);
	if (exp)
		free(dir);
}

static json_t *load_json(const char *dir, const char *file)
{
	char path[512];
	json_error_t err;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	json_t *root = json_load_file(path, 0, &err);
	ck_assert_msg(root != NULL, "%s: %s", path, err.text);
	return root;
}

static double jreal(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_number(v), "'%s' is not a number", key);
	return json_number_value(v);
}

static void assert_rel(double got, double want, double tol)
{
	ck_assert_msg(fabs(got - want) <= tol * fabs(want), "got %.17g, want %.17g", got, want);
}

/* ---- AIMET ---- */

/* One encoding against AIMET's grid x̂ = (u + offset)·scale, u = q − qmin: offset = qmin − z, min = (qmin − z)·s,
 * max = (qmax − z)·s, computed here from the values set above. */
static void check_aimet_enc(const json_t *enc, int bits, const char *sym, long qmin, long qmax, double s, long z)
{
	ck_assert_int_eq(json_integer_value(json_object_get(enc, "bitwidth")), bits);
	ck_assert_str_eq(json_string_value(json_object_get(enc, "dtype")), "int");
	ck_assert_str_eq(json_string_value(json_object_get(enc, "is_symmetric")), sym);
	ck_assert(json_is_integer(json_object_get(enc, "offset")));
	ck_assert_int_eq(json_integer_value(json_object_get(enc, "offset")), qmin - z);
	assert_rel(jreal(enc, "scale"), s, 0.0);
	assert_rel(jreal(enc, "min"), (double)(qmin - z) * s, 1e-15);
	assert_rel(jreal(enc, "max"), (double)(qmax - z) * s, 1e-15);
	/* AIMET's own reading (aimet_common compute_min_max_given_delta_offset): min = offset·scale, and for the
	 * full-range points max = (2^b − 1 + offset)·scale */
	double off = (double)json_integer_value(json_object_get(enc, "offset"));
	assert_rel(jreal(enc, "min"), off * jreal(enc, "scale"), 1e-15);
	if (qmax - qmin == (1L << bits) - 1)
		assert_rel(jreal(enc, "max"), (ldexp(1.0, bits) - 1.0 + off) * jreal(enc, "scale"), 1e-15);
}

START_TEST(test_aimet_values)
{
	int rc;
	char *dir = export_to_dir("aimet", tens, 3, &rc);
	ck_assert_int_eq(rc, QS_OK);
	json_t *root = load_json(dir, "aimet.encodings");
	ck_assert_str_eq(json_string_value(json_object_get(root, "version")), "0.6.1");
	ck_assert(json_is_object(json_object_get(root, "activation_encodings")));
	ck_assert_uint_eq(json_object_size(json_object_get(root, "activation_encodings")), 0);
	const json_t *params = json_object_get(root, "param_encodings");
	ck_assert_uint_eq(json_object_size(params), 3);

	const json_t *a = json_object_get(params, "conv1.weight");
	ck_assert_uint_eq(json_array_size(a), 1);
	check_aimet_enc(json_array_get(a, 0), 8, "False", -128, 127, 0.0123, -7);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a, 0), "offset")), -121);

	const json_t *b = json_object_get(params, "fc.weight");
	ck_assert_uint_eq(json_array_size(b), 3);
	for (size_t g = 0; g < 3; g++) {
		check_aimet_enc(json_array_get(b, g), 4, "True", -8, 7, b_scale[g], 0);
		/* signed symmetric: AIMET's offset −2^(b−1) */
		ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(b, g), "offset")), -8);
	}

	const json_t *c = json_object_get(params, "fc.bias");
	check_aimet_enc(json_array_get(c, 0), 8, "False", 1, 255, 0.0045, 37);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(c, 0), "offset")), -36);
	json_decref(root);
	cleanup(dir, true);
}
END_TEST

/* Signed symmetric offset = −2^(b−1) for every bit width, unsigned symmetric (z = 2^(b−1)) the same. */
START_TEST(test_aimet_sym_offset_bits)
{
	int bits = _i, rc;
	struct hand_point h[2];
	struct qs_export_tensor t[2];
	const double s = 0.0173;
	const long zs = 0, zu = 1L << (bits - 1);
	make_point(&h[0], "s", bits, 1, "full", "sym", "tensor");
	make_point(&h[1], "u", bits, 0, "full", "sym", "tensor");
	set_groups(&t[0], &h[0], 1, &s, &zs);
	set_groups(&t[1], &h[1], 1, &s, &zu);
	char *dir = export_to_dir("aimet", t, 2, &rc);
	ck_assert_int_eq(rc, QS_OK);
	json_t *root = load_json(dir, "aimet.encodings");
	const json_t *params = json_object_get(root, "param_encodings");
	for (int i = 0; i < 2; i++) {
		const json_t *enc = json_array_get(json_object_get(params, i ? "u" : "s"), 0);
		ck_assert_int_eq(json_integer_value(json_object_get(enc, "offset")), -(1L << (bits - 1)));
		assert_rel(jreal(enc, "min"), -ldexp(s, bits - 1), 1e-15);
		assert_rel(jreal(enc, "max"), (ldexp(1.0, bits - 1) - 1.0) * s, 1e-15);
	}
	json_decref(root);
	qs_export_tensor_free(&t[0]);
	qs_export_tensor_free(&t[1]);
	cleanup(dir, true);
}
END_TEST

START_TEST(test_aimet_refuses_groups)
{
	struct hand_point h;
	struct qs_export_tensor t;
	const double s[2] = {0.5, 0.25};
	const long z[2] = {0, 0};
	make_point(&h, "blk", 4, 1, "full", "sym", "group:32");
	set_groups(&t, &h, 2, s, z);
	int rc;
	char *dir = export_to_dir("aimet", &t, 1, &rc);
	ck_assert_int_eq(rc, QS_EINVAL);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "group:32"));
	char path[512];
	snprintf(path, sizeof path, "%s/aimet.encodings", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	qs_export_tensor_free(&t);
	cleanup(dir, true);
}
END_TEST

/* ---- TensorRT ---- */

/* Reads "name: hex" lines back: the hex is the float's bit pattern, most significant digit first. */
static float trt_value(const char *dir, const char *name)
{
	char path[512], line[256], want[128];
	snprintf(path, sizeof path, "%s/trt_calibration.cache", dir);
	snprintf(want, sizeof want, "%s: ", name);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	ck_assert_str_eq(line, "TRT-8601-EntropyCalibration2\n");
	float out = NAN;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		const char *hex = line + strlen(want);
		ck_assert_uint_eq(strspn(hex, "0123456789abcdef"), 8);
		ck_assert_str_eq(hex + 8, "\n");
		unsigned int bits;
		ck_assert_int_eq(sscanf(hex, "%8x", &bits), 1);
		uint32_t b32 = bits;
		memcpy(&out, &b32, sizeof out);
	}
	fclose(f);
	return out;
}

START_TEST(test_trt_values)
{
	int rc;
	char *dir = export_to_dir("trt", tens, 3, &rc);
	ck_assert_int_eq(rc, QS_OK);
	/* A asymmetric: amax = max(z − qmin, qmax − z)·s = max(121, 134)·0.0123 */
	ck_assert_float_eq(trt_value(dir, "conv1.weight"), (float)(134 * 0.0123 / 127.0));
	/* B per-channel 4-bit symmetric: max over channels of 7·s */
	ck_assert_float_eq(trt_value(dir, "fc.weight"), (float)(7 * 0.112 / 127.0));
	/* C unsigned narrow asymmetric: max(37 − 1, 255 − 37)·s */
	ck_assert_float_eq(trt_value(dir, "fc.bias"), (float)(218 * 0.0045 / 127.0));
	cleanup(dir, true);
}
END_TEST

/* An 8-bit symmetric signed point exports its own scale: TensorRT's dynamic range scale·127 is then 127·s. */
START_TEST(test_trt_int8_exact)
{
	struct hand_point h;
	struct qs_export_tensor t;
	const double s = 0.0087654321;
	const long z = 0;
	make_point(&h, "w", 8, 1, "full", "sym", "tensor");
	set_groups(&t, &h, 1, &s, &z);
	int rc;
	char *dir = export_to_dir("trt", &t, 1, &rc);
	ck_assert_int_eq(rc, QS_OK);
	float v = trt_value(dir, "w");
	ck_assert_float_eq_tol(v, (float)s, (float)s * 1.2e-7f);
	/* the bit pattern printed by hand: 0.0087654321f */
	ck_assert_float_eq(v, 0.0087654321f);
	qs_export_tensor_free(&t);
	cleanup(dir, true);
}
END_TEST

START_TEST(test_trt_refuses_newline_names)
{
	struct hand_point h;
	struct qs_export_tensor t;
	const double s = 0.5;
	const long z = 0;
	make_point(&h, "bad\nname", 8, 1, "full", "sym", "tensor");
	set_groups(&t, &h, 1, &s, &z);
	int rc;
	char *dir = export_to_dir("trt", &t, 1, &rc);
	ck_assert_int_eq(rc, QS_EINVAL);
	qs_export_tensor_free(&t);
	cleanup(dir, true);
}
END_TEST

/* ---- ONNX Runtime ---- */

static const json_t *ort_field(const json_t *td, const char *key)
{
	const json_t *a = json_object_get(td, key);
	ck_assert_str_eq(json_string_value(json_object_get(a, "CLS")), "numpy.array");
	ck_assert_str_eq(json_string_value(json_object_get(a, "dtype")), "float32");
	return json_object_get(a, "data");
}

/* ORT's compute_scale_zp from (lowest, highest): asymmetric s = (hi − lo)/(qmax − qmin), z = round(qmin − lo/s);
 * symmetric s = 2·max|.|/(qmax − qmin) over its restricted range ±(2^(b−1) − 1). */
static void check_ort_asym(double lo, double hi, long qmin, long qmax, double s, long z)
{
	assert_rel(lo, (double)(float)((double)(qmin - z) * s), 0.0);
	assert_rel(hi, (double)(float)((double)(qmax - z) * s), 0.0);
	double s_ort = (hi - lo) / (double)(qmax - qmin);
	assert_rel(s_ort, s, 1e-7);
	ck_assert_int_eq(lround(qmin - lo / s_ort), z);
}

START_TEST(test_ort_values)
{
	int rc;
	char *dir = export_to_dir("ort", tens, 3, &rc);
	ck_assert_int_eq(rc, QS_OK);
	json_t *root = load_json(dir, "ort_calibration.json");
	ck_assert_str_eq(json_string_value(json_object_get(root, "CLS")), "TensorsData");
	const json_t *m = json_object_get(root, "calibration_method");
	ck_assert_str_eq(json_string_value(json_object_get(m, "CLS")), "CalibrationMethod");
	ck_assert_str_eq(json_string_value(json_object_get(m, "value")), "CalibrationMethod.MinMax");
	const json_t *data = json_object_get(root, "data");
	ck_assert_uint_eq(json_object_size(data), 3);

	const json_t *a = json_object_get(data, "conv1.weight");
	ck_assert_str_eq(json_string_value(json_object_get(a, "CLS")), "TensorData");
	check_ort_asym(json_number_value(ort_field(a, "lowest")), json_number_value(ort_field(a, "highest")), -128, 127,
		       0.0123, -7);

	const json_t *b = json_object_get(data, "fc.weight");
	const json_t *lo = ort_field(b, "lowest"), *hi = ort_field(b, "highest");
	ck_assert_uint_eq(json_array_size(lo), 3);
	ck_assert_uint_eq(json_array_size(hi), 3);
	for (size_t g = 0; g < 3; g++) {
		double l = json_number_value(json_array_get(lo, g)), h = json_number_value(json_array_get(hi, g));
		ck_assert(l == (double)(float)(-7 * b_scale[g]));
		ck_assert(h == (double)(float)(7 * b_scale[g]));
		/* ORT symmetric 4-bit range [−7, 7]: s = 2·h/14 */
		assert_rel(2 * h / 14.0, b_scale[g], 1e-7);
	}

	const json_t *c = json_object_get(data, "fc.bias");
	check_ort_asym(json_number_value(ort_field(c, "lowest")), json_number_value(ort_field(c, "highest")), 1, 255,
		       0.0045, 37);
	json_decref(root);
	cleanup(dir, true);
}
END_TEST

/* ---- qparams.json ---- */

START_TEST(test_qparams_values)
{
	int rc;
	char *dir = export_to_dir("qparams", tens, 3, &rc);
	ck_assert_int_eq(rc, QS_OK);
	json_t *root = load_json(dir, "qparams.json");
	ck_assert_str_eq(json_string_value(json_object_get(root, "format")), "qscope-qparams");
	const json_t *ts = json_object_get(root, "tensors");
	const json_t *a = json_object_get(ts, "conv1.weight");
	ck_assert_int_eq(json_integer_value(json_object_get(a, "bits")), 8);
	ck_assert(json_is_true(json_object_get(a, "signed")));
	ck_assert_str_eq(json_string_value(json_object_get(a, "scheme")), "asym");
	ck_assert_int_eq(json_integer_value(json_object_get(a, "qmin")), -128);
	ck_assert_int_eq(json_integer_value(json_object_get(a, "qmax")), 127);
	assert_rel(jreal(a, "scale"), 0.0123, 0.0);
	ck_assert_int_eq(json_integer_value(json_object_get(a, "zero_point")), -7);
	assert_rel(jreal(a, "multiplier"), 0.93, 0.0);
	assert_rel(jreal(a, "rel"), 0.0187, 0.0);

	const json_t *b = json_object_get(ts, "fc.weight");
	ck_assert_str_eq(json_string_value(json_object_get(b, "granularity")), "channel");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "axis")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "ngroups")), 3);
	const char *sf = json_string_value(json_object_get(b, "scale"));
	const char *zf = json_string_value(json_object_get(b, "zero_point"));
	ck_assert_str_eq(sf, "qparams/fc.weight.scale.npy");
	ck_assert_str_eq(zf, "qparams/fc.weight.zero_point.npy");
	char path[512];
	size_t n;
	double *s = NULL;
	long *z = NULL;
	snprintf(path, sizeof path, "%s/%s", dir, sf);
	ck_assert_int_eq(qs_export_npy_row(path, 0, &n, &s, NULL), QS_OK);
	ck_assert_uint_eq(n, 3);
	for (size_t g = 0; g < 3; g++)
		ck_assert(s[g] == b_scale[g]);
	snprintf(path, sizeof path, "%s/%s", dir, zf);
	ck_assert_int_eq(qs_export_npy_row(path, 0, &n, NULL, &z), QS_OK);
	ck_assert_uint_eq(n, 3);
	for (size_t g = 0; g < 3; g++)
		ck_assert_int_eq(z[g], 0);
	free(s);
	free(z);
	json_decref(root);
	cleanup(dir, true);
}
END_TEST

/* Names that sanitise to the same file get distinct files; sqnr inf becomes null. */
START_TEST(test_qparams_name_clash)
{
	struct hand_point h[2];
	struct qs_export_tensor t[2];
	const double s[2] = {0.25, 0.5};
	const long z[2] = {3, -3};
	make_point(&h[0], "a/b", 8, 1, "full", "asym", "channel:1");
	make_point(&h[1], "a_b", 8, 1, "full", "asym", "group:16");
	h[0].p.sqnr_db = INFINITY;
	set_groups(&t[0], &h[0], 2, s, z);
	set_groups(&t[1], &h[1], 2, s, z);
	int rc;
	char *dir = export_to_dir("qparams", t, 2, &rc);
	ck_assert_int_eq(rc, QS_OK);
	json_t *root = load_json(dir, "qparams.json");
	const json_t *ts = json_object_get(root, "tensors");
	const json_t *x = json_object_get(ts, "a/b"), *y = json_object_get(ts, "a_b");
	ck_assert_str_eq(json_string_value(json_object_get(x, "scale")), "qparams/a_b.scale.npy");
	ck_assert_str_eq(json_string_value(json_object_get(y, "scale")), "qparams/a_b-1.scale.npy");
	ck_assert(json_is_null(json_object_get(x, "sqnr_db")));
	ck_assert_int_eq(json_integer_value(json_object_get(x, "axis")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(y, "axis")), -1);
	ck_assert_int_eq(json_integer_value(json_object_get(y, "group_size")), 16);
	json_decref(root);
	qs_export_tensor_free(&t[0]);
	qs_export_tensor_free(&t[1]);
	cleanup(dir, true);
}
END_TEST

/* ---- reading the sweep's qparams arrays ---- */

static void write_arrays(const char *stem, size_t rows, size_t cols, bool cut)
{
	char path[512];
	double *d = malloc(rows * cols * sizeof *d);
	long *l = malloc(rows * cols * sizeof *l);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(l);
	for (size_t i = 0; i < rows * cols; i++) {
		d[i] = 0.001 * (double)(i + 1) + 0.0000237;
		l[i] = (long)i - 5;
	}
	size_t shape[2] = {rows, cols};
	snprintf(path, sizeof path, "%s.scale.npy", stem);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(qs_npy_write_f64(f, d, 2, shape), QS_OK);
	fclose(f);
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	if (cut)
		ck_assert_int_eq(truncate(path, sb.st_size - 3), 0);
	snprintf(path, sizeof path, "%s.zero_point.npy", stem);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(qs_npy_write_i64(f, l, 2, shape), QS_OK);
	fclose(f);
	free(d);
	free(l);
}

START_TEST(test_load_row)
{
	char tmpl[] = "/tmp/qs-test-export-XXXXXX", stem[256];
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(stem, sizeof stem, "%s/cfg", tmpl);
	write_arrays(stem, 4, 5, false);
	struct hand_point h;
	make_point(&h, "w", 8, 1, "full", "asym", "channel");
	struct qs_export_tensor t;
	ck_assert_int_eq(qs_export_tensor_load(&h.p, stem, 2, &t), QS_OK);
	ck_assert_uint_eq(t.ngroups, 5);
	for (size_t g = 0; g < 5; g++) {
		ck_assert(t.scale[g] == 0.001 * (double)(2 * 5 + g + 1) + 0.0000237);
		ck_assert_int_eq(t.zero_point[g], (long)(2 * 5 + g) - 5);
	}
	qs_export_tensor_free(&t);
	/* row 0's zero-points are -5..-1 (write_arrays): outside a 4-bit unsigned range, so refused, naming the file */
	make_point(&h, "w", 4, 0, "full", "asym", "channel");
	ck_assert_int_eq(qs_export_tensor_load(&h.p, stem, 0, &t), QS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "cfg.zero_point.npy': group 0 has zero-point -5 outside 0..15"));
	make_point(&h, "w", 8, 1, "full", "asym", "channel");
	/* no row 4; an int64 file is not a float64 one */
	ck_assert_int_eq(qs_export_tensor_load(&h.p, stem, 4, &t), QS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "no row 4"));
	char path[512];
	size_t n;
	double *d = NULL;
	snprintf(path, sizeof path, "%s.zero_point.npy", stem);
	ck_assert_int_eq(qs_export_npy_row(path, 0, &n, &d, NULL), QS_EFORMAT);
	ck_assert_ptr_null(d);
	/* missing and truncated files */
	snprintf(stem, sizeof stem, "%s/none", tmpl);
	ck_assert_int_eq(qs_export_tensor_load(&h.p, stem, 0, &t), QS_EIO);
	snprintf(stem, sizeof stem, "%s/short", tmpl);
	write_arrays(stem, 2, 3, true);
	ck_assert_int_eq(qs_export_tensor_load(&h.p, stem, 0, &t), QS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "truncated"));
	cleanup(tmpl, false);
}
END_TEST

START_TEST(test_find_and_qrange)
{
	ck_assert_ptr_nonnull(qs_export_find("aimet"));
	ck_assert_ptr_nonnull(qs_export_find("trt"));
	ck_assert_ptr_nonnull(qs_export_find("ort"));
	ck_assert_ptr_nonnull(qs_export_find("qparams"));
	ck_assert_ptr_null(qs_export_find("tflite"));
	struct hand_point h;
	long qmin, qmax;
	make_point(&h, "w", 8, 1, "narrow", "sym", "tensor");
	qs_export_qrange(&h.p, &qmin, &qmax);
	ck_assert_int_eq(qmin, -127);
	ck_assert_int_eq(qmax, 127);
	make_point(&h, "w", 4, 0, "full", "asym", "tensor");
	qs_export_qrange(&h.p, &qmin, &qmax);
	ck_assert_int_eq(qmin, 0);
	ck_assert_int_eq(qmax, 15);
	struct qs_export_tensor t;
	h.p.scale = 0.0123;
	h.p.zero_point = 7;
	ck_assert_int_eq(qs_export_tensor_from_point(&h.p, &t), QS_OK);
	ck_assert_uint_eq(t.ngroups, 1);
	ck_assert(t.scale[0] == 0.0123);
	ck_assert_int_eq(t.zero_point[0], 7);
	qs_export_tensor_free(&t);
	/* a zero-point outside the 4-bit unsigned range 0..15, or a scale that is no scale, is refused */
	static const double bad[][2] = {{0.0123, -7}, {0.0123, 16}, {0.0123, NAN}, {0.0, 7}, {INFINITY, 7}, {NAN, 7}};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		h.p.scale = bad[i][0];
		h.p.zero_point = bad[i][1];
		ck_assert_int_eq(qs_export_tensor_from_point(&h.p, &t), QS_EFORMAT);
		ck_assert_ptr_nonnull(strstr(qs_error_message(), "'w'"));
	}
	qs_export_tensor_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("export");
	TCase *tc = tcase_create("writers");
	tcase_add_checked_fixture(tc, setup_points, teardown_points);
	tcase_add_test(tc, test_aimet_values);
	tcase_add_loop_test(tc, test_aimet_sym_offset_bits, 2, 17);
	tcase_add_test(tc, test_aimet_refuses_groups);
	tcase_add_test(tc, test_trt_values);
	tcase_add_test(tc, test_trt_int8_exact);
	tcase_add_test(tc, test_trt_refuses_newline_names);
	tcase_add_test(tc, test_ort_values);
	tcase_add_test(tc, test_qparams_values);
	tcase_add_test(tc, test_qparams_name_clash);
	suite_add_tcase(s, tc);
	TCase *tr = tcase_create("reader");
	tcase_add_test(tr, test_load_row);
	tcase_add_test(tr, test_find_and_qrange);
	suite_add_tcase(s, tr);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
