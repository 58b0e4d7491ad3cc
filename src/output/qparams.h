/* Saves every group's scale and zero-point of a sweep as .npy: per (tensor, configuration) one float64 array
 * OUT/qparams/<tensor>/<config>.scale.npy and one int64 array <config>.zero_point.npy, each of shape
 * [multipliers, groups] (row i = multiplier i of the CSV). */
#ifndef QS_QPARAMS_H
#define QS_QPARAMS_H

#include <stddef.h>

#include "../sweep/sweep.h"
#include "stage.h"

struct qs_qparams_saver {
	struct qs_stage *stage;
	size_t n_multipliers;
	double *scale;     /* n_multipliers × n_groups */
	long *zero_point;
	size_t cap;
};

/* The common stem (relative to OUT) of the files holding row r's configuration. */
void qs_qparams_ref(const struct qs_sweep_row *r, char *buf, size_t len);
/* Records row r; writes the two files after the configuration's last multiplier. */
int qs_qparams_saver_add(struct qs_qparams_saver *s, const struct qs_sweep_row *r);
void qs_qparams_saver_free(struct qs_qparams_saver *s);

#endif
