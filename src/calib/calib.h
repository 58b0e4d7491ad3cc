/* The calibrator table: each calibrator turns a group's values into a clip range [lo, hi] (SPEC §5). */
#ifndef QS_CALIB_H
#define QS_CALIB_H

#include <stddef.h>

#include "../metrics/err_fast.h"
#include "../quant/quantizer.h"

/* One quantization group as a calibrator sees it. */
struct qs_calib_group {
	const double *x;                       /* n >= 1 finite values, in tensor order */
	size_t n;
	const struct qs_err_prepared *sorted;  /* the same values sorted with prefix sums (the sweep prepares every
						* group once), or NULL: a calibrator that needs them prepares its own */
};

struct qs_calib_type {
	const char *name;
	/* Parses the text after "name:" (NULL when there is none) into *param. */
	int (*parse_param)(const char *arg, double *param);
	/* Clip range of the group for quantizer q. */
	int (*clip_range)(const struct qs_calib_group *g, const struct qs_quantizer *q, double param, double *lo,
			  double *hi);
};

extern const struct qs_calib_type qs_calib_minmax;
extern const struct qs_calib_type qs_calib_percentile, qs_calib_entropy, qs_calib_aciq, qs_calib_mse;

struct qs_calib {
	const struct qs_calib_type *type;
	double param;
	char label[48];   /* as written on the command line, e.g. "minmax", "percentile:99.9" */
};

/* Parses "name[:param]" against the table. */
int qs_calib_parse(const char *spec, struct qs_calib *out);
int qs_calib_clip_range_group(const struct qs_calib *c, const struct qs_calib_group *g, const struct qs_quantizer *q,
			      double *lo, double *hi);
/* The same for plain values x[0..n) (n >= 1, finite). */
int qs_calib_clip_range(const struct qs_calib *c, const double *x, size_t n, const struct qs_quantizer *q,
			double *lo, double *hi);
/* Comma-separated names of the table's calibrators, for --help. */
const char *qs_calib_names(void);

#endif
