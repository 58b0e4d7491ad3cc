/* The sweep CSV: one row per (tensor, configuration, multiplier), numbers printed to round-trip (%.17g). */
#ifndef QS_CSV_H
#define QS_CSV_H

#include <stdio.h>

#include "../sweep/sweep.h"

void qs_csv_write_header(FILE *f);
/* qparams_ref: the per-group qparams files' common stem relative to OUT ("" when not saved). */
void qs_csv_write_row(FILE *f, const struct qs_sweep_row *r, const char *qparams_ref);
/* Writes s as one CSV field, quoted when it holds a comma, quote or newline. */
void qs_csv_write_field(FILE *f, const char *s);
/* Writes ",v" with the fewest of 15..17 significant digits that read back exactly. */
void qs_csv_put_num(FILE *f, double v);

#endif
