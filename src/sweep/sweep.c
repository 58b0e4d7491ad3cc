/* The sweep engine: groups are gathered and prepared (sorted, prefix sums) once per granularity, clip ranges
 * computed once per calibrator, and every multiplier is evaluated by the fast exact evaluator (the reference
 * evaluator for stochastic rounding, whose result depends on the order values are drawn in). */
#include "sweep.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "../metrics/err_fast.h"
#include "../util/qs_error.h"

size_t qs_sweep_config_count(const struct qs_sweep_spec *spec)
{
	return spec->n_grans * spec->n_bits * spec->n_asym * spec->n_signed * spec->n_narrow * spec->n_pow2 *
	       spec->n_profiles * spec->n_roundings * spec->n_calibs;
}

/* splitmix64: a well-mixed seed per sweep point from (seed, tensor, config, multiplier). */
static unsigned long mix_seed(unsigned long seed, size_t a, size_t b, size_t c)
{
	uint64_t z = (uint64_t)seed;
	size_t parts[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		z += 0x9e3779b97f4a7c15ULL + (uint64_t)parts[i];
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
	}
	return (unsigned long)(z & 0xffffffffUL);
}

/* Per-granularity buffers, allocated once and reused by every configuration and multiplier. */
struct workspace {
	double *lo, *hi;          /* calibrated clip range per group */
	double *scale;
	long *zero_point;
	double *sorted;           /* for medians */
	gsl_rng *rng;
};

static void workspace_free(struct workspace *w)
{
	free(w->lo);
	free(w->hi);
	free(w->scale);
	free(w->zero_point);
	free(w->sorted);
	if (w->rng)
		gsl_rng_free(w->rng);
}

static int workspace_alloc(struct workspace *w, size_t n_groups)
{
	memset(w, 0, sizeof *w);
	w->lo = malloc(n_groups * sizeof *w->lo);
	w->hi = malloc(n_groups * sizeof *w->hi);
	w->scale = malloc(n_groups * sizeof *w->scale);
	w->zero_point = malloc(n_groups * sizeof *w->zero_point);
	w->sorted = malloc(n_groups * sizeof *w->sorted);
	w->rng = gsl_rng_alloc(gsl_rng_mt19937);
	if (!w->lo || !w->hi || !w->scale || !w->zero_point || !w->sorted || !w->rng) {
		workspace_free(w);
		return qs_error_set(QS_ENOMEM, "out of memory (%zu groups)", n_groups);
	}
	return QS_OK;
}

/* Median of the values picked by `live` (all values if none is live). */
static double median_of(double *sorted, const double *v, const bool *live_of_dead, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!live_of_dead || !live_of_dead[i])
			sorted[k++] = v[i];
	if (k == 0) {
		memcpy(sorted, v, n * sizeof *v);
		k = n;
	}
	gsl_sort(sorted, 1, k);
	return gsl_stats_median_from_sorted_data(sorted, 1, k);
}

/* A granularity's groups, each prepared for qs_err_fast (fast[g] false: evaluate group g with qs_err_ref). */
struct prepared {
	struct qs_err_prepared *groups;
	bool *fast;
	size_t count;
};

static void prepared_free(struct prepared *pr)
{
	for (size_t g = 0; pr->groups && g < pr->count; g++)
		qs_err_prepared_free(&pr->groups[g]);
	free(pr->groups);
	free(pr->fast);
}

static int prepared_build(const struct qs_groups *gr, struct prepared *pr)
{
	pr->count = gr->count;
	pr->groups = calloc(gr->count, sizeof *pr->groups);
	pr->fast = calloc(gr->count, sizeof *pr->fast);
	if (!pr->groups || !pr->fast)
		return qs_error_set(QS_ENOMEM, "out of memory (%zu groups)", gr->count);
	for (size_t g = 0; g < gr->count; g++) {
		int rc = qs_err_prepare(gr->values + gr->offset[g], gr->offset[g + 1] - gr->offset[g], &pr->groups[g]);
		if (rc == QS_ENOMEM)
			return rc;
		pr->fast[g] = rc == QS_OK; /* values too large to square stay on the reference path */
	}
	return QS_OK;
}

/* Evaluates one multiplier for every group and hands the row to the sink. */
static int eval_point(const struct qs_groups *gr, const struct prepared *pr, const bool *empty, struct workspace *w,
		      bool *dead,
		      double *zp_as_double, struct qs_sweep_row *row, qs_sweep_sink sink, void *ctx)
{
	const struct qs_quantizer *q = row->quant;
	gsl_rng_set(w->rng, row->seed);
	memset(&row->err, 0, sizeof row->err);
	row->n_dead = 0;
	row->worst_group_rel = 0.0;
	for (size_t g = 0; g < gr->count; g++) {
		struct qs_qparams p;
		qs_quant_params(q, row->multiplier * w->lo[g], row->multiplier * w->hi[g], &p);
		dead[g] = p.dead || empty[g];
		w->scale[g] = p.scale;
		w->zero_point[g] = p.zero_point;
		zp_as_double[g] = (double)p.zero_point;
		row->n_dead += dead[g];
		struct qs_err e;
		size_t off = gr->offset[g];
		if (q->rounding != QS_ROUND_STOCHASTIC && pr->fast[g])
			qs_err_fast(&pr->groups[g], q, &p, &e);
		else
			qs_err_ref(gr->values + off, gr->offset[g + 1] - off, q, &p, w->rng, &e);
		row->worst_group_rel = fmax(row->worst_group_rel, qs_err_rel(&e));
		qs_err_add(&row->err, &e);
	}
	row->scale = median_of(w->sorted, w->scale, dead, gr->count);
	row->zero_point = median_of(w->sorted, zp_as_double, dead, gr->count);
	row->group_scale = w->scale;
	row->group_zero_point = w->zero_point;
	return sink(ctx, row);
}

/* Runs every quantizer configuration and calibrator over one granularity's groups. */
static int sweep_groups(const struct qs_sweep_spec *spec, const struct qs_groups *gr, struct qs_sweep_row *row,
			size_t tensor_index, qs_sweep_sink sink, void *ctx)
{
	struct workspace w;
	struct prepared pr = {0};
	int rc = workspace_alloc(&w, gr->count);
	if (rc)
		return rc;
	bool *empty = calloc(gr->count, sizeof *empty);
	bool *dead = calloc(gr->count, sizeof *dead);
	double *zp_d = calloc(gr->count, sizeof *zp_d);
	if (!empty || !dead || !zp_d) {
		rc = qs_error_set(QS_ENOMEM, "out of memory (%zu groups)", gr->count);
		goto out;
	}
	rc = prepared_build(gr, &pr);
	if (rc)
		goto out;
	for (size_t g = 0; g < gr->count; g++)
		empty[g] = gr->offset[g + 1] == gr->offset[g];
	row->n_groups = gr->count;
	row->n_nonfinite = gr->n_nonfinite;

	struct qs_quantizer q;
	row->quant = &q;
	for (size_t ib = 0; ib < spec->n_bits; ib++)
	for (size_t is = 0; is < spec->n_asym; is++)
	for (size_t ig = 0; ig < spec->n_signed; ig++)
	for (size_t ir = 0; ir < spec->n_narrow; ir++)
	for (size_t ip = 0; ip < spec->n_pow2; ip++)
	for (size_t ipr = 0; ipr < spec->n_profiles; ipr++)
	for (size_t iro = 0; iro < spec->n_roundings; iro++) {
		q = (struct qs_quantizer){
			.bits = spec->bits[ib], .asym = spec->asym[is], .is_signed = spec->is_signed[ig],
			.narrow = spec->narrow[ir], .pow2 = spec->pow2[ip], .profile = spec->profiles[ipr],
			.rounding = spec->roundings[iro],
		};
		double overhead = 16.0 * (row->gran->kind == QS_GRAN_GROUP) + 32.0 * (row->gran->kind != QS_GRAN_GROUP) +
				  (q.asym ? q.bits : 0);
		row->eff_bits = q.bits + (gr->n ? (double)gr->count * overhead / (double)gr->n : 0.0);
		for (size_t ic = 0; ic < spec->n_calibs; ic++) {
			row->calib = &spec->calibs[ic];
			for (size_t g = 0; g < gr->count && rc == QS_OK; g++) {
				w.lo[g] = w.hi[g] = 0.0;
				if (!empty[g])
					rc = qs_calib_clip_range(row->calib, gr->values + gr->offset[g],
								 gr->offset[g + 1] - gr->offset[g], &q, &w.lo[g], &w.hi[g]);
			}
			for (size_t im = 0; im < spec->n_multipliers && rc == QS_OK; im++) {
				row->multiplier_index = im;
				row->multiplier = spec->multipliers[im];
				row->seed = mix_seed(spec->seed, tensor_index, row->config_index, im);
				rc = eval_point(gr, &pr, empty, &w, dead, zp_d, row, sink, ctx);
			}
			if (rc)
				goto out;
			row->config_index++;
		}
	}
out:
	prepared_free(&pr);
	free(empty);
	free(dead);
	free(zp_d);
	workspace_free(&w);
	return rc;
}

int qs_sweep_tensor(const struct qs_sweep_spec *spec, const struct qs_tensor *t, size_t tensor_index,
		    qs_sweep_sink sink, void *ctx, void (*skipped)(void *ctx, const char *message))
{
	struct qs_sweep_row row = {.tensor = t};
	for (size_t ig = 0; ig < spec->n_grans; ig++) {
		struct qs_groups gr;
		row.gran = &spec->grans[ig];
		int rc = qs_groups_build(t, row.gran, spec->skip_nonfinite, &gr);
		if (rc == QS_EINVAL) {
			if (skipped)
				skipped(ctx, qs_error_message());
			row.config_index += qs_sweep_config_count(spec) / spec->n_grans;
			continue;
		}
		if (rc == QS_OK)
			rc = sweep_groups(spec, &gr, &row, tensor_index, sink, ctx);
		qs_groups_free(&gr);
		if (rc)
			return rc;
	}
	return QS_OK;
}
