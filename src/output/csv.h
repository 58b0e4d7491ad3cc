/* The sweep CSV: one row per (tensor, configuration, multiplier), numbers printed to round-trip (%.17g). */
#ifndef QS_CSV_H
#define QS_CSV_H

#include <stdio.h>

#include "../sweep/sweep.h"

void qs_csv_write_header(FILE *f);

/* What an activation row adds: static or dynamic quantization, the batches calibrated on and evaluated on, and the
 * error on the evaluation batches (NULL: none). */
struct qs_csv_act {
	const char *mode;            /* "static" or "dynamic" */
	const char *calib_batches;   /* e.g. "0-7" ("" for weights and dynamic rows) */
	const char *eval_batches;    /* e.g. "8-15" ("" when there is no evaluation set) */
	const struct qs_err *eval;
};

/* qparams_ref: the per-group qparams files' common stem relative to OUT ("" when not saved); act NULL: a weight
 * (static, no batches). */
void qs_csv_write_row(FILE *f, const struct qs_sweep_row *r, const char *qparams_ref, const struct qs_csv_act *act);
/* Writes s as one CSV field, quoted when it holds a comma, quote or newline. */
void qs_csv_write_field(FILE *f, const char *s);
/* Writes ",v" with the fewest of 15..17 significant digits that read back exactly. */
void qs_csv_put_num(FILE *f, double v);

#endif
