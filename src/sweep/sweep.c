/* The sweep engine: groups are gathered and prepared (sorted, prefix sums) once per granularity, clip ranges
 * computed once per calibrator, and every multiplier is evaluated by the fast exact evaluator (the reference
 * evaluator for stochastic rounding, whose result depends on the order values are drawn in). */
#include "sweep.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

#include "../metrics/err_fast.h"
#include "../util/qs_error.h"
#include "../util/qs_threads.h"

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

/* Median of v[0..n) over the entries not marked in `skip` (over all entries if every one is marked); `sorted` is
 * scratch of n doubles (left in no particular order). */
static double median_of(double *sorted, const double *v, const bool *skip, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!skip[i])
			sorted[k++] = v[i];
	if (k == 0) {
		memcpy(sorted, v, n * sizeof *v);
		k = n;
	}
	return gsl_stats_median(sorted, 1, k); /* quickselect, reorders the scratch */
}

/* Below this many values a granularity is swept on one thread: waking threads would cost more than it saves. */
#define PARALLEL_MIN_VALUES 65536

/* A granularity's groups, each prepared for qs_err_fast (fast[g] false: evaluate group g with qs_err_ref). */
struct prepared {
	struct qs_err_prepared *groups;
	bool *fast;
	bool *empty;
	size_t count;
};

static void prepared_free(struct prepared *pr)
{
	for (size_t g = 0; pr->groups && g < pr->count; g++)
		qs_err_prepared_free(&pr->groups[g]);
	free(pr->groups);
	free(pr->fast);
	free(pr->empty);
}

static int prepared_build(const struct qs_groups *gr, struct prepared *pr)
{
	pr->count = gr->count;
	pr->groups = calloc(gr->count, sizeof *pr->groups);
	pr->fast = calloc(gr->count, sizeof *pr->fast);
	pr->empty = calloc(gr->count, sizeof *pr->empty);
	if (!pr->groups || !pr->fast || !pr->empty)
		return qs_error_set(QS_ENOMEM, "out of memory (%zu groups)", gr->count);
	bool nomem = false;
	/* one group: qs_err_prepare itself uses the threads */
	#pragma omp parallel for schedule(dynamic, 4) reduction(|| : nomem) if (gr->n >= PARALLEL_MIN_VALUES && gr->count > 1)
	for (size_t g = 0; g < gr->count; g++) {
		int rc = qs_err_prepare(gr->values + gr->offset[g], gr->offset[g + 1] - gr->offset[g], &pr->groups[g]);
		nomem = nomem || rc == QS_ENOMEM;
		pr->fast[g] = rc == QS_OK; /* values too large to square stay on the reference path */
		pr->empty[g] = gr->offset[g + 1] == gr->offset[g];
	}
	return nomem ? qs_error_set(QS_ENOMEM, "out of memory preparing %zu groups", gr->count) : QS_OK;
}

/* What stays fixed while the multipliers of one (quantizer, calibrator) are evaluated. */
struct config_eval {
	const struct qs_groups *gr;
	const struct prepared *pr;
	const struct qs_quantizer *q;
	const double *lo, *hi; /* calibrated clip range per group */
};

/* Group g at multiplier m: its qparams and error. Stochastic rounding draws from a stream seeded per (point,
 * group), so the result does not depend on which thread evaluates what. */
static void eval_group(const struct config_eval *c, size_t g, double m, unsigned long point_seed, gsl_rng *rng,
		       double *scale, long *zero_point, bool *dead, struct qs_err *e)
{
	struct qs_qparams p;
	qs_quant_params(c->q, m * c->lo[g], m * c->hi[g], &p);
	*scale = p.scale;
	*zero_point = p.zero_point;
	*dead = p.dead || c->pr->empty[g];
	if (c->q->rounding != QS_ROUND_STOCHASTIC && c->pr->fast[g]) {
		qs_err_fast(&c->pr->groups[g], c->q, &p, e);
		return;
	}
	size_t off = c->gr->offset[g];
	gsl_rng_set(rng, mix_seed(point_seed, g, 0, 0));
	qs_err_ref(c->gr->values + off, c->gr->offset[g + 1] - off, c->q, &p, rng, e);
}

/* Per-thread scratch for summing one point's groups. */
struct scratch {
	struct qs_err *gerr;
	bool *dead;
	double *zp_d, *sorted;
	gsl_rng *rng;
};

static void scratch_free(struct scratch *s)
{
	free(s->gerr);
	free(s->dead);
	free(s->zp_d);
	free(s->sorted);
	if (s->rng)
		gsl_rng_free(s->rng);
	memset(s, 0, sizeof *s);
}

static bool scratch_alloc(struct scratch *s, size_t n_groups)
{
	s->gerr = malloc(n_groups * sizeof *s->gerr);
	s->dead = malloc(n_groups * sizeof *s->dead);
	s->zp_d = malloc(n_groups * sizeof *s->zp_d);
	s->sorted = malloc(n_groups * sizeof *s->sorted);
	s->rng = gsl_rng_alloc(gsl_rng_mt19937);
	return s->gerr && s->dead && s->zp_d && s->sorted && s->rng;
}

/* One sweep point's aggregate over its groups. */
struct point {
	struct qs_err err;
	double worst, scale_med, zp_med;
	size_t n_dead;
};

/* Sums the groups in group order (the same for every thread count) and takes the medians. */
static void point_finish(size_t n_groups, struct scratch *s, const double *scale, const long *zp, struct point *pt)
{
	memset(pt, 0, sizeof *pt);
	for (size_t g = 0; g < n_groups; g++) {
		qs_err_add(&pt->err, &s->gerr[g]);
		pt->worst = fmax(pt->worst, qs_err_rel(&s->gerr[g]));
		pt->n_dead += s->dead[g];
		s->zp_d[g] = (double)zp[g];
	}
	pt->scale_med = median_of(s->sorted, scale, s->dead, n_groups);
	pt->zp_med = median_of(s->sorted, s->zp_d, s->dead, n_groups);
}

/* Per-configuration buffers: clip ranges, and every point's per-group qparams (points x groups). */
struct config_bufs {
	double *lo, *hi;
	double *scale;
	long *zero_point;
	struct point *points;
	struct scratch *scratch; /* one per thread */
	int n_threads;
};

static void config_bufs_free(struct config_bufs *b)
{
	free(b->lo);
	free(b->hi);
	free(b->scale);
	free(b->zero_point);
	free(b->points);
	for (int t = 0; b->scratch && t < b->n_threads; t++)
		scratch_free(&b->scratch[t]);
	free(b->scratch);
}

/* Points are evaluated one after the other with the groups shared among threads when there are many groups;
 * otherwise the points are shared among threads (so per-tensor sweeps use every core too). */
static bool groups_in_parallel(size_t n_groups, size_t n_points, int n_threads)
{
	return n_threads == 1 || n_groups >= 4 * (size_t)n_threads || n_points == 1;
}

static int config_bufs_alloc(struct config_bufs *b, size_t n_groups, size_t n_points)
{
	memset(b, 0, sizeof *b);
	b->n_threads = qs_max_threads();
	size_t rows = groups_in_parallel(n_groups, n_points, b->n_threads) ? 1 : n_points;
	b->lo = malloc(n_groups * sizeof *b->lo);
	b->hi = malloc(n_groups * sizeof *b->hi);
	b->scale = malloc(rows * n_groups * sizeof *b->scale);
	b->zero_point = malloc(rows * n_groups * sizeof *b->zero_point);
	b->points = malloc(n_points * sizeof *b->points);
	b->scratch = calloc((size_t)b->n_threads, sizeof *b->scratch);
	bool ok = b->lo && b->hi && b->scale && b->zero_point && b->points && b->scratch;
	for (int t = 0; ok && t < b->n_threads; t++)
		ok = scratch_alloc(&b->scratch[t], n_groups);
	if (!ok) {
		config_bufs_free(b);
		return qs_error_set(QS_ENOMEM, "out of memory (%zu groups)", n_groups);
	}
	return QS_OK;
}

static int calibrate_one(const struct qs_calib *calib, const struct qs_groups *gr, const struct prepared *pr, size_t g,
			 const struct qs_quantizer *q, double *lo, double *hi)
{
	const struct qs_calib_group cg = {
		.x = gr->values + gr->offset[g],
		.n = gr->offset[g + 1] - gr->offset[g],
		.sorted = pr->fast[g] ? &pr->groups[g] : NULL,
	};
	return qs_calib_clip_range_group(calib, &cg, q, lo, hi);
}

/* Calibrates every group (in parallel); an error is re-raised on this thread so that its message is kept. */
static int calibrate_groups(const struct qs_calib *calib, const struct qs_groups *gr, const struct prepared *pr,
			    const struct qs_quantizer *q, double *lo, double *hi)
{
	size_t first_bad = SIZE_MAX;
	#pragma omp parallel for schedule(dynamic, 4) reduction(min : first_bad) \
	if (gr->n >= PARALLEL_MIN_VALUES && gr->count > 1)
	for (size_t g = 0; g < gr->count; g++) {
		lo[g] = hi[g] = 0.0;
		if (!pr->empty[g] && calibrate_one(calib, gr, pr, g, q, &lo[g], &hi[g]) != QS_OK)
			first_bad = g < first_bad ? g : first_bad;
	}
	if (first_bad == SIZE_MAX)
		return QS_OK;
	return calibrate_one(calib, gr, pr, first_bad, q, &lo[first_bad], &hi[first_bad]);
}

/* Evaluates every multiplier of one (quantizer, calibrator) and hands the rows to the sink in multiplier order. */
static int sweep_multipliers(const struct qs_sweep_spec *spec, const struct config_eval *c, struct config_bufs *b,
			     struct qs_sweep_row *row, size_t tensor_index, qs_sweep_sink sink, void *ctx)
{
	size_t G = c->gr->count, M = spec->n_multipliers;
	bool by_groups = groups_in_parallel(G, M, b->n_threads);
	if (!by_groups) {
		#pragma omp parallel for schedule(dynamic, 1) if (c->gr->n >= PARALLEL_MIN_VALUES)
		for (size_t im = 0; im < M; im++) {
			struct scratch *s = &b->scratch[qs_thread_num()];
			unsigned long seed = mix_seed(spec->seed, tensor_index, row->config_index, im);
			for (size_t g = 0; g < G; g++)
				eval_group(c, g, spec->multipliers[im], seed, s->rng, &b->scale[im * G + g],
					   &b->zero_point[im * G + g], &s->dead[g], &s->gerr[g]);
			point_finish(G, s, &b->scale[im * G], &b->zero_point[im * G], &b->points[im]);
		}
	}
	for (size_t im = 0; im < M; im++) {
		unsigned long seed = mix_seed(spec->seed, tensor_index, row->config_index, im);
		size_t base = by_groups ? 0 : im * G;
		if (by_groups) {
			struct scratch *s0 = &b->scratch[0];
			#pragma omp parallel for schedule(dynamic, 16) if (c->gr->n >= PARALLEL_MIN_VALUES)
			for (size_t g = 0; g < G; g++) {
				struct scratch *s = &b->scratch[qs_thread_num()];
				eval_group(c, g, spec->multipliers[im], seed, s->rng, &b->scale[g], &b->zero_point[g],
					   &s0->dead[g], &s0->gerr[g]);
			}
			point_finish(G, s0, b->scale, b->zero_point, &b->points[im]);
		}
		for (size_t g = 0; g < G; g++) {
			int rc = qs_quant_scale_check(b->scale[base + g], row->tensor->name, spec->multipliers[im]);
			if (rc)
				return rc;
		}
		const struct point *pt = &b->points[im];
		row->multiplier_index = im;
		row->multiplier = spec->multipliers[im];
		row->seed = seed;
		row->err = pt->err;
		row->worst_group_rel = pt->worst;
		row->n_dead = pt->n_dead;
		row->scale = pt->scale_med;
		row->zero_point = pt->zp_med;
		row->group_scale = &b->scale[base];
		row->group_zero_point = &b->zero_point[base];
		int rc = sink(ctx, row);
		if (rc)
			return rc;
	}
	return QS_OK;
}

/* Runs every quantizer configuration and calibrator over one granularity's groups. */
static int sweep_groups(const struct qs_sweep_spec *spec, const struct qs_groups *gr, struct qs_sweep_row *row,
			size_t tensor_index, qs_sweep_sink sink, void *ctx)
{
	struct prepared pr = {0};
	struct config_bufs b;
	int rc = config_bufs_alloc(&b, gr->count, spec->n_multipliers);
	if (rc)
		return rc;
	rc = prepared_build(gr, &pr);
	row->n_groups = gr->count;
	row->n_nonfinite = gr->n_nonfinite;

	struct qs_quantizer q;
	struct config_eval c = {.gr = gr, .pr = &pr, .q = &q, .lo = b.lo, .hi = b.hi};
	row->quant = &q;
	for (size_t ib = 0; ib < spec->n_bits && rc == QS_OK; ib++)
	for (size_t is = 0; is < spec->n_asym && rc == QS_OK; is++)
	for (size_t ig = 0; ig < spec->n_signed && rc == QS_OK; ig++)
	for (size_t ir = 0; ir < spec->n_narrow && rc == QS_OK; ir++)
	for (size_t ip = 0; ip < spec->n_pow2 && rc == QS_OK; ip++)
	for (size_t ipr = 0; ipr < spec->n_profiles && rc == QS_OK; ipr++)
	for (size_t iro = 0; iro < spec->n_roundings && rc == QS_OK; iro++) {
		q = (struct qs_quantizer){
			.bits = spec->bits[ib], .asym = spec->asym[is], .is_signed = spec->is_signed[ig],
			.narrow = spec->narrow[ir], .pow2 = spec->pow2[ip], .profile = spec->profiles[ipr],
			.rounding = spec->roundings[iro],
		};
		double overhead = (row->gran->kind == QS_GRAN_GROUP ? 16.0 : 32.0) + (q.asym ? q.bits : 0);
		row->eff_bits = q.bits + (gr->n ? (double)gr->count * overhead / (double)gr->n : 0.0);
		for (size_t ic = 0; ic < spec->n_calibs && rc == QS_OK; ic++) {
			row->calib = &spec->calibs[ic];
			rc = calibrate_groups(row->calib, gr, &pr, &q, b.lo, b.hi);
			if (rc == QS_OK)
				rc = sweep_multipliers(spec, &c, &b, row, tensor_index, sink, ctx);
			row->config_index++;
		}
	}
	prepared_free(&pr);
	config_bufs_free(&b);
	return rc;
}

/* The torch profile computes qparams in float32, as torch does: a value beyond float32's range (only an f64 input
 * can hold one) has no torch scale, so it is an error naming the tensor rather than an infinite scale. */
static int check_torch_range(const struct qs_sweep_spec *spec, const struct qs_tensor *t)
{
	bool torch = false;
	for (size_t i = 0; i < spec->n_profiles; i++)
		torch = torch || spec->profiles[i] == QS_PROFILE_TORCH;
	for (size_t i = 0; torch && i < t->n; i++)
		if (isfinite(t->data[i]) && fabs(t->data[i]) > FLT_MAX)
			return qs_error_set(QS_ENONFINITE, "'%s': value %g is beyond float32's range, in which the torch "
					    "profile computes its qparams", t->name, t->data[i]);
	return QS_OK;
}

int qs_sweep_tensor(const struct qs_sweep_spec *spec, const struct qs_tensor *t, size_t tensor_index,
		    qs_sweep_sink sink, void *ctx, void (*skipped)(void *ctx, const char *message))
{
	int rc = check_torch_range(spec, t);
	if (rc)
		return rc;
	struct qs_sweep_row row = {.tensor = t};
	for (size_t ig = 0; ig < spec->n_grans; ig++) {
		struct qs_groups gr;
		row.gran = &spec->grans[ig];
		rc = qs_groups_build(t, row.gran, spec->skip_nonfinite, &gr);
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
