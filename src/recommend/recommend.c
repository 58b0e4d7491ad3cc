/* Recommendation: best point per configuration, flatness of the curve around it, cheapest configuration per
 * tensor that meets the target. */
#include "recommend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"
#include "../util/qs_alloc.h"

int qs_rec_points_push(struct qs_rec_points *pts, struct qs_rec_point *pt)
{
	if (!qs_grow(&pts->p, &pts->cap, pts->n, sizeof *pts->p, 256))
		return qs_error_set(QS_ENOMEM, "out of memory collecting sweep points");
	pts->p[pts->n++] = *pt;
	return QS_OK;
}

void qs_rec_set_mode(struct qs_rec_point *pt, const char *mode, const char *calib)
{
	snprintf(pt->mode, sizeof pt->mode, "%s", mode);
	snprintf(pt->calib, sizeof pt->calib, "%s%s", strcmp(mode, "dynamic") == 0 ? "dyn:" : "", calib);
}

const struct qs_rec_point *qs_rec_best_dynamic(const struct qs_rec_config *cfgs, size_t n,
					       const struct qs_rec_point *p)
{
	const struct qs_rec_point *dyn = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct qs_rec_point *d = cfgs[i].best;
		if (strcmp(d->mode, "dynamic") == 0 && d->bits == p->bits && strcmp(d->granularity, p->granularity) == 0 &&
		    !isnan(d->eval_rel) && (!dyn || d->eval_rel < dyn->eval_rel))
			dyn = d;
	}
	return dyn;
}

int qs_rec_points_add_row(struct qs_rec_points *pts, const struct qs_sweep_row *r, const char *qparams_ref,
			  const struct qs_rec_act *act)
{
	struct qs_rec_point pt = {0};
	char shape[128];
	const struct qs_quantizer *q = r->quant;
	qs_tensor_format_shape(r->tensor, shape, sizeof shape);
	pt.tensor = strdup(r->tensor->name);
	pt.shape = strdup(shape);
	pt.qparams = strdup(qparams_ref);
	if (!pt.tensor || !pt.shape || !pt.qparams) {
		free(pt.tensor);
		free(pt.shape);
		free(pt.qparams);
		return qs_error_set(QS_ENOMEM, "out of memory collecting sweep points");
	}
	pt.n = r->err.n;
	pt.qparams_row = r->multiplier_index;
	pt.bits = q->bits;
	pt.is_signed = q->is_signed;
	pt.pow2 = q->pow2;
	snprintf(pt.range, sizeof pt.range, "%s", q->narrow ? "narrow" : "full");
	snprintf(pt.scheme, sizeof pt.scheme, "%s", q->asym ? "asym" : "sym");
	qs_gran_format(r->gran, pt.granularity, sizeof pt.granularity);
	qs_rec_set_mode(&pt, act ? act->mode : "static", r->calib->label);
	pt.eval_rel = act ? act->eval_rel : NAN;
	pt.activation = act != NULL;
	snprintf(pt.profile, sizeof pt.profile, "%s", qs_profile_name(q->profile));
	snprintf(pt.rounding, sizeof pt.rounding, "%s", qs_rounding_name(q->rounding));
	pt.multiplier = r->multiplier;
	pt.scale = r->scale;
	pt.zero_point = r->zero_point;
	pt.rel = qs_err_rel(&r->err);
	pt.rel_clip = qs_err_rel_clip(&r->err);
	pt.rel_round = qs_err_rel_round(&r->err);
	pt.sqnr_db = qs_err_sqnr_db(&r->err);
	pt.eff_bits = r->eff_bits;
	pt.worst_group_rel = r->worst_group_rel;
	int rc = qs_rec_points_push(pts, &pt);
	if (rc) {
		free(pt.tensor);
		free(pt.shape);
		free(pt.qparams);
	}
	return rc;
}

void qs_rec_points_free(struct qs_rec_points *pts)
{
	for (size_t i = 0; i < pts->n; i++) {
		free(pts->p[i].tensor);
		free(pts->p[i].shape);
		free(pts->p[i].qparams);
	}
	free(pts->p);
	memset(pts, 0, sizeof *pts);
}

bool qs_target_met(const struct qs_target *t, const struct qs_rec_point *p)
{
	return t->kind == QS_TARGET_REL ? p->rel <= t->value : p->sqnr_db >= t->value;
}

/* Sort keys: the tensor's first appearance, then the configuration, calibrator, multiplier, input position. */
struct keyed {
	const struct qs_rec_point *p;
	size_t tensor_rank, index;
};

int qs_rec_cmp_family(const struct qs_rec_point *a, const struct qs_rec_point *b)
{
	int c;
	if ((c = strcmp(a->mode, b->mode)) || (c = strcmp(a->granularity, b->granularity)) || (c = strcmp(a->scheme, b->scheme)) ||
	    (c = strcmp(a->range, b->range)) || (c = strcmp(a->profile, b->profile)) ||
	    (c = strcmp(a->rounding, b->rounding)))
		return c;
	if (a->is_signed != b->is_signed)
		return a->is_signed > b->is_signed ? -1 : 1;
	if (a->pow2 != b->pow2)
		return a->pow2 < b->pow2 ? -1 : 1;
	return 0;
}

static int cmp_config(const struct qs_rec_point *a, const struct qs_rec_point *b)
{
	if (a->bits != b->bits)
		return a->bits < b->bits ? -1 : 1;
	return qs_rec_cmp_family(a, b);
}

static int cmp_keyed(const void *va, const void *vb)
{
	const struct keyed *a = va, *b = vb;
	int c;
	if (a->tensor_rank != b->tensor_rank)
		return a->tensor_rank < b->tensor_rank ? -1 : 1;
	if ((c = cmp_config(a->p, b->p)) || (c = strcmp(a->p->calib, b->p->calib)))
		return c;
	if (a->p->multiplier != b->p->multiplier)
		return a->p->multiplier < b->p->multiplier ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* Ranks tensors by first appearance (names compared to the previous distinct ones). */
static int rank_tensors(const struct qs_rec_points *pts, struct keyed *k, size_t *n_tensors)
{
	const char **names = NULL;
	size_t n_names = 0, cap = 0;
	for (size_t i = 0; i < pts->n; i++) {
		const char *name = pts->p[i].tensor;
		size_t r = n_names;
		if (i > 0 && strcmp(name, pts->p[i - 1].tensor) == 0) {
			r = k[i - 1].tensor_rank;
		} else {
			for (size_t j = 0; j < n_names; j++)
				if (strcmp(names[j], name) == 0) {
					r = j;
					break;
				}
		}
		if (r == n_names) {
			if (!qs_grow(&names, &cap, n_names, sizeof *names, 64)) {
				free(names);
				return qs_error_set(QS_ENOMEM, "out of memory ranking tensors");
			}
			names[n_names++] = name;
		}
		k[i] = (struct keyed){&pts->p[i], r, i};
	}
	free(names);
	*n_tensors = n_names;
	return QS_OK;
}

/* Coarseness for tie-breaking: tensor < channel < group:G (larger G coarser). */
static double coarseness(const char *gran)
{
	if (strncmp(gran, "tensor", 6) == 0)
		return 0.0;
	if (strncmp(gran, "channel", 7) == 0)
		return 1.0;
	return 2.0 + 1.0 / fmax(1.0, strtod(gran + 6, NULL));
}

/* Is candidate a better recommendation than current? */
static bool better_choice(const struct qs_rec_config *cand, const struct qs_rec_config *cur)
{
	if (!cur)
		return true;
	if (cand->meets_target != cur->meets_target)
		return cand->meets_target;
	const struct qs_rec_point *a = cand->best, *b = cur->best;
	if (!cand->meets_target) /* nothing meets the target: the lowest error */
		return a->rel < b->rel || (a->rel == b->rel && a->eff_bits < b->eff_bits);
	if (fabs(a->eff_bits - b->eff_bits) > 1e-9)
		return a->eff_bits < b->eff_bits;
	double ca = coarseness(a->granularity), cb = coarseness(b->granularity);
	if (ca != cb)
		return ca < cb;
	return a->rel < b->rel;
}

/* The best point of the curve k[lo..hi) (one calibrator) and the multiplier interval within 5% of it. */
static size_t curve_best(const struct keyed *k, size_t lo, size_t hi, double *flat_lo, double *flat_hi)
{
	size_t best = lo;
	for (size_t i = lo + 1; i < hi; i++)
		if (k[i].p->rel < k[best].p->rel)
			best = i;
	double bound = 1.05 * k[best].p->rel;
	size_t a = best, b = best;
	while (a > lo && k[a - 1].p->rel <= bound)
		a--;
	while (b + 1 < hi && k[b + 1].p->rel <= bound)
		b++;
	*flat_lo = k[a].p->multiplier;
	*flat_hi = k[b].p->multiplier;
	return best;
}

int qs_recommend(struct qs_rec_points *pts, const struct qs_target *target, struct qs_recommendation *rec)
{
	memset(rec, 0, sizeof *rec);
	struct keyed *k = malloc((pts->n ? pts->n : 1) * sizeof *k);
	rec->configs = malloc((pts->n ? pts->n : 1) * sizeof *rec->configs);
	if (!k || !rec->configs) {
		free(k);
		qs_recommendation_free(rec);
		return qs_error_set(QS_ENOMEM, "out of memory recommending");
	}
	int rc = rank_tensors(pts, k, &rec->n_tensors);
	if (rc) {
		free(k);
		qs_recommendation_free(rec);
		return rc;
	}
	qsort(k, pts->n, sizeof *k, cmp_keyed);
	struct qs_rec_config *choice = NULL;
	for (size_t a = 0; a < pts->n;) {
		size_t b = a;
		while (b < pts->n && k[b].tensor_rank == k[a].tensor_rank && cmp_config(k[b].p, k[a].p) == 0)
			b++;
		struct qs_rec_config cfg = {.tensor_rank = k[a].tensor_rank};
		for (size_t c = a; c < b;) {
			size_t d = c + 1;
			while (d < b && strcmp(k[d].p->calib, k[c].p->calib) == 0)
				d++;
			double flo, fhi;
			size_t best = curve_best(k, c, d, &flo, &fhi);
			if (!cfg.best || k[best].p->rel < cfg.best->rel) {
				cfg.best = k[best].p;
				cfg.flat_lo = flo;
				cfg.flat_hi = fhi;
			}
			c = d;
		}
		cfg.meets_target = qs_target_met(target, cfg.best);
		if (rec->n_configs > 0 && rec->configs[rec->n_configs - 1].tensor_rank != cfg.tensor_rank)
			choice = NULL;
		rec->configs[rec->n_configs] = cfg;
		struct qs_rec_config *cand = &rec->configs[rec->n_configs++];
		if (better_choice(cand, choice)) {
			if (choice)
				choice->recommended = false;
			cand->recommended = true;
			choice = cand;
		}
		a = b;
	}
	rec->tensors = calloc(rec->n_tensors ? rec->n_tensors : 1, sizeof *rec->tensors);
	if (!rec->tensors) {
		free(k);
		qs_recommendation_free(rec);
		return qs_error_set(QS_ENOMEM, "out of memory recommending");
	}
	for (size_t i = 0; i < rec->n_configs; i++) {
		const struct qs_rec_config *c = &rec->configs[i];
		struct qs_rec_tensor *t = &rec->tensors[c->tensor_rank];
		if (!t->cfgs) {
			t->cfgs = c;
			t->name = c->best->tensor;
		}
		t->n_cfgs++;
		if (!c->recommended)
			continue;
		t->chosen = c;
		rec->total_bits += (double)c->best->n * c->best->eff_bits;
		rec->total_values += c->best->n;
		rec->n_unmet += !c->meets_target;
	}
	free(k);
	return QS_OK;
}

void qs_recommendation_free(struct qs_recommendation *rec)
{
	free(rec->configs);
	free(rec->tensors);
	memset(rec, 0, sizeof *rec);
}
