/* Export writers (AIMET/QNN encodings, TensorRT calibration cache, ONNX Runtime calibration table, qparams.json)
 * and the reader of the per-group qparams arrays they start from. Conventions: export.h. */
#include "export.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../formats/format.h"
#include "../quant/quantizer.h"
#include "../tensor/groups.h"
#include "../util/qs_error.h"
#include "../util/qs_names.h"
#include "npy_write.h"

#define QS_TRT_HEADER "TRT-8601-EntropyCalibration2" /* TensorRT 8.6.1 */
#define QS_AIMET_VERSION "0.6.1"

/* ---- the point's quantizer ---- */

void qs_export_qrange(const struct qs_rec_point *p, long *qmin, long *qmax)
{
	struct qs_quantizer q = {.bits = p->bits, .is_signed = p->is_signed != 0,
				 .narrow = strcmp(p->range, "narrow") == 0};
	qs_quant_range(&q, qmin, qmax);
}

static bool is_sym(const struct qs_rec_point *p)
{
	return strcmp(p->scheme, "sym") == 0;
}

bool qs_export_is_per_tensor(const struct qs_rec_point *p)
{
	return strcmp(p->granularity, "tensor") == 0;
}

/* The symmetric threshold a TensorRT-style range needs to hold group g (see export.h, trt). */
static double amax_of(const struct qs_export_tensor *t, size_t g)
{
	long qmin, qmax;
	qs_export_qrange(t->point, &qmin, &qmax);
	double s = t->scale[g];
	if (is_sym(t->point))
		return ((double)(1L << (t->point->bits - 1)) - 1.0) * s;
	long z = t->zero_point[g];
	return (double)(z - qmin > qmax - z ? z - qmin : qmax - z) * s;
}

/* ---- loading the chosen point's qparams ---- */

static int alloc_groups(struct qs_export_tensor *t, size_t n)
{
	t->ngroups = n;
	t->scale = malloc(n * sizeof *t->scale);
	t->zero_point = malloc(n * sizeof *t->zero_point);
	if (!t->scale || !t->zero_point) {
		qs_export_tensor_free(t);
		return qs_error_set(QS_ENOMEM, "out of memory exporting qparams");
	}
	return QS_OK;
}

int qs_export_tensor_from_point(const struct qs_rec_point *p, struct qs_export_tensor *t)
{
	memset(t, 0, sizeof *t);
	t->point = p;
	long qmin, qmax;
	qs_export_qrange(p, &qmin, &qmax);
	if (!(p->scale > 0.0) || !isfinite(p->scale) || !(p->zero_point >= qmin && p->zero_point <= qmax))
		return qs_error_set(QS_EFORMAT, "'%s': bad scale/zero_point in the sweep CSV (%g, %g)", p->tensor, p->scale,
				    p->zero_point);
	int rc = alloc_groups(t, 1);
	if (rc)
		return rc;
	t->scale[0] = p->scale;
	t->zero_point[0] = lround(p->zero_point);
	return QS_OK;
}

static uint64_t get_le64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* Parses the header dict of one of qscope's own arrays: descr, C order, 2-D shape. */
static int parse_header(const char *path, const char *h, const char *want_descr, size_t *rows, size_t *cols)
{
	const char *d = strstr(h, "'descr'"), *fo = strstr(h, "'fortran_order'"), *sh = strstr(h, "'shape'");
	if (!d || !fo || !sh)
		return qs_error_set(QS_EFORMAT, "'%s': malformed header (missing key)", path);
	d = strchr(d + 7, '\'');
	if (!d || strncmp(d + 1, want_descr, 3) != 0 || d[4] != '\'')
		return qs_error_set(QS_EFORMAT, "'%s': expected dtype '%s' as qscope writes it", path, want_descr);
	fo = strchr(fo + 15, ':');
	while (fo && (*fo == ':' || *fo == ' '))
		fo++;
	if (!fo || strncmp(fo, "False", 5) != 0)
		return qs_error_set(QS_EFORMAT, "'%s': expected C order", path);
	sh = strchr(sh, '(');
	unsigned long long r, c;
	int used = 0;
	if (sh && sscanf(sh, "(%llu,)%n", &c, &used) == 1 && used > 0) {
		r = 1; /* a 1-D array is one row (export's own per-group files) */
	} else if (!sh || sscanf(sh, "(%llu, %llu)%n", &r, &c, &used) != 2 || used == 0) {
		return qs_error_set(QS_EFORMAT, "'%s': expected a 2-D array [multipliers, groups]", path);
	}
	if (r > SIZE_MAX / 8 || c > SIZE_MAX / 8 || (c && r > SIZE_MAX / 8 / c))
		return qs_error_set(QS_EFORMAT, "'%s': shape too large", path);
	*rows = (size_t)r;
	*cols = (size_t)c;
	return QS_OK;
}

int qs_export_npy_row(const char *path, size_t row, size_t *cols, double **f64, long **i64)
{
	unsigned char pre[12];
	char *header = NULL;
	unsigned char *buf = NULL;
	size_t rows = 0, size, hlen, off;
	int rc = QS_OK;
	*cols = 0;
	if (f64)
		*f64 = NULL;
	else
		*i64 = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return qs_error_set(QS_EIO, "'%s': cannot open: %s", path, strerror(errno));
	if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
		rc = qs_error_set(QS_EFORMAT, "'%s': not a .npy file", path);
		goto out;
	}
	if (pre[6] == 1) {
		hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
		off = 10;
	} else if (pre[6] == 2 || pre[6] == 3) {
		if (fread(pre + 10, 1, 2, f) != 2) {
			rc = qs_error_set(QS_EFORMAT, "'%s': truncated header", path);
			goto out;
		}
		hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
		off = 12;
	} else {
		rc = qs_error_set(QS_EFORMAT, "'%s': unsupported .npy version %d", path, pre[6]);
		goto out;
	}
	if (hlen > 1u << 20 || !(header = malloc(hlen + 1))) {
		rc = qs_error_set(QS_EFORMAT, "'%s': malformed header (length %zu)", path, hlen);
		goto out;
	}
	if (fread(header, 1, hlen, f) != hlen) {
		rc = qs_error_set(QS_EFORMAT, "'%s': truncated header", path);
		goto out;
	}
	header[hlen] = '\0';
	off += hlen;
	if ((rc = parse_header(path, header, f64 ? "<f8" : "<i8", &rows, cols)) != QS_OK ||
	    (rc = qs_file_size(f, path, &size)) != QS_OK)
		goto out;
	if (size != off + rows * *cols * 8) {
		rc = qs_error_set(QS_EFORMAT, "'%s': truncated data (expected %zu bytes, found %zu)", path,
				  off + rows * *cols * 8, size);
		goto out;
	}
	if (row >= rows || *cols == 0) {
		rc = qs_error_set(QS_EFORMAT, "'%s': no row %zu (the array is %zu x %zu)", path, row, rows, *cols);
		goto out;
	}
	buf = malloc(*cols * 8);
	void *dst = f64 ? (void *)(*f64 = malloc(*cols * sizeof **f64)) : (void *)(*i64 = malloc(*cols * sizeof **i64));
	if (!buf || !dst) {
		rc = qs_error_set(QS_ENOMEM, "out of memory reading '%s'", path);
		goto out;
	}
	if (fseek(f, (long)(off + row * *cols * 8), SEEK_SET) != 0 || fread(buf, 8, *cols, f) != *cols) {
		rc = qs_error_set(QS_EIO, "'%s': read failed", path);
		goto out;
	}
	for (size_t i = 0; i < *cols; i++) {
		uint64_t v = get_le64(buf + 8 * i);
		if (f64)
			memcpy(&(*f64)[i], &v, sizeof v);
		else
			(*i64)[i] = (long)(int64_t)v;
	}
out:
	if (rc) {
		if (f64) {
			free(*f64);
			*f64 = NULL;
		} else {
			free(*i64);
			*i64 = NULL;
		}
	}
	free(buf);
	free(header);
	fclose(f);
	return rc;
}

int qs_export_tensor_load(const struct qs_rec_point *p, const char *stem, size_t row, struct qs_export_tensor *t)
{
	memset(t, 0, sizeof *t);
	t->point = p;
	size_t len = strlen(stem) + 32, ns, nz;
	char *path = malloc(len);
	if (!path)
		return qs_error_set(QS_ENOMEM, "out of memory exporting qparams");
	snprintf(path, len, "%s.scale.npy", stem);
	int rc = qs_export_npy_row(path, row, &ns, &t->scale, NULL);
	if (rc == QS_OK) {
		snprintf(path, len, "%s.zero_point.npy", stem);
		rc = qs_export_npy_row(path, row, &nz, NULL, &t->zero_point);
	}
	if (rc == QS_OK && ns != nz)
		rc = qs_error_set(QS_EFORMAT, "'%s': %zu zero-points for %zu scales", path, nz, ns);
	long qmin, qmax;
	qs_export_qrange(p, &qmin, &qmax);
	if (rc == QS_OK) {
		t->ngroups = ns;
		for (size_t g = 0; g < ns && rc == QS_OK; g++)
			if (!(t->scale[g] > 0.0) || !isfinite(t->scale[g]))
				rc = qs_error_set(QS_EFORMAT, "'%s.scale.npy': group %zu has scale %g", stem, g, t->scale[g]);
			else if (t->zero_point[g] < qmin || t->zero_point[g] > qmax)
				rc = qs_error_set(QS_EFORMAT, "'%s': group %zu has zero-point %ld outside %ld..%ld", path, g,
						  t->zero_point[g], qmin, qmax);
	}
	free(path);
	if (rc)
		qs_export_tensor_free(t);
	return rc;
}

void qs_export_tensor_free(struct qs_export_tensor *t)
{
	if (!t)
		return;
	free(t->scale);
	free(t->zero_point);
	t->scale = NULL;
	t->zero_point = NULL;
	t->ngroups = 0;
}

/* ---- shared output helpers ---- */

/* A JSON number, or null for inf/nan (JSON has neither). */
static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* Sets key (taking the reference); records failure in *ok. */
static void jset(json_t *obj, const char *key, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(obj, key, v) != 0)
		*ok = false;
}

static void jappend(json_t *arr, json_t *v, bool *ok)
{
	if (!v || json_array_append_new(arr, v) != 0)
		*ok = false;
}

static int write_json(struct qs_stage *st, const char *file, json_t *root, bool ok)
{
	if (!ok || !root) {
		json_decref(root);
		return qs_error_set(QS_ENOMEM, "out of memory building '%s'", file);
	}
	FILE *f;
	int rc = qs_stage_fopen(st, file, &f);
	if (rc == QS_OK) {
		if (json_dumpf(root, f, JSON_INDENT(2)) != 0 || fputc('\n', f) == EOF)
			rc = qs_error_set(QS_EIO, "'%s': write failed", file);
		int rc2 = qs_stage_fclose(st, f);
		if (rc == QS_OK)
			rc = rc2;
	}
	json_decref(root);
	return rc;
}

static int check_text_name(const char *file, const char *name)
{
	if (strpbrk(name, "\n\r"))
		return qs_error_set(QS_EINVAL, "'%s': a tensor name with a line break cannot be written to '%s'", name,
				    file);
	return QS_OK;
}

/* ---- aimet: AIMET/QNN encodings 0.6.1 ---- */

static int write_aimet(struct qs_stage *st, const char *file, const struct qs_export_tensor *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(t[i].point->granularity, "group", 5) == 0)
			return qs_error_set(QS_EINVAL,
					    "'%s': AIMET encodings %s have no block-wise form (granularity %s); choose "
					    "--granularity tensor or channel",
					    t[i].point->tensor, QS_AIMET_VERSION, t[i].point->granularity);
	bool ok = true;
	json_t *root = json_object(), *acts = json_object(), *params = json_object();
	jset(root, "version", json_string(QS_AIMET_VERSION), &ok);
	jset(root, "activation_encodings", acts, &ok);
	jset(root, "param_encodings", params, &ok);
	for (size_t i = 0; i < n && ok; i++) {
		const struct qs_rec_point *p = t[i].point;
		long qmin, qmax;
		qs_export_qrange(p, &qmin, &qmax);
		json_t *list = json_array();
		jset(p->activation ? acts : params, p->tensor, list, &ok);
		for (size_t g = 0; g < t[i].ngroups && ok; g++) {
			double s = t[i].scale[g];
			long z = t[i].zero_point[g];
			json_t *enc = json_object();
			jappend(list, enc, &ok);
			jset(enc, "bitwidth", json_integer(p->bits), &ok);
			jset(enc, "dtype", json_string("int"), &ok);
			jset(enc, "is_symmetric", json_string(is_sym(p) ? "True" : "False"), &ok);
			jset(enc, "max", json_real((double)(qmax - z) * s), &ok);
			jset(enc, "min", json_real((double)(qmin - z) * s), &ok);
			jset(enc, "offset", json_integer(qmin - z), &ok);
			jset(enc, "scale", json_real(s), &ok);
		}
	}
	return write_json(st, file, root, ok);
}

/* ---- trt: TensorRT calibration cache ---- */

static int write_trt(struct qs_stage *st, const char *file, const struct qs_export_tensor *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = check_text_name(file, t[i].point->tensor);
		if (rc)
			return rc;
	}
	FILE *f;
	int rc = qs_stage_fopen(st, file, &f);
	if (rc)
		return rc;
	fprintf(f, "%s\n", QS_TRT_HEADER);
	for (size_t i = 0; i < n; i++) {
		double amax = 0.0;
		for (size_t g = 0; g < t[i].ngroups; g++)
			amax = fmax(amax, amax_of(&t[i], g));
		float scale = (float)(amax / 127.0);
		uint32_t bits;
		memcpy(&bits, &scale, sizeof bits);
		fprintf(f, "%s: %08" PRIx32 "\n", t[i].point->tensor, bits);
	}
	return qs_stage_fclose(st, f);
}

/* ---- ort: ONNX Runtime calibration table (JSON) ---- */

/* numpy.array as ORT's encoder writes it: {"data": v, "dtype": "float32", "CLS": "numpy.array"}. */
static json_t *ort_array(const double *v, size_t n, bool scalar, bool *ok)
{
	json_t *a = json_object();
	if (scalar) {
		jset(a, "data", json_real((double)(float)v[0]), ok);
	} else {
		json_t *list = json_array();
		jset(a, "data", list, ok);
		for (size_t i = 0; i < n && *ok; i++)
			jappend(list, json_real((double)(float)v[i]), ok);
	}
	jset(a, "dtype", json_string("float32"), ok);
	jset(a, "CLS", json_string("numpy.array"), ok);
	return a;
}

static int write_ort(struct qs_stage *st, const char *file, const struct qs_export_tensor *t, size_t n)
{
	bool ok = true;
	json_t *root = json_object(), *data = json_object(), *method = json_object();
	jset(root, "CLS", json_string("TensorsData"), &ok);
	jset(root, "data", data, &ok);
	jset(method, "CLS", json_string("CalibrationMethod"), &ok);
	jset(method, "value", json_string("CalibrationMethod.MinMax"), &ok);
	jset(root, "calibration_method", method, &ok);
	for (size_t i = 0; i < n && ok; i++) {
		const struct qs_rec_point *p = t[i].point;
		size_t ng = t[i].ngroups;
		double *lo = malloc(ng * sizeof *lo), *hi = malloc(ng * sizeof *hi);
		if (!lo || !hi) {
			free(lo);
			free(hi);
			ok = false;
			break;
		}
		long qmin, qmax;
		qs_export_qrange(p, &qmin, &qmax);
		for (size_t g = 0; g < ng; g++) {
			double s = t[i].scale[g];
			long z = t[i].zero_point[g];
			if (is_sym(p)) {
				hi[g] = ((double)(1L << (p->bits - 1)) - 1.0) * s;
				lo[g] = -hi[g];
			} else {
				lo[g] = (double)(qmin - z) * s;
				hi[g] = (double)(qmax - z) * s;
			}
		}
		bool scalar = qs_export_is_per_tensor(p);
		json_t *td = json_object();
		jset(data, p->tensor, td, &ok);
		jset(td, "lowest", ort_array(lo, ng, scalar, &ok), &ok);
		jset(td, "highest", ort_array(hi, ng, scalar, &ok), &ok);
		jset(td, "CLS", json_string("TensorData"), &ok);
		free(lo);
		free(hi);
	}
	return write_json(st, file, root, ok);
}

/* ---- qparams: qscope's own JSON + per-group .npy ---- */

static int write_npy_file(struct qs_stage *st, const char *path, const double *d, const long *l, size_t n)
{
	FILE *f;
	int rc = qs_stage_fopen(st, path, &f);
	if (rc)
		return rc;
	rc = d ? qs_npy_write_f64(f, d, 1, &n) : qs_npy_write_i64(f, l, 1, &n);
	int rc2 = qs_stage_fclose(st, f);
	return rc ? rc : rc2;
}

/* Granularity's axis and group size as numbers (axis null when it is the default). */
static void put_granularity(json_t *o, const char *gran, bool *ok)
{
	struct qs_granularity g;
	if (qs_gran_parse(gran, &g) != QS_OK) {
		jset(o, "axis", json_null(), ok);
		jset(o, "group_size", json_null(), ok);
		return;
	}
	if (g.kind == QS_GRAN_TENSOR || g.axis == QS_AXIS_DEFAULT)
		jset(o, "axis", g.kind == QS_GRAN_CHANNEL ? json_integer(0)
				: g.kind == QS_GRAN_GROUP ? json_integer(-1) : json_null(), ok);
	else
		jset(o, "axis", json_integer(g.axis), ok);
	jset(o, "group_size", g.kind == QS_GRAN_GROUP ? json_integer((json_int_t)g.group_size) : json_null(), ok);
}

static int write_qparams(struct qs_stage *st, const char *file, const struct qs_export_tensor *t, size_t n)
{
	bool ok = true;
	int rc = QS_OK;
	char **stems = calloc(n ? n : 1, sizeof *stems);
	json_t *root = json_object(), *tensors = json_object();
	if (!stems)
		ok = false;
	jset(root, "format", json_string("qscope-qparams"), &ok);
	jset(root, "version", json_integer(1), &ok);
	jset(root, "tensors", tensors, &ok);
	for (size_t i = 0; i < n && ok && rc == QS_OK; i++) {
		const struct qs_rec_point *p = t[i].point;
		long qmin, qmax;
		qs_export_qrange(p, &qmin, &qmax);
		json_t *o = json_object();
		jset(tensors, p->tensor, o, &ok);
		jset(o, "shape", json_string(p->shape), &ok);
		jset(o, "n", json_integer((json_int_t)p->n), &ok);
		jset(o, "bits", json_integer(p->bits), &ok);
		jset(o, "signed", json_boolean(p->is_signed), &ok);
		jset(o, "range", json_string(p->range), &ok);
		jset(o, "scheme", json_string(p->scheme), &ok);
		jset(o, "granularity", json_string(p->granularity), &ok);
		put_granularity(o, p->granularity, &ok);
		jset(o, "ngroups", json_integer((json_int_t)t[i].ngroups), &ok);
		jset(o, "calib", json_string(p->calib), &ok);
		jset(o, "profile", json_string(p->profile), &ok);
		jset(o, "rounding", json_string(p->rounding), &ok);
		jset(o, "pow2", json_boolean(p->pow2), &ok);
		jset(o, "multiplier", jnum(p->multiplier), &ok);
		jset(o, "rel", jnum(p->rel), &ok);
		jset(o, "rel_clip", jnum(p->rel_clip), &ok);
		jset(o, "rel_round", jnum(p->rel_round), &ok);
		jset(o, "sqnr_db", jnum(p->sqnr_db), &ok);
		jset(o, "eff_bits", jnum(p->eff_bits), &ok);
		jset(o, "qmin", json_integer(qmin), &ok);
		jset(o, "qmax", json_integer(qmax), &ok);
		if (qs_export_is_per_tensor(p)) {
			jset(o, "scale", json_real(t[i].scale[0]), &ok);
			jset(o, "zero_point", json_integer(t[i].zero_point[0]), &ok);
			continue;
		}
		/* qparams/<stem>[-k].{scale,zero_point}.npy, unique after sanitising */
		size_t len = QS_NAME_STEM_MAX + 64;
		char *stem = malloc(len), *path = malloc(len + 32), base[QS_NAME_STEM_MAX + 1];
		if (!stem || !path) {
			free(stem);
			free(path);
			ok = false;
			break;
		}
		qs_name_stem(p->tensor, base);
		snprintf(stem, len, "qparams/%s", base);
		for (size_t k = 1;; k++) {
			bool taken = false;
			for (size_t j = 0; j < i; j++)
				taken |= stems[j] && strcmp(stems[j], stem) == 0;
			if (!taken)
				break;
			snprintf(stem, len, "qparams/%s-%zu", base, k);
		}
		stems[i] = stem;
		snprintf(path, len + 32, "%s.scale.npy", stem);
		jset(o, "scale", json_string(path), &ok);
		rc = write_npy_file(st, path, t[i].scale, NULL, t[i].ngroups);
		snprintf(path, len + 32, "%s.zero_point.npy", stem);
		jset(o, "zero_point", json_string(path), &ok);
		if (rc == QS_OK)
			rc = write_npy_file(st, path, NULL, t[i].zero_point, t[i].ngroups);
		free(path);
	}
	for (size_t i = 0; stems && i < n; i++)
		free(stems[i]);
	free(stems);
	if (rc) {
		json_decref(root);
		return rc;
	}
	return write_json(st, file, root, ok);
}

/* ---- the table ---- */

const struct qs_export_format qs_export_formats[] = {
	{"aimet", "aimet.encodings", write_aimet},
	{"trt", "trt_calibration.cache", write_trt},
	{"ort", "ort_calibration.json", write_ort},
	{"qparams", "qparams.json", write_qparams},
};
const size_t qs_export_n_formats = sizeof qs_export_formats / sizeof *qs_export_formats;

const struct qs_export_format *qs_export_find(const char *name)
{
	for (size_t i = 0; i < qs_export_n_formats; i++)
		if (strcmp(qs_export_formats[i].name, name) == 0)
			return &qs_export_formats[i];
	return NULL;
}
