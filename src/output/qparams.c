/* Per-group qparams of a sweep, gathered over multipliers and written as .npy files. */
#include "qparams.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"
#include "../util/qs_names.h"
#include "npy_write.h"

void qs_qparams_ref(const struct qs_sweep_row *r, char *buf, size_t len)
{
	char name[QS_NAME_STEM_MAX + 1], gran[64], calib[64];
	const struct qs_quantizer *q = r->quant;
	qs_name_stem(r->tensor->name, name);
	qs_gran_format(r->gran, gran, sizeof gran);
	snprintf(calib, sizeof calib, "%s", r->calib->label);
	qs_name_file_safe(gran);
	qs_name_file_safe(calib);
	snprintf(buf, len, "qparams/%s/%s-b%d-%s-%s-%s%s-%s-%s-%s", name, gran, q->bits,
		 q->is_signed ? "signed" : "unsigned", q->narrow ? "narrow" : "full", q->asym ? "asym" : "sym",
		 q->pow2 ? "-pow2" : "", calib, qs_profile_name(q->profile), qs_rounding_name(q->rounding));
}

static int write_file(struct qs_stage *st, const char *path, const double *d, const long *l, const size_t *shape)
{
	FILE *f;
	int rc = qs_stage_fopen(st, path, &f);
	if (rc)
		return rc;
	rc = d ? qs_npy_write_f64(f, d, 2, shape) : qs_npy_write_i64(f, l, 2, shape);
	int rc2 = qs_stage_fclose(st, f);
	return rc ? rc : rc2;
}

int qs_qparams_saver_add(struct qs_qparams_saver *s, const struct qs_sweep_row *r)
{
	size_t need = s->n_multipliers * r->n_groups;
	if (need > s->cap) {
		double *sc = realloc(s->scale, need * sizeof *sc);
		if (sc)
			s->scale = sc;
		long *zp = realloc(s->zero_point, need * sizeof *zp);
		if (zp)
			s->zero_point = zp;
		if (!sc || !zp)
			return qs_error_set(QS_ENOMEM, "out of memory saving qparams");
		s->cap = need;
	}
	size_t row = r->multiplier_index * r->n_groups;
	memcpy(s->scale + row, r->group_scale, r->n_groups * sizeof *s->scale);
	memcpy(s->zero_point + row, r->group_zero_point, r->n_groups * sizeof *s->zero_point);
	if (r->multiplier_index + 1 < s->n_multipliers)
		return QS_OK;
	char ref[512], path[600];
	size_t shape[2] = {s->n_multipliers, r->n_groups};
	qs_qparams_ref(r, ref, sizeof ref);
	snprintf(path, sizeof path, "%s.scale.npy", ref);
	int rc = write_file(s->stage, path, s->scale, NULL, shape);
	if (rc)
		return rc;
	snprintf(path, sizeof path, "%s.zero_point.npy", ref);
	return write_file(s->stage, path, NULL, s->zero_point, shape);
}

void qs_qparams_saver_free(struct qs_qparams_saver *s)
{
	free(s->scale);
	free(s->zero_point);
	s->scale = NULL;
	s->zero_point = NULL;
	s->cap = 0;
}
