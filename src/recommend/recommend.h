/* Recommendations from a sweep: per configuration the best calibrator and multiplier, per tensor the cheapest
 * configuration (fewest effective bits per element) that meets an error target, and the model-level totals. */
#ifndef QS_RECOMMEND_H
#define QS_RECOMMEND_H

#include <stdbool.h>
#include <stddef.h>

#include "../sweep/sweep.h"

/* One sweep point, as much of a sweep row as recommending needs (from a live sweep or from sweep.csv). */
struct qs_rec_point {
	char *tensor;             /* owned */
	char *shape;              /* owned */
	char *qparams;            /* owned; "" when not saved */
	size_t qparams_row;       /* the point's row in the qparams arrays (its multiplier's index in the sweep) */
	size_t n;
	int bits, is_signed, pow2;
	char range[8], scheme[8], granularity[40], calib[48], profile[16], rounding[16];
	char mode[8];             /* "static", or "dynamic" (scales computed per batch at run time; calib shows "dyn:") */
	double eval_rel;          /* activations: rel on the evaluation batches (NAN: no evaluation set) */
	bool activation;          /* from an activation batch set (--batches), not a weight */
	double multiplier, scale, zero_point, rel, rel_clip, rel_round, sqnr_db, eff_bits, worst_group_rel;
};

struct qs_rec_points {
	struct qs_rec_point *p;
	size_t n, cap;
};

/* What an activation row (a --batches set) adds to a point. */
struct qs_rec_act {
	const char *mode;         /* "static" or "dynamic" */
	double eval_rel;          /* rel on the evaluation batches, NAN without them */
};

/* Appends a sweep row; act NULL for a weight (static, no evaluation set). */
int qs_rec_points_add_row(struct qs_rec_points *pts, const struct qs_sweep_row *row, const char *qparams_ref,
			  const struct qs_rec_act *act);
/* Appends a point (taking ownership of its strings). */
int qs_rec_points_push(struct qs_rec_points *pts, struct qs_rec_point *pt);
void qs_rec_points_free(struct qs_rec_points *pts);

enum qs_target_kind { QS_TARGET_REL, QS_TARGET_SQNR };

struct qs_target {
	enum qs_target_kind kind;
	double value;             /* rel <= value, or sqnr_db >= value */
};

#define QS_TARGET_DEFAULT_REL 0.02

/* The best point of one configuration (all axes but calibrator and multiplier). */
struct qs_rec_config {
	const struct qs_rec_point *best;  /* lowest rel over calibrators and multipliers */
	double flat_lo, flat_hi;          /* multipliers around the optimum (same calibrator) with rel <= 1.05 rel_best */
	bool meets_target;
	bool recommended;                 /* the tensor's recommended configuration */
	size_t tensor_rank;               /* index of the tensor in input order */
};

/* One tensor's share of the recommendation. */
struct qs_rec_tensor {
	const char *name;
	const struct qs_rec_config *cfgs; /* its configurations, contiguous in qs_recommendation.configs */
	size_t n_cfgs;
	const struct qs_rec_config *chosen; /* the recommended one */
};

struct qs_recommendation {
	struct qs_rec_config *configs;    /* grouped by tensor, in input order */
	size_t n_configs;
	struct qs_rec_tensor *tensors;    /* n_tensors, in input order */
	size_t n_tensors;
	/* model totals over the recommended configurations */
	double total_bits;                /* Σ n · eff_bits */
	size_t total_values;
	size_t n_unmet;                   /* tensors where no configuration meets the target */
};

/* Sorts pts (stable by tensor order, configuration, calibrator, multiplier) and computes the recommendation.
 * Points must stay alive while rec is used. */
int qs_recommend(struct qs_rec_points *pts, const struct qs_target *target, struct qs_recommendation *rec);
void qs_recommendation_free(struct qs_recommendation *rec);

/* Reads the points of a sweep.csv written by `qscope sweep` (columns found by name; quoted fields allowed, not
 * across lines). Errors name the file and line. */
int qs_sweep_csv_read(const char *path, struct qs_rec_points *pts);

/* For a static activation point p with an evaluation rel: among a tensor's configurations cfgs[0..n), the dynamic
 * one of p's bits and granularity with the lowest evaluation rel (NULL if none). */
const struct qs_rec_point *qs_rec_best_dynamic(const struct qs_rec_config *cfgs, size_t n,
					       const struct qs_rec_point *p);

/* Sets the point's mode and calibrator label ("dyn:minmax" for a dynamic point of calibrator minmax). */
void qs_rec_set_mode(struct qs_rec_point *pt, const char *mode, const char *calib);
/* Orders points by every configuration axis except bits, calibrator and multiplier (0: the same family). */
int qs_rec_cmp_family(const struct qs_rec_point *a, const struct qs_rec_point *b);

/* Whether a point meets the target. */
bool qs_target_met(const struct qs_target *t, const struct qs_rec_point *p);

#endif
