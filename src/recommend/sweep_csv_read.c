/* Reads sweep.csv back into recommendation points, so `qscope recommend` needs no re-sweep. */
#include "recommend.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/csv_split.h"
#include "../util/qs_error.h"

enum col {
	C_TENSOR, C_SHAPE, C_N, C_BITS, C_SIGNED, C_RANGE, C_SCHEME, C_GRAN, C_CALIB, C_MULT, C_SCALE, C_ZP, C_REL,
	C_REL_CLIP, C_REL_ROUND, C_SQNR, C_EFF_BITS, C_PROFILE, C_ROUNDING, C_POW2, C_WORST, C_QPARAMS, C_QPARAMS_ROW, C_MODE, C_EVAL_REL, C_CALIB_BATCHES, N_COLS
};

static const char *const col_names[N_COLS] = {
	"tensor", "shape", "n", "bits", "signed", "range", "scheme", "granularity", "calib", "multiplier", "scale",
	"zero_point", "rel", "rel_clip", "rel_round", "sqnr_db", "eff_bits", "profile", "rounding", "pow2",
	"worst_group_rel", "qparams", "qparams_row", "mode", "eval_rel", "calib_batches",
};
#define FIRST_OPTIONAL C_POW2

static int to_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return (end == s || *end) ? -1 : 0;
}

static void copy_field(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

/* A numeric column and the values a sweep can have written in it. */
struct numeric_col {
	enum col col;
	double lo, hi;
	bool whole;  /* an integer */
	bool nan_ok; /* NaN allowed: scale and zero-point of a run-time (dynamic) setting, which has none */
};

static const struct numeric_col numeric[] = {
	{C_N, 0.0, 0x1p53, true, false},
	{C_BITS, 2.0, 16.0, true, false},
	{C_SIGNED, 0.0, 1.0, true, false},
	{C_POW2, 0.0, 1.0, true, false},
	{C_MULT, 0.0, DBL_MAX, false, false},
	{C_SCALE, 0.0, DBL_MAX, false, true},
	{C_ZP, -65536.0, 65536.0, false, true}, /* the median of the groups' zero-points, 16 bits at most */
	{C_REL, 0.0, DBL_MAX, false, false},
	{C_REL_CLIP, 0.0, DBL_MAX, false, false},
	{C_REL_ROUND, 0.0, DBL_MAX, false, false},
	{C_SQNR, -INFINITY, INFINITY, false, false}, /* +inf: no error; -inf: no signal */
	{C_EFF_BITS, 0.0, DBL_MAX, false, false},
	{C_WORST, 0.0, DBL_MAX, false, false},
	{C_QPARAMS_ROW, 0.0, 0x1p53, true, false},
};

/* Whether v can stand in column c. */
static bool in_range(const struct numeric_col *c, double v)
{
	if (isnan(v))
		return c->nan_ok;
	return v >= c->lo && v <= c->hi && (!c->whole || v == floor(v));
}

/* Parses one data row into pt. Returns 0, or 1 + the column whose field is not a number or out of its range (a
 * sweep never writes such a value: the row was edited or damaged). */
static int parse_point(char **f, const int *idx, struct qs_rec_point *pt)
{
	double v[N_COLS];
	for (size_t i = 0; i < sizeof numeric / sizeof *numeric; i++) {
		enum col c = numeric[i].col;
		v[c] = 0.0;
		if (idx[c] >= 0 && (to_double(f[idx[c]], &v[c]) != 0 || !in_range(&numeric[i], v[c])))
			return (int)c + 1;
	}
	memset(pt, 0, sizeof *pt);
	pt->n = (size_t)v[C_N];
	pt->bits = (int)v[C_BITS];
	pt->is_signed = (int)v[C_SIGNED];
	pt->pow2 = (int)v[C_POW2];
	pt->multiplier = v[C_MULT];
	pt->scale = v[C_SCALE];
	pt->zero_point = v[C_ZP];
	pt->rel = v[C_REL];
	pt->rel_clip = v[C_REL_CLIP];
	pt->rel_round = v[C_REL_ROUND];
	pt->sqnr_db = v[C_SQNR];
	pt->eff_bits = v[C_EFF_BITS];
	pt->worst_group_rel = v[C_WORST];
	pt->qparams_row = (size_t)v[C_QPARAMS_ROW];
	copy_field(pt->range, sizeof pt->range, f[idx[C_RANGE]]);
	copy_field(pt->scheme, sizeof pt->scheme, f[idx[C_SCHEME]]);
	copy_field(pt->granularity, sizeof pt->granularity, f[idx[C_GRAN]]);
	pt->eval_rel = NAN;
	pt->activation = (idx[C_CALIB_BATCHES] >= 0 && f[idx[C_CALIB_BATCHES]][0]) ||
			 (idx[C_MODE] >= 0 && strcmp(f[idx[C_MODE]], "dynamic") == 0);
	if (idx[C_EVAL_REL] >= 0 && f[idx[C_EVAL_REL]][0] &&
	    (to_double(f[idx[C_EVAL_REL]], &pt->eval_rel) != 0 || !(pt->eval_rel >= 0.0)))
		return C_EVAL_REL + 1;
	qs_rec_set_mode(pt, idx[C_MODE] >= 0 && f[idx[C_MODE]][0] ? f[idx[C_MODE]] : "static", f[idx[C_CALIB]]);
	copy_field(pt->profile, sizeof pt->profile, f[idx[C_PROFILE]]);
	copy_field(pt->rounding, sizeof pt->rounding, f[idx[C_ROUNDING]]);
	pt->tensor = strdup(f[idx[C_TENSOR]]);
	pt->shape = strdup(f[idx[C_SHAPE]]);
	pt->qparams = strdup(idx[C_QPARAMS] >= 0 ? f[idx[C_QPARAMS]] : "");
	return 0;
}

int qs_sweep_csv_read(const char *path, struct qs_rec_points *pts)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return qs_error_set(QS_EIO, "'%s': cannot open: %s", path, strerror(errno));
	char *line = NULL, *fields[256];
	size_t cap = 0, lineno = 0;
	int idx[N_COLS], rc = QS_OK;
	size_t n_header = 0;
	while (rc == QS_OK && getline(&line, &cap, f) != -1) {
		lineno++;
		if (line[0] == '\n' || line[0] == '\0')
			continue;
		size_t nf = qs_csv_split(line, fields, 256);
		if (lineno == 1) {
			n_header = nf;
			for (int c = 0; c < N_COLS; c++) {
				idx[c] = -1;
				for (size_t j = 0; j < nf; j++)
					if (strcmp(fields[j], col_names[c]) == 0)
						idx[c] = (int)j;
				if (idx[c] < 0 && c < FIRST_OPTIONAL)
					rc = qs_error_set(QS_EFORMAT, "'%s': not a qscope sweep CSV (no '%s' column)", path,
							  col_names[c]);
			}
			continue;
		}
		if (nf != n_header) {
			rc = qs_error_set(QS_EFORMAT, "'%s': line %zu has %zu fields, the header %zu", path, lineno, nf,
					  n_header);
			break;
		}
		struct qs_rec_point pt;
		int bad = parse_point(fields, idx, &pt);
		if (bad) {
			rc = qs_error_set(QS_EFORMAT, "'%s': line %zu: bad value '%s' in column '%s'", path, lineno,
					  fields[idx[bad - 1]], col_names[bad - 1]);
		} else if (!pt.tensor || !pt.shape || !pt.qparams) {
			free(pt.tensor);
			free(pt.shape);
			free(pt.qparams);
			rc = qs_error_set(QS_ENOMEM, "out of memory reading '%s'", path);
		} else if ((rc = qs_rec_points_push(pts, &pt)) != QS_OK) {
			free(pt.tensor);
			free(pt.shape);
			free(pt.qparams);
		}
	}
	if (rc == QS_OK && ferror(f))
		rc = qs_error_set(QS_EIO, "'%s': read error", path);
	if (rc == QS_OK && lineno == 0)
		rc = qs_error_set(QS_EFORMAT, "'%s': empty file", path);
	if (rc == QS_OK && pts->n == 0)
		rc = qs_error_set(QS_EFORMAT, "'%s': no sweep rows", path);
	free(line);
	fclose(f);
	return rc;
}
