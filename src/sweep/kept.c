/* Kept sweep points: static qparams re-evaluated on evaluation batches, and dynamic quantization summed. */
#include "kept.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "../util/qs_error.h"
#include "../util/qs_alloc.h"

static struct qs_kept_point *grow(struct qs_kept_points *k)
{
	if (!qs_grow(&k->p, &k->cap, k->n, sizeof *k->p, 64))
		return NULL;
	struct qs_kept_point *pt = &k->p[k->n];
	memset(pt, 0, sizeof *pt);
	return pt;
}

struct qs_sweep_row *qs_kept_row(struct qs_kept_point *pt)
{
	pt->row.quant = &pt->quant;
	pt->row.group_scale = pt->group_scale;
	pt->row.group_zero_point = pt->group_zero_point;
	return &pt->row;
}

int qs_kept_add(struct qs_kept_points *k, const struct qs_sweep_row *row, const char *ref)
{
	struct qs_kept_point *pt = grow(k);
	size_t G = row->n_groups;
	if (pt) {
		pt->group_scale = malloc((G ? G : 1) * sizeof *pt->group_scale);
		pt->group_zero_point = malloc((G ? G : 1) * sizeof *pt->group_zero_point);
	}
	if (!pt || !pt->group_scale || !pt->group_zero_point) {
		if (pt) {
			free(pt->group_scale);
			free(pt->group_zero_point);
		}
		return qs_error_set(QS_ENOMEM, "out of memory keeping sweep points");
	}
	pt->row = *row;
	pt->quant = *row->quant;
	memcpy(pt->group_scale, row->group_scale, G * sizeof *pt->group_scale);
	memcpy(pt->group_zero_point, row->group_zero_point, G * sizeof *pt->group_zero_point);
	snprintf(pt->ref, sizeof pt->ref, "%s", ref);
	k->n++;
	return QS_OK;
}

/* A stream per (point, batch, group): the same numbers whichever thread evaluates what. */
static unsigned long eval_seed(unsigned long seed, size_t batch, size_t g)
{
	uint64_t z = (uint64_t)seed ^ (0x9e3779b97f4a7c15ULL * (batch + 1)) ^ (0xbf58476d1ce4e5b9ULL * (g + 1));
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (unsigned long)(z ^ (z >> 31));
}

static void eval_point(struct qs_kept_point *pt, const struct qs_groups *gr, size_t batch_index, gsl_rng *rng)
{
	for (size_t g = 0; g < gr->count; g++) {
		struct qs_qparams p = {.scale = pt->group_scale[g], .zero_point = pt->group_zero_point[g]};
		struct qs_err e;
		gsl_rng_set(rng, eval_seed(pt->row.seed, batch_index, g));
		qs_err_ref(gr->values + gr->offset[g], gr->offset[g + 1] - gr->offset[g], &pt->quant, &p, rng, &e);
		qs_err_add(&pt->eval, &e);
	}
}

int qs_kept_eval_batch(struct qs_kept_points *k, const struct qs_tensor *batch, size_t batch_index, bool skip_nonfinite)
{
	int rc = QS_OK;
	for (size_t first = 0; first < k->n && rc == QS_OK; first++) {
		const struct qs_granularity *gran = k->p[first].row.gran;
		bool done = false; /* points of this granularity were evaluated with an earlier one */
		for (size_t j = 0; j < first && !done; j++)
			done = k->p[j].row.gran == gran;
		if (done)
			continue;
		struct qs_groups gr;
		rc = qs_groups_build(batch, gran, skip_nonfinite, &gr);
		if (rc)
			break;
		if (gr.count != k->p[first].row.n_groups) {
			char gbuf[64];
			qs_gran_format(gran, gbuf, sizeof gbuf);
			rc = qs_error_set(QS_EINVAL, "'%s': granularity %s gives %zu groups on evaluation batch %zu but %zu on "
					  "the calibration batches", batch->name, gbuf, gr.count, batch_index,
					  k->p[first].row.n_groups);
			qs_groups_free(&gr);
			break;
		}
		bool nomem = false;
#pragma omp parallel
		{
			gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
			if (!rng) {
#pragma omp atomic write
				nomem = true;
			}
#pragma omp for schedule(dynamic, 1)
			for (size_t i = first; i < k->n; i++)
				if (rng && k->p[i].row.gran == gran)
					eval_point(&k->p[i], &gr, batch_index, rng);
			gsl_rng_free(rng);
		}
		qs_groups_free(&gr);
		if (nomem)
			rc = qs_error_set(QS_ENOMEM, "out of memory evaluating '%s'", batch->name);
	}
	return rc;
}

int qs_kept_accumulate(struct qs_kept_points *k, const struct qs_sweep_row *row, size_t n_multipliers)
{
	size_t at = row->config_index * n_multipliers + row->multiplier_index;
	while (k->n <= at) {
		struct qs_kept_point *pt = grow(k);
		if (!pt)
			return qs_error_set(QS_ENOMEM, "out of memory keeping sweep points");
		k->n++;
	}
	struct qs_kept_point *pt = &k->p[at];
	double *scales = realloc(pt->batch_scale, (pt->n_batches + 1) * sizeof *scales);
	if (!scales)
		return qs_error_set(QS_ENOMEM, "out of memory keeping sweep points");
	pt->batch_scale = scales;
	if (pt->n_batches == 0) {
		pt->row = *row;
		pt->quant = *row->quant;
	} else {
		qs_err_add(&pt->row.err, &row->err);
		pt->row.n_groups += row->n_groups;
		pt->row.n_dead += row->n_dead;
		pt->row.n_nonfinite += row->n_nonfinite;
		if (row->worst_group_rel > pt->row.worst_group_rel)
			pt->row.worst_group_rel = row->worst_group_rel;
	}
	pt->batch_scale[pt->n_batches++] = row->scale;
	pt->bits_sum += row->eff_bits * (double)row->err.n;
	return QS_OK;
}

void qs_kept_finish_dynamic(struct qs_kept_points *k)
{
	for (size_t i = 0; i < k->n; i++) {
		struct qs_kept_point *pt = &k->p[i];
		if (!pt->n_batches)
			continue;
		gsl_sort(pt->batch_scale, 1, pt->n_batches);
		pt->row.scale = gsl_stats_median_from_sorted_data(pt->batch_scale, 1, pt->n_batches);
		pt->row.zero_point = NAN; /* one per batch: no single value */
		pt->row.eff_bits = pt->row.err.n ? pt->bits_sum / (double)pt->row.err.n : pt->row.eff_bits;
	}
}

void qs_kept_free(struct qs_kept_points *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->p[i].group_scale);
		free(k->p[i].group_zero_point);
		free(k->p[i].batch_scale);
	}
	free(k->p);
	memset(k, 0, sizeof *k);
}
