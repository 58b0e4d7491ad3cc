/* The data of the histogram and per-channel charts: measured from a tensor's values, staged as CSV, read back. */
#include "chart_data.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "../util/csv_split.h"
#include "../util/qs_alloc.h"
#include "../util/qs_error.h"
#include "csv.h"

/* ---- measuring ------------------------------------------------------------------------------------------------ */

/* Same quantizer (every axis but granularity, calibrator and multiplier). */
static bool same_quant(const struct qs_rec_point *a, const struct qs_rec_point *b)
{
	return a->bits == b->bits && a->is_signed == b->is_signed && a->pow2 == b->pow2 &&
	       strcmp(a->scheme, b->scheme) == 0 && strcmp(a->range, b->range) == 0 &&
	       strcmp(a->profile, b->profile) == 0 && strcmp(a->rounding, b->rounding) == 0;
}

static int point_quantizer(const struct qs_rec_point *p, struct qs_quantizer *q)
{
	*q = (struct qs_quantizer){.bits = p->bits, .is_signed = p->is_signed, .pow2 = p->pow2,
				   .narrow = strcmp(p->range, "narrow") == 0, .asym = strcmp(p->scheme, "asym") == 0};
	int rc = qs_rounding_parse(p->rounding, &q->rounding);
	return rc ? rc : qs_profile_parse(p->profile, &q->profile);
}

static const struct qs_calib *find_calib(const struct qs_sweep_spec *spec, const char *label)
{
	for (size_t i = 0; i < spec->n_calibs; i++)
		if (strcmp(spec->calibs[i].label, label) == 0)
			return &spec->calibs[i];
	return NULL;
}

/* The axis a channel granularity selects in t (as qs_groups_build resolves it), or -1. */
static int resolve_axis(const struct qs_tensor *t, const struct qs_granularity *g)
{
	int axis = g->axis == QS_AXIS_DEFAULT ? (t->channel_axis >= 0 ? t->channel_axis : 0) : g->axis;
	if (axis < 0)
		axis += t->rank;
	return axis >= 0 && axis < t->rank ? axis : -1;
}

/* The configuration of rt with the chosen quantizer and granularity kind (channel: on `axis`), or NULL. */
static const struct qs_rec_config *find_config(const struct qs_tensor *t, const struct qs_rec_tensor *rt,
					       enum qs_gran_kind kind, int axis)
{
	for (size_t i = 0; i < rt->n_cfgs; i++) {
		const struct qs_rec_point *p = rt->cfgs[i].best;
		struct qs_granularity g;
		if (!same_quant(p, rt->chosen->best) || qs_gran_parse(p->granularity, &g) != QS_OK || g.kind != kind)
			continue;
		if (kind == QS_GRAN_TENSOR || resolve_axis(t, &g) == axis)
			return &rt->cfgs[i];
	}
	return NULL;
}

/* Equal bins over [min, max]; a constant tensor gets one bin around its value. */
static void histogram(const double *x, size_t n, struct qs_chart_tensor *ct)
{
	double lo = x[0], hi = x[0];
	for (size_t i = 1; i < n; i++) {
		lo = fmin(lo, x[i]);
		hi = fmax(hi, x[i]);
	}
	ct->n_bins = 0;
	if (!(hi > lo)) {
		double d = fmax(0.5, 0.1 * fabs(hi));
		ct->bins[ct->n_bins++] = (struct qs_chart_bin){lo - d, hi + d, n};
		return;
	}
	size_t counts[QS_CHART_BINS] = {0};
	double w = (hi - lo) / QS_CHART_BINS;
	for (size_t i = 0; i < n; i++) {
		size_t b = (size_t)((x[i] - lo) / w);
		counts[b < QS_CHART_BINS ? b : QS_CHART_BINS - 1]++;
	}
	for (size_t b = 0; b < QS_CHART_BINS; b++)
		if (counts[b])
			ct->bins[ct->n_bins++] = (struct qs_chart_bin){
				lo + (double)b * w, b + 1 == QS_CHART_BINS ? hi : lo + (double)(b + 1) * w, counts[b]};
}

/* The values quantizer q represents for the clip range m·[lo, hi]: [(qmin − z)·s, (qmax − z)·s]. */
static void represented(const struct qs_quantizer *q, double m, double lo, double hi, struct qs_chart_clip *c)
{
	struct qs_qparams p;
	long qmin, qmax;
	qs_quant_params(q, m * lo, m * hi, &p);
	qs_quant_range(q, &qmin, &qmax);
	c->lo = (double)(qmin - p.zero_point) * p.scale;
	c->hi = (double)(qmax - p.zero_point) * p.scale;
}

/* Clip lines: every calibrator at multiplier 1, then the per-tensor optimum. */
static int clip_lines(const struct qs_sweep_spec *spec, const double *x, size_t n, const struct qs_quantizer *q,
		      const struct qs_rec_config *tensor_cfg, struct qs_chart_tensor *ct)
{
	double lo[64], hi[64];
	for (size_t i = 0; i < spec->n_calibs && i < 64; i++) {
		struct qs_chart_clip *c = &ct->clips[ct->n_clips++];
		snprintf(c->label, sizeof c->label, "%s", spec->calibs[i].label);
		int rc = qs_calib_clip_range(&spec->calibs[i], x, n, q, &lo[i], &hi[i]);
		if (rc)
			return rc;
		represented(q, 1.0, lo[i], hi[i], c);
	}
	if (!tensor_cfg)
		return QS_OK;
	const struct qs_rec_point *b = tensor_cfg->best;
	for (size_t i = 0; i < ct->n_clips; i++)
		if (strcmp(ct->clips[i].label, b->calib) == 0) {
			struct qs_chart_clip *c = &ct->clips[ct->n_clips++];
			snprintf(c->label, sizeof c->label, "optimum %.40s m=%.4g", b->calib, b->multiplier);
			represented(q, b->multiplier, lo[i], hi[i], c);
			c->optimum = true;
			break;
		}
	return QS_OK;
}

/* Per-channel errors of quantization k: per-tensor qparams (k = 0) or each channel's own (k = 1). */
static int channel_errors(const struct qs_groups *all, const struct qs_groups *ch, const struct qs_quantizer *q,
			  const struct qs_calib *calib, double m, int k, gsl_rng *rng, struct qs_chart_tensor *ct)
{
	struct qs_qparams p;
	double lo, hi;
	int rc = QS_OK;
	if (k == 0) {
		rc = qs_calib_clip_range(calib, all->values, all->n, q, &lo, &hi);
		if (rc)
			return rc;
		qs_quant_params(q, m * lo, m * hi, &p);
	}
	for (size_t c = 0; c < ch->count && rc == QS_OK; c++) {
		const double *x = ch->values + ch->offset[c];
		size_t n = ch->offset[c + 1] - ch->offset[c];
		struct qs_chart_channel *cc = &ct->channels[c];
		if (n == 0)
			continue;
		if (k == 1) {
			rc = qs_calib_clip_range(calib, x, n, q, &lo, &hi);
			if (rc)
				break;
			qs_quant_params(q, m * lo, m * hi, &p);
		}
		struct qs_err e;
		qs_err_ref(x, n, q, &p, rng, &e);
		cc->sse_clip[k] = e.sse_clip;
		cc->sse_round[k] = e.sse_round;
		cc->n_clipped[k] = e.n_clipped;
		if (k == 1)
			continue;
		cc->n = n;
		cc->signal = e.signal;
		for (size_t i = 0; i < n; i++)
			cc->absmax = fmax(cc->absmax, fabs(x[i]));
	}
	return rc;
}

/* The channel granularity to show: R's, the sweep's first, or the default. */
static struct qs_granularity channel_gran(const struct qs_sweep_spec *spec, const struct qs_rec_point *r)
{
	struct qs_granularity g = {QS_GRAN_CHANNEL, QS_AXIS_DEFAULT, 0};
	if (qs_gran_parse(r->granularity, &g) == QS_OK && g.kind == QS_GRAN_CHANNEL)
		return g;
	for (size_t i = 0; i < spec->n_grans; i++)
		if (spec->grans[i].kind == QS_GRAN_CHANNEL)
			return spec->grans[i];
	return (struct qs_granularity){QS_GRAN_CHANNEL, QS_AXIS_DEFAULT, 0};
}

static int channels(const struct qs_sweep_spec *spec, const struct qs_tensor *t, const struct qs_rec_tensor *rt,
		    const struct qs_groups *all, const struct qs_quantizer *q, const struct qs_rec_config *tensor_cfg,
		    struct qs_chart_tensor *ct)
{
	const struct qs_rec_point *r = rt->chosen->best;
	struct qs_granularity g = channel_gran(spec, r);
	int axis = t->rank >= 2 ? resolve_axis(t, &g) : -1;
	if (axis < 0)
		return QS_OK;
	struct qs_groups ch = {0};
	int rc = qs_groups_build(t, &g, spec->skip_nonfinite, &ch);
	if (rc)
		return rc;
	ct->channels = calloc(ch.count ? ch.count : 1, sizeof *ct->channels);
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	if (!ct->channels || !rng) {
		rc = qs_error_set(QS_ENOMEM, "out of memory measuring channels of '%s'", t->name);
		goto out;
	}
	gsl_rng_set(rng, spec->seed);
	ct->n_channels = ch.count;
	ct->axis = axis;
	const struct qs_rec_config *cfg[2] = {tensor_cfg, find_config(t, rt, QS_GRAN_CHANNEL, axis)};
	for (int k = 0; k < 2 && rc == QS_OK; k++) {
		const struct qs_rec_point *b = cfg[k] ? cfg[k]->best : r;
		const struct qs_calib *calib = find_calib(spec, b->calib);
		if (!calib) {
			rc = qs_error_set(QS_EINVAL, "calibrator '%s' is not in the sweep", b->calib);
			break;
		}
		snprintf(ct->how[k], sizeof ct->how[k], "%.60s m=%.4g", b->calib, b->multiplier);
		rc = channel_errors(all, &ch, q, calib, b->multiplier, k, rng, ct);
	}
out:
	gsl_rng_free(rng);
	qs_groups_free(&ch);
	return rc;
}

static void tensor_free(struct qs_chart_tensor *ct)
{
	free(ct->name);
	free(ct->bins);
	free(ct->clips);
	free(ct->channels);
}

/* A new zeroed entry named `name`, or NULL. */
static struct qs_chart_tensor *push(struct qs_chart_data *cd, const char *name)
{
	if (!qs_grow(&cd->t, &cd->cap, cd->n, sizeof *cd->t, 16))
		return NULL;
	struct qs_chart_tensor *ct = &cd->t[cd->n];
	memset(ct, 0, sizeof *ct);
	ct->axis = -1;
	ct->name = strdup(name);
	if (!ct->name)
		return NULL;
	cd->n++;
	return ct;
}

static int add_tensor(struct qs_chart_data *cd, const struct qs_sweep_spec *spec, const struct qs_tensor *t,
		      const struct qs_rec_tensor *rt)
{
	if (!rt->chosen)
		return QS_OK;
	const struct qs_rec_point *r = rt->chosen->best;
	struct qs_quantizer q;
	struct qs_groups all = {0};
	const struct qs_granularity whole = {QS_GRAN_TENSOR, QS_AXIS_DEFAULT, 0};
	int rc = point_quantizer(r, &q);
	if (rc == QS_OK)
		rc = qs_groups_build(t, &whole, spec->skip_nonfinite, &all);
	if (rc || all.n == 0) {
		qs_groups_free(&all);
		return rc;
	}
	struct qs_chart_tensor *ct = push(cd, t->name);
	if (!ct || !(ct->bins = malloc(QS_CHART_BINS * sizeof *ct->bins)) ||
	    !(ct->clips = calloc(spec->n_calibs + 1, sizeof *ct->clips))) {
		qs_groups_free(&all);
		return qs_error_set(QS_ENOMEM, "out of memory measuring '%s' for its charts", t->name);
	}
	snprintf(ct->quant, sizeof ct->quant, "%d-bit %s%s%s", r->bits, r->scheme, r->is_signed ? "" : " unsigned",
		 strcmp(r->range, "narrow") ? "" : " narrow");
	histogram(all.values, all.n, ct);
	const struct qs_rec_config *tensor_cfg = find_config(t, rt, QS_GRAN_TENSOR, 0);
	rc = clip_lines(spec, all.values, all.n, &q, tensor_cfg, ct);
	if (rc == QS_OK)
		rc = channels(spec, t, rt, &all, &q, tensor_cfg, ct);
	qs_groups_free(&all);
	return rc;
}

int qs_chart_data_add(struct qs_chart_data *cd, const struct qs_sweep_spec *spec, const struct qs_tensor *t,
		      const struct qs_rec_points *pts, size_t first, const struct qs_target *target)
{
	struct qs_rec_points own = {pts->p + first, pts->n - first, pts->n - first};
	struct qs_recommendation rec;
	if (own.n == 0)
		return QS_OK;
	int rc = qs_recommend(&own, target, &rec);
	if (rc == QS_OK && rec.n_tensors == 1)
		rc = add_tensor(cd, spec, t, &rec.tensors[0]);
	qs_recommendation_free(&rec);
	return rc;
}

void qs_chart_data_free(struct qs_chart_data *cd)
{
	for (size_t i = 0; i < cd->n; i++)
		tensor_free(&cd->t[i]);
	free(cd->t);
	memset(cd, 0, sizeof *cd);
}

const struct qs_chart_tensor *qs_chart_data_find(const struct qs_chart_data *cd, const char *name)
{
	for (size_t i = 0; cd && i < cd->n; i++)
		if (strcmp(cd->t[i].name, name) == 0)
			return &cd->t[i];
	return NULL;
}

void qs_chart_totals(const struct qs_chart_tensor *t, int k, struct qs_chart_totals *out)
{
	memset(out, 0, sizeof *out);
	for (size_t c = 0; c < t->n_channels; c++) {
		const struct qs_chart_channel *cc = &t->channels[c];
		out->signal += cc->signal;
		out->sse_clip += cc->sse_clip[k];
		out->sse_round += cc->sse_round[k];
		out->n_clipped_channels += cc->n_clipped[k] > 0;
	}
}

/* ---- CSV ------------------------------------------------------------------------------------------------------ */

static const char hist_header[] = "tensor,bin_lo,bin_hi,count";
static const char clip_header[] = "tensor,quant,label,optimum,lo,hi";
static const char chan_header[] =
	"tensor,axis,how_tensor,how_channel,channel,n,absmax,signal,sse_clip_tensor,sse_round_tensor,clipped_tensor,"
	"sse_clip_channel,sse_round_channel,clipped_channel";

int qs_chart_data_write(struct qs_stage *st, const struct qs_chart_data *cd)
{
	FILE *f[3] = {NULL, NULL, NULL};
	int rc = qs_stage_fopen(st, "histogram.csv", &f[0]);
	if (rc == QS_OK)
		rc = qs_stage_fopen(st, "clip_lines.csv", &f[1]);
	if (rc == QS_OK)
		rc = qs_stage_fopen(st, "channels.csv", &f[2]);
	if (rc == QS_OK) {
		fprintf(f[0], "%s\n", hist_header);
		fprintf(f[1], "%s\n", clip_header);
		fprintf(f[2], "%s\n", chan_header);
		for (size_t i = 0; i < cd->n; i++) {
			const struct qs_chart_tensor *t = &cd->t[i];
			for (size_t b = 0; b < t->n_bins; b++) {
				qs_csv_write_field(f[0], t->name);
				qs_csv_put_num(f[0], t->bins[b].lo);
				qs_csv_put_num(f[0], t->bins[b].hi);
				fprintf(f[0], ",%zu\n", t->bins[b].count);
			}
			for (size_t c = 0; c < t->n_clips; c++) {
				qs_csv_write_field(f[1], t->name);
				fputc(',', f[1]);
				qs_csv_write_field(f[1], t->quant);
				fputc(',', f[1]);
				qs_csv_write_field(f[1], t->clips[c].label);
				fprintf(f[1], ",%d", t->clips[c].optimum);
				qs_csv_put_num(f[1], t->clips[c].lo);
				qs_csv_put_num(f[1], t->clips[c].hi);
				fputc('\n', f[1]);
			}
			for (size_t c = 0; c < t->n_channels; c++) {
				const struct qs_chart_channel *cc = &t->channels[c];
				qs_csv_write_field(f[2], t->name);
				fprintf(f[2], ",%d,", t->axis);
				qs_csv_write_field(f[2], t->how[0]);
				fputc(',', f[2]);
				qs_csv_write_field(f[2], t->how[1]);
				fprintf(f[2], ",%zu,%zu", c, cc->n);
				qs_csv_put_num(f[2], cc->absmax);
				qs_csv_put_num(f[2], cc->signal);
				for (int k = 0; k < 2; k++) {
					qs_csv_put_num(f[2], cc->sse_clip[k]);
					qs_csv_put_num(f[2], cc->sse_round[k]);
					fprintf(f[2], ",%zu", cc->n_clipped[k]);
				}
				fputc('\n', f[2]);
			}
		}
	}
	for (int i = 0; i < 3; i++)
		if (f[i]) {
			int r = qs_stage_fclose(st, f[i]);
			if (rc == QS_OK)
				rc = r;
		}
	return rc;
}

static bool num(const char *s, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return end != s && !*end && !errno;
}

static bool count(const char *s, size_t *out)
{
	double v;
	if (!num(s, &v) || v < 0 || v != floor(v) || v > 1e15)
		return false;
	*out = (size_t)v;
	return true;
}

/* The entry named `name`, created when new; NULL when out of memory. */
static struct qs_chart_tensor *entry(struct qs_chart_data *cd, const char *name)
{
	if (cd->n && strcmp(cd->t[cd->n - 1].name, name) == 0)
		return &cd->t[cd->n - 1];
	for (size_t i = 0; i < cd->n; i++)
		if (strcmp(cd->t[i].name, name) == 0)
			return &cd->t[i];
	return push(cd, name);
}

/* arr with room for element n (capacity doubles when n reaches a power of two); NULL when out of memory. */
static void *grow(void *arr, size_t n, size_t elem)
{
	if (n && (n & (n - 1)))
		return arr;
	return realloc(arr, (n ? 2 * n : 1) * elem);
}

static int parse_hist(struct qs_chart_tensor *t, char **f)
{
	struct qs_chart_bin b;
	if (!num(f[1], &b.lo) || !num(f[2], &b.hi) || !count(f[3], &b.count) || !(b.hi > b.lo))
		return QS_EFORMAT;
	void *p = grow(t->bins, t->n_bins, sizeof b);
	if (!p)
		return QS_ENOMEM;
	t->bins = p;
	t->bins[t->n_bins++] = b;
	return QS_OK;
}

static int parse_clip(struct qs_chart_tensor *t, char **f)
{
	struct qs_chart_clip c = {0};
	size_t opt;
	if (!count(f[3], &opt) || opt > 1 || !num(f[4], &c.lo) || !num(f[5], &c.hi) || strlen(f[2]) >= sizeof c.label)
		return QS_EFORMAT;
	c.optimum = opt;
	snprintf(c.label, sizeof c.label, "%s", f[2]);
	snprintf(t->quant, sizeof t->quant, "%s", f[1]);
	void *p = grow(t->clips, t->n_clips, sizeof c);
	if (!p)
		return QS_ENOMEM;
	t->clips = p;
	t->clips[t->n_clips++] = c;
	return QS_OK;
}

static int parse_channel(struct qs_chart_tensor *t, char **f)
{
	struct qs_chart_channel c = {0};
	size_t axis, index;
	if (!count(f[1], &axis) || axis >= 8 || !count(f[4], &index) || index != t->n_channels || !count(f[5], &c.n) ||
	    !num(f[6], &c.absmax) || !num(f[7], &c.signal) || !num(f[8], &c.sse_clip[0]) ||
	    !num(f[9], &c.sse_round[0]) || !count(f[10], &c.n_clipped[0]) || !num(f[11], &c.sse_clip[1]) ||
	    !num(f[12], &c.sse_round[1]) || !count(f[13], &c.n_clipped[1]))
		return QS_EFORMAT;
	t->axis = (int)axis;
	snprintf(t->how[0], sizeof t->how[0], "%s", f[2]);
	snprintf(t->how[1], sizeof t->how[1], "%s", f[3]);
	void *p = grow(t->channels, t->n_channels, sizeof c);
	if (!p)
		return QS_ENOMEM;
	t->channels = p;
	t->channels[t->n_channels++] = c;
	return QS_OK;
}

static int read_file(const char *outdir, const char *name, const char *header, size_t n_fields,
		     int (*parse)(struct qs_chart_tensor *t, char **f), struct qs_chart_data *cd)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", outdir, name);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return errno == ENOENT ? QS_OK : qs_error_set(QS_EIO, "'%s': cannot open (%s)", path, strerror(errno));
	char *line = NULL, *fields[16];
	size_t cap = 0, lineno = 0;
	int rc = QS_OK;
	while (rc == QS_OK && getline(&line, &cap, fp) != -1) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (lineno == 1) {
			if (strcmp(line, header))
				rc = qs_error_set(QS_EFORMAT, "'%s': line 1: header is not '%s'", path, header);
			continue;
		}
		if (qs_csv_split(line, fields, 16) != n_fields) {
			rc = qs_error_set(QS_EFORMAT, "'%s': line %zu: expected %zu fields", path, lineno, n_fields);
			break;
		}
		struct qs_chart_tensor *t = entry(cd, fields[0]);
		rc = t ? parse(t, fields) : QS_ENOMEM;
		if (rc == QS_ENOMEM)
			rc = qs_error_set(QS_ENOMEM, "out of memory reading '%s'", path);
		else if (rc)
			rc = qs_error_set(QS_EFORMAT, "'%s': line %zu: bad value", path, lineno);
	}
	if (rc == QS_OK && ferror(fp))
		rc = qs_error_set(QS_EIO, "'%s': read error", path);
	if (rc == QS_OK && lineno == 0)
		rc = qs_error_set(QS_EFORMAT, "'%s': empty file (no header)", path);
	free(line);
	fclose(fp);
	return rc;
}

int qs_chart_data_read(const char *outdir, struct qs_chart_data *cd)
{
	memset(cd, 0, sizeof *cd);
	int rc = read_file(outdir, "histogram.csv", hist_header, 4, parse_hist, cd);
	if (rc == QS_OK)
		rc = read_file(outdir, "clip_lines.csv", clip_header, 6, parse_clip, cd);
	if (rc == QS_OK)
		rc = read_file(outdir, "channels.csv", chan_header, 14, parse_channel, cd);
	if (rc)
		qs_chart_data_free(cd);
	return rc;
}
