/* Activation batch sets in `qscope sweep`: static (calibrate / evaluate split) and dynamic quantization. */
#ifndef QS_CLI_ACT_H
#define QS_CLI_ACT_H

#include <stdbool.h>
#include <stddef.h>

#include "formats/batches.h"
#include "output/csv.h"
#include "sweep/sweep.h"

/* A selection of batches: indices in increasing order and how it was written ("0-7,9"). */
struct qs_batch_list {
	size_t *idx;
	size_t n;
	char text[256];
};
/* Parses "0-7,9" for a set of n_batches batches (QS_EUSAGE naming `what` when out of range or malformed). */
int qs_cli_parse_batch_list(const char *s, const char *what, size_t n_batches, struct qs_batch_list *out);
void qs_batch_list_free(struct qs_batch_list *l);

struct qs_act_run {
	const struct qs_sweep_spec *spec;
	bool static_mode, dynamic_mode;
	const char *calib_batches;   /* --calib-batches, NULL: every batch not evaluated */
	const char *eval_batches;    /* --eval-batches, NULL: none */
	const struct qs_load_opts *load;
	/* where rows go (the sweep's CSV, recommendation, qparams) */
	int (*emit)(void *ctx, const struct qs_sweep_row *row, const struct qs_csv_act *act);
	/* the calibration batches concatenated, after the set's static rows (may be NULL) */
	int (*calibrated)(void *ctx, const struct qs_sweep_spec *spec, const struct qs_tensor *t);
	void *ctx;
	void (*skipped)(void *ctx, const char *message);
};

/* Sweeps one batch set: static rows (measured on the calibration batches, plus the evaluation batches' error when
 * there are any) and/or dynamic rows (measured on the evaluation batches, or on all). */
int qs_cli_sweep_batch_set(const struct qs_act_run *run, const struct qs_batch_set *set, size_t tensor_index);

/* A qs_sweep_sink that hands rows to run->emit with a fixed act. */
struct qs_act_sink {
	const struct qs_act_run *run;
	const struct qs_csv_act *act;
};
int qs_act_sink_row(void *ctx, const struct qs_sweep_row *row);

#endif
